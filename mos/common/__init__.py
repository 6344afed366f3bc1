"""Helpers with no knowledge of the project: atomic file writes (`io`), reading a job spec given on
the command line (`spec`), what a run records about code, packages and machine (`provenance`), and
fetching a wheel from PyPI into a cache (`pypi_wheel`). Imports nothing from the other wings."""
