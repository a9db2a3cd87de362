"""Fixture: a real postgres server for tests (filled by its owner)."""
