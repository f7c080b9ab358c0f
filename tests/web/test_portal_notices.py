"""The notice centre of the enterprise portal (/portal/notices): notices appear as the registry
records events (without waiting for the daily e-mail job), each reader sees what portal_access lets
them see, another enterprise sees none, and the unread badge counts down once the page is opened."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import insert, select

from registry.db.models import Enterprise, NoticeRead, Notification
from registry.services import applications, enterprise_people, notify, revocation
from registry.services.context import ServiceContext
from tests.support.applications import staff_actor, submit
from tests.support.data import ADMIN, OTHER_USCC, SHENZHEN_USCC
from tests.support.portal import legal, person_sign_in, sign_in
from tests.support.seals import issue_es_id as issue

pytestmark = pytest.mark.demo_issuer  # the app fixture sets up the demo e-licence issuer first


def kinds(html: str) -> list[str]:
    return re.findall(r'<tr class="notice[^"]*" data-kind="([a-z_]+)"', html)


def ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'data-kind="[a-z_]+" data-id="(\d+)"', html)]


def badge(html: str) -> int:
    m = re.search(r'<span class="badge" id="notice-badge"[^>]*>(\d+)</span>', html)
    return int(m.group(1)) if m else 0


def approved_application(ctx: ServiceContext) -> int:
    app_id = submit(ctx)
    applications.review(ctx, staff_actor(ctx, "olivia"), app_id)
    applications.approve(ctx, staff_actor(ctx, "rita"), app_id)
    return app_id


def test_approval_issuance_and_revocation_appear_at_once_newest_first(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    c = app.test_client()
    sign_in(c, ctx)
    assert "暂无通知" in c.get("/portal/notices").get_data(as_text=True)
    app_id = approved_application(ctx)
    html = c.get("/portal/notices").get_data(as_text=True)
    assert kinds(html) == ["application_approved"]
    assert "申请已批准" in html and f'href="/portal/applications/{app_id}"' in html
    assert "2026-11-23 16:00" in html and "北京时间" in html  # 08:00 UTC, in Beijing time
    assert "未发送：无可用的联系邮箱" in html  # the digest has nowhere to go
    lr = legal(ctx)
    enterprise_people.set_contact_email(ctx, lr, "office@example.cn")
    assert "等待发送" in c.get("/portal/notices").get_data(as_text=True)  # no e-mail job has run
    es_id = applications.issue(ctx, staff_actor(ctx, "olivia"), app_id).es_id
    revocation.revoke_seal(ctx, ADMIN, es_id, "keyCompromise")
    html = c.get("/portal/notices").get_data(as_text=True)
    assert kinds(html) == ["seal_revoked", "seal_issued", "application_approved"]
    assert f'href="/portal/seals/{es_id}"' in html and "印章已签发" in html and "印章已吊销" in html
    assert "keyCompromise" in html
    # the e-mail job's outcome shows: this enterprise has no contact address
    enterprise_people.set_contact_email(ctx, lr, "")
    notify.run_once(ctx, ADMIN)
    with ctx.reader() as s:
        assert {n.state for n in s.scalars(select(Notification))} == {"undeliverable"}
    html = c.get("/portal/notices").get_data(as_text=True)
    assert html.count("未发送：无可用的联系邮箱") == 3 and "贵单位没有联系邮箱" in html
    # the detail page of one notice, and the English page
    nid = ids(html)[0]
    assert "印章已吊销" in c.get(f"/portal/notices/{nid}").get_data(as_text=True)
    with c.session_transaction() as sess:
        sess["lang"] = "en"
    en = c.get("/portal/notices").get_data(as_text=True)
    assert "Seal revoked" in en and "Application approved" in en and "Beijing time" in en


def test_a_person_sees_only_the_notices_of_seals_granted_to_them(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    granted, other = issue(ctx, seal_type="finance"), issue(ctx, seal_type="contract")
    approved_application(ctx)
    boss = legal(ctx)
    pid, password = enterprise_people.create_person(ctx, boss, "li.lei", "李雷")
    enterprise_people.grant(ctx, boss, pid, granted, "hold")
    revocation.suspend_seal(ctx, ADMIN, other)
    c, _secret = person_sign_in(app, ctx, "li.lei", password)
    html = c.get("/portal/notices").get_data(as_text=True)
    assert kinds(html) == ["seal_issued"] and granted in html and other not in html
    notify.collect(ctx)
    with ctx.reader() as s:
        hidden = [n.id for n in s.scalars(select(Notification)) if n.details.get("es_id") != granted]
        every = [(n.kind, n.details.get("es_id")) for n in s.scalars(select(Notification))]
    # three approvals (issuing at the counter approves too), the other seal's issuance and suspension
    assert len(hidden) == 5, every
    for nid in hidden:
        assert c.get(f"/portal/notices/{nid}").status_code == 404
    # the legal representative sees them all
    lr = app.test_client()
    sign_in(lr, ctx)
    assert sorted(kinds(lr.get("/portal/notices").get_data(as_text=True))) == [
        "application_approved",
        "application_approved",
        "application_approved",
        "seal_issued",
        "seal_issued",
        "seal_suspended",
    ]


def test_another_enterprise_sees_none_of_them_and_gets_404_for_every_id(app, ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    es_id = issue(ctx)
    approved_application(ctx)
    revocation.revoke_seal(ctx, ADMIN, es_id, "superseded")
    notify.collect(ctx)
    with ctx.reader() as s:
        theirs = s.scalars(select(Notification.id)).all()
    assert len(theirs) == 4  # issuance at the counter (approved, issued), approval, revocation
    mallory = app.test_client()
    sign_in(mallory, ctx, OTHER_USCC)
    html = mallory.get("/portal/notices").get_data(as_text=True)
    assert kinds(html) == [] and "暂无通知" in html and badge(html) == 0
    before = fingerprint(ctx)
    for nid in theirs:
        r = mallory.get(f"/portal/notices/{nid}")
        assert r.status_code == 404 and es_id not in r.get_data(as_text=True)
        assert kinds(mallory.get(f"/portal/notices?before={nid + 1}").get_data(as_text=True)) == []
    assert fingerprint(ctx) == before


def test_the_unread_badge_counts_down_after_viewing_per_reader(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    granted = issue(ctx)
    boss = legal(ctx)
    pid, password = enterprise_people.create_person(ctx, boss, "li.lei", "李雷")
    enterprise_people.grant(ctx, boss, pid, granted, "hold")
    approved_application(ctx)
    c = app.test_client()
    sign_in(c, ctx)
    home = c.get("/portal/").get_data(as_text=True)
    assert badge(home) == 3 and 'href="/portal/notices"' in home  # the seal's approval and issuance, an approval
    html = c.get("/portal/notices").get_data(as_text=True)
    assert html.count('class="notice unread"') == 3 and "自您上次查看以来的新通知：3 条" in html
    assert badge(html) == 0  # the page itself marked them read
    assert badge(c.get("/portal/").get_data(as_text=True)) == 0
    again = c.get("/portal/notices").get_data(as_text=True)
    assert 'class="notice unread"' not in again and len(kinds(again)) == 3
    # a new event: one unread again
    revocation.suspend_seal(ctx, ADMIN, granted)
    assert badge(c.get("/portal/").get_data(as_text=True)) == 1
    # the person reads separately: the issuance and the suspension of their seal, both unread
    p, _secret = person_sign_in(app, ctx, "li.lei", password)
    assert badge(p.get("/portal/").get_data(as_text=True)) == 2
    p.get("/portal/notices")
    assert badge(p.get("/portal/").get_data(as_text=True)) == 0
    assert badge(c.get("/portal/").get_data(as_text=True)) == 1  # the legal representative's unchanged
    with ctx.reader() as s:
        marks = {(r.reader, r.seen_id) for r in s.scalars(select(NoticeRead))}
    assert {reader for reader, _ in marks} == {0, pid}


def test_keyset_pages_of_fifty_and_a_bad_page_position(app, ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    with ctx.transaction() as s:
        ent = s.scalars(select(Enterprise).where(Enterprise.uscc == SHENZHEN_USCC)).one()
        at = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
        s.execute(
            insert(Notification),
            [
                {
                    "enterprise_id": ent.id,
                    "kind": "seal_expiring",
                    "dedupe_key": f"test:{i}",
                    "occurred_at": at,
                    "created_at": at,
                    "state": "sent",
                    "details": {"es_id": f"TEST{i:04d}", "name": "合同专用章", "seal_type": "contract", "days_left": 7},
                }
                for i in range(55)
            ],
        )
    c = app.test_client()
    sign_in(c, ctx)
    first = c.get("/portal/notices").get_data(as_text=True)
    page1 = ids(first)
    assert len(page1) == 50 and page1 == sorted(page1, reverse=True)
    older = re.search(r'href="/portal/notices\?before=(\d+)" id="older"', first)
    assert older and int(older.group(1)) == page1[-1]
    second = c.get(f"/portal/notices?before={older.group(1)}").get_data(as_text=True)
    page2 = ids(second)
    assert len(page2) == 5 and max(page2) < min(page1) and 'id="older"' not in second
    before = fingerprint(ctx)
    for bad in ("abc", "-1", "0", "1e9", "9" * 30):
        r = c.get(f"/portal/notices?before={bad}")
        assert r.status_code == 400 and "不是通知编号" in r.get_data(as_text=True), bad
    assert len(ids(c.get(f"/portal/notices?before={2**62}").get_data(as_text=True))) == 50
    for huge in (2**31, 2**63, 10**30):
        assert c.get(f"/portal/notices/{huge}").status_code == 404
    assert fingerprint(ctx) == before


def test_every_notice_kind_and_mail_state_has_both_labels() -> None:
    from registry.db.models import NOTICE_KINDS, NOTICE_STATES
    from registry.domain import labels

    for kind in NOTICE_KINDS:
        assert labels.label("notice_kind", kind, "zh") != kind and labels.label("notice_kind", kind, "en") != kind
    for state in NOTICE_STATES:
        assert labels.label("notice_state", state, "zh") != state
