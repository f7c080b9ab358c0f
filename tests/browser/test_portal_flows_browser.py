"""The enterprise portal's flows in a real browser (issue 11): a licence whose name cannot be drawn
(the reason in the seal's block, in Chinese, and the upload offered; a warning at import and on the
admin enterprise page), the application page's progress line, the apply form's summary of every
problem, the key-making help, the portal's own 404 page, the public home's way to both portals and
the code to type on the loss form."""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image

from registry.domain.roles import Role
from registry.services import application_intake, applications
from registry.services.context import ServiceContext
from tests.support.applications import staff_actor
from tests.support.data import OTHER_USCC, SHENZHEN_USCC
from tests.support.portal import csr, legal
from tests.support.seals import issue_es_id

from .support import expect, expect_console_error, shot
from .test_admin_browser import sign_in_first_time, sign_out
from .test_portal_browser import portal_sign_in

LONG_NAME = "深圳市前海深港现代服务业合作区国际供应链管理与跨境电子商务综合服务示范科技发展有限责任公司"  # 45
LONG_USCC = "91440300MA5K56788C"
CSV = (
    "uscc,name,legal_representative,entity_type,address,registered_on,status\n"
    f"{LONG_USCC},{LONG_NAME},王五,有限责任公司,深圳市南山区前海大道9号,2020-01-01,active\n"
)

ALL_IMAGES_LOADED = (
    "() => [...document.querySelectorAll('figure.preview img')].filter(i => !i.hidden)"
    ".every(i => i.complete && i.naturalWidth > 0)"
)


def test_a_name_too_long_to_draw_is_said_in_its_fieldset_and_the_upload_is_offered(  # type: ignore[no-untyped-def]
    page, live_server: str, ctx: ServiceContext, tmp_path: Path
) -> None:
    base = live_server
    # the operator imports the licence: imported, with a warning on its row, and on the enterprise page
    sign_in_first_time(page, base, ctx, "imke", Role.OPERATOR)
    page.goto(base + "/admin/licences/import")
    f = tmp_path / "long.csv"
    f.write_text(CSV, encoding="utf-8")
    page.locator("#file").set_input_files(str(f))
    page.get_by_role("button", name="上传并导入").click()
    expect(page.locator("#total-created")).to_have_text("1")
    row = page.locator("#rows tr.row-created")
    expect(row.locator(".row-warning")).to_contain_text("名称有 45 个字，圆形印章最多容纳 40 个字")
    expect(row.locator(".row-warning")).to_contain_text("01 法定名称章")
    shot(page, "import-warning")
    page.goto(f"{base}/admin/enterprises/{LONG_USCC}")
    expect(page.locator("#picture-warnings")).to_contain_text("无法根据此执照绘制")
    expect(page.locator("#picture-warnings")).to_contain_text("企业须为其上传自备印模")
    sign_out(page)

    # the legal representative applies: 01, 02 and 04 say why, in Chinese, and ask for a PNG; no broken image
    portal_sign_in(page, base, ctx, LONG_USCC)
    page.goto(base + "/portal/apply")
    for code in ("01", "02", "04"):
        block = page.locator(f"#seal-{code}")
        expect(block.locator(".undrawable")).to_be_visible()
        expect(block.locator(".undrawable")).to_contain_text("名称有 45 个字，圆形印章最多容纳 40 个字")
        expect(block.locator(".undrawable")).to_contain_text("请在下方上传自备印模（PNG）")
        expect(block.locator(f"#preview_{code}")).to_be_hidden()
        expect(block.get_by_text("自备印模（PNG，此印章必需）")).to_be_visible()
    expect(page.locator("#seal-05 .undrawable")).to_be_hidden()
    expect(page.locator("#preview_05")).to_be_visible()
    page.wait_for_function(ALL_IMAGES_LOADED)
    assert page.evaluate(
        "() => [...document.images].filter(i => i.src && !i.hidden).every(i => i.complete && i.naturalWidth > 0)"
    )
    shot(page, "apply-undrawable")
    # choosing a PNG shows it where the drawn picture would be
    own = tmp_path / "own.png"
    Image.new("RGBA", (200, 200), (214, 0, 28, 255)).save(own)
    page.locator("#picture_01").set_input_files(str(own))
    expect(page.locator("#preview_01")).to_be_visible()
    page.wait_for_function(ALL_IMAGES_LOADED)
    # and the application goes through with the uploaded pictures
    for code in ("01", "02", "04", "05"):
        c = tmp_path / f"{code}.csr"
        c.write_bytes(csr(LONG_USCC))
        page.locator(f"#csr_{code}").set_input_files(str(c))
        if code in ("02", "04"):
            page.locator(f"#picture_{code}").set_input_files(str(own))
    page.locator('button[value="submit"]').click()
    expect(page.get_by_text("已提交 4 份申请")).to_be_visible()

    # the single-seal form: the invoice seal (oval) cannot be drawn either, said when it is chosen
    page.goto(base + "/portal/apply/seal?type=05")
    expect(page.locator("#preview_single_problem")).to_be_hidden()
    page.locator("#seal_type").select_option("03")
    expect(page.locator("#preview_single_problem")).to_be_visible()
    expect(page.locator("#preview_single_problem")).to_contain_text("名称有 45 个字")
    expect(page.locator("#preview_single")).to_be_hidden()


