"""Layout: the portal and the public pages fit a 390 px phone; the admin portal fits a 1280 px desktop.

"Fits" is the page's own width: ``document.documentElement.scrollWidth`` is at most the viewport's,
so nothing scrolls sideways (wide tables scroll inside their own box, long values break). Every
page of each portal is visited with data that stretches it: long codes, a long enterprise name, an
application with a CSR, a revoked seal, audit events with details.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from registry.domain.roles import Role
from registry.pki import totp
from registry.services import crl_publish, enterprise_people, revocation, seals
from registry.services.context import ServiceContext
from tests.support.applications import submit
from tests.support.data import ADMIN, SHENZHEN_USCC
from tests.support.portal import legal
from tests.support.seals import issue_es_id

from .support import expect, shot
from .test_admin_browser import sign_in_first_time
from .test_portal_browser import portal_sign_in

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
PERSON_PASSWORD = "a-much-longer-secret-42"


def _data(ctx: ServiceContext) -> dict[str, Any]:
    """A seal, a revoked seal, an open application, an authorised person holding the seal."""
    seal = issue_es_id(ctx, seal_type="finance")
    revoked = issue_es_id(ctx, seal_type="contract")
    revocation.revoke_seal(ctx, ADMIN, revoked, "keyCompromise")
    app_id = submit(ctx)
    boss = legal(ctx)
    pid, password = enterprise_people.create_person(ctx, boss, "li.lei", "李雷", "li.lei@example.cn")
    enterprise_people.grant(ctx, boss, pid, seal, "hold")
    crl_publish.publish(ctx, ADMIN)
    return {"seal": seal, "revoked": revoked, "app": app_id, "person": pid, "password": password}


def _width(page: Any) -> int:
    return int(page.evaluate("() => document.documentElement.scrollWidth"))


def _check(page: Any, base: str, paths: list[str], limit: int, problems: list[str]) -> None:
    for path in paths:
        r = page.goto(base + path)
        assert r is not None and r.status == 200, f"{path}: HTTP {r.status if r else None}"
        _measure(page, path, limit, problems)


def _measure(page: Any, what: str, limit: int, problems: list[str]) -> None:
    width = _width(page)
    if os.environ.get("REGISTRY_TEST_LAYOUT_SHOTS"):  # a screenshot of every page, to look at
        shot(page, f"{limit}{what.replace('/', '_')}")
    if width > limit:
        shot(page, f"overflow{what.replace('/', '_')}")
        problems.append(f"{what}: {width} px wide at {limit} px")


def _person_sign_in(
    page: Any, base: str, ctx: ServiceContext, username: str, password: str, limit: int, problems: list[str]
) -> None:
    """What an authorised person does the first time, measuring each page on the way."""
    page.goto(base + "/portal/login/person")
    _measure(page, "/portal/login/person", limit, problems)
    page.locator("#uscc").fill(SHENZHEN_USCC)
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.locator("form button[type=submit]").last.click()
    expect(page.locator("#totp-secret")).to_be_visible()
    _measure(page, "/portal/login/person/enrol", limit, problems)
    secret = page.locator("#totp-secret").inner_text()
    page.locator("#code").fill(totp.code_at(secret, ctx.clock.now()))
    page.locator("form button[type=submit]").last.click()
    expect(page.locator("#new")).to_be_visible()
    _measure(page, "/portal/password", limit, problems)
    page.locator("#current").fill(password)
    page.locator("#new").fill(PERSON_PASSWORD)
    page.locator("#confirm").fill(PERSON_PASSWORD)
    page.locator("form button[type=submit]").last.click()
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()


def test_portal_and_public_pages_fit_a_phone(
    browser,
    live_server: str,
    ctx: ServiceContext,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    page,
) -> None:
    base = live_server
    d = _data(ctx)
    page.set_viewport_size(PHONE)
    problems: list[str] = []

    # public pages, signed out
    _check(
        page,
        base,
        [
            "/",
            "/verify",
            "/crl/",
            f"/seals/{d['seal']}",
            f"/seals/{d['revoked']}",
            "/portal/login",
            "/portal/login/person",
            "/admin/login",
        ],
        PHONE["width"],
        problems,
    )
    # the verify result of a seal
    exported = seals.export_seal(ctx, d["seal"])
    esl = tmp_path / f"{d['seal']}.esl"
    esl.write_bytes(exported.seal_der)
    page.goto(base + "/verify")
    page.locator("input[name=file]").set_input_files(str(esl))
    page.locator("form button[type=submit]").click()
    expect(page.locator(".checks").first).to_be_visible()
    _measure(page, "/verify (result)", PHONE["width"], problems)

    # the legal representative: every portal page
    portal_sign_in(page, base, ctx, SHENZHEN_USCC)
    _check(
        page,
        base,
        [
            "/portal/",
            "/portal/apply",
            f"/portal/applications/{d['app']}",
            f"/portal/seals/{d['seal']}",
            f"/portal/seals/{d['seal']}/certificate",
            f"/portal/seals/{d['revoked']}",
            "/portal/people",
            f"/portal/people/{d['person']}",
            "/portal/settings",
        ],
        PHONE["width"],
        problems,
    )
    page.get_by_role("button", name="退出登录").click()

    # an authorised person: sign-in pages and every page the person may open
    _person_sign_in(page, base, ctx, "li.lei", d["password"], PHONE["width"], problems)
    _check(
        page,
        base,
        ["/portal/", f"/portal/seals/{d['seal']}", f"/portal/seals/{d['seal']}/certificate", "/portal/password"],
        PHONE["width"],
        problems,
    )
    assert not problems, "pages wider than the phone:\n  " + "\n  ".join(problems)


def test_admin_pages_fit_a_desktop(page, live_server: str, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    base = live_server
    d = _data(ctx)
    problems: list[str] = []
    page.set_viewport_size(DESKTOP)
    _check(page, base, ["/admin/login"], DESKTOP["width"], problems)
    sign_in_first_time(page, base, ctx, "allie", Role.ADMIN, Role.AUDITOR, Role.OPERATOR, Role.REVIEWER)
    _check(
        page,
        base,
        [
            "/admin/",
            "/admin/applications",
            "/admin/applications?state=issued",
            f"/admin/applications/{d['app']}",
            "/admin/seals",
            f"/admin/seals/{d['seal']}",
            f"/admin/seals/{d['revoked']}",
            "/admin/enterprises",
            f"/admin/enterprises/{SHENZHEN_USCC}",
            f"/admin/enterprises/{SHENZHEN_USCC}/licence",
            "/admin/licences/import",
            "/admin/crls",
            "/admin/users",
            "/admin/users/allie",
            "/admin/audit",
            "/admin/audit/integrity",
            "/admin/password",
        ],
        DESKTOP["width"],
        problems,
    )
    assert not problems, "pages wider than the desktop:\n  " + "\n  ".join(problems)


# the number of lines an element's text takes (one rect per line fragment of its text)
# (fragments whose tops differ by less than 8 px, e.g. a <code> beside text, are on the same line)
LINES = """el => { const r = document.createRange(); r.selectNodeContents(el);
  const tops = [...r.getClientRects()].filter(x => x.width > 0).map(x => x.top).sort((a, b) => a - b);
  let lines = 0, last = -1e9; for (const t of tops) { if (t - last > 8) lines++; last = t; } return lines; }"""


def _wrapped(page: Any, selector: str) -> list[str]:
    """The texts of the elements matching ``selector`` that take more than one line."""
    cells = page.locator(selector)
    out = []
    for i in range(cells.count()):
        cell = cells.nth(i)
        if cell.evaluate(LINES) > 1:
            out.append(cell.inner_text())
    return out


def test_audit_table_keeps_numbers_codes_and_times_on_one_line(page, live_server: str, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    base = live_server
    _data(ctx)
    for _ in range(3):  # events with long details (keys, fingerprints)
        submit(ctx)
    page.set_viewport_size(DESKTOP)
    sign_in_first_time(page, base, ctx, "audrey", Role.AUDITOR, Role.ADMIN)
    page.goto(base + "/admin/audit")
    rows = page.locator("#audit-events tr")
    assert rows.count() > 10
    bad = []
    for column, what in ((1, "number"), (2, "time"), (4, "action"), (5, "target")):
        bad += [
            f"{what}: {t!r}"
            for t in _wrapped(
                page,
                f"#audit-events tr td:nth-child({column}) > :first-child, "
                f"#audit-events tr td:nth-child({column}):not(:has(*))",
            )
        ]
    assert not bad, "audit cells broken over lines:\n  " + "\n  ".join(bad)
    assert _width(page) <= DESKTOP["width"]
    shot(page, "audit")
    # the enterprise list: USCCs, dates and counts stay whole
    page.goto(base + "/admin/enterprises")
    bad = _wrapped(page, "main table td:nth-child(1) code") + _wrapped(page, "main table td:nth-child(6)")
    assert not bad, f"enterprise list values broken over lines: {bad}"
    assert _width(page) <= DESKTOP["width"]


def test_seal_picture_on_the_admin_seal_page_and_in_the_public_verify_result(  # type: ignore[no-untyped-def]
    page, live_server: str, ctx: ServiceContext, tmp_path: Path
) -> None:
    base = live_server
    code = issue_es_id(ctx, seal_type="contract")
    loaded = (
        "sel => { const i = document.querySelector(sel); "
        "return i && i.complete && i.naturalWidth > 100 && i.naturalHeight > 100; }"
    )
    # the public verifier draws the picture carried in the uploaded .esl
    esl = tmp_path / f"{code}.esl"
    esl.write_bytes(seals.export_seal(ctx, code).seal_der)
    page.goto(base + "/verify")
    page.locator("input[name=file]").set_input_files(str(esl))
    page.locator("form button[type=submit]").click()
    expect(page.get_by_alt_text("印章图像 Seal picture")).to_be_visible()
    page.wait_for_function(loaded, arg="figure.seal-picture img")
    src = page.get_by_alt_text("印章图像 Seal picture").get_attribute("src") or ""
    assert src.startswith("data:image/png;base64,")
    shot(page, "verify-picture")
    # the admin seal page shows it too
    sign_in_first_time(page, base, ctx, "opal", Role.OPERATOR)
    page.goto(f"{base}/admin/seals/{code}")
    expect(page.locator("#seal-picture")).to_be_visible()
    page.wait_for_function(loaded, arg="#seal-picture")
    shot(page, "admin-seal-picture")
