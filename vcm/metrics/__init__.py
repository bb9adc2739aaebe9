"""Metrics: small pure functions of arrays and records."""
