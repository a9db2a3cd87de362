"""ops: the lineage records what a task asked for, the entity it served and its earlier attempts

Cost attribution (labstream.ops.cost) bills max(request, use) per attempt, failed attempts included,
and rolls costs up by entity (sample, plate); before this revision a record kept only its last
attempt's usage and no request. Old rows get an empty request (billed on use alone), key '' and no
earlier attempts.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("lineage") as batch:
        batch.add_column(sa.Column("request", JSON, nullable=True))
        batch.add_column(sa.Column("key", sa.String(512), nullable=True))
        batch.add_column(sa.Column("attempts", JSON, nullable=True))
        batch.create_index("ix_lineage_key", ["key"])


def downgrade() -> None:
    with op.batch_alter_table("lineage") as batch:
        batch.drop_index("ix_lineage_key")
        for name in ("attempts", "key", "request"):
            batch.drop_column(name)
