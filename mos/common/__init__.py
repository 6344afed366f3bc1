"""Helpers with no knowledge of the project: atomic file writes and strict JSON (`io`), reading a job
spec given on the command line (`spec`), "did you mean" for names a user typed (`naming`), what a run
records about code, packages and machine, and the one definition of "the same machine" (`provenance`),
and fetching a wheel from PyPI into a cache (`pypi_wheel`). Imports nothing from the other wings."""
