"""Readers that turn dataset layouts into the project's records."""
