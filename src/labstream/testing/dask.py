"""Fixture: a real dask server for tests (filled by its owner)."""
