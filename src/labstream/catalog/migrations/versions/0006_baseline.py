"""The catalog schema at the first release: ingested files, lineage, quarantine, runs, group state
(labstream.catalog.models) and governance (labstream.governance.models; the audit log is NOT here: it
lives in its own file).

Revisions 0001-0006 squashed into one: no deployed catalog predates the first release. The revision
keeps the id of the last of them, so a catalog already at 0006 needs nothing; the next revision is
0007 with down_revision "0006".

Revision ID: 0006
Revises:
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0006"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")

TABLES = (  # in creation order; dropped in reverse
    "ingested_files",
    "lineage",
    "lineage_io",
    "quarantine",
    "runs",
    "group_state",
    "gov_users",
    "gov_projects",
    "gov_grants",
    "gov_tokens",
    "gov_sites",
    "gov_data_keys",
    "gov_pseudonyms",
    "gov_objects",
    "gov_runs",
    "gov_report_versions",
)


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
        sa.Column("identity", sa.Text, nullable=False, server_default=""),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("supersedes", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_ingested_files"),
        sa.UniqueConstraint("project", "identity", "sha256", name="uq_ingested_files_project"),
    )
    op.create_index("ix_ingested_files_sha256", "ingested_files", ["sha256"])
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
        sa.Column("request", JSON, nullable=True),
        sa.Column("key", sa.String(512), nullable=True),
        sa.Column("attempts", JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_lineage"),
    )
    for col in ("stage", "event_id", "project", "started_at", "key"):
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

    op.create_table(
        "gov_users",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("email", sa.String(256), nullable=False),
        sa.Column("superuser", sa.Boolean, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "gov_projects",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("allowed_regions", JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "gov_grants",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "user", sa.String(128), sa.ForeignKey("gov_users.name", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "project", sa.String(128), sa.ForeignKey("gov_projects.name", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("role", sa.String(32), nullable=False),
        sa.UniqueConstraint("user", "project", "role", name="uq_gov_grants_user"),
    )
    op.create_table(
        "gov_tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "user", sa.String(128), sa.ForeignKey("gov_users.name", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("label", sa.String(128), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=True),
        sa.Column("revoked_at", sa.Float, nullable=True),
    )
    op.create_index("ix_gov_tokens_token_sha256", "gov_tokens", ["token_sha256"], unique=True)
    op.create_table(
        "gov_sites",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("executor_url", sa.String(512), nullable=False),
    )
    op.create_table(
        "gov_data_keys",
        sa.Column("key_id", sa.String(160), primary_key=True),
        sa.Column("master_id", sa.String(64), nullable=False),
        sa.Column("blob", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "gov_pseudonyms",
        sa.Column("pseudonym", sa.String(64), primary_key=True),
        sa.Column("project", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_gov_pseudonyms_project", "gov_pseudonyms", ["project"])
    op.create_table(
        "gov_objects",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("project", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("uri", sa.String(1024), nullable=False),
        sa.Column("index_uri", sa.String(1024), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("media_type", sa.String(128), nullable=False),
        sa.Column("encrypted", sa.Boolean, nullable=False),
        sa.Column("patient_linked", sa.Boolean, nullable=False),
        sa.Column("sample", sa.String(128), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_gov_objects_project", "gov_objects", ["project"])
    op.create_table(
        "gov_runs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("project", sa.String(128), nullable=False),
        sa.Column("user", sa.String(128), nullable=False),
        sa.Column("pipeline", sa.String(128), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("started_at", sa.Float, nullable=True),
        sa.Column("ended_at", sa.Float, nullable=True),
        sa.Column("outputs", JSON, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("ix_gov_runs_project", "gov_runs", ["project"])

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
    for name in reversed(TABLES):
        op.drop_table(name)  # drops the table's indexes with it
