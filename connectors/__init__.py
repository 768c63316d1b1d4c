"""Broker connectors: wire models, pure parsers, and the I/O loops that publish contract events."""
