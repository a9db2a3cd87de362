"""governance: versions of clinical reports (draft, signed, amended) and who signed them

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gov_report_versions",
        sa.Column("object_id", sa.String(64), primary_key=True),
        sa.Column("report_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("parent_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("signed_by", sa.String(128), nullable=True),
        sa.Column("signed_at", sa.Float, nullable=True),
        sa.Column("project", sa.String(128), nullable=False, server_default=""),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    # one successor per version: signing or amending the same version twice fails in the database too
    op.create_index("ix_gov_report_versions_report_id", "gov_report_versions", ["report_id"])
    op.create_index("ix_gov_report_versions_parent_id", "gov_report_versions", ["parent_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_gov_report_versions_parent_id", "gov_report_versions")
    op.drop_index("ix_gov_report_versions_report_id", "gov_report_versions")
    op.drop_table("gov_report_versions")
