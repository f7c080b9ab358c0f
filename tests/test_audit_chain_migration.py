"""Migration 0006 chains the audit events written before it, in id order, keeps the log
append-only, and goes back down cleanly."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import DatabaseError

from registry.db.migrate import alembic_config, upgrade
from registry.services import audit
from registry.services.context import FrozenClock, ServiceContext
from tests.support.data import ADMIN, NOW, make_settings

LEGACY = [  # (occurred_at, actor, action, target_type, target_id, details JSON text)
    (NOW, "system", "authority.created", "authority", "sm2-root", '{"kind": "root"}'),
    (
        NOW + dt.timedelta(seconds=1, microseconds=250),
        "cli:root",
        "user.created",
        "user",
        "admin",
        '{"roles": ["admin"], "display_name": "管理员"}',
    ),
    (
        NOW + dt.timedelta(minutes=5),
        "rita",
        "seal.revoked",
        "seal",
        "4403000220263HJVFXVB2HPKE",
        '{"reason": "keyCompromise", "note": "挂失 \\"急\\"\\n", "n": 3, "ok": true, "x": null}',
    ),
]


def _engine(url: str):  # type: ignore[no-untyped-def]
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


def _ctx(url: str, tmp_path: Path) -> ServiceContext:
    return ServiceContext.create(make_settings(tmp_path, url), clock=FrozenClock(NOW))


def test_existing_events_are_chained_in_id_order_and_stay_append_only(
    empty_database: str,
    tmp_path: Path,
) -> None:
    upgrade(empty_database, "0005")
    engine = _engine(empty_database)
    with engine.begin() as c:
        for when, *rest in LEGACY:
            c.execute(
                text(
                    "INSERT INTO audit_events (occurred_at, actor, action, target_type, target_id, details) "
                    "VALUES (:w, :a, :ac, :tt, :ti, :d)"
                ),
                dict(zip(("w", "a", "ac", "tt", "ti", "d"), (when.replace(tzinfo=None), *rest), strict=True)),
            )
    upgrade(empty_database, "0006")
    check_ctx = _ctx(empty_database, tmp_path)
    try:
        with engine.connect() as c:
            got = c.execute(text("SELECT id, seq, action FROM audit_events ORDER BY id")).all()
        assert [(r.seq, r.action) for r in got] == [(i + 1, e[2]) for i, e in enumerate(LEGACY)]
        report = audit.verify_chain(check_ctx)
        assert report.ok and report.events == len(LEGACY) and report.head_seq == len(LEGACY)
        # The log is still append-only after the table was rebuilt (SQLite) or its trigger paused (PostgreSQL).
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as c:
            c.execute(text("UPDATE audit_events SET actor = 'mallory'"))
        # New events continue the chain.
        with check_ctx.transaction() as session:
            audit.record(session, check_ctx, ADMIN, "probe", "probe", 1, note="after the migration")
        report = audit.verify_chain(check_ctx)
        assert report.ok and report.events == len(LEGACY) + 1
    finally:
        check_ctx.engine.dispose()

    command.downgrade(alembic_config(empty_database), "0005")
    with engine.connect() as c:
        assert "audit_chain_head" not in inspect(c).get_table_names()
        assert "seq" not in {col["name"] for col in inspect(c).get_columns("audit_events")}
        assert c.execute(text("SELECT count(*) FROM audit_events")).scalar_one() == len(LEGACY) + 1
    with pytest.raises(DatabaseError, match="append-only"), engine.begin() as c:
        c.execute(text("DELETE FROM audit_events"))
    upgrade(empty_database, "0006")  # pinned: later migrations and the whole-schema check are test_migrations'
    again = _ctx(empty_database, tmp_path)
    try:
        assert audit.verify_chain(again).ok
    finally:
        again.engine.dispose()
        engine.dispose()
