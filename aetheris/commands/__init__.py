"""Sub-commands of the aetheris CLI."""
