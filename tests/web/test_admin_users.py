"""Admin portal: staff accounts. Create with a one-time password shown once, roles, deactivate and
reactivate, reset the second factor; an admin never deactivates themselves and the last active
admin stays (issue 5)."""

from __future__ import annotations

import re
import threading
import time

import pytest
from sqlalchemy import select

from registry.db.models import AuditEvent, User
from registry.domain.errors import InvalidTransition, NotFound, PermissionDenied, ValidationError
from registry.domain.roles import Role
from registry.pki import totp
from registry.services import users
from registry.services.context import Actor, ServiceContext
from registry.services.core import audit as core_audit
from tests.support.data import ADMIN
from tests.support.staff import NEW_PASSWORD, client_as, csrf, page_csrf, sign_in, staff


def events(ctx: ServiceContext, target: str) -> list[tuple[str, str, dict]]:  # type: ignore[type-arg]
    with ctx.reader() as s:
        return [
            tuple(r)
            for r in s.execute(
                select(AuditEvent.action, AuditEvent.actor, AuditEvent.details)
                .where(AuditEvent.target_type == "user", AuditEvent.target_id == target)
                .order_by(AuditEvent.seq)
            )
        ]  # type: ignore[misc]


def post(client, path: str, data: dict | None = None, token_from: str = "/admin/"):  # type: ignore[no-untyped-def,type-arg]
    return client.post(path, data={"csrf_token": page_csrf(client, token_from), **(data or {})})


def admin_actor(ctx: ServiceContext, name: str) -> Actor:
    with ctx.reader() as s:
        uid = s.scalar(select(User.id).where(User.username == name))
    return Actor(name, roles=frozenset({Role.ADMIN}), user_id=uid)


