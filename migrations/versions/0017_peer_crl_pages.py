"""peer CRL entries in pages

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06

A peer's CRL entries move from one row per entry (peer_revocations) to pages of up to 64 sorted
entries (peer_revocation_pages, registry.pki.crl.pages): a million-entry CRL is 15,625 rows, and
storing it takes a fraction of a second instead of seconds. The entries held are carried over
page by page (the serials were 40 hex digits; a page key is the serial's 21 big-endian octets),
so nothing the refresher stored is lost. The downgrade unpacks them again.
"""

from __future__ import annotations

import struct
from itertools import accumulate

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_PAGE = 64
_KEY = 21


def _pages_table() -> sa.Table:
    return sa.table(
        "peer_revocation_pages",
        sa.column("crl_id", sa.Integer()),
        sa.column("last_key", sa.LargeBinary()),
        sa.column("count", sa.Integer()),
        sa.column("keys", sa.LargeBinary()),
        sa.column("ends", sa.LargeBinary()),
        sa.column("entries", sa.LargeBinary()),
    )


def _old_table() -> sa.Table:
    return sa.table(
        "peer_revocations",
        sa.column("crl_id", sa.Integer()),
        sa.column("serial", sa.String(40)),
        sa.column("entry_der", sa.LargeBinary()),
    )


def upgrade() -> None:
    op.create_table(
        "peer_revocation_pages",
        sa.Column("crl_id", sa.Integer(), nullable=False),
        sa.Column("last_key", sa.LargeBinary(length=21), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("keys", sa.LargeBinary(), nullable=False),
        sa.Column("ends", sa.LargeBinary(), nullable=False),
        sa.Column("entries", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["crl_id"], ["peer_crls.id"], name=op.f("fk_peer_revocation_pages_crl_id_peer_crls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("crl_id", "last_key", name=op.f("pk_peer_revocation_pages")),
        sqlite_with_rowid=False,
    )
    conn = op.get_bind()
    old, pages = _old_table(), _pages_table()
    rows = conn.execute(sa.select(old.c.crl_id, old.c.serial, old.c.entry_der).order_by(old.c.crl_id, old.c.serial))
    batch: list[tuple[int, bytes, bytes]] = []

    def flush() -> None:
        if not batch:
            return
        keys, entries = [k for _, k, _ in batch], [bytes(e) for _, _, e in batch]
        ends = b"".join(struct.pack("<I", n) for n in accumulate(map(len, entries)))
        conn.execute(
            pages.insert().values(
                crl_id=batch[0][0],
                last_key=keys[-1],
                count=len(batch),
                keys=b"".join(keys),
                ends=ends,
                entries=b"".join(entries),
            )
        )
        batch.clear()

    for crl_id, serial, entry in rows:
        if batch and (batch[0][0] != crl_id or len(batch) == _PAGE):
            flush()
        batch.append((crl_id, int(serial, 16).to_bytes(_KEY, "big"), entry))
    flush()
    op.drop_table("peer_revocations")


def downgrade() -> None:
    op.create_table(
        "peer_revocations",
        sa.Column("crl_id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("entry_der", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["crl_id"], ["peer_crls.id"], name=op.f("fk_peer_revocations_crl_id_peer_crls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("crl_id", "serial", name=op.f("pk_peer_revocations")),
    )
    conn = op.get_bind()
    old, pages = _old_table(), _pages_table()
    for crl_id, keys, ends, entries in conn.execute(
        sa.select(pages.c.crl_id, pages.c["keys"], pages.c.ends, pages.c.entries)
    ):
        keys, ends, entries = bytes(keys), bytes(ends), bytes(entries)
        start = 0
        out = []
        for i in range(len(keys) // _KEY):
            stop = struct.unpack_from("<I", ends, i * 4)[0]
            serial = int.from_bytes(keys[i * _KEY : (i + 1) * _KEY], "big")
            out.append({"crl_id": crl_id, "serial": f"{serial:040x}", "entry_der": entries[start:stop]})
            start = stop
        if out:
            conn.execute(old.insert(), out)
    op.drop_table("peer_revocation_pages")
