"""Thin listeners: parse, call a service, render, reply. One module a feature."""
