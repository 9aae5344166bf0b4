"""Slack chat-ops for Nexudus support chatrooms."""

__version__ = "0.1.0"
