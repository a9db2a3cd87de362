"""Fixture: a real s3 server for tests (filled by its owner)."""
