"""Sinks that make calls observable: structured logs, metrics and traces."""
