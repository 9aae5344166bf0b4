"""The Slack side of the app: command grammar, listeners and Block Kit views."""
