"""Alembic migrations of the catalog, shipped in the package (labstream.catalog:migrations)."""

__all__: list[str] = []  # nothing re-exported: import names from their modules