def test_the_application_page_shows_the_type_the_picture_and_the_progress(  # type: ignore[no-untyped-def]
    page, live_server: str, ctx: ServiceContext
) -> None:
    base = live_server
    (app_id,) = application_intake.apply(ctx, legal(ctx), [application_intake.ApplyItem("03", csr(SHENZHEN_USCC))])
    portal_sign_in(page, base, ctx, SHENZHEN_USCC)
    page.goto(f"{base}/portal/applications/{app_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("03 发票专用章")
    expect(page.locator("#app-state")).to_have_text("已提交")
    steps = page.locator("#progress li")
    expect(steps).to_have_count(4)
    expect(steps.locator("b")).to_have_text(["提交", "执照核验", "审批", "签发"])
    expect(steps.nth(0)).to_have_class(re.compile("step-done"))
    expect(steps.nth(1)).to_have_attribute("aria-current", "step")
    expect(steps.nth(2)).to_have_class(re.compile("step-pending"))
    expect(page.locator("#next")).to_contain_text("执照核验")
    page.wait_for_function(
        "() => { const i = document.getElementById('app-picture');"
        " return i.complete && i.naturalWidth === 472 && i.naturalHeight === 354; }"
    )  # the oval
    shot(page, "application-submitted")

    applications.review(ctx, staff_actor(ctx, "olivia"), app_id)
    page.reload()
    expect(steps.nth(1)).to_have_class(re.compile("step-done"))
    expect(steps.nth(2)).to_have_attribute("aria-current", "step")
    expect(page.locator("#next")).to_contain_text("另一名工作人员审批")
    shot(page, "application-reviewed")


def test_the_apply_form_lists_every_problem_at_the_top_in_one_pass(  # type: ignore[no-untyped-def]
    page, live_server: str, ctx: ServiceContext, tmp_path: Path
) -> None:
    base = live_server
    portal_sign_in(page, base, ctx, SHENZHEN_USCC)
    page.goto(base + "/portal/apply")
    same = tmp_path / "same.csr"
    same.write_bytes(csr(SHENZHEN_USCC))
    other = tmp_path / "other.csr"
    other.write_bytes(csr(OTHER_USCC))
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"not a png at all")
    page.locator("#csr_01").set_input_files(str(same))
    page.locator("#csr_04").set_input_files(str(same))  # the same key for two seals
    page.locator("#csr_02").set_input_files(str(other))  # another enterprise's USCC
    page.locator("#picture_02").set_input_files(str(fake))  # and a picture that is not a PNG
    # 05: no CSR at all
    page.locator('button[value="submit"]').click()
    expect_console_error(page, r"status of 400")
    summary = page.locator("#problems")
    expect(summary).to_be_visible()
    expect(summary.locator("li")).to_have_count(4)
    expect(summary).to_contain_text("申请均未提交")
    items = summary.locator("li")  # in the order of the seals
    expect(items.nth(0)).to_contain_text(
        "01 法定名称章: 此证书请求的密钥与04 合同专用章的相同：每枚印章须使用各自的密钥"
    )
    expect(items.nth(1)).to_contain_text("02 财务专用章")
    expect(items.nth(1)).to_contain_text(OTHER_USCC)
    expect(items.nth(1)).to_contain_text("图片不是 PNG")
    expect(items.nth(2)).to_contain_text("04 合同专用章: 此证书请求的密钥与01 法定名称章的相同")
    expect(items.nth(3)).to_contain_text("05 法定代表人名章: 此印章需要上传证书请求（CSR）")
    expect(page.locator("#choose-again")).to_contain_text("请重新选择每个证书请求和印模图片")
    # the summary sits above the first seal, and its links lead to each seal's block
    assert summary.bounding_box()["y"] < page.locator("#seal-01").bounding_box()["y"]  # type: ignore[index]
    expect(page.locator("#seal-05 .error")).to_contain_text("此印章需要上传证书请求（CSR）")
    shot(page, "apply-summary")
    summary.get_by_role("link", name=re.compile("05")).click()
    assert page.url.endswith("#seal-05")


