"""Admin portal: the CRL page (every published CRL, stale flag) and "publish now" (issue 5)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from registry.db.models import AuditEvent
from registry.domain.errors import PermissionDenied
from registry.domain.roles import Role
from registry.services import crl_admin, crl_publish
from registry.services.context import Actor, ServiceContext
from registry.services.core import leases
from tests.support.data import ADMIN
from tests.support.seals import issue
from tests.support.staff import client_as, publish_now


def numbers(html: str) -> dict[str, int]:
    """CRL path → number as listed on the page."""
    return {path: int(n) for path, n in re.findall(r'data-path="([^"]+)" class="crl-number">(\d+)</a>', html)}


def test_every_staff_member_sees_the_published_crls(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    op = client_as(app, ctx, "sam", Role.OPERATOR)
    html = op.get("/admin/crls").get_data(as_text=True)
    assert "尚未发布任何 CRL" in html and "从未发布" in html
    assert 'id="publish-now"' not in html  # only the admin publishes
    written = crl_publish.publish(ctx, ADMIN)
    for role in Role:
        c = op if role is Role.OPERATOR else client_as(app, ctx, f"x{role.value}", role)
        resp = c.get("/admin/crls")
        assert resp.status_code == 200
        shown = numbers(resp.get_data(as_text=True))
        assert shown == {p.path: p.number for p in written}
    html = op.get("/admin/crls").get_data(as_text=True)
    assert "sm2-issuing" in html and "ecdsa-root" in html and "shard-0.crl" in html and "全部有效" in html
    row = html.split('data-path="sm2-issuing-delta.crl"')[0].rsplit("<tr>", 1)[1]
    assert "增量" in row and "基准" in row


def test_a_crl_past_its_next_update_is_flagged_stale(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    crl_publish.publish(ctx, ADMIN)
    ctx.clock.advance(hours=ctx.settings.crl_validity_hours + 1)
    html = client_as(app, ctx, "aud2", Role.AUDITOR).get("/admin/crls").get_data(as_text=True)
    table = html.split('id="crls"', 1)[1]
    assert table.count("status-stale") == len(numbers(html)) and "个已过期" in html


def test_publish_now_increments_the_numbers_shown_and_reports_them(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    crl_publish.publish(ctx, ADMIN)
    adm = client_as(app, ctx, "adm", Role.ADMIN)
    before = numbers(adm.get("/admin/crls").get_data(as_text=True))
    issue(ctx)  # something new to publish
    resp = publish_now(adm)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    report = html.split('id="published"', 1)[1].split("</table>", 1)[0]
    reported = dict(re.findall(r'<code>([^<]+)</code></td><td class="crl-number">(\d+)</td>', report))
    after = numbers(html)
    assert reported and {p: int(n) for p, n in reported.items()}.items() <= after.items()
    assert after["sm2-issuing.crl"] > before["sm2-issuing.crl"] and after["ecdsa-root.crl"] > before["ecdsa-root.crl"]
    assert "本次发布" in html
    with ctx.reader() as s:
        actors = set(s.scalars(select(AuditEvent.actor).where(AuditEvent.action == "crl.published")))
    assert "adm" in actors
    # and again: the numbers only go up
    again = numbers(publish_now(adm).get_data(as_text=True))
    assert all(again[p] > after[p] for p in ("sm2-issuing.crl", "sm2-root.crl", "ecdsa-issuing.crl", "ecdsa-root.crl"))


def test_publishing_while_another_publisher_holds_the_lease_is_a_409(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    adm = client_as(app, ctx, "adm", Role.ADMIN)
    with leases.lease(ctx, "crl:sm2-root", "the-daemon:1", dt.timedelta(seconds=60)):
        resp = publish_now(adm)
    assert resp.status_code == 409 and "the-daemon:1" in resp.get_data(as_text=True)


def test_only_the_admin_publishes_and_the_form_needs_its_token(app, ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    rev = client_as(app, ctx, "rose", Role.REVIEWER)
    adm = client_as(app, ctx, "adm", Role.ADMIN)
    before = fingerprint(ctx)
    assert publish_now(rev).status_code == 403
    resp = adm.post("/admin/crls/publish", data={})
    assert resp.status_code == 400 and "CSRF" in resp.get_data(as_text=True)
    assert adm.get("/admin/crls/publish").status_code == 405
    assert fingerprint(ctx) == before
    assert not list(ctx.settings.publish_dir.glob("*.crl")) if ctx.settings.publish_dir.exists() else True
    with pytest.raises(PermissionDenied):
        crl_publish.publish(ctx, Actor("rose", roles=frozenset({Role.REVIEWER})))
    with pytest.raises(PermissionDenied):
        crl_admin.overview(ctx, Actor("nobody", roles=frozenset()))


def test_the_crl_page_is_open_to_every_role_that_may_view_seals_or_publish_crls(ctx: ServiceContext) -> None:
    """crl_admin.overview asks for SEAL_VIEW alone: every role that may publish CRLs may view seals."""
    from registry.domain.roles import ROLE_PERMISSIONS, Permission

    for role, granted in ROLE_PERMISSIONS.items():
        if Permission.CRL_PUBLISH in granted:
            assert Permission.SEAL_VIEW in granted, role
        if granted & {Permission.SEAL_VIEW, Permission.CRL_PUBLISH}:
            assert crl_admin.overview(ctx, Actor(f"someone-{role.value}", roles=frozenset({role}))).crls == []
