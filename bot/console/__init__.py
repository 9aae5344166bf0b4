"""Local stand-ins for Slack: a fake Web API server, signed request builders and a Block Kit renderer."""
