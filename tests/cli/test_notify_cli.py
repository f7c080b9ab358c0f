"""``registry notify run``: one pass or a loop, against a real SMTP server on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update

from registry.db.models import Enterprise, NotificationDigest
from tests.support.cli import Cli, ctx_of, last_line
from tests.support.data import SHENZHEN_USCC
from tests.support.mail import Inbox
from tests.support.net import free_port

OFFICE = "office@qianhai.example"


def _smtp(cli: Cli, port: int) -> None:
    cli.env.update(
        {
            "REGISTRY_SMTP_HOST": "127.0.0.1",
            "REGISTRY_SMTP_PORT": str(port),
            "REGISTRY_SMTP_SECURITY": "none",
            "REGISTRY_MAIL_FROM": "seals@registry.test",
        }
    )


@pytest.fixture
def issued(ready: Cli, tmp_path: Path) -> str:
    ctx = ctx_of(ready)
    with ctx.transaction() as s:
        s.execute(update(Enterprise).where(Enterprise.uscc == SHENZHEN_USCC).values(contact_email=OFFICE))
    ctx.engine.dispose()
    out = ready(
        "seal",
        "issue",
        "--uscc",
        SHENZHEN_USCC,
        "--type",
        "contract",
        "--generate-key",
        "--out",
        str(tmp_path / "seal"),
        "--break-glass",
        "counter test",
    )
    return last_line(out)


def test_notify_run_sends_each_digest_once_and_prints_what_it_did(ready: Cli, issued: str, inbox: Inbox) -> None:
    _smtp(ready, inbox.port)
    out = ready("notify", "run").stdout
    assert f"sent {SHENZHEN_USCC}: 1 notices to {OFFICE}" in out
    assert "collected 2 notices from the audit log" in out and "expiry scan of " in out
    [m] = inbox.messages
    assert m.recipients == [OFFICE] and issued in m.text
    again = ready("notify", "run").stdout
    assert "collected 0 notices" in again and "sent 0 digests" in again
    assert len(inbox.messages) == 1


def test_notify_run_without_an_smtp_host_says_so_and_keeps_the_notices(ready: Cli, issued: str) -> None:
    out = ready("notify", "run").stdout
    assert "SMTP not configured (REGISTRY_SMTP_HOST): nothing sent; 2 notices pending for 1 enterprises" in out


def test_notify_run_exits_1_when_a_digest_could_not_be_sent_and_the_next_run_sends_it(
    ready: Cli, issued: str, inbox: Inbox
) -> None:
    _smtp(ready, free_port())  # nobody listens there
    failed = ready("notify", "run", ok=False)
    assert failed.exit_code == 1
    assert (
        f"failed {SHENZHEN_USCC}: SMTP server 127.0.0.1:" in failed.stdout
        and "retried by the next run" in failed.stdout
    )
    _smtp(ready, inbox.port)
    ok = ready("notify", "run")
    assert f"sent {SHENZHEN_USCC}: 1 notices" in ok.stdout and len(inbox.messages) == 1
    ctx = ctx_of(ready)
    with ctx.reader() as s:
        [d] = s.query(NotificationDigest).all()
        assert (d.status, d.attempts) == ("sent", 2)
    ctx.engine.dispose()


def test_notify_run_every_loops_and_sends_once(ready: Cli, issued: str, inbox: Inbox) -> None:
    _smtp(ready, inbox.port)
    out = ready("notify", "run", "--every", "0.1", "--rounds", "3").stdout
    assert out.count(f"sent {SHENZHEN_USCC}") == 1 and len(inbox.messages) == 1


def test_an_unknown_time_zone_is_a_clear_error(ready: Cli) -> None:
    ready.env["REGISTRY_NOTIFY_TIMEZONE"] = "Mars/Olympus_Mons"
    result = ready("notify", "run", ok=False)
    assert result.exit_code != 0 and "REGISTRY_NOTIFY_TIMEZONE: unknown time zone 'Mars/Olympus_Mons'" in result.output
