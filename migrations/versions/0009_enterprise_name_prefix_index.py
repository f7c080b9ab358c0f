"""enterprise name index that serves the name-prefix searches (LIKE 'prefix%') on both databases

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

The seal search and the applications queue find enterprises by the start of their name
(``name LIKE 'prefix%'``, registry.services.seal_admin / applications). ix_enterprises_name (0001)
was a plain index on ``name``, which neither database uses for that LIKE, so each search read every
enterprise (scripts/bench_admin.py, 250,000 enterprises: ~45 ms of SQL per search on both):

* PostgreSQL uses a btree index for LIKE only under the C collation, or with a pattern operator
  class; C.UTF-8 and zh_CN.UTF-8 databases got a sequential scan. Rebuilt with ``text_pattern_ops``
  (as ix_audit_events_action_time in 0008).
* SQLite's LIKE is case-insensitive (ASCII), so it uses an index only if the index has the NOCASE
  collation. Rebuilt as ``name COLLATE NOCASE`` (NOCASE folds ASCII only: the order of Chinese
  names is unchanged).

The name and the column stay the same, so the model (Index("ix_enterprises_name", "name")) and
``alembic check`` agree; neither the operator class nor the collation is compared.
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.drop_index("ix_enterprises_name", table_name="enterprises")
    if dialect == "postgresql":
        op.execute("CREATE INDEX ix_enterprises_name ON enterprises (name text_pattern_ops)")
    elif dialect == "sqlite":
        op.execute("CREATE INDEX ix_enterprises_name ON enterprises (name COLLATE NOCASE)")
    else:
        op.create_index("ix_enterprises_name", "enterprises", ["name"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_enterprises_name", table_name="enterprises")
    op.create_index("ix_enterprises_name", "enterprises", ["name"], unique=False)
