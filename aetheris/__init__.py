"""AETHERIS composition root: the command line and the one place that wires concrete adapters."""
