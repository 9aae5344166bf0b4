"""Block Kit views: pure functions from data to JSON, within Slack's limits."""
