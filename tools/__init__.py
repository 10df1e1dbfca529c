"""Checks of the project's own source, run by `make check`."""
