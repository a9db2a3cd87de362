"""ingest claims keyed by what a file is (identity) and what it holds (sha256), with versions

Two instrument files with equal bytes (two blank channels of two sites) are two files; the same
identity with new bytes is a new version of it. Rows from before this revision keep identity '' and
are adopted by the first identity that claims their content (labstream.catalog.db.claim_ingest), so
an upgrade re-ingests nothing.

Revision ID: 0004
Revises: 0003
Create Date: 2025-01-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ingested_files") as batch:
        batch.add_column(sa.Column("identity", sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("version", sa.Integer, nullable=False, server_default="1"))
        batch.add_column(sa.Column("supersedes", sa.String(64), nullable=True))
        batch.drop_constraint("uq_ingested_files_sha256", type_="unique")
        batch.create_unique_constraint("uq_ingested_files_project", ["project", "identity", "sha256"])
        batch.create_index("ix_ingested_files_sha256", ["sha256"])


def downgrade() -> None:
    with op.batch_alter_table("ingested_files") as batch:
        batch.drop_index("ix_ingested_files_sha256")
        batch.drop_constraint("uq_ingested_files_project", type_="unique")
        batch.create_unique_constraint("uq_ingested_files_sha256", ["sha256"])
        for name in ("supersedes", "version", "identity"):
            batch.drop_column(name)
