"""The public verify page, in a real browser, on a signature made in Beijing and verified in
Shenzhen: the verdict, and in words who vouched (由 北京市市场监督管理局（110000）认可，信任列表第 N 版)."""

from __future__ import annotations

import re
from pathlib import Path

from registry.domain.roles import Role
from registry.services import crl_publish, peers
from registry.services.context import Actor, ServiceContext
from tests.support import seals as support_seals
from tests.support.data import ADMIN
from tests.support.regions import Region

from .support import expect, shot

DOC = "京深两地合同（浏览器）".encode()


def test_a_beijing_signature_verified_in_shenzhen_names_beijing(  # type: ignore[no-untyped-def]
    page, live_server: str, ctx: ServiceContext, beijing: Region, tmp_path: Path
) -> None:
    r = support_seals.issue(beijing.ctx, "contract")
    sig = support_seals.sign(beijing.ctx, r, DOC, "合同.txt")
    peers.propose(
        ctx, Actor("ada", roles=frozenset({Role.ADMIN})), "beijing", beijing.list_url, "110000", beijing.fingerprints()
    )
    peers.approve(ctx, Actor("rita", roles=frozenset({Role.REVIEWER})), "beijing")
    ctx.clock.advance(minutes=1)
    crl_publish.publish(beijing.ctx, ADMIN)
    peers.refresh(ctx, ADMIN)
    (tmp_path / "contract.sig").write_bytes(sig)
    (tmp_path / "contract.txt").write_bytes(DOC)

    page.goto(live_server + "/verify")
    page.locator("input[name=file]").set_input_files(tmp_path / "contract.sig")
    page.locator("input[name=document]").set_input_files(tmp_path / "contract.txt")
    page.get_by_role("button", name="验证 / Verify").click()
    expect(page.get_by_role("heading", name=re.compile("结论 · Verdict")).locator(".status")).to_have_text(
        "有效 / Valid"
    )
    for part in ("seal", "signer"):
        expect(page.locator(f'tr.vouched[data-part="{part}"]')).to_contain_text(
            "由 北京市市场监督管理局（110000）认可，信任列表第 1 版"
        )
    shot(page, "peer-signature-valid")
