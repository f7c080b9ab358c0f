"""The admin portal's Peers pages in a real browser: an admin proposes Beijing with its
fingerprints, a reviewer compares and approves, "refresh now" fetches its CRLs, and a suspension
needs a reason and the peer's name typed to confirm."""

from __future__ import annotations

from registry.domain.roles import Role
from registry.services import crl_publish, trust_lists
from registry.services.context import ServiceContext
from tests.support.data import ADMIN
from tests.support.regions import Region

from .support import expect, expect_console_error, shot
from .test_admin_browser import sign_in_first_time, sign_out


def test_propose_approve_refresh_and_suspend_a_peer(
    page, live_server: str, ctx: ServiceContext, beijing: Region
) -> None:  # type: ignore[no-untyped-def]
    crl_publish.publish(beijing.ctx, ADMIN)
    pins = [h for _alg, h in trust_lists.fingerprints(beijing.ctx)]
    sign_in_first_time(page, live_server, ctx, "ada", Role.ADMIN)
    page.get_by_role("link", name="对方机构").click()
    expect(page.get_by_role("heading", name="对方机构", exact=True)).to_be_visible()
    page.get_by_label("名称（例如 beijing）").fill("beijing")
    page.get_by_label("信任列表地址（…/trust/list.jws）").fill(beijing.list_url)
    page.get_by_label("地区代码").fill("110000")
    page.get_by_label("其列表签名密钥的指纹，每行一个（须经带外渠道获得）").fill("\n".join(pins))
    page.get_by_role("button", name="获取、验证并提议").click()
    expect(page.get_by_text("已提议：beijing。须由另一人核对指纹后批准。")).to_be_visible()
    expect(page.locator("#peer-state")).to_have_text("已提议")
    for pin in pins:
        expect(page.locator("#keys")).to_contain_text(pin)
    expect(page.locator("#approve")).to_have_count(0)  # the proposer cannot approve
    shot(page, "peer-proposed")
    sign_out(page)

    sign_in_first_time(page, live_server, ctx, "rhea", Role.REVIEWER)
    page.goto(f"{live_server}/admin/peers/beijing")
    page.locator("#approve").click()
    expect(page.get_by_text("已认可：beijing。")).to_be_visible()
    expect(page.locator("#peer-state")).to_have_text("已认可")
    sign_out(page)

    ctx.clock.advance(seconds=30)
    sign_in_first_time(page, live_server, ctx, "amos", Role.ADMIN)
    page.goto(f"{live_server}/admin/peers/beijing")
    page.locator("#refresh-now").click()
    expect(page.get_by_text("已刷新")).to_be_visible()
    expect(page.locator("#crls")).to_contain_text("/crl/sm2-root.crl")
    expect(page.locator("#crls .status-good")).not_to_have_count(0)
    shot(page, "peer-admitted")
    # a suspension with the wrong name typed changes nothing
    page.locator("details.danger summary", has_text="暂停认可").click()
    page.locator("#suspend-reason").fill("公函 2026-12-04")
    page.locator("#suspend-confirm").fill("shanghai")
    expect_console_error(page, "400")
    page.locator("#suspend-submit").click()
    expect(page.get_by_role("alert")).to_contain_text("输入的名称与对方机构名称不符")
    expect(page.locator("#peer-state")).to_have_text("已认可")
    page.locator("details.danger summary", has_text="暂停认可").click()
    page.locator("#suspend-reason").fill("公函 2026-12-04")
    page.locator("#suspend-confirm").fill("beijing")
    page.locator("#suspend-submit").click()
    expect(page.get_by_text("已暂停。")).to_be_visible()
    expect(page.locator("#peer-state")).to_have_text("已暂停")
