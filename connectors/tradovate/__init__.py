"""Tradovate: the Performance and Position History CSV exports."""
