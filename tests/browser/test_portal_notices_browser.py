"""The notice centre in a real browser: the legal representative sees the unread badge in the
portal's header after staff decide on an application and issue and revoke a seal, opens the notices
through it, reads them in Chinese with Beijing time, follows one to its seal, and the badge is gone;
at phone width the page does not overflow."""

from __future__ import annotations

from registry.services import applications, revocation
from registry.services.context import ServiceContext
from tests.support.applications import staff_actor, submit
from tests.support.data import ADMIN, SHENZHEN_USCC

from .support import expect, shot
from .test_portal_browser import portal_sign_in


def test_the_badge_leads_to_the_notices_which_it_then_stops_counting(  # type: ignore[no-untyped-def]
    page, live_server: str, ctx: ServiceContext
) -> None:
    base = live_server
    portal_sign_in(page, base, ctx, SHENZHEN_USCC)
    expect(page.locator("#notice-badge")).to_have_count(0)
    app_id = submit(ctx)
    applications.review(ctx, staff_actor(ctx, "olivia"), app_id)
    applications.approve(ctx, staff_actor(ctx, "rita"), app_id)
    es_id = applications.issue(ctx, staff_actor(ctx, "olivia"), app_id).es_id
    revocation.revoke_seal(ctx, ADMIN, es_id, "keyCompromise")
    page.reload()
    badge = page.locator("#notice-badge")
    expect(badge).to_have_text("3")
    shot(page, "portal-notice-badge")
    page.locator("#notices-link").click()
    expect(page.get_by_role("heading", name="通知")).to_be_visible()
    rows = page.locator("#notices tr.notice")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("印章已吊销")
    expect(rows.nth(1)).to_contain_text("印章已签发")
    expect(rows.nth(2)).to_contain_text("申请已批准")
    expect(page.locator("#notices tr.notice.unread")).to_have_count(3)
    expect(page.locator("#notices")).to_contain_text("北京时间")
    expect(page.locator("#notices")).to_contain_text("2026-11-23 16:00")
    expect(page.locator("#notice-badge")).to_have_count(0)  # opened: read
    shot(page, "portal-notices")
    rows.nth(0).locator("a.notice-seal").click()
    expect(page).to_have_url(f"{base}/portal/seals/{es_id}")
    expect(page.locator("#notice-badge")).to_have_count(0)
    # a phone: the list scrolls inside its box, the page does not
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(base + "/portal/notices")
    expect(page.locator("#notices tr.notice.unread")).to_have_count(0)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, width
    shot(page, "portal-notices-phone")
