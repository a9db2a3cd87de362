"""governance: users, projects, grants, API tokens, compute sites, wrapped data keys, pseudonyms,
served objects, submitted runs (the audit log is NOT here: it lives in its own file)

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
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
    )
    op.create_index("ix_gov_runs_project", "gov_runs", ["project"])


def downgrade() -> None:
    for name in (
        "gov_runs",
        "gov_objects",
        "gov_pseudonyms",
        "gov_data_keys",
        "gov_sites",
        "gov_tokens",
        "gov_grants",
        "gov_projects",
        "gov_users",
    ):
        op.drop_table(name)
