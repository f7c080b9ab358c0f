"""The enterprise portal: e-licence sign-in, the set of four, timelines, isolation between enterprises."""

from __future__ import annotations

import re

import pytest

from registry.services import applications, elicence
from registry.services.context import ServiceContext
from tests.support.applications import staff_actor
from tests.support.data import OTHER_USCC, SHENZHEN_USCC
from tests.support.portal import csr, login_page, sign_in

pytestmark = pytest.mark.demo_issuer  # the app fixture sets up the demo e-licence issuer first


def test_sign_in_with_a_credential_for_this_pages_challenge(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    c = app.test_client()
    assert c.get("/portal/").headers["Location"].endswith("/portal/login")
    r = sign_in(c, ctx)
    assert r.status_code == 302 and r.headers["Location"].endswith("/portal/")
    html = c.get("/portal/").get_data(as_text=True)
    assert "深圳市前海示范科技有限公司" in html and "张三" in html


def test_replayed_wrong_challenge_and_forged_credentials_are_refused(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    c = app.test_client()
    challenge, token = login_page(c)
    cred = elicence.demo_credential(ctx, SHENZHEN_USCC, "not-the-pages-challenge")
    r = c.post("/portal/login", data={"credential": cred, "csrf_token": token})
    assert r.status_code == 401 and "对应的是另一个二维码" in r.get_data(as_text=True)
    # a credential made for one browser's challenge does not work in another browser
    other = app.test_client()
    ch2, tok2 = login_page(other)
    stolen = elicence.demo_credential(ctx, SHENZHEN_USCC, ch2)
    challenge, token = login_page(c)
    assert c.post("/portal/login", data={"credential": stolen, "csrf_token": token}).status_code == 401
    # replay after a successful sign-in and sign-out: the challenge was used up
    assert other.post("/portal/login", data={"credential": stolen, "csrf_token": tok2}).status_code == 302
    tok3 = re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"',  # type: ignore[union-attr]
        other.get("/portal/").get_data(as_text=True),
    ).group(1)
    other.post("/portal/logout", data={"csrf_token": tok3})
    _ch, tok4 = login_page(other)
    assert other.post("/portal/login", data={"credential": stolen, "csrf_token": tok4}).status_code == 401
    assert c.post("/portal/login", data={"credential": "ELC1.AAAA.BBBB", "csrf_token": token}).status_code == 401
    assert c.post("/portal/login", data={"credential": stolen}).status_code == 400  # no CSRF token


def test_apply_for_the_set_of_four_all_or_nothing(app, ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    import io

    c = app.test_client()
    sign_in(c, ctx)
    html = c.get("/portal/apply").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    before = fingerprint(ctx)
    bad = {
        f"csr_{code}": (io.BytesIO(csr(OTHER_USCC if code == "04" else SHENZHEN_USCC)), "r.csr")
        for code in ("01", "02", "04", "05")
    }
    r = c.post("/portal/apply", data={**bad, "csrf_token": token}, content_type="multipart/form-data")
    assert r.status_code == 400 and OTHER_USCC in r.get_data(as_text=True)
    assert fingerprint(ctx) == before  # none of the four was stored
    good = {f"csr_{code}": (io.BytesIO(csr(SHENZHEN_USCC)), "r.csr") for code in ("01", "02", "04", "05")}
    r = c.post("/portal/apply", data={**good, "csrf_token": token}, content_type="multipart/form-data")
    assert r.status_code == 302
    assert "已提交 4 份申请" in c.get("/portal/").get_data(as_text=True)


def test_timeline_withdraw_and_isolation(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    mine = applications.submit(
        ctx,
        staff_actor(ctx, "olivia"),
        uscc=SHENZHEN_USCC,
        seal_type="finance",
        key=__import__("registry.services.seals", fromlist=["KeyMaterial"]).KeyMaterial(csr=csr(SHENZHEN_USCC)),
    )
    applications.review(ctx, staff_actor(ctx, "olivia"), mine)
    a = app.test_client()
    sign_in(a, ctx)
    html = a.get(f"/portal/applications/{mine}").get_data(as_text=True)
    assert "执照已核验" in html and "撤回申请" in html
    b = app.test_client()
    sign_in(b, ctx, OTHER_USCC)
    assert b.get(f"/portal/applications/{mine}").status_code == 404
    tok = re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"',  # type: ignore[union-attr]
        b.get("/portal/").get_data(as_text=True),
    ).group(1)
    assert b.post(f"/portal/applications/{mine}/withdraw", data={"csrf_token": tok}).status_code == 404
    tok = re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"',  # type: ignore[union-attr]
        a.get(f"/portal/applications/{mine}").get_data(as_text=True),
    ).group(1)
    assert a.post(f"/portal/applications/{mine}/withdraw", data={"csrf_token": tok}).status_code == 302
    assert "已撤回" in a.get(f"/portal/applications/{mine}").get_data(as_text=True)
