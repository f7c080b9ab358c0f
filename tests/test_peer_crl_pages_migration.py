"""Migration 0017 carries a peer's stored CRL entries from one row each into pages, so that a
lookup finds every entry it found before (and no other), and goes back down to rows unchanged."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import command
from sqlalchemy import create_engine, text

from registry.db.migrate import alembic_config, upgrade
from registry.db.types import UTCDateTime
from registry.pki import crl
from registry.services.peers import crls as peer_crls

NOW = dt.datetime(2026, 12, 6, 8, 0, tzinfo=dt.UTC)
ISSUER = "ab" * 32
SERIALS = [3, 0x80, 0xFFFF, (1 << 159) - 1] + list(range(1000, 1000 + 150))  # more than two pages


def _engine(url: str) -> sa.Engine:
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


def _seed(engine: sa.Engine) -> dict[int, bytes]:
    peers = sa.table(
        "peers",
        *(sa.column(c) for c in ("id", "name", "kind", "area_code", "trust_list_url", "state", "state_by")),
        *(sa.column(c) for c in ("proposed_by",)),
        sa.column("state_since", UTCDateTime()),
        sa.column("proposed_at", UTCDateTime()),
    )
    crls = sa.table(
        "peer_crls",
        *(sa.column(c) for c in ("id", "peer_id", "service_id", "issuer_sha256", "url", "kind", "number")),
        *(sa.column(c) for c in ("entries", "size", "sha256")),
        *(sa.column(c, UTCDateTime()) for c in ("this_update", "next_update", "fetched_at", "checked_at")),
    )
    entries = {
        s: crl.encode_entry(s, NOW - dt.timedelta(minutes=i), crl.CrlReason(i % 6)) for i, s in enumerate(SERIALS)
    }
    with engine.begin() as c:
        c.execute(
            peers.insert().values(
                id=1,
                name="beijing",
                kind="registry",
                area_code="110000",
                trust_list_url="http://bj/trust/list.jws",
                state="active",
                state_by="rita",
                proposed_by="ada",
                state_since=NOW,
                proposed_at=NOW,
            )
        )
        c.execute(
            crls.insert().values(
                id=1,
                peer_id=1,
                service_id="sm2-root",
                issuer_sha256=ISSUER,
                url="http://bj/crl/sm2-root.crl",
                kind="full",
                number=9,
                entries=len(SERIALS),
                size=1,
                sha256="00" * 32,
                this_update=NOW,
                next_update=NOW + dt.timedelta(days=1),
                fetched_at=NOW,
                checked_at=NOW,
            )
        )
        c.execute(
            text("INSERT INTO peer_revocations (crl_id, serial, entry_der) VALUES (1, :s, :e)"),
            [{"s": f"{s:040x}", "e": e} for s, e in entries.items()],
        )
    return entries


def _find(engine: sa.Engine, serial: int) -> peer_crls.Found | None:
    sql, params = peer_crls.status_sql([(ISSUER, serial)])
    with engine.connect() as c:
        return peer_crls.read_status(c.execute(text(sql), params).all(), 0, serial)[1]


def test_entries_are_carried_into_pages_and_back(empty_database: str) -> None:
    upgrade(empty_database, "0016")
    engine = _engine(empty_database)
    entries = _seed(engine)
    upgrade(empty_database, "0017")
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*), sum(count) FROM peer_revocation_pages")).one() == (3, len(SERIALS))
        assert not sa.inspect(c).has_table("peer_revocations")
    for s, der in entries.items():
        found = _find(engine, s)
        assert found is not None and found.entry == crl.decode_entry(der), hex(s)
        assert (found.crl_url, found.number) == ("http://bj/crl/sm2-root.crl", 9)
    for s in (4, 999, 1000 + 150, 1 << 150):
        assert _find(engine, s) is None
    command.downgrade(alembic_config(empty_database), "0016")
    with engine.connect() as c:
        back = dict(c.execute(text("SELECT serial, entry_der FROM peer_revocations")).all())
    assert {int(k, 16): bytes(v) for k, v in back.items()} == entries
    engine.dispose()
