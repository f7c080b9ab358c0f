"""Admin portal: enterprises (search with keyset pages, detail), licence import by upload with a
per-row report, and the licence change's preview → typed confirmation."""

from __future__ import annotations

import html as htmlmod
import io
import re

import pytest
from sqlalchemy import func, select

from registry.db.models import AuditEvent, LicenceRecord, Seal, SealApplication
from registry.domain.roles import Role
from registry.domain.states import SealStatus
from registry.services import revocation
from registry.services.context import ServiceContext
from registry.web import create_app
from tests.support.data import ADMIN, CANCELLED_USCC, SHENZHEN_USCC, UNKNOWN_USCC
from tests.support.enterprises import HEADER, client_as, load, make_uscc, rows_of, upload
from tests.support.seals import issue_es_id as issue
from tests.support.staff import csrf, page_csrf

FUTIAN_USCC = "91440300MA5GK7B25F"


def seal_states(ctx: ServiceContext, uscc: str = SHENZHEN_USCC) -> dict[str, tuple[str, str | None]]:
    from registry.db.models import Enterprise

    with ctx.reader() as s:
        rows = s.execute(
            select(Seal.es_id, Seal.status, Seal.revocation_reason).join(Enterprise).where(Enterprise.uscc == uscc)
        ).all()
    return {r[0]: (r[1].value, r[2]) for r in rows}


def hidden(page: str, name: str) -> str:
    m = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)">', page)
    assert m, f"no hidden {name} field"
    return htmlmod.unescape(m.group(1))


# -- list and detail ------------------------------------------------------------------------------


