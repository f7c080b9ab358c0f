"""The public pages in a real browser: seal lookup and status, file verification, the CRL index."""

from __future__ import annotations

import re
from pathlib import Path

from registry.services import crl_publish, revocation, status
from registry.services.context import ServiceContext
from tests.support.data import ADMIN, SHENZHEN_USCC
from tests.support.seals import issue, sign

from .support import expect, expect_console_error, shot

DOC = b"loan agreement 2026-77"


def test_home_lookup_opens_the_seal_status_page(page, live_server: str, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    r = issue(ctx, "contract")
    enterprise = status.seal_status(ctx, r.es_id)["holder"]["enterprise"]
    page.goto(live_server + "/")
    expect(page).to_have_title(re.compile("电子印章登记系统"))
    expect(page.get_by_role("heading", name="印章状态查询 · Seal status")).to_be_visible()
    expect(page.get_by_text("已登记电子印章 / Seals on record: 1")).to_be_visible()
    expect(page.get_by_role("link", name="下载 DER")).to_have_count(6)
    page.get_by_placeholder(re.compile("印章编码 esID")).fill(r.es_id.lower())  # the lookup upper-cases
    shot(page, "lookup")
    page.get_by_role("button", name="查询 / Look up").click()

    expect(page).to_have_url(f"{live_server}/seals/{r.es_id}")
    card = page.locator("main .card")
    expect(card.locator("code").first).to_have_text(r.es_id)
    expect(card.locator(".status-active")).to_have_text("有效 active")
    expect(card).to_contain_text("04 合同专用章 (contract)")
    expect(card).to_contain_text(enterprise)
    expect(card).to_contain_text(SHENZHEN_USCC)
    shot(page, "active")

    ctx.clock.advance(hours=1)
    revocation.revoke_seal(ctx, ADMIN, r.es_id, "keyCompromise")
    page.reload()
    expect(card.locator(".status-revoked")).to_have_text("已吊销 revoked")
    expect(card).to_contain_text("keyCompromise")
    from registry.domain.display_time import format_local

    expect(card).to_contain_text(format_local(ctx.clock.now(), ctx.settings.display_timezone, "zh"))  # Beijing time
    page.get_by_role("link", name="验证文件 / Verify a file").click()
    expect(page).to_have_url(f"{live_server}/verify")


def test_lookup_of_an_unknown_or_empty_code_says_so(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server + "/seals/lookup?code=")
    expect(page.locator("p.error")).to_have_text("请输入印章编码 / Enter a seal code")
    page.goto(live_server + "/")
    page.get_by_placeholder(re.compile("印章编码 esID")).fill("NOT-A-CODE")
    page.get_by_role("button", name="查询 / Look up").click()
    expect(page.locator("main .card h2")).to_have_text("400")
    expect(page.locator("main p.error")).to_contain_text("not a seal code")
    expect_console_error(page, r"status of 400 .* @ .*/seals/NOT-A-CODE$")  # the page's own status


def test_verify_page_gives_the_verdict_of_an_uploaded_seal(
    page,
    live_server: str,
    ctx: ServiceContext,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    r = issue(ctx, "contract")
    (tmp_path / "seal.esl").write_bytes(r.seal_der)
    page.goto(live_server + "/")
    page.get_by_role("link", name="验证 Verify").click()
    expect(page.get_by_role("heading", name=re.compile("验证电子印章"))).to_be_visible()
    page.locator("input[name=file]").set_input_files(tmp_path / "seal.esl")
    page.get_by_role("button", name="验证 / Verify").click()

    verdict = page.get_by_role("heading", name=re.compile("结论 · Verdict"))
    expect(verdict.locator(".status")).to_have_text("有效 / Valid")
    expect(page.locator("main")).to_contain_text("seal.esl · 电子印章 electronic seal")
    expect(page.locator("main")).to_contain_text(r.es_id)
    checks = page.locator("table.checks tr[class^=check-]")
    assert checks.count() > 0
    expect(page.locator("tr.check-fail")).to_have_count(0)
    shot(page, "seal-verdict")


def test_verify_page_checks_a_signature_against_its_document(
    page,
    live_server: str,
    ctx: ServiceContext,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    r = issue(ctx, "contract")
    ctx.clock.advance(minutes=1)
    sig = sign(ctx, r, DOC, "loan.txt")
    (tmp_path / "loan.sig").write_bytes(sig)
    (tmp_path / "loan.txt").write_bytes(DOC)
    (tmp_path / "forged.txt").write_bytes(DOC + b"!")

    page.goto(live_server + "/verify")
    page.locator("input[name=file]").set_input_files(tmp_path / "loan.sig")
    page.locator("input[name=document]").set_input_files(tmp_path / "loan.txt")
    page.get_by_role("button", name="验证 / Verify").click()
    expect(page.get_by_role("heading", name=re.compile("结论 · Verdict")).locator(".status")).to_have_text(
        "有效 / Valid"
    )
    expect(page.locator("main")).to_contain_text("电子签章 electronic signature")
    expect(page.locator("main")).to_contain_text("签章人签名值")
    shot(page, "signature-valid")

    page.locator("input[name=file]").set_input_files(tmp_path / "loan.sig")
    page.locator("input[name=document]").set_input_files(tmp_path / "forged.txt")
    page.get_by_role("button", name="验证 / Verify").click()
    expect(page.get_by_role("heading", name=re.compile("结论 · Verdict")).locator(".status")).to_have_text(
        "无效 / Invalid"
    )
    expect(page.locator("tr.check-fail")).not_to_have_count(0)


def test_verify_page_explains_garbage(page, live_server: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "junk.bin").write_bytes(b"<b>junk</b> not a seal")
    page.goto(live_server + "/verify")
    page.locator("input[name=file]").set_input_files(tmp_path / "junk.bin")
    page.get_by_role("button", name="验证 / Verify").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("neither DER nor ZIP")
    expect(page.get_by_role("heading", name=re.compile("结论 · Verdict"))).to_have_count(0)
    expect_console_error(page, r"status of 400 .* @ .*/verify$")  # the error page is served with 400


def test_crl_index_lists_the_published_crls(page, live_server: str, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server + "/")
    page.get_by_role("link", name="CRL", exact=True).click()
    expect(page).to_have_url(f"{live_server}/crl/")
    expect(page.locator("p.error")).to_have_text("尚未发布 / Nothing published yet.")

    crl_publish.publish(ctx, ADMIN)
    page.reload()
    table = page.locator("main table")
    expect(table).to_contain_text("本次更新 thisUpdate")
    for issuer in ("sm2-issuing", "ecdsa-issuing"):
        expect(table.locator("td code", has_text=issuer).first).to_be_visible()
    from registry.domain.display_time import format_local

    expect(table).to_contain_text(
        format_local(ctx.clock.now(), ctx.settings.display_timezone, "zh", "%Y-%m-%d %H:%M:%S")
    )  # Beijing time, labelled
    expect(page.locator(".status-revoked", has_text="过期 stale")).to_have_count(0)
    shot(page, "published")
    # a CRL link downloads the DER file
    with page.expect_download() as download:
        page.locator("main table a", has_text="full").first.click()
    assert download.value.suggested_filename.endswith(".crl")
