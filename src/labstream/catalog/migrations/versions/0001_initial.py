"""initial catalog: ingested files, lineage, quarantine, runs, group state

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "ingested_files",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("media_type", sa.String(255), nullable=False),
        sa.Column("object_uri", sa.Text, nullable=False),
        sa.Column("instrument", sa.String(255), nullable=False),
        sa.Column("project", sa.String(255), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("first_seen", sa.Float, nullable=False),
        sa.Column("last_seen", sa.Float, nullable=False),
        sa.Column("duplicate_count", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ingested_files"),
        sa.UniqueConstraint("sha256", name="uq_ingested_files_sha256"),
    )
    op.create_index("ix_ingested_files_project", "ingested_files", ["project"])
    op.create_index("ix_ingested_files_status", "ingested_files", ["status"])

    op.create_table(
        "lineage",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(255), nullable=False),
        sa.Column("stage_version", sa.String(64), nullable=False),
        sa.Column("code_version", sa.String(255), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("model_version", sa.String(255), nullable=True),
        sa.Column("inputs", JSON, nullable=False),
        sa.Column("outputs", JSON, nullable=False),
        sa.Column("parent_ids", JSON, nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("project", sa.String(255), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("cpu_seconds", sa.Float, nullable=False),
        sa.Column("wall_seconds", sa.Float, nullable=False),
        sa.Column("peak_rss_bytes", sa.BigInteger, nullable=False),
        sa.Column("gpu_seconds", sa.Float, nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("executor", sa.String(255), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("ended_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lineage"),
    )
    for col in ("stage", "event_id", "project", "started_at"):
        op.create_index(f"ix_lineage_{col}", "lineage", [col])

    op.create_table(
        "lineage_io",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("lineage_id", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("uri", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lineage_io"),
        sa.ForeignKeyConstraint(
            ["lineage_id"], ["lineage.id"], ondelete="CASCADE", name="fk_lineage_io_lineage_id_lineage"
        ),
    )
    for col in ("lineage_id", "uri", "sha256"):
        op.create_index(f"ix_lineage_io_{col}", "lineage_io", [col])

    op.create_table(
        "quarantine",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("problem", sa.Text, nullable=False),
        sa.Column("stage", sa.String(255), nullable=True),
        sa.Column("payload_uri", sa.Text, nullable=True),
        sa.Column("project", sa.String(255), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_quarantine"),
    )
    op.create_index("ix_quarantine_stage", "quarantine", ["stage"])
    op.create_index("ix_quarantine_created_at", "quarantine", ["created_at"])

    op.create_table(
        "runs",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("pipeline", sa.String(255), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("project", sa.String(255), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("ended_at", sa.Float, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
    )
    op.create_index("ix_runs_pipeline", "runs", ["pipeline"])

    op.create_table(
        "group_state",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("stage", sa.String(255), nullable=False),
        sa.Column("group_key", sa.String(512), nullable=False),
        sa.Column("member_id", sa.String(512), nullable=False),
        sa.Column("event_json", sa.Text, nullable=False),
        sa.Column("fired", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_group_state"),
        sa.UniqueConstraint("stage", "group_key", "member_id", name="uq_group_state_stage"),
    )


def downgrade() -> None:
    op.drop_table("group_state")
    op.drop_index("ix_runs_pipeline", table_name="runs")
    op.drop_table("runs")
    op.drop_table("quarantine")
    op.drop_table("lineage_io")
    op.drop_table("lineage")
    op.drop_table("ingested_files")
