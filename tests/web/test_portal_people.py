"""Authorised persons: the legal representative creates them and grants authority over seals; they
sign in with USCC + username + password + TOTP and see only the seals granted to them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from registry.db.models import AuditEvent, Enterprise, EnterprisePerson, SealGrant
from registry.domain.errors import NotFound, PermissionDenied
from registry.pki import totp
from registry.services import enterprise_people, licences
from registry.services import person_sign_in as person_auth
from registry.services.context import ServiceContext
from registry.services.core.tx import reading
from registry.services.portal_access import Principal, seal_for
from tests.support.data import ADMIN, OTHER_USCC, SHENZHEN_USCC
from tests.support.portal import csrf, legal, one_time_password, person_sign_in, sign_in
from tests.support.seals import issue_es_id as issue

pytestmark = pytest.mark.demo_issuer  # the app fixture sets up the demo e-licence issuer first


def create(client, username: str = "li.lei", name: str = "李雷", email: str = "li@example.cn"):  # type: ignore[no-untyped-def]
    html = client.get("/portal/people").get_data(as_text=True)
    return client.post(
        "/portal/people", data={"username": username, "display_name": name, "email": email, "csrf_token": csrf(html)}
    )


def test_legal_representative_authorises_a_person_who_then_sees_only_granted_seals(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    granted, other = issue(ctx, seal_type="finance"), issue(ctx, seal_type="contract")
    boss = app.test_client()
    sign_in(boss, ctx)
    r = create(boss)
    assert r.status_code == 200
    password = one_time_password(r)
    with ctx.reader() as s:
        p = s.scalars(select(EnterprisePerson)).one()
        assert p.username == "li.lei" and p.must_change_password and password not in p.password_hash
    c, _secret = person_sign_in(app, ctx, "li.lei", password)
    home = c.get("/portal/").get_data(as_text=True)
    assert granted not in home and other not in home and "李雷" in home
    # grant "hold" over one seal
    html = boss.get(f"/portal/people/{p.id}").get_data(as_text=True)
    r = boss.post(f"/portal/people/{p.id}/grant", data={"seal": granted, "authority": "hold", "csrf_token": csrf(html)})
    assert r.status_code == 302
    home = c.get("/portal/").get_data(as_text=True)
    assert granted in home and other not in home
    # the person cannot manage people, apply, or read applications
    assert c.get("/portal/people").status_code == 403
    assert c.get("/portal/apply").status_code == 403
    assert c.get("/portal/settings").status_code == 403
    assert c.post(f"/portal/people/{p.id}/reset-password", data={"csrf_token": csrf(home)}).status_code == 403
    # withdraw: the seal disappears from the person's view
    html = boss.get(f"/portal/people/{p.id}").get_data(as_text=True)
    assert (
        boss.post(f"/portal/people/{p.id}/withdraw", data={"seal": granted, "csrf_token": csrf(html)}).status_code
        == 302
    )
    assert granted not in c.get("/portal/").get_data(as_text=True)
    with ctx.reader() as s:
        actions = s.scalars(
            select(AuditEvent.action).where(AuditEvent.target_type == "person").order_by(AuditEvent.id)
        ).all()
    assert actions == [
        "person.created",
        "totp.enrolled",
        "signin.succeeded",
        "person.password_changed",
        "person.granted",
        "person.withdrawn",
    ]


def test_deactivation_signs_the_person_out_at_the_next_request(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    boss = app.test_client()
    sign_in(boss, ctx)
    password = one_time_password(create(boss))
    c, _ = person_sign_in(app, ctx, "li.lei", password)
    assert c.get("/portal/").status_code == 200
    pid = enterprise_people.list_people(ctx, legal(ctx))[0].id
    html = boss.get(f"/portal/people/{pid}").get_data(as_text=True)
    # an irreversible action asks for the username typed by hand
    r = boss.post(f"/portal/people/{pid}/deactivate", data={"csrf_token": csrf(html)})
    assert r.status_code == 400 and "请输入用户名 li.lei 以确认" in r.get_data(as_text=True)
    assert c.get("/portal/").status_code == 200
    r = boss.post(f"/portal/people/{pid}/deactivate", data={"csrf_token": csrf(html), "confirm": "li.lei"})
    assert r.status_code == 302
    assert c.get("/portal/").headers["Location"].endswith("/portal/login")
    # and cannot sign in again (the same answer as a wrong password)
    html = c.get("/portal/login/person").get_data(as_text=True)
    r = c.post(
        "/portal/login/person",
        data={
            "uscc": SHENZHEN_USCC,
            "username": "li.lei",
            "password": "a-much-longer-secret-42",
            "csrf_token": csrf(html),
        },
    )
    assert r.status_code == 401
    # deactivating twice is a 409 with a message
    html = boss.get(f"/portal/people/{pid}").get_data(as_text=True)
    r = boss.post(f"/portal/people/{pid}/deactivate", data={"csrf_token": csrf(html), "confirm": "li.lei"})
    assert r.status_code == 409 and "li.lei 已被停用" in r.get_data(as_text=True)


def test_a_revoked_licence_stops_its_people_signing_in(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    pid, password = enterprise_people.create_person(ctx, legal(ctx), "han.mei", "韩梅梅")
    c, _ = person_sign_in(app, ctx, "han.mei", password)
    licences.set_licence_status(ctx, ADMIN, SHENZHEN_USCC, "revoked")
    assert c.get("/portal/").headers["Location"].endswith("/portal/login")
    with pytest.raises(enterprise_people.SignInFailed, match="revoked"):
        person_auth.check_password_step(ctx, SHENZHEN_USCC, "han.mei", "a-much-longer-secret-42")


def test_wrong_passwords_lock_the_account_and_codes_are_used_once(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    pid, password = enterprise_people.create_person(ctx, legal(ctx), "han.mei", "韩梅梅")
    c = app.test_client()
    for _ in range(ctx.settings.login_max_failures):
        html = c.get("/portal/login/person").get_data(as_text=True)
        r = c.post(
            "/portal/login/person",
            data={"uscc": SHENZHEN_USCC, "username": "han.mei", "password": "wrong", "csrf_token": csrf(html)},
        )
        assert r.status_code == 401
    html = c.get("/portal/login/person").get_data(as_text=True)
    r = c.post(
        "/portal/login/person",
        data={"uscc": SHENZHEN_USCC, "username": "han.mei", "password": password, "csrf_token": csrf(html)},
    )
    assert r.status_code == 423  # locked even with the right password
    ctx.clock.advance(minutes=ctx.settings.login_lock_minutes + 1)  # type: ignore[attr-defined]
    c2, secret = person_sign_in(app, ctx, "han.mei", password)
    # the code just used to enrol cannot be used again in another sign-in
    c3 = app.test_client()
    html = c3.get("/portal/login/person").get_data(as_text=True)
    c3.post(
        "/portal/login/person",
        data={
            "uscc": SHENZHEN_USCC,
            "username": "han.mei",
            "password": "a-much-longer-secret-42",
            "csrf_token": csrf(html),
        },
    )
    html = c3.get("/portal/login/person/code").get_data(as_text=True)
    r = c3.post(
        "/portal/login/person/code", data={"code": totp.code_at(secret, ctx.clock.now()), "csrf_token": csrf(html)}
    )
    assert r.status_code == 401 and 'role="alert"' in r.get_data(as_text=True)
    assert c3.get("/portal/").headers["Location"].endswith("/portal/login")  # not signed in


def test_seal_for_applies_hold_and_manage(ctx: ServiceContext) -> None:
    es_id = issue(ctx)
    boss = legal(ctx)
    pid, _ = enterprise_people.create_person(ctx, boss, "li.lei", "李雷")
    person = Principal(boss.enterprise_id, boss.uscc, boss.enterprise_name, "李雷", pid, "li.lei")
    with reading(ctx, person.actor) as tx:
        with pytest.raises(NotFound):
            seal_for(tx, person, es_id)  # no grant: not even visible
        assert seal_for(tx, boss, es_id, "manage").es_id == es_id
    enterprise_people.grant(ctx, boss, pid, es_id, "hold")
    with reading(ctx, person.actor) as tx:
        assert seal_for(tx, person, es_id, "hold").es_id == es_id
        with pytest.raises(PermissionDenied, match="manage"):
            seal_for(tx, person, es_id, "manage")
    enterprise_people.grant(ctx, boss, pid, es_id, "manage")  # upgraded in place
    with reading(ctx, person.actor) as tx:
        assert seal_for(tx, person, es_id, "manage").es_id == es_id
        assert len(tx.session.scalars(select(SealGrant)).all()) == 1
    other = legal(ctx, OTHER_USCC)
    with reading(ctx, other.actor) as tx, pytest.raises(NotFound):
        seal_for(tx, other, es_id)  # another enterprise never sees it


def test_another_enterprise_gets_404_for_every_people_url(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    es_id = issue(ctx)
    pid, _ = enterprise_people.create_person(ctx, legal(ctx), "li.lei", "李雷")
    mallory = app.test_client()
    sign_in(mallory, ctx, OTHER_USCC)
    token = csrf(mallory.get("/portal/people").get_data(as_text=True))
    assert mallory.get(f"/portal/people/{pid}").status_code == 404
    for action, data in (
        ("grant", {"seal": es_id, "authority": "manage"}),
        ("withdraw", {"seal": es_id}),
        ("deactivate", {"confirm": "li.lei"}),
        ("reactivate", {}),
        ("reset-password", {"confirm": "li.lei"}),
        ("reset-second-factor", {"confirm": "li.lei"}),
    ):
        r = mallory.post(f"/portal/people/{pid}/{action}", data={**data, "csrf_token": token})
        assert r.status_code == 404, action
    # nor can the other enterprise grant our seal to its own person
    own, _ = enterprise_people.create_person(ctx, legal(ctx, OTHER_USCC), "wang.wu", "王五")
    r = mallory.post(f"/portal/people/{own}/grant", data={"seal": es_id, "authority": "hold", "csrf_token": token})
    assert r.status_code == 404
    with ctx.reader() as s:
        assert s.scalars(select(SealGrant)).all() == []


def test_bad_input_is_refused_with_a_message_and_nothing_stored(app, ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    boss = app.test_client()
    sign_in(boss, ctx)
    password = one_time_password(create(boss))
    assert password
    before = fingerprint(ctx)
    r = create(boss, username="li.lei")
    assert r.status_code == 409 and "本企业已有名为 li.lei 的被授权人" in r.get_data(as_text=True)
    r = create(boss, username="9bad name")
    assert r.status_code == 400
    r = create(boss, username="someone", email="not-an-address")
    assert r.status_code == 400 and "不是电子邮件地址" in r.get_data(as_text=True)
    html = boss.get("/portal/settings").get_data(as_text=True)
    r = boss.post("/portal/settings", data={"email": "x@y", "csrf_token": csrf(html)})
    assert r.status_code == 400
    assert boss.post("/portal/people", data={"username": "zz", "display_name": "Z"}).status_code == 400  # no CSRF
    pid = enterprise_people.list_people(ctx, legal(ctx))[0].id
    html = boss.get(f"/portal/people/{pid}").get_data(as_text=True)
    r = boss.post(
        f"/portal/people/{pid}/grant", data={"seal": "no-such-seal", "authority": "hold", "csrf_token": csrf(html)}
    )
    assert r.status_code == 404
    r = boss.post(f"/portal/people/{pid}/withdraw", data={"seal": "no-such-seal", "csrf_token": csrf(html)})
    assert r.status_code == 404
    assert fingerprint(ctx) == before


def test_markup_in_names_is_escaped_and_contact_address_is_saved(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    boss = app.test_client()
    sign_in(boss, ctx)
    create(boss, username="evil", name="<script>alert(1)</script>")
    html = boss.get("/portal/people").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    r = boss.post("/portal/settings", data={"email": "seals@qianhai.example.cn", "csrf_token": csrf(html)})
    assert r.status_code == 302
    with ctx.reader() as s:
        assert (
            s.scalars(select(Enterprise.contact_email).where(Enterprise.uscc == SHENZHEN_USCC)).one()
            == "seals@qianhai.example.cn"
        )
    assert "seals@qianhai.example.cn" in boss.get("/portal/settings").get_data(as_text=True)


def test_reset_password_shows_a_new_one_time_password_once(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    pid, first = enterprise_people.create_person(ctx, legal(ctx), "li.lei", "李雷")
    boss = app.test_client()
    sign_in(boss, ctx)
    html = boss.get(f"/portal/people/{pid}").get_data(as_text=True)
    r = boss.post(f"/portal/people/{pid}/reset-password", data={"csrf_token": csrf(html), "confirm": "LI.LEI "})
    second = one_time_password(r)
    assert second != first
    with pytest.raises(enterprise_people.SignInFailed):
        person_auth.check_password_step(ctx, SHENZHEN_USCC, "li.lei", first)
    assert person_auth.check_password_step(ctx, SHENZHEN_USCC, "li.lei", second).needs_enrolment
    assert second not in boss.get(f"/portal/people/{pid}").get_data(as_text=True)
