"""The public seal page, in a real browser, for a Beijing seal asked in Shenzhen: the status, and
in words which authority answers (由 北京市市场监督管理局（110000）提供…); Beijing down: unknown
with the reason, still a page."""

from __future__ import annotations

from registry.domain.roles import Role
from registry.services import crl_publish, peers
from registry.services.context import Actor, ServiceContext
from tests.support import seals as support_seals
from tests.support.data import ADMIN
from tests.support.regions import Region

from .support import expect, shot


def test_a_beijing_seal_page_in_shenzhen_names_beijing(  # type: ignore[no-untyped-def]
    page, live_server: str, ctx: ServiceContext, beijing: Region
) -> None:
    es_id = support_seals.issue(beijing.ctx, "contract").es_id
    peers.propose(
        ctx, Actor("ada", roles=frozenset({Role.ADMIN})), "beijing", beijing.list_url, "110000", beijing.fingerprints()
    )
    peers.approve(ctx, Actor("rita", roles=frozenset({Role.REVIEWER})), "beijing")
    ctx.clock.advance(minutes=1)
    crl_publish.publish(beijing.ctx, ADMIN)
    peers.refresh(ctx, ADMIN)

    page.goto(f"{live_server}/seals/{es_id}")
    authority = page.locator('p.authority[data-source="peer"]')
    expect(authority).to_contain_text("由 北京市市场监督管理局（110000）提供")
    expect(authority).to_contain_text("Answered by Beijing Administration for Market Regulation (110000)")
    expect(page.locator("span.status").first).to_have_text("有效 active")
    shot(page, "peer-seal-active")

    beijing.faults.down = True
    page.goto(f"{live_server}/seals/{es_id}")
    expect(page.locator("span.status").first).to_have_text("无法确定 unknown")
    expect(page.locator("tr.reason")).to_contain_text("北京市市场监督管理局（110000）的印章状态服务未能应答")
    expect(page.locator("tr.reason")).to_contain_text("HTTP 503")
    shot(page, "peer-seal-unknown")