def test_search_by_uscc_and_name_prefix_with_keyset_pages(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    names = [f"深圳市甲{i:03d}有限公司" for i in range(60)]
    codes = load(ctx, names)
    c = client_as(app, ctx, "sam", Role.AUDITOR)
    assert 'href="/admin/enterprises"' in c.get("/admin/").get_data(as_text=True)  # the nav link
    first = c.get("/admin/enterprises?q=深圳市甲").get_data(as_text=True)
    assert names[0] in first and names[49] in first and names[50] not in first
    nxt = re.search(r'href="(/admin/enterprises\?[^"]*after=[^"]*)"', first)
    assert nxt, "no next-page link"
    second = c.get(htmlmod.unescape(nxt.group(1))).get_data(as_text=True)
    assert all(n in second for n in names[50:]) and names[49] not in second
    assert "after=" not in re.sub(r'href="/admin/enterprises\?q=[^"]*"', "", second.split('class="pager"')[1])
    # by USCC (any case), linking to the detail page
    page = c.get(f"/admin/enterprises?q={codes[7].lower()}").get_data(as_text=True)
    assert f'href="/admin/enterprises/{codes[7]}"' in page and names[7] in page and names[8] not in page
    # everything, newest first
    everything = c.get("/admin/enterprises").get_data(as_text=True)
    assert everything.index(names[59]) < everything.index(names[58])
    nothing = c.get("/admin/enterprises?q=%25").get_data(as_text=True)
    assert "No enterprise matches." in nothing
    assert c.get("/admin/enterprises?q=" + "x" * 101).status_code == 400


def test_detail_shows_licence_seals_applications_and_history(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    from tests.support.applications import submit

    es_id = issue(ctx)
    app_id = submit(ctx)
    c = client_as(app, ctx, "sam", Role.OPERATOR)
    page = c.get(f"/admin/enterprises/{SHENZHEN_USCC}").get_data(as_text=True)
    assert "深圳市前海示范科技有限公司" in page and "深圳市南山区前海大道1号" in page
    assert f'href="/admin/seals/{es_id}"' in page and f'href="/admin/applications/{app_id}"' in page
    assert f'href="/admin/enterprises/{SHENZHEN_USCC}/licence"' in page  # an operator may change it
    # a re-import renames the legal representative: the seal is revoked, the history shows old → new
    csv = (
        HEADER
        + f"{SHENZHEN_USCC},深圳市前海示范科技有限公司,张三丰,有限责任公司,深圳市南山区前海大道1号,2019-05-20,active\n"
    )
    assert upload(c, csv.encode(), "feed-1201.csv").status_code == 200
    page = c.get(f"/admin/enterprises/{SHENZHEN_USCC}").get_data(as_text=True)
    history = page.split('id="licence-history"')[1]
    assert "张三 → 张三丰" in history and "import feed-1201.csv" in history and "Registered" in history
    assert "affiliationChanged" in page.split('id="seals"')[1].split('id="applications"')[0]
    aud = client_as(app, ctx, "aud1", Role.AUDITOR)
    page = aud.get(f"/admin/enterprises/{SHENZHEN_USCC}").get_data(as_text=True)
    assert es_id in page and f"/admin/enterprises/{SHENZHEN_USCC}/licence" not in page  # looks, does not act


def test_unknown_and_mistyped_uscc(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    c = client_as(app, ctx, "sam", Role.OPERATOR)
    assert c.get(f"/admin/enterprises/{UNKNOWN_USCC}").status_code == 404
    assert c.get(f"/admin/enterprises/{UNKNOWN_USCC}/licence?status=cancelled").status_code == 404
    token = page_csrf(c, f"/admin/enterprises/{SHENZHEN_USCC}/licence?status=cancelled")
    assert (
        c.post(
            f"/admin/enterprises/{UNKNOWN_USCC}/licence",
            data={"csrf_token": token, "status": "cancelled", "confirm": UNKNOWN_USCC, "seals": ""},
        ).status_code
        == 404
    )
    bad = c.get("/admin/enterprises/<b>x")
    assert bad.status_code == 400 and "<b>x" not in bad.get_data(as_text=True)
    assert c.get("/admin/enterprises/<b>x/licence").status_code == 400


def test_markup_in_licence_data_is_escaped_everywhere(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    evil = "<script>alert(1)</script>有限公司"
    c = client_as(app, ctx, "sam", Role.OPERATOR)
    code = make_uscc(5)
    csv = HEADER + f'{code},{evil},"<b>王</b>",有限责任公司,"<img src=x onerror=alert(2)>",2020-01-01,active\n'
    report = upload(c, csv.encode(), "<i>feed.csv").get_data(as_text=True)
    pages = [
        report,
        c.get("/admin/enterprises?q=" + evil[:10]).get_data(as_text=True),
        c.get(f"/admin/enterprises/{code}").get_data(as_text=True),
        c.get(f"/admin/enterprises/{code}/licence?status=active&name=%3Cscript%3Ealert(3)%3C/script%3E").get_data(
            as_text=True
        ),
    ]
    assert all(evil in htmlmod.unescape(p) for p in pages[1:3])
    for p in pages:
        assert "<script>alert" not in p and "<b>王</b>" not in p and "<img src=x" not in p and "<i>feed" not in p
    assert "&lt;script&gt;alert(1)" in pages[2] and "&lt;i&gt;feed.csv" in pages[0]


# -- licence import -------------------------------------------------------------------------------


def total(page: str, name: str) -> int:
    m = re.search(rf'id="total-{name}">(\d+)<', page)
    assert m, name
    return int(m.group(1))


def test_import_upload_reports_every_row(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    es_id = issue(ctx)
    new = make_uscc(1)
    csv = (
        HEADER
        + f"{new},深圳市新设有限公司,王五,有限责任公司,深圳市,2021-01-01,active\n"
        + "91440300MA5F12342X,坏代码有限公司,王五,有限责任公司,深圳市,2021-01-01,active\n"
        + f"{SHENZHEN_USCC},深圳市前海示范科技有限公司,张三,有限责任公司,深圳市南山区前海大道1号,2019-05-20,cancelled\n"
        + f"{FUTIAN_USCC},深圳市福田样例贸易有限公司,李四,有限责任公司,深圳市福田区深南大道2号,2020-08-11,active\n"
        + f"{make_uscc(2)},深圳市未来有限公司,王五,有限责任公司,深圳市,2099-01-01,active\n"
        + "only,three,fields\n"
    )
    c = client_as(app, ctx, "sam", Role.OPERATOR)
    resp = upload(c, csv.encode(), "feed.csv")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert rows_of(page) == [
        (2, new, "created"),
        (3, "91440300MA5F12342X", "rejected"),
        (4, SHENZHEN_USCC, "updated"),
        (5, FUTIAN_USCC, "unchanged"),
        (6, make_uscc(2), "rejected"),
        (7, "", "rejected"),
    ]
    assert [total(page, k) for k in ("created", "updated", "unchanged", "rejected", "revoked")] == [1, 1, 1, 3, 1]
    assert "is in the future" in page and "expected 7 fields" in page and "check character" in page.lower()
    assert f'href="/admin/seals/{es_id}"' in page.split('id="rows"')[1]
    # the good rows are kept, the change's effect applied, all audited as the signed-in operator
    assert seal_states(ctx)[es_id] == ("revoked", "cessationOfOperation")
    assert c.get(f"/admin/enterprises/{new}").status_code == 200
    with ctx.reader() as s:
        event = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "licence.imported").order_by(AuditEvent.id.desc())
        ).first()
    assert event is not None and event.actor == "sam" and event.target_id == "feed.csv"
    assert event.details["created"] == 1 and event.details["rejected"] == 3


def test_import_takes_json_lines(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    new = make_uscc(3)
    jsonl = (
        f'{{"uscc": "{new}", "name": "深圳市行式有限公司", "legal_representative": "王五", "entity_type": "有限责任公司", '
        '"address": "", "registered_on": "2022-02-02", "status": "active"}\n'
        "not json\n"
    )
    c = client_as(app, ctx, "sam", Role.OPERATOR)
    page = upload(c, jsonl.encode(), "feed.jsonl").get_data(as_text=True)
    assert rows_of(page) == [(1, new, "created"), (2, "", "rejected")] and "not valid JSON" in page


@pytest.mark.parametrize(
    "data,filename,message",
    [
        (b"\xff\xfe\x00u\x00s", "feed.csv", "not UTF-8"),
        (b"uscc;name;status\n1;2;3\n", "feed.csv", "the header must be"),
        (b"", "feed.csv", "empty"),
        (b"PK\x03\x04", "feed.xlsx", "CSV or JSON Lines"),
    ],
)
def test_a_malformed_file_gets_a_message_and_changes_nothing(
    app,
    ctx: ServiceContext,
    fingerprint,  # type: ignore[no-untyped-def]
    data: bytes,
    filename: str,
    message: str,
) -> None:
    c = client_as(app, ctx, "sam", Role.OPERATOR)
    before = fingerprint(ctx)
    resp = upload(c, data, filename)
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert 'role="alert"' in page and message in page and "Nothing was imported" in page
    assert fingerprint(ctx) == before


def test_an_oversized_upload_is_413_and_changes_nothing(ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    app = create_app({"TESTING": True, "REGISTRY_LICENCE_UPLOAD_MAX_BYTES": 100 * 1024}, ctx=ctx)
    c = client_as(app, ctx, "sam", Role.OPERATOR)
    before = fingerprint(ctx)
    big = (HEADER + f"{make_uscc(9)},深圳市大文件有限公司,王五,有限责任公司,深圳市,2020-01-01,active\n" * 2000).encode()
    assert len(big) > 200 * 1024
    resp = upload(c, big)
    assert resp.status_code == 413 and "larger than 0.0977 MB" in resp.get_data(as_text=True)
    # just over the limit, inside the form allowance: read, measured, refused
    resp = upload(c, b"x" * (100 * 1024 + 1))
    assert resp.status_code == 413
    assert fingerprint(ctx) == before
    nofile = c.post("/admin/licences/import", data={"csrf_token": page_csrf(c, "/admin/licences/import")})
    assert nofile.status_code == 400 and "Choose a licence file" in nofile.get_data(as_text=True)


def test_the_default_upload_limit_is_two_megabytes(app, ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    c = client_as(app, ctx, "sam", Role.OPERATOR)
    before = fingerprint(ctx)
    resp = upload(c, HEADER.encode() + b"x" * (2 * 1024 * 1024 + 70 * 1024))
    assert resp.status_code == 413 and "larger than 2 MB" in resp.get_data(as_text=True)
    assert fingerprint(ctx) == before


def test_import_needs_the_operator_role_and_a_token(app, ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    for role in (Role.REVIEWER, Role.ADMIN, Role.AUDITOR):
        other = client_as(app, ctx, f"x{role.value}", role)
        assert other.get("/admin/licences/import").status_code == 403
        token = page_csrf(other, "/admin/")
        assert (
            other.post(
                "/admin/licences/import",
                data={"csrf_token": token, "file": (io.BytesIO(HEADER.encode()), "a.csv")},
                content_type="multipart/form-data",
            ).status_code
            == 403
        )
        assert "/admin/licences/import" not in other.get("/admin/enterprises").get_data(as_text=True)
    c = client_as(app, ctx, "sam", Role.OPERATOR)
    assert 'href="/admin/licences/import"' in c.get("/admin/enterprises").get_data(as_text=True)
    before = fingerprint(ctx)
    assert (
        c.post(
            "/admin/licences/import",
            data={"file": (io.BytesIO(HEADER.encode()), "a.csv")},
            content_type="multipart/form-data",
        ).status_code
        == 400
    )
    assert fingerprint(ctx) == before


# -- licence change: preview, then confirm -----------------------------------------------------------


def test_the_confirmation_revokes_exactly_the_seals_the_preview_listed(app, ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    codes = [issue(ctx, seal_type=t) for t in ("official", "finance", "contract")]
    revocation.revoke_seal(ctx, ADMIN, codes[0], "keyCompromise")
    revocation.suspend_seal(ctx, ADMIN, codes[1])
    c = client_as(app, ctx, "sam", Role.OPERATOR)
    form = c.get(f"/admin/enterprises/{SHENZHEN_USCC}/licence").get_data(as_text=True)
    assert 'id="preview"' not in form and 'name="status"' in form  # step 1: the form only
    before = fingerprint(ctx)
    resp = c.get(f"/admin/enterprises/{SHENZHEN_USCC}/licence?status=cancelled&name=&legal_representative=")
    assert resp.status_code == 200 and fingerprint(ctx) == before  # the preview reads only
    page = resp.get_data(as_text=True)
    listed = hidden(page, "seals").split()
    assert listed == codes[1:]
    shown = re.findall(r'href="/admin/seals/([0-9A-Z]+)"', page.split('id="preview-seals"')[1].split("</table>")[0])
    assert shown == listed and "cessationOfOperation" in page
    resp = c.post(
        f"/admin/enterprises/{SHENZHEN_USCC}/licence",
        data={
            "csrf_token": csrf(page),
            "status": hidden(page, "status"),
            "name": hidden(page, "name"),
            "legal_representative": "",
            "entity_type": "",
            "seals": hidden(page, "seals"),
            "confirm": SHENZHEN_USCC.lower(),
        },
    )
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/admin/enterprises/{SHENZHEN_USCC}")
    states = seal_states(ctx)
    assert {k for k, (st, _r) in states.items() if st == "revoked" and _r == "cessationOfOperation"} == set(listed)
    assert states[codes[0]] == ("revoked", "keyCompromise")
    done = c.get(resp.headers["Location"]).get_data(as_text=True)
    assert "2 seals were revoked" in done and "admin portal" in done.split('id="licence-history"')[1]
    with ctx.reader() as s:
        event = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "licence.changed").order_by(AuditEvent.id.desc())
        ).first()
        rec = s.scalars(select(LicenceRecord).order_by(LicenceRecord.id.desc())).first()
    assert event is not None and event.actor == "sam" and event.details["revoked_seals"] == listed
    assert rec is not None and rec.event == "status" and rec.changes == {"status": ["active", "cancelled"]}


def test_a_rename_revokes_and_opens_reissue_applications(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    codes = [issue(ctx, seal_type=t) for t in ("official", "finance")]
    c = client_as(app, ctx, "sam", Role.OPERATOR)
    page = c.get(f"/admin/enterprises/{SHENZHEN_USCC}/licence?status=active&name=深圳市前海新名科技有限公司").get_data(
        as_text=True
    )
    assert hidden(page, "seals").split() == codes and "affiliationChanged" in page
    with ctx.reader() as s:
        before = s.scalar(select(func.count()).select_from(SealApplication).where(SealApplication.channel == "reissue"))
    resp = c.post(
        f"/admin/enterprises/{SHENZHEN_USCC}/licence",
        data={
            "csrf_token": csrf(page),
            "status": "active",
            "name": hidden(page, "name"),
            "seals": hidden(page, "seals"),
            "confirm": SHENZHEN_USCC,
        },
    )
    assert resp.status_code == 302
    with ctx.reader() as s:
        after = s.scalar(select(func.count()).select_from(SealApplication).where(SealApplication.channel == "reissue"))
    assert after == (before or 0) + 2
    detail = c.get(f"/admin/enterprises/{SHENZHEN_USCC}").get_data(as_text=True)
    assert "<h1>深圳市前海新名科技有限公司" in detail


def test_a_confirmation_after_the_seals_changed_is_refused_with_the_new_list(
    app, ctx: ServiceContext, fingerprint
) -> None:  # type: ignore[no-untyped-def]
    first = issue(ctx)
    c = client_as(app, ctx, "sam", Role.OPERATOR)
    page = c.get(f"/admin/enterprises/{SHENZHEN_USCC}/licence?status=revoked").get_data(as_text=True)
    assert hidden(page, "seals") == first
    later = issue(ctx, seal_type="contract")  # issued while the preview was open
    before = fingerprint(ctx)
    resp = c.post(
        f"/admin/enterprises/{SHENZHEN_USCC}/licence",
        data={"csrf_token": csrf(page), "status": "revoked", "seals": hidden(page, "seals"), "confirm": SHENZHEN_USCC},
    )
    assert resp.status_code == 409 and fingerprint(ctx) == before
    again = resp.get_data(as_text=True)
    assert later in again.split('id="seals-changed"')[1].split("</div>")[0]
    assert "no longer the ones you confirmed" in again
    assert sorted(hidden(again, "seals").split()) == sorted([first, later])  # the new list, to confirm anew
    resp = c.post(
        f"/admin/enterprises/{SHENZHEN_USCC}/licence",
        data={
            "csrf_token": csrf(again),
            "status": "revoked",
            "seals": hidden(again, "seals"),
            "confirm": SHENZHEN_USCC,
        },
    )
    assert resp.status_code == 302
    assert {st for st, _r in seal_states(ctx).values()} == {"revoked"}


def test_the_confirmation_needs_the_typed_uscc_and_a_token(app, ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    code = issue(ctx)
    c = client_as(app, ctx, "sam", Role.OPERATOR)
    page = c.get(f"/admin/enterprises/{SHENZHEN_USCC}/licence?status=cancelled").get_data(as_text=True)
    before = fingerprint(ctx)
    data = {"status": "cancelled", "seals": code, "confirm": FUTIAN_USCC}
    assert c.post(f"/admin/enterprises/{SHENZHEN_USCC}/licence", data=data).status_code == 400  # no token
    wrong = c.post(f"/admin/enterprises/{SHENZHEN_USCC}/licence", data=dict(data, csrf_token=csrf(page)))
    assert wrong.status_code == 400 and "does not match" in wrong.get_data(as_text=True)
    empty = c.post(f"/admin/enterprises/{SHENZHEN_USCC}/licence", data=dict(data, csrf_token=csrf(page), confirm=""))
    assert empty.status_code == 400 and "does not match" in empty.get_data(as_text=True)
    assert fingerprint(ctx) == before
    assert seal_states(ctx)[code] == (SealStatus.ACTIVE.value, None)


def test_wrong_state_bad_values_and_no_change(app, ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    c = client_as(app, ctx, "sam", Role.OPERATOR)
    before = fingerprint(ctx)
    conflict = c.get(f"/admin/enterprises/{CANCELLED_USCC}/licence?status=cancelled&name=新名称有限公司")
    assert conflict.status_code == 409 and "no name to change" in conflict.get_data(as_text=True)
    token = page_csrf(c, f"/admin/enterprises/{CANCELLED_USCC}/licence")
    resp = c.post(
        f"/admin/enterprises/{CANCELLED_USCC}/licence",
        data={
            "csrf_token": token,
            "status": "cancelled",
            "name": "新名称有限公司",
            "seals": "",
            "confirm": CANCELLED_USCC,
        },
    )
    assert resp.status_code == 409 and "no name to change" in resp.get_data(as_text=True)
    bad = c.get(f"/admin/enterprises/{SHENZHEN_USCC}/licence?status=closed")
    assert bad.status_code == 400 and "unknown licence status" in bad.get_data(as_text=True)
    same = c.get(f"/admin/enterprises/{SHENZHEN_USCC}/licence?status=active").get_data(as_text=True)
    assert "Nothing would change" in same and 'name="confirm"' not in same
    long = c.get(f"/admin/enterprises/{SHENZHEN_USCC}/licence?status=active&name=" + "长" * 201)
    assert long.status_code == 400 and "name must be 1–200" in long.get_data(as_text=True)
    assert fingerprint(ctx) == before


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.ADMIN, Role.AUDITOR])
def test_only_operators_change_a_licence(app, ctx: ServiceContext, fingerprint, role: Role) -> None:  # type: ignore[no-untyped-def]
    code = issue(ctx)
    c = client_as(app, ctx, "someone", role)
    assert c.get(f"/admin/enterprises/{SHENZHEN_USCC}").status_code == 200
    assert c.get(f"/admin/enterprises/{SHENZHEN_USCC}/licence?status=cancelled").status_code == 403
    before = fingerprint(ctx)
    resp = c.post(
        f"/admin/enterprises/{SHENZHEN_USCC}/licence",
        data={"csrf_token": page_csrf(c, "/admin/"), "status": "cancelled", "seals": code, "confirm": SHENZHEN_USCC},
    )
    assert resp.status_code == 403 and fingerprint(ctx) == before
