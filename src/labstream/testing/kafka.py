"""Fixture: a real kafka server for tests (filled by its owner)."""
