"""Alembic migrations of the catalog, shipped in the package (labstream.catalog:migrations)."""
