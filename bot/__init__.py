"""vs-terminate: a Slack app that stops VectorShift pipeline runs and keeps an audit trail."""

__version__ = "0.1.0"