def test_a_new_account_shows_its_one_time_password_once(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    adm = client_as(app, ctx, "adm", Role.ADMIN)
    resp = post(
        adm,
        "/admin/users",
        {"username": "ZhangSan", "display_name": "张三", "roles": ["operator", "reviewer"]},
        token_from="/admin/users",
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    password = re.search(r'<code id="one-time-password">([^<]+)</code>', html).group(1)  # type: ignore[union-attr]
    assert len(password) >= 16 and "只显示这一次" not in html and "密码仅显示这一次" in html
    # nowhere else: not on the list, not on the account's page, not in the database or the audit log
    for path in ("/admin/users", "/admin/users/zhangsan"):
        page = adm.get(path).get_data(as_text=True)
        assert "zhangsan" in page and password not in page
    with ctx.reader() as s:
        user = s.scalar(select(User).where(User.username == "zhangsan"))
        assert user is not None and user.display_name == "张三" and user.must_change_password
        assert user.roles == {Role.OPERATOR, Role.REVIEWER} and password not in user.password_hash
    assert events(ctx, "zhangsan") == [("user.created", "adm", {"roles": ["operator", "reviewer"]})]
    # and it works once: the first sign-in enrols a second factor and forces a new password
    sign_in(app.test_client(), ctx, "zhangsan", password)


@pytest.mark.parametrize(
    "data,status,message",
    [
        ({"username": "olivia", "roles": ["operator"]}, 409, "用户 olivia 已存在"),
        ({"username": "9lives", "roles": ["operator"]}, 400, "用户名 9lives 无效"),
        ({"username": "<b>x</b>", "roles": ["operator"]}, 400, "无效：2–64 个字符"),
        ({"username": "newbie"}, 400, "请至少选择一个角色"),
        ({"username": "newbie", "roles": ["superuser"]}, 400, "superuser"),
        ({"username": "", "roles": ["operator"]}, 400, "该字段是必填字段"),
    ],
)
def test_bad_account_data_is_refused_and_nothing_is_written(
    app,
    ctx: ServiceContext,
    fingerprint,
    data,  # type: ignore[no-untyped-def]
    status: int,
    message: str,
) -> None:
    adm = client_as(app, ctx, "adm", Role.ADMIN)
    token = page_csrf(adm, "/admin/users")
    before = fingerprint(ctx)
    resp = adm.post("/admin/users", data={"csrf_token": token, **data})
    html = resp.get_data(as_text=True)
    assert resp.status_code == status, html[:300]
    assert message in html or message in html.replace("&#39;", "'"), html
    assert "<b>x</b>" not in html and 'id="one-time-password"' not in html
    assert fingerprint(ctx) == before


def test_changing_roles_applies_at_the_users_next_request_and_is_audited(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    adm = client_as(app, ctx, "adm", Role.ADMIN)
    sam = client_as(app, ctx, "sam", Role.OPERATOR)
    assert sam.get("/admin/audit").status_code == 403
    resp = post(adm, "/admin/users/sam", {"roles": ["auditor"]}, token_from="/admin/users/sam")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/users/sam")
    assert "auditor" in adm.get("/admin/users/sam").get_data(as_text=True)
    assert sam.get("/admin/audit").status_code == 200
    assert events(ctx, "sam")[-1] == ("user.roles_changed", "adm", {"before": ["operator"], "after": ["auditor"]})
    # the same roles again: nothing to record
    post(adm, "/admin/users/sam", {"roles": ["auditor"]})
    assert (
        events(ctx, "sam")[-1][0] == "user.roles_changed"
        and len([e for e in events(ctx, "sam") if e[0] == "user.roles_changed"]) == 1
    )
    # no role at all: the form says so
    resp = post(adm, "/admin/users/sam", {})
    assert resp.status_code == 400 and "请至少选择一个角色" in resp.get_data(as_text=True)
    with pytest.raises(ValidationError):
        users.set_roles(ctx, ADMIN, "sam", [])


def test_deactivation_signs_the_user_out_and_reactivation_lets_them_back(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    adm = client_as(app, ctx, "adm", Role.ADMIN)
    sam = app.test_client()
    secret = sign_in(sam, ctx, "sam", staff(ctx, "sam"))
    assert post(adm, "/admin/users/sam/deactivate").status_code == 302
    assert "已停用" in adm.get("/admin/users/sam").get_data(as_text=True)
    r = sam.get("/admin/")
    assert r.status_code == 302 and "/admin/login" in r.headers["Location"]
    r = sam.post(
        "/admin/login", data={"username": "sam", "password": NEW_PASSWORD, "csrf_token": page_csrf(sam, "/admin/login")}
    )
    assert r.status_code == 401
    # a second deactivation is a conflict with a message
    resp = post(adm, "/admin/users/sam/deactivate")
    assert resp.status_code == 409 and "sam 已被停用" in resp.get_data(as_text=True)
    assert post(adm, "/admin/users/sam/reactivate").status_code == 302
    resp = post(adm, "/admin/users/sam/reactivate")
    assert resp.status_code == 409 and "sam 已处于启用状态" in resp.get_data(as_text=True)
    ctx.clock.advance(seconds=30)
    r = sam.post(
        "/admin/login", data={"username": "sam", "password": NEW_PASSWORD, "csrf_token": page_csrf(sam, "/admin/login")}
    )
    assert r.headers["Location"].endswith("/admin/login/code")
    r = sam.post(
        "/admin/login/code",
        data={"code": totp.code_at(secret, ctx.clock.now()), "csrf_token": page_csrf(sam, "/admin/login/code")},
    )
    assert r.status_code == 302 and sam.get("/admin/").status_code == 200
    assert [e[0] for e in events(ctx, "sam") if e[1] == "adm"] == ["user.deactivated", "user.reactivated"]


def test_resetting_the_second_factor_makes_the_user_enrol_again(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    adm = client_as(app, ctx, "adm", Role.ADMIN)
    sam = app.test_client()
    sign_in(sam, ctx, "sam", staff(ctx, "sam"))
    assert "已绑定" in adm.get("/admin/users/sam").get_data(as_text=True)
    resp = post(adm, "/admin/users/sam/reset-second-factor")
    assert resp.status_code == 302
    assert "重新绑定" in adm.get(resp.headers["Location"]).get_data(as_text=True)
    assert sam.get("/admin/").status_code == 302  # the old session is over
    r = sam.post(
        "/admin/login", data={"username": "sam", "password": NEW_PASSWORD, "csrf_token": page_csrf(sam, "/admin/login")}
    )
    assert r.headers["Location"].endswith("/admin/login/enrol")
    assert events(ctx, "sam")[-1][:2] == ("totp.reset", "adm")


def test_an_admin_cannot_deactivate_themselves_nor_remove_the_last_admin(
    app,
    ctx: ServiceContext,  # type: ignore[no-untyped-def]
    fingerprint,
) -> None:
    adm = client_as(app, ctx, "adm", Role.ADMIN)
    token = page_csrf(adm, "/admin/users/adm")
    before = fingerprint(ctx)
    resp = adm.post("/admin/users/adm/deactivate", data={"csrf_token": token})
    assert resp.status_code == 409 and "不能停用自己的账号" in resp.get_data(as_text=True)
    resp = adm.post("/admin/users/adm", data={"csrf_token": token, "roles": ["operator"]})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 409 and "adm 是最后一个启用的管理员" in html
    assert fingerprint(ctx) == before
    # a second admin that is deactivated does not count
    users.add_user(ctx, ADMIN, "boss", [Role.ADMIN])
    assert adm.post("/admin/users/boss/deactivate", data={"csrf_token": token}).status_code == 302
    assert adm.post("/admin/users/adm", data={"csrf_token": token, "roles": ["operator"]}).status_code == 409
    # an active one does: then adm may step down (and loses the page at the next request)
    assert adm.post("/admin/users/boss/reactivate", data={"csrf_token": token}).status_code == 302
    assert adm.post("/admin/users/adm", data={"csrf_token": token, "roles": ["operator"]}).status_code == 302
    assert adm.get("/admin/users").status_code == 403
    # the same rule whatever the entry point (the command line acts as a system actor)
    with pytest.raises(users.LastAdmin):
        users.deactivate_user(ctx, ADMIN, "boss")
    with pytest.raises(users.LastAdmin):
        users.set_roles(ctx, ADMIN, "boss", [Role.AUDITOR])


def test_two_admins_deactivating_each_other_at_once_leave_one(ctx: ServiceContext, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The checks run under locks on the admin accounts: the second change waits for the first and
    then sees it, instead of both passing their checks and leaving no admin."""
    users.add_user(ctx, ADMIN, "boss1", [Role.ADMIN])
    users.add_user(ctx, ADMIN, "boss2", [Role.ADMIN])
    boss1, boss2 = admin_actor(ctx, "boss1"), admin_actor(ctx, "boss2")
    real = core_audit.record  # under Tx.audit
    inside, go = threading.Event(), threading.Event()

    def record_slowly(session, c, actor, action, *args, **kw):  # type: ignore[no-untyped-def]
        if actor.name == "boss1" and action == "user.deactivated":
            inside.set()  # boss1's checks passed; its transaction is still open
            go.wait(20)
        return real(session, c, actor, action, *args, **kw)

    monkeypatch.setattr(core_audit, "record", record_slowly)
    outcome: dict[str, object] = {}

    def run(name: str, who: Actor, target: str) -> None:
        try:
            users.deactivate_user(ctx, who, target)
            outcome[name] = "done"
        except Exception as exc:  # noqa: BLE001 - reported to the test
            outcome[name] = exc

    first = threading.Thread(target=run, args=("first", boss1, "boss2"))
    first.start()
    assert inside.wait(20)
    second = threading.Thread(target=run, args=("second", boss2, "boss1"))
    second.start()
    time.sleep(0.5)
    assert second.is_alive() and "second" not in outcome  # waiting for the first to finish
    go.set()
    first.join(30)
    second.join(30)
    assert outcome["first"] == "done" and isinstance(outcome["second"], users.LastAdmin), outcome
    with ctx.reader() as s:
        active = {
            u
            for (u,) in s.execute(
                select(User.username).where(User.active.is_(True), User.username.in_(["boss1", "boss2"]))
            )
        }
    assert active == {"boss1"}


def test_unknown_accounts_are_404(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    adm = client_as(app, ctx, "adm", Role.ADMIN)
    token = page_csrf(adm, "/admin/users")
    assert adm.get("/admin/users/nobody").status_code == 404
    for path in (
        "/admin/users/nobody",
        "/admin/users/nobody/deactivate",
        "/admin/users/nobody/reactivate",
        "/admin/users/nobody/reset-second-factor",
    ):
        assert adm.post(path, data={"csrf_token": token, "roles": ["operator"]}).status_code == 404, path
    with pytest.raises(NotFound):
        users.get_user(ctx, ADMIN, "nobody")


def test_only_admins_manage_staff_and_every_form_needs_its_token(app, ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    op = client_as(app, ctx, "sam", Role.OPERATOR)
    aud = client_as(app, ctx, "aud2", Role.AUDITOR)
    adm = client_as(app, ctx, "adm", Role.ADMIN)
    before = fingerprint(ctx)
    for client in (op, aud):
        token = page_csrf(client, "/admin/")
        assert client.get("/admin/users").status_code == 403
        assert (
            client.post("/admin/users", data={"csrf_token": token, "username": "evil", "roles": ["admin"]}).status_code
            == 403
        )
        assert client.post("/admin/users/olivia", data={"csrf_token": token, "roles": ["admin"]}).status_code == 403
        assert client.post("/admin/users/olivia/deactivate", data={"csrf_token": token}).status_code == 403
        assert client.post("/admin/users/olivia/reset-second-factor", data={"csrf_token": token}).status_code == 403
    for path, data in (
        ("/admin/users", {"username": "x1", "roles": ["operator"]}),
        ("/admin/users/olivia", {"roles": ["admin"]}),
        ("/admin/users/olivia/deactivate", {}),
        ("/admin/users/olivia/reset-second-factor", {}),
    ):
        resp = adm.post(path, data=data)
        assert resp.status_code == 400 and "CSRF" in resp.get_data(as_text=True), path
    assert fingerprint(ctx) == before
    who = Actor("olivia", roles=frozenset({Role.OPERATOR}))
    for call in (
        lambda: users.list_users(ctx, who),
        lambda: users.set_roles(ctx, who, "rita", [Role.ADMIN]),
        lambda: users.deactivate_user(ctx, who, "rita"),
        lambda: users.reactivate_user(ctx, who, "rita"),
    ):
        with pytest.raises(PermissionDenied):
            call()
    with pytest.raises(InvalidTransition):
        users.reactivate_user(ctx, ADMIN, "rita")


def test_the_list_pages_by_username_and_escapes_markup(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    users.add_user(ctx, ADMIN, "mallory", [Role.OPERATOR], display_name="<script>alert(1)</script>")
    names = sorted(["olivia", "rita", "otto", "aud", "mallory", "adm"])
    adm = client_as(app, ctx, "adm", Role.ADMIN)
    seen, after = [], None
    while True:
        page = users.list_users(ctx, ADMIN, after=after, limit=2)
        seen += [r.username for r in page.rows]
        if page.next_after is None:
            break
        after = page.next_after
    assert seen == names
    html = adm.get(f"/admin/users?after={names[1]}").get_data(as_text=True)
    assert names[1] not in re.findall(r"<code>([a-z0-9._-]+)</code></a>", html) and names[2] in html
    for path in ("/admin/users", "/admin/users/mallory"):
        html = adm.get(path).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html
    assert csrf(html)


def test_init_makes_a_new_first_admin_when_every_admin_is_deactivated(ctx: ServiceContext) -> None:
    users.add_user(ctx, ADMIN, "admin", [Role.ADMIN])
    assert users.ensure_first_admin(ctx, ADMIN) is None
    with ctx.transaction() as s:  # e.g. deactivated behind the guard, directly in the database
        s.scalars(select(User).where(User.username == "admin")).one().active = False
    made = users.ensure_first_admin(ctx, ADMIN)
    assert made is not None and made[0] == "admin2" and len(made[1]) >= 12
    with ctx.reader() as s:
        user = s.scalars(select(User).where(User.username == "admin2")).one()
        assert user.active and Role.ADMIN in user.roles and user.must_change_password
    assert users.ensure_first_admin(ctx, ADMIN) is None
