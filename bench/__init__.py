"""Benchmarks; each script prints its figures (run them all with `make bench`)."""
