"""Issue 11 item 21: dual control from the command line names people who must prove they are there."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from registry.db.models import AuditEvent
from registry.domain.roles import Role
from registry.services import staff_auth, users
from registry.services.context import ServiceContext
from tests.support.cli import Cli, ctx_of
from tests.support.data import ADMIN, SHENZHEN_USCC
from tests.support.staff import COUNTER_PASSWORD, enrolled, next_code

NEW = COUNTER_PASSWORD


@pytest.fixture
def people(ready: Cli):  # type: ignore[no-untyped-def]
    ctx = ctx_of(ready)
    try:
        secrets = {
            n: enrolled(ctx, n, *r)
            for n, r in (("oscar", (Role.OPERATOR,)), ("rhea", (Role.REVIEWER,)), ("ada", (Role.ADMIN, Role.REVIEWER)))
        }
    finally:
        ctx.engine.dispose()
    return ready, secrets


def issue(c: Cli, tmp_path: Path, operator: str, approver: str, env: dict[str, str]):  # type: ignore[no-untyped-def]
    runner = Cli(dict(c.env, **env))
    return runner(
        "seal",
        "issue",
        "--uscc",
        SHENZHEN_USCC,
        "--type",
        "finance",
        "--generate-key",
        "--out",
        str(tmp_path / "out"),
        "--operator",
        operator,
        "--approver",
        approver,
        ok=False,
    )


def events(c: Cli, *actions: str) -> list[AuditEvent]:
    ctx = ctx_of(c)
    try:
        with ctx.reader() as s:
            return list(s.scalars(select(AuditEvent).where(AuditEvent.action.in_(actions)).order_by(AuditEvent.seq)))
    finally:
        ctx.engine.dispose()


def test_operator_signs_in_and_approver_confirms_then_the_log_credits_them(people, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    c, secrets = people
    r = issue(
        c,
        tmp_path,
        "oscar",
        "rhea",
        {
            "REGISTRY_OPERATOR_PASSWORD": NEW,
            "REGISTRY_OPERATOR_CODE": next_code(secrets["oscar"]),
            "REGISTRY_APPROVER_CODE": next_code(secrets["rhea"]),
        },
    )
    assert r.exit_code == 0, r.stderr
    confirmed = events(c, "counter.confirmed")
    assert [(e.actor, e.details["role"], e.details["factors"]) for e in confirmed] == [
        ("oscar", "operator", "password+totp"),
        ("rhea", "approver", "totp"),
    ]
    assert all(e.details["cli_user"].startswith("cli:") for e in confirmed)
    assert [e.actor for e in events(c, "application.reviewed", "application.approved")] == ["oscar", "rhea"]


@pytest.mark.parametrize("case", ["wrong password", "wrong approver code", "no codes at all"])
def test_without_both_proofs_nothing_is_issued(people, tmp_path: Path, case: str) -> None:  # type: ignore[no-untyped-def]
    c, secrets = people
    env = {
        "REGISTRY_OPERATOR_PASSWORD": NEW,
        "REGISTRY_OPERATOR_CODE": next_code(secrets["oscar"]),
        "REGISTRY_APPROVER_CODE": next_code(secrets["rhea"]),
    }
    if case == "wrong password":
        env["REGISTRY_OPERATOR_PASSWORD"] = "not the password at all"
    elif case == "wrong approver code":
        env["REGISTRY_APPROVER_CODE"] = "000000" if env["REGISTRY_APPROVER_CODE"] != "000000" else "111111"
    else:
        env = {}
    r = issue(c, tmp_path, "oscar", "rhea", env)
    assert r.exit_code == 2 and r.stderr.startswith("registry: error: ") and r.stderr.count("\n") == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert events(c, "seal.issued") == [] and not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "operator,approver,words",
    [
        ("olivia", "rhea", "password was set by someone else"),  # created by `user add`, never signed in
        ("oscar", "rita", "password was set by someone else"),
        ("oscar", "ada", "an account with the admin role never approves"),
        ("oscar", "oscar", "two different people"),
    ],
)
def test_accounts_that_cannot_confirm_are_refused_before_any_code(
    people,
    tmp_path: Path,
    operator: str,  # type: ignore[no-untyped-def]
    approver: str,
    words: str,
) -> None:
    c, _secrets = people
    r = issue(c, tmp_path, operator, approver, {})
    assert r.exit_code == 2 and words in r.stderr, r.stderr
    assert events(c, "counter.confirmed", "seal.issued", "signin.failed") == []


def test_an_account_without_a_second_factor_cannot_approve(people, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    c, secrets = people
    ctx = ctx_of(c)
    try:
        _u, one_time = users.add_user(ctx, ADMIN, "nora", [Role.REVIEWER])
        step = staff_auth.check_password_step(ctx, "nora", one_time)
        from registry.db.models import User

        with ctx.transaction() as s:  # chose her password but never enrolled a code
            s.get(User, step.user_id).must_change_password = False
    finally:
        ctx.engine.dispose()
    r = issue(
        c,
        tmp_path,
        "oscar",
        "nora",
        {
            "REGISTRY_OPERATOR_PASSWORD": NEW,
            "REGISTRY_OPERATOR_CODE": next_code(secrets["oscar"]),
            "REGISTRY_APPROVER_CODE": "123456",
        },
    )
    assert r.exit_code == 2 and "no second factor is enrolled" in r.stderr


def test_break_glass_is_recorded_as_the_cli_users_act_with_the_reason(ready: Cli, tmp_path: Path) -> None:
    r = ready(
        "seal",
        "issue",
        "--uscc",
        SHENZHEN_USCC,
        "--type",
        "finance",
        "--generate-key",
        "--out",
        str(tmp_path / "out"),
        "--break-glass",
        "reviewer unreachable, court order 2026-17",
    )
    assert "break-glass" in r.stderr
    [bg] = events(ready, "application.break_glass")
    assert bg.actor.startswith("cli:") and bg.details["reason"] == "reviewer unreachable, court order 2026-17"
    [issued] = events(ready, "seal.issued")
    assert issued.details["break_glass"] == "reviewer unreachable, court order 2026-17"
    assert events(ready, "application.reviewed") == []
    bad = ready(
        "seal",
        "issue",
        "--uscc",
        SHENZHEN_USCC,
        "--type",
        "finance",
        "--generate-key",
        "--out",
        str(tmp_path / "o2"),
        "--break-glass",
        "  ",
        ok=False,
    )
    assert bad.exit_code == 2 and "needs a reason" in bad.stderr
    both = ready(
        "seal",
        "issue",
        "--uscc",
        SHENZHEN_USCC,
        "--type",
        "finance",
        "--generate-key",
        "--out",
        str(tmp_path / "o3"),
        "--break-glass",
        "x",
        "--operator",
        "olivia",
        ok=False,
    )
    assert both.exit_code == 2 and "one or the other" in both.stderr


def test_break_glass_is_refused_outside_the_command_line(ctx: ServiceContext) -> None:
    from registry.domain.errors import PermissionDenied
    from registry.services import seals
    from registry.services.context import Actor

    web_user = Actor(name="oscar", kind="staff", roles=frozenset(Role), user_id=1)
    with pytest.raises(PermissionDenied, match="only for the command line"):
        seals.issue_seal(
            ctx,
            web_user,
            seals.IssueRequest(
                uscc=SHENZHEN_USCC,
                seal_type="finance",
                key=seals.KeyMaterial(generate=True),
                operator="",
                approver="",
                break_glass="because",
            ),
        )
