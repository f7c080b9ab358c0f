"""`registry audit verify` (design.md §8): one line, exit 0 intact, 1 tampered, 2 could not check."""

from __future__ import annotations

from pathlib import Path

from tests.support.audit import rows, tamper
from tests.support.cli import Cli, ctx_of


def test_an_intact_log_exits_0_with_the_head(ready: Cli) -> None:
    ctx = ctx_of(ready)
    try:
        events = rows(ctx)
    finally:
        ctx.engine.dispose()
    result = ready("audit", "verify")
    assert result.exit_code == 0
    assert result.stdout.startswith(
        f"audit chain intact: {len(events)} events, head seq {events[-1].seq} hash {events[-1].hash}; "
    )
    assert result.stdout.count("\n") == 1


def test_an_edited_event_exits_1_naming_the_first_changed_event(ready: Cli) -> None:
    ctx = ctx_of(ready)
    try:
        target = next(e for e in rows(ctx) if e.action == "user.created" and e.target_id == "rita")
        tamper(ctx, "UPDATE audit_events SET target_id = 'mallory' WHERE id = :i", i=target.id)
    finally:
        ctx.engine.dispose()
    result = ready("audit", "verify", ok=False)
    assert result.exit_code == 1
    line = result.stdout.strip()
    assert "\n" not in line
    assert line.startswith(
        f"audit chain broken: changed at seq {target.seq}: event {target.seq} (id {target.id}, user.created by "
    )
    assert "does not match its hash" in line


def test_a_removed_tail_exits_1(ready: Cli) -> None:
    ctx = ctx_of(ready)
    try:
        last = rows(ctx)[-1]
        tamper(ctx, "DELETE FROM audit_events WHERE seq = :s", s=last.seq)
    finally:
        ctx.engine.dispose()
    result = ready("audit", "verify", ok=False)
    assert result.exit_code == 1 and f"truncated at seq {last.seq}" in result.stdout


def test_no_database_exits_2_and_creates_nothing(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "registry.db"
    env = dict(cli.env, REGISTRY_DATABASE_URL=f"sqlite:///{missing}")
    result = Cli(env)("audit", "verify", ok=False)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("registry: error: no database at ") and result.stderr.count("\n") == 1
    assert not missing.parent.exists()


def test_a_database_without_the_schema_exits_2(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "empty.db").write_bytes(b"")
    env = dict(cli.env, REGISTRY_DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}")
    result = Cli(env)("audit", "verify", ok=False)
    assert result.exit_code == 2
    assert result.stderr.startswith("registry: error: cannot read the audit log: ")
    assert result.stderr.count("\n") == 1
