"""catalog: the order of lineage writes, so readers fold in only what is new

`lineage.seq` is taken by every write of a record, in commit order (the one-row `lineage_seq` counter,
updated in the write's transaction, orders concurrent writers); `first_seq` is the record's first
write's. The ops refresher of a month-long `watch` read the whole lineage every 5 s; it now reads
`seq > watermark` (labstream.ops.ledger). Existing records are numbered by (started_at, id).
(Revision 0008 on 0007, 2026-12-07.)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0008", "0007"  # no branch labels, no dependencies


def upgrade() -> None:
    op.add_column("lineage", sa.Column("seq", sa.BigInteger(), nullable=True))
    op.add_column("lineage", sa.Column("first_seq", sa.BigInteger(), nullable=True))
    op.create_index("ix_lineage_seq", "lineage", ["seq"])
    op.create_table(
        "lineage_seq",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_lineage_seq"),
    )
    # UPDATE ... FROM: PostgreSQL, and SQLite from 3.33
    op.execute(
        "UPDATE lineage SET seq = numbered.n, first_seq = numbered.n FROM "
        "(SELECT id, row_number() OVER (ORDER BY started_at, id) AS n FROM lineage) AS numbered "
        "WHERE lineage.id = numbered.id"
    )
    op.execute("INSERT INTO lineage_seq (name, value) SELECT 'lineage', coalesce(max(seq), 0) FROM lineage")


def downgrade() -> None:
    op.drop_table("lineage_seq")
    op.drop_index("ix_lineage_seq", table_name="lineage")
    # plain DROP COLUMN (SQLite from 3.35): a batch copy would drop `lineage` under lineage_io's key
    op.execute("ALTER TABLE lineage DROP COLUMN first_seq")
    op.execute("ALTER TABLE lineage DROP COLUMN seq")
