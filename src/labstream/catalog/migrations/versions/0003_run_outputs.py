"""governance: what the run executor reports on a submitted run (start, end, outputs, error)

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("gov_runs") as batch:
        batch.add_column(sa.Column("started_at", sa.Float, nullable=True))
        batch.add_column(sa.Column("ended_at", sa.Float, nullable=True))
        batch.add_column(sa.Column("outputs", JSON, nullable=True))
        batch.add_column(sa.Column("error", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gov_runs") as batch:
        for name in ("error", "outputs", "ended_at", "started_at"):
            batch.drop_column(name)