def test_key_help_404_inside_the_portal_public_links_and_the_code_to_type(  # type: ignore[no-untyped-def]
    page, live_server: str, ctx: ServiceContext
) -> None:
    base = live_server
    # the public home leads to both portals
    page.goto(base + "/")
    expect(page.locator("#link-portal")).to_have_attribute("href", "/portal/")
    expect(page.locator("#link-admin")).to_have_attribute("href", "/admin/")
    page.locator("#link-portal").click()
    expect(page.locator("#credential")).to_be_visible()

    code = issue_es_id(ctx)
    portal_sign_in(page, base, ctx, SHENZHEN_USCC)
    # key-making help from the apply form: commands with our USCC, and the script to download
    page.goto(base + "/portal/apply")
    page.locator("#key-help").click()
    expect(page.get_by_role("heading", name="生成密钥和证书请求")).to_be_visible()
    expect(page.locator("#cmd-sm2")).to_contain_text("ec_paramgen_curve:SM2")
    expect(page.locator("#cmd-sm2")).to_contain_text(f"organizationIdentifier={SHENZHEN_USCC}")
    expect(page.locator("#cmd-p256")).to_contain_text("ec_paramgen_curve:P-256")
    with page.expect_download() as dl:
        page.locator("#download-script").click()
    script = Path(dl.value.path()).read_text()
    assert dl.value.suggested_filename == "make-seal-keys.sh" and "openssl genpkey" in script
    shot(page, "help-keys")

    # a 404 under /portal stays in the portal, with a way back
    r = page.goto(base + "/portal/no-such-page")
    assert r is not None and r.status == 404
    expect_console_error(page, r"status of 404 .* @ .*/portal/no-such-page$")
    expect(page.get_by_text("企业电子印章服务").first).to_be_visible()
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()
    expect(page.locator("#error-page")).to_contain_text("该页面不存在，或不属于贵企业。")
    shot(page, "portal-404")
    page.locator("#back-to-portal").click()
    expect(page).to_have_url(base + "/portal/")
    r = page.goto(base + "/portal/seals/440300022026XXXXXXXXXXXXX")  # not ours (a domain NotFound)
    assert r is not None and r.status == 404
    expect_console_error(page, r"status of 404 .* @ .*/portal/seals/")
    expect(page.locator("#back-to-portal")).to_be_visible()

    # the loss and cancel forms show the code to type next to the box
    page.goto(f"{base}/portal/seals/{code}")
    expect(page.locator("#loss_code")).to_have_text(code)
    expect(page.locator("#cancel_code")).to_have_text(code)
    shot(page, "loss-code")
    page.locator("#loss_confirm").fill(page.locator("#loss_code").inner_text())
    page.get_by_role("button", name="挂失并立即吊销").click()
    expect(page.locator("#seal-status")).to_have_text("已吊销")
