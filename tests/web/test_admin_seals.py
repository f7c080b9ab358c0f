"""Admin portal: seal search (keyset pages), detail, downloads, revoke / suspend / resume."""

from __future__ import annotations

import pytest

from registry.domain.roles import Role
from registry.pki import ses, x509
from registry.services.context import ServiceContext
from tests.support.data import SHENZHEN_USCC
from tests.support.seals import issue
from tests.support.staff import client_as, page_csrf


def test_search_by_code_uscc_and_name_with_keyset_pages(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    issued = [issue(ctx, t) for t in ("official", "finance", "contract")] * 1
    c = client_as(app, ctx, "sam", Role.OPERATOR)
    html = c.get(f"/admin/seals?q={issued[1].es_id}").get_data(as_text=True)
    assert issued[1].es_id in html and issued[0].es_id not in html
    html = c.get(f"/admin/seals?q={SHENZHEN_USCC}").get_data(as_text=True)
    assert all(r.es_id in html for r in issued)
    html = c.get("/admin/seals?q=深圳市前海").get_data(as_text=True)
    assert all(r.es_id in html for r in issued)
    assert "没有符合条件的印章" in c.get("/admin/seals?q=%25").get_data(as_text=True)  # LIKE wildcard escaped
    # pages of 2: newest first, then the rest after the last id shown
    from registry.services import seal_records
    from registry.services.context import Actor

    who = Actor("sam", roles=frozenset({Role.OPERATOR}))
    first = seal_records.search(ctx, who, "", limit=2)
    assert [r.es_id for r in first.rows] == [issued[2].es_id, issued[1].es_id] and first.next_after is not None
    second = seal_records.search(ctx, who, "", after=first.next_after, limit=2)
    assert [r.es_id for r in second.rows] == [issued[0].es_id] and second.next_after is None
    html = c.get(f"/admin/seals?after={first.rows[-1].id}").get_data(as_text=True)
    assert issued[0].es_id in html and issued[2].es_id not in html


def test_detail_downloads_and_history(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    r = issue(ctx)
    c = client_as(app, ctx, "aud1", Role.AUDITOR)
    html = c.get(f"/admin/seals/{r.es_id}").get_data(as_text=True)
    assert "签发印章" in html and "财务专用章" in html
    assert "吊销此印章" not in html  # the auditor may look, not act
    esl = c.get(f"/admin/seals/{r.es_id}/seal.esl")
    assert esl.status_code == 200 and esl.data == r.seal_der
    assert f'filename="{r.es_id}.esl"' in esl.headers["Content-Disposition"]
    assert ses.parse_seal(esl.data).es_id == r.es_id
    pem = c.get(f"/admin/seals/{r.es_id}/cert.pem").get_data(as_text=True)
    assert x509.Certificate.from_pem(pem).der == r.certificate_der
    assert c.get(f"/admin/seals/{r.es_id}/secret.key").status_code == 404


def test_revoke_needs_the_reviewer_role_a_confirmation_and_a_token(app, ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    r = issue(ctx)
    op = client_as(app, ctx, "sam", Role.OPERATOR)
    token = page_csrf(op, f"/admin/seals/{r.es_id}")
    assert (
        op.post(
            f"/admin/seals/{r.es_id}/revoke", data={"reason": "keyCompromise", "confirm": r.es_id, "csrf_token": token}
        ).status_code
        == 403
    )
    rev = client_as(app, ctx, "rose", Role.REVIEWER)
    token = page_csrf(rev, f"/admin/seals/{r.es_id}")
    before = fingerprint(ctx)
    assert (
        rev.post(f"/admin/seals/{r.es_id}/revoke", data={"reason": "keyCompromise", "confirm": r.es_id}).status_code
        == 400
    )
    resp = rev.post(
        f"/admin/seals/{r.es_id}/revoke", data={"reason": "keyCompromise", "confirm": "WRONG", "csrf_token": token}
    )
    assert resp.status_code == 302 and "不一致" in rev.get(resp.headers["Location"]).get_data(as_text=True)
    resp = rev.post(
        f"/admin/seals/{r.es_id}/revoke", data={"reason": "lostOnTheBus", "confirm": r.es_id, "csrf_token": token}
    )
    assert resp.status_code == 400 and "keyCompromise" in resp.get_data(as_text=True)
    assert fingerprint(ctx) == before
    resp = rev.post(
        f"/admin/seals/{r.es_id}/revoke",
        data={"reason": "keyCompromise", "confirm": r.es_id.lower(), "csrf_token": token},
    )
    assert resp.status_code == 302
    html = rev.get(f"/admin/seals/{r.es_id}").get_data(as_text=True)
    assert "keyCompromise" in html and "吊销印章" in html
    # a second revocation is a conflict with a message, nothing changes
    again = rev.post(
        f"/admin/seals/{r.es_id}/revoke", data={"reason": "keyCompromise", "confirm": r.es_id, "csrf_token": token}
    )
    assert again.status_code == 409


def test_suspend_and_resume(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    r = issue(ctx)
    c = client_as(app, ctx, "sam", Role.OPERATOR)
    token = page_csrf(c, f"/admin/seals/{r.es_id}")
    assert (
        c.post(
            f"/admin/seals/{r.es_id}/suspend", data={"note": "评估中", "confirm": r.es_id, "csrf_token": token}
        ).status_code
        == 302
    )
    html = c.get(f"/admin/seals/{r.es_id}").get_data(as_text=True)
    assert "status-suspended" in html and "停用印章" in html
    assert c.post(f"/admin/seals/{r.es_id}/resume", data={"confirm": r.es_id, "csrf_token": token}).status_code == 302
    assert c.post(f"/admin/seals/{r.es_id}/resume", data={"confirm": r.es_id, "csrf_token": token}).status_code == 409


def test_unknown_and_mistyped_codes(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    from registry.domain.esid import make_esid
    from registry.domain.seal_types import SealType

    c = client_as(app, ctx, "sam", Role.OPERATOR)
    assert c.get(f"/admin/seals/{make_esid('440300', SealType.FINANCE, 2026)}").status_code == 404
    assert c.get("/admin/seals/<b>x").status_code == 400
    assert "<b>x" not in c.get("/admin/seals/<b>x").get_data(as_text=True)


def test_markup_in_data_is_escaped(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    r = issue(ctx)
    c = client_as(app, ctx, "sam", Role.OPERATOR)
    token = page_csrf(c, f"/admin/seals/{r.es_id}")
    c.post(
        f"/admin/seals/{r.es_id}/suspend",
        data={"note": "<script>alert(1)</script>", "confirm": r.es_id, "csrf_token": token},
    )
    html = c.get(f"/admin/seals/{r.es_id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


@pytest.mark.parametrize("path", ["/admin/seals", "/admin/applications", "/admin/enterprises"])
@pytest.mark.parametrize("q", ["a\x00b", "x\x1fy", "z" * 101])
def test_search_text_no_database_could_take_is_a_400_with_a_message(
    app,
    ctx: ServiceContext,
    path: str,  # type: ignore[no-untyped-def]
    q: str,
) -> None:
    c = client_as(app, ctx, "vera", Role.OPERATOR)
    r = c.get(path, query_string={"q": q})
    assert r.status_code == 400
    text = r.get_data(as_text=True)
    assert any(m in text for m in ("control characters", "longer than 100", "控制字符", "超过 100 个字符"))
