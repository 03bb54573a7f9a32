"""Slack listeners, Block Kit builders and delivery."""
