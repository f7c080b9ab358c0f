"""Issue 11 item 24: a signed checkpoint outside the database catches a cut-off tail with the head
moved back, and a full rewrite with recomputed hashes (the chain alone verifies both)."""

from __future__ import annotations

import json

from sqlalchemy import text

from registry.services import audit, audit_anchor, crl_publish
from registry.services.context import ServiceContext
from tests.support.audit import behind_the_back, rehash, rows
from tests.support.cli import Cli, ctx_of
from tests.support.data import ADMIN


def verify(ctx: ServiceContext) -> audit.ChainReport:
    return audit.verify_audit_chain(ctx, ADMIN)


def checkpoint(ctx: ServiceContext) -> audit_anchor.Checkpoint:
    with crl_publish.publish_lock(ctx.settings.publish_dir):
        cp = audit_anchor.make_checkpoint(ctx)
    assert cp is not None
    return cp


def cut_tail_and_move_head(ctx: ServiceContext, keep: int) -> None:
    with behind_the_back(ctx) as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq > :s"), {"s": keep})
        h = conn.execute(text("SELECT hash FROM audit_events WHERE seq = :s"), {"s": keep}).scalar()
        conn.execute(text("UPDATE audit_chain_head SET last_seq = :s, last_hash = :h"), {"s": keep, "h": h})


def test_a_cut_tail_with_the_head_moved_back_is_caught(history: ServiceContext) -> None:
    events = rows(history)
    cp = checkpoint(history)
    assert (cp.seq, cp.hash) == (events[-1].seq, events[-1].hash)
    assert verify(history).ok and verify(history).checkpoint == cp.number
    cut_tail_and_move_head(history, events[-6].seq)
    assert audit.verify_chain(history).ok  # the chain alone is fooled
    report = verify(history)
    assert not report.ok and report.problem is not None
    assert report.problem.kind == audit_anchor.CHECKPOINT_AHEAD and report.problem.seq == cp.seq
    assert "removed from the end" in report.problem.message


def test_a_full_rewrite_with_recomputed_hashes_is_caught(history: ServiceContext) -> None:
    events = rows(history)
    checkpoint(history)
    with behind_the_back(history) as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = :s"), {"s": events[2].seq})
        rehash(conn, events[2].seq, move_head=True)
    assert audit.verify_chain(history).ok  # the chain alone is fooled
    report = verify(history)
    assert not report.ok and report.problem is not None and report.problem.kind == audit_anchor.CHECKPOINT_MISMATCH
    assert "rewritten" in report.problem.message


def test_a_new_checkpoint_is_refused_over_a_rewritten_chain(history: ServiceContext) -> None:
    events = rows(history)
    first = checkpoint(history)
    with behind_the_back(history) as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = :s"), {"s": events[2].seq})
        rehash(conn, events[2].seq, move_head=True)
    from registry.domain.roles import Role
    from registry.services import users

    users.add_user(history, ADMIN, "newcomer", [Role.OPERATOR])  # a new event: the head moves on
    try:
        checkpoint(history)
    except audit_anchor.CheckpointError as exc:
        assert "no checkpoint was written" in str(exc) and "检查点" in exc.text("zh")
    else:
        raise AssertionError("a checkpoint blessed a rewritten chain")
    assert audit_anchor.newest_checkpoint(history).number == first.number  # type: ignore[union-attr]


def test_a_forged_or_foreign_checkpoint_fails_the_check(history: ServiceContext) -> None:
    cp = checkpoint(history)
    data = json.loads(cp.path.read_text())
    data["seq"] = 1
    cp.path.write_text(json.dumps(data))
    report = verify(history)
    assert not report.ok and report.problem.kind == audit_anchor.CHECKPOINT_INVALID  # type: ignore[union-attr]
    assert "does not verify" in report.problem.message  # type: ignore[union-attr]
    (cp.path.parent / "checkpoint-99999999.json").write_text("[" * 100000)
    report = verify(history)
    assert not report.ok and report.problem.kind == audit_anchor.CHECKPOINT_INVALID  # type: ignore[union-attr]


def test_each_publish_run_writes_a_checkpoint_of_its_own_events(ctx: ServiceContext) -> None:
    crl_publish.publish(ctx, ADMIN)
    first = audit_anchor.newest_checkpoint(ctx)
    assert first is not None and first.seq == rows(ctx)[-1].seq  # covers the run's crl.published events
    crl_publish.publish(ctx, ADMIN)
    second = audit_anchor.newest_checkpoint(ctx)
    assert second is not None and second.number == first.number + 1 and second.seq > first.seq
    assert verify(ctx).ok


def test_cli_checkpoint_then_verify_fails_with_exit_1_after_truncation(ready: Cli) -> None:
    r = ready("audit", "checkpoint")
    assert "signed by sm2-root" in r.stdout and "checkpoint-" in r.stdout
    assert "already records" in ready("audit", "checkpoint").stdout
    ok = ready("audit", "verify")
    assert ok.exit_code == 0 and "agrees with signed checkpoint" in ok.stdout
    ctx = ctx_of(ready)
    try:
        cut_tail_and_move_head(ctx, rows(ctx)[-3].seq)
    finally:
        ctx.engine.dispose()
    bad = ready("audit", "verify", ok=False)
    assert bad.exit_code == 1 and "checkpoint-ahead" in bad.stdout and "head moved back" in bad.stdout
