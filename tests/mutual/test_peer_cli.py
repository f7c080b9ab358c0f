"""``registry peer`` at the console: two people who prove they are there admit Beijing; refresh,
list, show --json; suspend and withdraw with a reason; refusals are one line and change nothing."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.domain.roles import Role
from registry.services import crl_publish
from registry.services.context import FrozenClock
from tests.support.cli import Cli, ctx_of, last_line
from tests.support.data import ADMIN
from tests.support.regions import Region, region
from tests.support.staff import COUNTER_PASSWORD, enrolled, next_code


@pytest.fixture
def beijing_live(region_database: str, tmp_path: Path) -> Iterator[Region]:
    """Beijing on the real clock (the command line's own clock is the real one)."""
    with region(tmp_path, region_database, FrozenClock(dt.datetime.now(dt.UTC).replace(microsecond=0))) as bj:
        yield bj


@pytest.fixture
def staff(ready: Cli) -> tuple[Cli, dict[str, str]]:
    ctx = ctx_of(ready)
    try:
        secrets = {
            name: enrolled(ctx, name, *roles)
            for name, roles in (
                ("ada", (Role.ADMIN,)),
                ("amos", (Role.ADMIN,)),
                ("rhea", (Role.REVIEWER,)),
                ("oscar", (Role.OPERATOR,)),
            )
        }
    finally:
        ctx.engine.dispose()
    return ready, secrets


def as_person(c: Cli, who: str, secret: str, env: str, steps: int = 1) -> Cli:
    return Cli(
        dict(c.env, **{f"REGISTRY_{env}_PASSWORD": COUNTER_PASSWORD, f"REGISTRY_{env}_CODE": next_code(secret, steps)})
    )


def test_two_people_admit_beijing_and_the_peer_is_shown(staff, beijing_live: Region) -> None:  # type: ignore[no-untyped-def]
    c, secrets = staff
    pins = [arg for h in beijing_live.fingerprints() for arg in ("--fingerprint", h)]
    add = as_person(c, "ada", secrets["ada"], "PROPOSER")(
        "peer",
        "add",
        "beijing",
        "--trust-list",
        beijing_live.list_url,
        "--area-code",
        "110000",
        *pins,
        "--proposer",
        "ada",
    )
    assert last_line(add) == "beijing"
    assert "proposed beijing: 北京市市场监督管理局" in add.stdout and "trust anchors (granted roots) 2" in add.stdout
    assert add.stdout.count("signed by pinned key") == 2
    # the proposer cannot approve (refused before any code is asked for)
    self_approve = Cli(dict(c.env))("peer", "approve", "beijing", "--approver", "ada", ok=False)
    assert self_approve.exit_code == 2 and "dual control" in self_approve.stderr
    # an operator may not approve (refused before any code is asked for)
    clerk = as_person(c, "oscar", secrets["oscar"], "APPROVER")(
        "peer", "approve", "beijing", "--approver", "oscar", ok=False
    )
    assert clerk.exit_code == 2 and "oscar" in clerk.stderr
    ok = as_person(c, "rhea", secrets["rhea"], "APPROVER")("peer", "approve", "beijing", "--approver", "rhea")
    assert "beijing admitted by rhea (proposed by ada)" in ok.stdout
    listed = json.loads(c("peer", "list", "--json").stdout)
    assert [(p["name"], p["state"], p["list"]["sequence"]) for p in listed] == [("beijing", "active", 1)]
    shown = json.loads(c("peer", "show", "beijing", "--json").stdout)
    assert shown["approved_by"] == "rhea" and shown["proposed_by"] == "ada" and shown["area_code"] == "110000"
    assert {k["kid"] for k in shown["keys"]} == {f"sha256:{h}" for h in beijing_live.fingerprints()}
    assert {s["id"] for s in shown["services"]} >= {"sm2-seal-maker", "ecdsa-issuing"}
    beijing_live.publish()
    crl_publish.publish(beijing_live.ctx, ADMIN)
    lines = c("peer", "refresh").stdout.splitlines()
    assert lines[0] == "peer beijing list 2 accepted"
    # every CRL the list names, stored with its number (12: two roots and two issuing CAs,
    # full and delta, and the issuing CAs' two shards)
    assert len(lines) == 13 and all(
        re.match(r"peer beijing http://\S+\.crl number \d+ entries \d+ stored$", x) for x in lines[1:]
    )
    suspended = as_person(c, "amos", secrets["amos"], "BY")(
        "peer", "suspend", "beijing", "--by", "amos", "--reason", "公函 2026-12-04"
    )
    assert "beijing suspended by amos: 公函 2026-12-04" in suspended.stdout
    assert "suspended" in c("peer", "list").stdout


def test_refusals_are_one_line_with_nothing_recorded(staff, beijing_live: Region) -> None:  # type: ignore[no-untyped-def]
    c, secrets = staff
    wrong = as_person(c, "ada", secrets["ada"], "PROPOSER")(
        "peer",
        "add",
        "beijing",
        "--trust-list",
        beijing_live.list_url,
        "--area-code",
        "110000",
        "--fingerprint",
        "00" * 32,
        "--proposer",
        "ada",
        ok=False,
    )
    assert wrong.exit_code == 2 and wrong.stderr.count("\n") == 1
    assert "not signed by any of the fingerprints given" in wrong.stderr
    assert c("peer", "list").stdout.strip() == "no peers"
    typo = Cli(dict(c.env))(  # refused before any password or code is asked for
        "peer",
        "add",
        "beijing",
        "--trust-list",
        beijing_live.list_url,
        "--area-code",
        "110000",
        "--fingerprint",
        "not hex",
        "--proposer",
        "ada",
        ok=False,
    )
    assert typo.exit_code == 2 and "64 hexadecimal digits" in typo.stderr
    missing = c("peer", "show", "nowhere", ok=False)
    assert missing.exit_code == 2 and missing.stderr.strip() == "registry: error: no peer named 'nowhere'"
