"""Issue 11, "Chinese pages speak Chinese" and the invoice seal's form, as a person sees them:
the verifier's refusal in Chinese beside English (5), names instead of codes (6), a revocation form
with no reason chosen for you and the Chinese name beside the RFC 5280 term (7), Beijing time (8),
and the 发票专用章 drawn as an oval (14)."""

from __future__ import annotations

import re
from pathlib import Path

from registry.domain.roles import Role
from registry.services import elicence
from registry.services.context import ServiceContext
from tests.support.data import SHENZHEN_USCC
from tests.support.seals import issue

from .support import expect, expect_console_error, shot
from .test_admin_browser import sign_in_first_time


def test_the_verifier_refuses_garbage_in_chinese_and_english(page, live_server: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "notes.txt").write_bytes(b"just some text, not a seal")
    page.goto(live_server + "/verify")
    page.locator("input[name=file]").set_input_files(tmp_path / "notes.txt")
    page.get_by_role("button", name="验证 / Verify").click()
    error = page.locator("main .error, main p.error").first
    expect(error).to_contain_text("既非 DER 也非 ZIP")
    expect(error).to_contain_text("neither DER nor ZIP")
    expect_console_error(page, r"status of 400")


def test_admin_pages_show_names_beijing_time_and_an_unchosen_reason(
    page, live_server: str, ctx: ServiceContext
) -> None:  # type: ignore[no-untyped-def]
    r = issue(ctx, "finance")
    sign_in_first_time(page, live_server, ctx, "rhea", Role.REVIEWER)
    page.goto(f"{live_server}/admin/seals/{r.es_id}")
    main = page.locator("main")
    expect(main).to_contain_text("北京时间")  # 8
    expect(main).to_contain_text("签发印章")  # 6: the action's name
    assert "seal.issued" not in re.sub(r"<code>seal\.issued</code>", "", main.inner_html())
    page.locator("details.danger summary", has_text="吊销").click()
    reason = page.locator("#reason")
    assert reason.input_value() == ""  # 7: nothing chosen for you
    expect(reason.locator("option", has_text="keyCompromise")).to_contain_text("挂失")
    page.locator("#revoke-confirm").fill(r.es_id)
    page.get_by_role("button", name="吊销此印章").click()  # the browser asks for a reason
    assert page.evaluate("() => !document.querySelector('#reason').checkValidity()")
    shot(page, "revoke-unchosen")


def test_the_invoice_seal_is_drawn_as_an_oval(page, live_server: str, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    elicence.ensure_demo_issuer(ctx)
    page.goto(live_server + "/portal/login")
    challenge = page.locator("#challenge").inner_text()
    page.get_by_label(re.compile("凭证")).fill(elicence.demo_credential(ctx, SHENZHEN_USCC, challenge))
    page.get_by_role("button", name=re.compile("登录")).first.click()
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()
    size = page.evaluate("""() => new Promise((done, fail) => { const i = new Image();
        i.onload = () => done([i.naturalWidth, i.naturalHeight]); i.onerror = fail;
        i.src = '/portal/apply/preview/03.png'; })""")
    assert abs(size[0] / size[1] - 40 / 30) < 0.02, size  # 14: 40 × 30 mm
