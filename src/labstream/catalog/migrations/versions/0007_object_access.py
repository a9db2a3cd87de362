"""ops: when each object was last read through the platform (lifecycle rules filter on it)

S3 gives no last-access time without access logs or Intelligent-Tiering, and a local store's atime is
often off (noatime); so the platform records it where it serves reads (governed reads: DRS, htsget,
reports; `labstream lifecycle get`), at most once per object per few minutes. (Revision 0007 on
0006, 2026-12-06.)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0007", "0006"  # no branch labels, no dependencies


def upgrade() -> None:
    op.create_table(
        "object_access",
        sa.Column("uri", sa.String(1024), nullable=False),
        sa.Column("last_access", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("uri", name="pk_object_access"),
    )


def downgrade() -> None:
    op.drop_table("object_access")
