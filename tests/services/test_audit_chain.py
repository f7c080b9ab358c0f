"""The audit log is a hash chain: every event written through the services is numbered and
chained, and `verify_chain` finds the first event changed, removed or inserted with raw SQL
behind the application's back (issue 5, audit trail)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, func, select, text
from sqlalchemy.exc import DatabaseError

from registry.db.models import AuditChainHead, AuditEvent
from registry.domain.errors import Conflict, PermissionDenied
from registry.domain.roles import Role
from registry.services import audit, users
from registry.services.context import Actor, ServiceContext
from registry.services.core import audit_chain
from tests.support.audit import behind_the_back, rehash, rows, tamper
from tests.support.data import ADMIN, NOW

# ------------------------------------------------------------------------------------------------
# Helpers: real history through the services, and tampering with raw SQL


def head(ctx: ServiceContext) -> tuple[int, str]:
    with ctx.engine.connect() as c:
        seq, h = c.execute(select(AuditChainHead.last_seq, AuditChainHead.last_hash)).one()
        return seq, h


def renumber(conn: Connection, from_seq: int, by: int) -> None:
    """Shift the numbers of events ``from_seq``... by ``by`` (in two steps, past the unique index)."""
    conn.execute(text("UPDATE audit_events SET seq = -seq WHERE seq >= :s"), {"s": from_seq})
    conn.execute(text("UPDATE audit_events SET seq = -seq + :by WHERE seq < 0"), {"by": by})


def forge(
    conn: Connection,
    seq: int,
    prev_hash: str,
    *,
    action: str = "user.created",
    target_id: str = "mallory",
    when: dt.datetime = NOW,
) -> str:
    """Insert an event with a correct hash over its content and ``prev_hash``; returns its hash."""
    details = {"roles": ["admin"]}
    h = audit.event_hash(seq, when, "test-admin", action, "user", target_id, details, prev_hash)
    conn.execute(
        AuditEvent.__table__.insert().values(
            seq=seq,
            occurred_at=when,
            actor="test-admin",
            action=action,
            target_type="user",
            target_id=target_id,
            details=details,
            prev_hash=prev_hash,
            hash=h,
        )
    )
    return h


def problem(ctx: ServiceContext) -> audit.ChainProblem:
    report = audit.verify_chain(ctx)
    assert not report.ok and report.problem is not None, report
    return report.problem


# ------------------------------------------------------------------------------------------------
# The chain as written


def test_events_written_through_the_services_form_one_unbroken_chain(history: ServiceContext) -> None:
    events = rows(history)
    actions = {e.action for e in events}
    assert {
        "authority.created",
        "user.created",
        "licence.imported",
        "seal.issued",
        "seal.revoked",
        "application.approved",
        "licence.changed",
    } <= actions
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    prev = audit.GENESIS
    for e in events:
        assert e.prev_hash == prev
        assert e.hash == audit.event_hash(
            e.seq, e.occurred_at, e.actor, e.action, e.target_type, e.target_id, e.details, e.prev_hash
        )
        prev = e.hash
    assert head(history) == (len(events), prev)
    report = audit.verify_chain(history)
    assert report.ok and report.problem is None and report.events == len(events)
    assert report.summary() == f"audit chain intact: {len(events)} events, head seq {len(events)} hash {prev}"


def test_an_empty_log_is_intact(bare_ctx: ServiceContext) -> None:
    report = audit.verify_chain(bare_ctx)
    assert report.ok and report.events == 0 and (report.head_seq, report.head_hash) == (0, audit.GENESIS)


def test_canonical_encoding_is_sorted_compact_utf8_json_with_utc_microseconds() -> None:
    when = dt.datetime(2026, 11, 23, 16, 0, 0, 5, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    details = {"z": [1, True, None], "a": {"y": '引号"\\ 斜杠/ 换行\n\x01\x7f', "b": -20}}
    got = audit.canonical(7, when, "张三", "seal.revoked", "seal", "4403000220263HJVFXVB2HPKE", details, "ab" * 32)
    # The whole object through the standard library's encoder gives the same bytes...
    assert (
        got
        == json.dumps(
            {
                "seq": 7,
                "occurred_at": "2026-11-23T08:00:00.000005Z",
                "actor": "张三",
                "action": "seal.revoked",
                "target_type": "seal",
                "prev_hash": "ab" * 32,
                "target_id": "4403000220263HJVFXVB2HPKE",
                "details": details,
            },
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
    )
    # ... and these, written out by hand from the module's specification.
    assert got == (
        '{"action":"seal.revoked","actor":"张三","details":{"a":{"b":-20,"y":"引号\\"\\\\ 斜杠/ 换行\\n'
        '\\u0001\x7f"},"z":[1,true,null]},"occurred_at":"2026-11-23T08:00:00.000005Z",'
        '"prev_hash":"' + "ab" * 32 + '","seq":7,"target_id":"4403000220263HJVFXVB2HPKE",'
        '"target_type":"seal"}'
    ).encode("utf-8")


def test_the_hash_is_sm3_as_openssl_computes_it(history: ServiceContext, openssl: str, tmp_path: Path) -> None:
    # GB/T 32905-2016 Appendix A.1 example: SM3("abc").
    assert audit.sm3_hex(b"abc") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    e = next(e for e in rows(history) if e.action == "licence.changed")  # non-ASCII details
    data = audit.canonical(e.seq, e.occurred_at, e.actor, e.action, e.target_type, e.target_id, e.details, e.prev_hash)
    assert "福田新名“贸易”".encode() in data
    (tmp_path / "event.json").write_bytes(data)
    out = subprocess.run(
        [openssl, "dgst", "-sm3", "-r", str(tmp_path / "event.json")], capture_output=True, text=True, check=True
    ).stdout
    assert out.split()[0] == e.hash


@pytest.mark.parametrize(
    "details,error",
    [
        ({"ratio": 0.5}, "float has no canonical JSON form"),
        ({"at": NOW}, "datetime has no canonical"),
        ({"nested": {1: "x"}}, "key 1 is not a string"),
    ],
)
def test_details_without_a_canonical_form_are_refused_and_nothing_is_written(
    ctx: ServiceContext, fingerprint, details: dict[str, Any], error: str
) -> None:  # type: ignore[no-untyped-def]
    before = fingerprint(ctx)
    with pytest.raises(ValueError, match=error), ctx.transaction() as session:
        audit.record(session, ctx, ADMIN, "probe", "user", "x", **details)
    assert fingerprint(ctx) == before


def test_enum_and_tuple_details_are_stored_as_the_plain_values_that_were_hashed(ctx: ServiceContext) -> None:
    with ctx.transaction() as session:
        audit.record(
            session,
            ctx,
            ADMIN,
            "probe",
            "probe",
            1,
            role=Role.ADMIN,
            pair=(1, "a"),
            nested={"r": Role.AUDITOR, "n": [True, None]},
        )
    assert rows(ctx)[-1].details == {"role": "admin", "pair": [1, "a"], "nested": {"r": "auditor", "n": [True, None]}}
    assert audit.verify_chain(ctx).ok


def test_events_of_one_transaction_get_consecutive_numbers_in_the_order_recorded(ctx: ServiceContext) -> None:
    start = head(ctx)[0]
    with ctx.transaction() as session:
        audit.record(session, ctx, ADMIN, "probe.a", "probe", 1)  # flushed at commit
        audit.record_many(
            session.connection(), ctx, [(ADMIN, "probe.b", "probe", 2, {}), (ADMIN, "probe.c", "probe", 3, {})]
        )  # inserted now
        audit.record(session, ctx, ADMIN, "probe.d", "probe", 4, n=4)
    probes = [e for e in rows(ctx) if e.action.startswith("probe.")]
    assert [(e.seq, e.action) for e in probes] == [
        (start + 1, "probe.a"),
        (start + 2, "probe.b"),
        (start + 3, "probe.c"),
        (start + 4, "probe.d"),
    ]
    assert audit.verify_chain(ctx).ok


def test_a_refused_change_uses_no_number(ctx: ServiceContext) -> None:
    before = head(ctx)
    with pytest.raises(Conflict):
        users.add_user(ctx, ADMIN, "olivia", [Role.OPERATOR])
    assert head(ctx) == before
    users.add_user(ctx, ADMIN, "newbie", [Role.AUDITOR])
    assert rows(ctx)[-1].seq == before[0] + 1 and rows(ctx)[-1].prev_hash == before[1]
    assert audit.verify_chain(ctx).ok


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_chain_head SET last_seq = last_seq - 1",
        "UPDATE audit_chain_head SET last_hash = 'x'",
        "DELETE FROM audit_chain_head",
    ],
)
def test_the_chain_head_only_moves_forward(ctx: ServiceContext, statement: str) -> None:
    before = head(ctx)
    with pytest.raises(DatabaseError, match="only moves forward"), ctx.engine.begin() as conn:
        conn.execute(text(statement))
    assert head(ctx) == before


# ------------------------------------------------------------------------------------------------
# Tampering, and what the report says


@pytest.mark.parametrize(
    "column,value",
    [
        ("actor", "'mallory'"),
        ("target_id", "'9144XXXX'"),
        ("details", '\'{"roles": ["admin"]}\''),
        ("action", "'user.deleted'"),
    ],
)
def test_an_event_edited_in_place_is_reported_changed_at_its_number(
    history: ServiceContext, column: str, value: str
) -> None:
    target = next(e for e in rows(history) if e.action == "user.created" and e.seq > 5)
    tamper(history, f"UPDATE audit_events SET {column} = {value} WHERE seq = :s", s=target.seq)
    p = problem(history)
    assert (p.kind, p.seq) == (audit.CHANGED, target.seq)
    assert p.event is not None and p.event.id == target.id
    assert "does not match its hash" in p.message


def test_an_edited_time_is_reported_changed(history: ServiceContext) -> None:
    target = rows(history)[10]
    tamper(
        history,
        "UPDATE audit_events SET occurred_at = :t WHERE seq = :s",
        t=dt.datetime(2026, 1, 1, 0, 0, 0),
        s=target.seq,
    )
    p = problem(history)
    assert (p.kind, p.seq, p.event.id if p.event else None) == (audit.CHANGED, target.seq, target.id)


def test_a_removed_event_is_reported_at_its_number(history: ServiceContext) -> None:
    events = rows(history)
    gone = events[12]
    tamper(history, "DELETE FROM audit_events WHERE seq = :s", s=gone.seq)
    p = problem(history)
    assert (p.kind, p.seq) == (audit.REMOVED, gone.seq)
    assert p.event is not None and p.event.id == events[13].id  # the event after the hole
    assert f"event {gone.seq} missing before event {gone.seq + 1}" in p.message


def test_a_removed_event_with_the_later_ones_renumbered_is_still_reported_removed(history: ServiceContext) -> None:
    events = rows(history)
    gone = events[12]
    with behind_the_back(history) as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = :s"), {"s": gone.seq})
        renumber(conn, gone.seq + 1, -1)
        conn.execute(text("UPDATE audit_chain_head SET last_seq = last_seq - 1"))
    p = problem(history)
    assert (p.kind, p.seq) == (audit.REMOVED, gone.seq)
    assert p.event is not None and p.event.id == events[13].id


def test_a_forged_event_chained_to_its_predecessor_is_reported_inserted(history: ServiceContext) -> None:
    """The forgery links to event k and hashes correctly; to fit it in, the later events were
    renumbered (the unique number allows nothing else). The next real event still hashes as number
    k + 1 after event k: the forgery is named, at its number."""
    events = rows(history)
    k = events[8]
    with behind_the_back(history) as conn:
        renumber(conn, k.seq + 1, +1)
        forge(conn, k.seq + 1, k.hash)
        fake_id = conn.execute(select(func.max(AuditEvent.id))).scalar_one()
        conn.execute(text("UPDATE audit_chain_head SET last_seq = last_seq + 1"))
    p = problem(history)
    assert (p.kind, p.seq) == (audit.INSERTED, k.seq + 1)
    assert p.event is not None and p.event.id == fake_id and p.event.actor == "test-admin"
    assert f"right after event {k.seq}" in p.message


def test_a_forged_event_with_the_next_event_rehashed_is_reported_inserted(history: ServiceContext) -> None:
    """As above, and the attacker also re-hashed the next event under its new number (but could
    not make it link to the forgery without re-hashing everything after it): it still names
    event k as its predecessor."""
    events = rows(history)
    k = events[8]
    with behind_the_back(history) as conn:
        renumber(conn, k.seq + 1, +1)
        forge(conn, k.seq + 1, k.hash)
        fake_id = conn.execute(select(func.max(AuditEvent.id))).scalar_one()
        nxt = events[9]
        h = audit.event_hash(
            k.seq + 2,
            nxt.occurred_at,
            nxt.actor,
            nxt.action,
            nxt.target_type,
            nxt.target_id,
            nxt.details,
            nxt.prev_hash,
        )
        conn.execute(text("UPDATE audit_events SET hash = :h WHERE id = :i"), {"h": h, "i": nxt.id})
    p = problem(history)
    assert (p.kind, p.seq, p.event.id if p.event else None) == (audit.INSERTED, k.seq + 1, fake_id)


def test_an_event_appended_past_the_head_is_reported_inserted(history: ServiceContext) -> None:
    last = rows(history)[-1]
    with behind_the_back(history) as conn:
        forge(conn, last.seq + 1, last.hash)
    p = problem(history)
    assert (p.kind, p.seq) == (audit.INSERTED, last.seq + 1)
    assert "comes after the chain head" in p.message


def test_an_event_changed_and_rehashed_alone_is_reported_replaced(history: ServiceContext) -> None:
    target = rows(history)[15]
    with behind_the_back(history) as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = :s"), {"s": target.seq})
        e = conn.execute(select(AuditEvent.__table__).where(AuditEvent.seq == target.seq)).one()
        h = audit.event_hash(
            e.seq, e.occurred_at, e.actor, e.action, e.target_type, e.target_id, e.details, e.prev_hash
        )
        conn.execute(text("UPDATE audit_events SET hash = :h WHERE seq = :s"), {"h": h, "s": target.seq})
    p = problem(history)
    assert (p.kind, p.seq, p.event.id if p.event else None) == (audit.REPLACED, target.seq, target.id)


def test_removed_last_events_are_reported_truncated(history: ServiceContext) -> None:
    events = rows(history)
    tamper(history, "DELETE FROM audit_events WHERE seq > :s", s=events[-3].seq)
    p = problem(history)
    assert (p.kind, p.seq) == (audit.TRUNCATED, events[-2].seq)
    assert p.event is not None and p.event.id == events[-3].id
    assert f"events {events[-2].seq}–{events[-1].seq} removed from the end" in p.message


def test_a_rewritten_and_rehashed_tail_is_caught_by_the_head(history: ServiceContext) -> None:
    events = rows(history)
    with behind_the_back(history) as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = :s"), {"s": events[5].seq})
        rehash(conn, events[5].seq, move_head=False)
    p = problem(history)
    assert (p.kind, p.seq) == (audit.HEAD_MISMATCH, events[-1].seq)
    assert "cannot tell where the rewrite began" in p.message


def test_limit_a_rewrite_that_also_moves_the_head_is_not_detected(history: ServiceContext) -> None:
    """The honest limit of a hash chain kept in the same database: an attacker who rewrites every
    hash from the change onwards and the head too leaves a valid chain. Only an anchor kept
    elsewhere (a signed checkpoint, the head printed in published CRLs) would catch this."""
    events = rows(history)
    with behind_the_back(history) as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = :s"), {"s": events[5].seq})
        rehash(conn, events[5].seq, move_head=True)
    assert audit.verify_chain(history).ok
    assert head(history) != (events[-1].seq, events[-1].hash)  # what an external anchor would have shown


def test_a_missing_head_is_reported_and_nothing_more_is_written(history: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    tamper(history, "DELETE FROM audit_chain_head")
    assert problem(history).kind == audit.HEAD_MISSING
    before = fingerprint(history)
    with pytest.raises(audit.AuditChainError, match="head .* is missing"):
        users.add_user(history, ADMIN, "newbie", [Role.OPERATOR])
    assert fingerprint(history) == before


def test_a_repeated_number_is_reported_inserted(history: ServiceContext) -> None:
    """Only possible once the unique constraint is gone (PostgreSQL: ALTER TABLE ... DROP CONSTRAINT)."""
    if history.engine.dialect.name != "postgresql":
        pytest.skip("SQLite cannot drop a table constraint without rebuilding the table")
    events = rows(history)
    k = events[8]
    with behind_the_back(history) as conn:
        conn.execute(text("ALTER TABLE audit_events DROP CONSTRAINT uq_audit_events_seq"))
        forge(conn, k.seq, events[7].hash)
        fake_id = conn.execute(select(func.max(AuditEvent.id))).scalar_one()
    p = problem(history)
    assert (p.kind, p.seq) == (audit.INSERTED, k.seq)
    assert p.event is not None and p.event.id == fake_id and f"of event id {k.id}" in p.message


def test_the_first_problem_is_found_across_stream_batches(ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_chain, "_BATCH", 7)
    with ctx.transaction() as session:
        audit.record_many(session.connection(), ctx, [(ADMIN, "probe", "probe", i, {"i": i}) for i in range(500)])
    assert audit.verify_chain(ctx).events == head(ctx)[0]
    target = rows(ctx)[-100]
    tamper(ctx, "UPDATE audit_events SET target_id = 'x' WHERE seq = :s", s=target.seq)
    p = problem(ctx)
    assert (p.kind, p.seq) == (audit.CHANGED, target.seq)


# ------------------------------------------------------------------------------------------------
# Concurrency


def test_concurrent_writers_make_one_unbroken_chain(ctx: ServiceContext) -> None:
    """Eight threads, each on its own connection, append through record() and record_many() at
    once; on PostgreSQL they meet at the head row's lock, on SQLite at the write lock."""
    start = head(ctx)[0]
    threads_n, txns, errors = 8, 15, []
    barrier = threading.Barrier(threads_n)

    def writer(t: int) -> None:
        try:
            barrier.wait()
            for i in range(txns):
                with ctx.transaction() as session:
                    audit.record(session, ctx, ADMIN, "probe.one", "probe", f"{t}-{i}")
                    audit.record_many(
                        session.connection(),
                        ctx,
                        [(ADMIN, "probe.many", "probe", f"{t}-{i}-{j}", {}) for j in range(3)],
                    )
                    audit.record(session, ctx, ADMIN, "probe.two", "probe", f"{t}-{i}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(threads_n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    events = rows(ctx)
    assert [e.seq for e in events] == list(range(1, start + threads_n * txns * 5 + 1))
    report = audit.verify_chain(ctx)
    assert report.ok and report.events == len(events)
    # Each transaction's five events are consecutive: one writer held the head from first to last.
    probes = [e for e in events if e.action.startswith("probe.")]
    for i in range(0, len(probes), 5):
        group = probes[i : i + 5]
        assert [e.action for e in group] == ["probe.one", "probe.many", "probe.many", "probe.many", "probe.two"]
        assert len({e.target_id.split("-")[0] + e.target_id.split("-")[1] for e in group}) == 1


# ------------------------------------------------------------------------------------------------
# Who may check


@pytest.mark.parametrize(
    "role,allowed", [(Role.AUDITOR, True), (Role.ADMIN, True), (Role.OPERATOR, False), (Role.REVIEWER, False)]
)
def test_the_integrity_check_is_for_auditors_and_admins(ctx: ServiceContext, role: Role, allowed: bool) -> None:
    who = Actor(name="someone", roles=frozenset({role}))
    if allowed:
        assert audit.verify_audit_chain(ctx, who).ok
    else:
        with pytest.raises(PermissionDenied, match="audit.verify"):
            audit.verify_audit_chain(ctx, who)
