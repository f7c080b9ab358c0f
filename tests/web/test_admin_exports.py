"""CSV exports of the admin lists (seals, applications, enterprises, audit events): streamed, UTF-8
with a BOM, UTC times with a Z, formula injection neutralised, the list's filters and permission,
one audit event per export. Also the enterprises list's licence-status filter and the seal picture
of the admin seal page."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from registry.db.models import AuditEvent
from registry.domain.roles import Role
from registry.pki import ses
from registry.pki.uscc import uscc_check_char
from registry.services import audit, exports, licences, revocation, seals
from registry.services.context import Actor, ServiceContext
from tests.support.applications import submit
from tests.support.data import ADMIN, CANCELLED_USCC, SHENZHEN_USCC
from tests.support.seals import issue_es_id as issue
from tests.support.staff import client_as, page_csrf

HOSTILE = '=HYPERLINK("http://evil.example","点此")'
HOSTILE_USCC = "91440300MA5HX0001" + uscc_check_char("91440300MA5HX0001")


def hostile_enterprise(ctx: ServiceContext) -> None:
    """A licence whose name and legal representative read as spreadsheet formulas."""
    data = (
        "uscc,name,legal_representative,entity_type,address,registered_on,status\r\n"
        f'{HOSTILE_USCC},"{HOSTILE.replace(chr(34), chr(34) * 2)}",+王五,有限责任公司,@深圳,2020-01-02,active\r\n'
    ).encode()
    report = licences.import_licences(ctx, ADMIN, data, "hostile.csv")
    assert len(report.created) == 1, report.rows


def read_csv(r) -> list[list[str]]:  # type: ignore[no-untyped-def]
    assert r.status_code == 200, r.get_data(as_text=True)[:800]
    assert r.is_streamed  # a generator, not a body built in memory
    assert r.mimetype == "text/csv" and r.mimetype_params.get("charset", "").lower() == "utf-8"
    assert r.headers["Content-Disposition"].startswith("attachment; filename=")
    assert r.headers["Cache-Control"] == "no-store"
    raw = r.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM, for Excel
    return list(csv.reader(io.StringIO(raw.decode("utf-8")[1:], newline="")))


def exports_logged(ctx: ServiceContext) -> list[tuple[str, str, dict]]:  # type: ignore[type-arg]
    with ctx.reader() as s:
        return [
            (e.actor, e.target_id, e.details)
            for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "list.exported").order_by(AuditEvent.seq))
        ]


def test_neutralise_prefixes_formula_starts_only() -> None:
    for bad in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert exports.neutralise(bad) == "'" + bad
    for ok in ("深圳", "a=b", "", " =1", 7, -3):
        assert exports.neutralise(ok) == ok


def test_seals_csv(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    hostile_enterprise(ctx)
    mine, theirs = issue(ctx), issue(ctx, HOSTILE_USCC)
    revoked = issue(ctx, seal_type="contract")
    revocation.revoke_seal(ctx, ADMIN, revoked, "keyCompromise")
    c = client_as(app, ctx, "sam", Role.OPERATOR)
    assert "导出 CSV" in c.get("/admin/seals").get_data(as_text=True)
    rows = read_csv(c.get("/admin/seals.csv"))
    assert rows[0] == [
        "印章编码",
        "印章名称",
        "印章类型",
        "状态",
        "单位名称",
        "统一社会信用代码",
        "有效期至 (UTC)",
        "制作时间 (UTC)",
    ]
    body = {r[0]: r for r in rows[1:]}
    assert set(body) == {mine, theirs, revoked}
    assert body[revoked][3] == "revoked" and body[mine][3] == "active" and body[mine][2] == "财务专用章"
    assert body[theirs][4] == "'" + HOSTILE  # the formula is text now
    assert body[theirs][1].startswith("'=")
    assert body[mine][7] == "2026-11-23T08:00:00Z" and body[mine][6].endswith("Z")
    # the list's filter: one USCC
    rows = read_csv(c.get(f"/admin/seals.csv?q={HOSTILE_USCC}"))
    assert [r[0] for r in rows[1:]] == [theirs]
    # paging parameters are not filters
    assert len(read_csv(c.get("/admin/seals.csv?after=1"))) == 4
    assert exports_logged(ctx) == [
        ("sam", "seals", {"format": "csv", "filters": {}}),
        ("sam", "seals", {"format": "csv", "filters": {"q": HOSTILE_USCC}}),
        ("sam", "seals", {"format": "csv", "filters": {}}),
    ]
    # English headers on an English page
    c.post("/admin/language/en", data={"csrf_token": page_csrf(c, "/admin/seals")})
    assert read_csv(c.get("/admin/seals.csv"))[0][0] == "Seal code"


def test_applications_csv(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    hostile_enterprise(ctx)
    first, other = submit(ctx), submit(ctx, HOSTILE_USCC)
    c = client_as(app, ctx, "rhea", Role.REVIEWER)
    assert 'href="/admin/applications.csv?state=submitted"' in c.get("/admin/applications?state=submitted").get_data(
        as_text=True
    )
    rows = read_csv(c.get("/admin/applications.csv?state=submitted"))
    assert rows[0][:3] == ["申请编号", "状态", "印章类型"]
    body = {int(r[0]): r for r in rows[1:]}
    assert set(body) == {first, other}
    assert body[other][3] == "'" + HOSTILE and body[first][1] == "submitted"
    assert body[first][7] == "2026-11-23T08:00:00Z"
    assert [int(r[0]) for r in read_csv(c.get(f"/admin/applications.csv?state=open&q={SHENZHEN_USCC}"))[1:]] == [first]
    assert read_csv(c.get("/admin/applications.csv?state=issued"))[1:] == []
    # a bad filter is the list's error, and no export is recorded for it
    r = c.get("/admin/applications.csv?state=nonsense")
    assert r.status_code == 400 and r.mimetype == "text/html"
    assert [t for _a, t, _d in exports_logged(ctx)] == ["applications"] * 3


def test_enterprises_csv_and_the_status_filter(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    hostile_enterprise(ctx)
    c = client_as(app, ctx, "sam", Role.OPERATOR)
    rows = read_csv(c.get("/admin/enterprises.csv"))
    assert rows[0] == ["统一社会信用代码", "单位名称", "法定代表人", "类型", "执照状态", "成立日期", "在用印章数"]
    body = {r[0]: r for r in rows[1:]}
    assert {SHENZHEN_USCC, CANCELLED_USCC, HOSTILE_USCC} <= set(body)
    assert body[HOSTILE_USCC][1:3] == ["'" + HOSTILE, "'+王五"]
    assert body[HOSTILE_USCC][5] == "2020-01-02" and body[CANCELLED_USCC][4] == "cancelled"
    # the status filter, on the list and in its export
    html = c.get("/admin/enterprises?status=cancelled").get_data(as_text=True)
    assert CANCELLED_USCC in html and SHENZHEN_USCC not in html
    assert 'href="/admin/enterprises.csv?status=cancelled"' in html
    rows = read_csv(c.get("/admin/enterprises.csv?status=cancelled"))
    assert [r[0] for r in rows[1:]] == [CANCELLED_USCC]
    html = c.get("/admin/enterprises?status=active&q=深圳市前海").get_data(as_text=True)
    assert SHENZHEN_USCC in html and CANCELLED_USCC not in html
    assert {r[0] for r in read_csv(c.get("/admin/enterprises.csv?status=active&q=深圳市前海"))[1:]} == {SHENZHEN_USCC}
    # a bad status: a 400 that names it, in Chinese on the Chinese page; no export recorded
    for url in ("/admin/enterprises?status=bogus", "/admin/enterprises.csv?status=bogus"):
        r = c.get(url)
        assert r.status_code == 400 and r.mimetype == "text/html"
        assert "未知的执照状态 &#39;bogus&#39;" in r.get_data(as_text=True)
    assert [t for _a, t, _d in exports_logged(ctx)] == ["enterprises"] * 3


def test_audit_csv(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    issue(ctx)
    with ctx.transaction() as s:  # an event whose actor and target read as formulas
        audit.record(s, ctx, Actor.system("@evil"), "seal.noted", "seal", "-2+3", note="=1+1")
    c = client_as(app, ctx, "audrey", Role.AUDITOR)
    assert 'href="/admin/audit.csv?type=seal"' in c.get("/admin/audit?type=seal").get_data(as_text=True)
    rows = read_csv(c.get("/admin/audit.csv"))
    assert rows[0] == ["序号", "时间 (UTC)", "操作人", "操作", "对象类型", "对象", "详情 (JSON)"]
    by_action = {r[3]: r for r in rows[1:]}
    assert by_action["seal.noted"][2] == "'@evil" and by_action["seal.noted"][5] == "'-2+3"
    assert by_action["seal.noted"][6] == '{"note":"=1+1"}'  # JSON starts with {: left as it is
    assert by_action["seal.issued"][1] == "2026-11-23T08:00:00Z"
    seqs = [int(r[0]) for r in rows[1:]]
    assert seqs == sorted(seqs, reverse=True)  # newest first, as the page
    # the export's own event is in the log: the first row of the next export
    assert read_csv(c.get("/admin/audit.csv?action=list."))[1][3] == "list.exported"
    # the filter: one target type and a time range
    rows = read_csv(c.get("/admin/audit.csv?type=seal&from=2026-11-23&to=2026-11-23"))
    assert rows[1:] and all(r[4] == "seal" for r in rows[1:])
    assert read_csv(c.get("/admin/audit.csv?type=seal&to=2026-11-22"))[1:] == []
    assert c.get("/admin/audit.csv?from=yesterday").status_code == 400
    logged = exports_logged(ctx)
    assert [t for _a, t, _d in logged] == ["audit"] * 4
    assert logged[2][2]["filters"] == {"type": "seal", "since": "2026-11-23T00:00:00Z", "until": "2026-11-24T00:00:00Z"}


def test_exports_are_role_checked_like_their_lists(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    anonymous = app.test_client()
    for url in ("/admin/seals.csv", "/admin/applications.csv", "/admin/enterprises.csv", "/admin/audit.csv"):
        r = anonymous.get(url)
        assert r.status_code == 302 and "/admin/login" in r.headers["Location"]
    # each role gets the export exactly when it gets the list
    lists = {
        "/admin/seals": "/admin/seals.csv",
        "/admin/applications": "/admin/applications.csv",
        "/admin/enterprises": "/admin/enterprises.csv",
        "/admin/audit": "/admin/audit.csv",
    }
    refused = 0
    for role in Role:
        c = client_as(app, ctx, f"u-{role.value}", role)
        for page, csv_url in lists.items():
            expected = c.get(page).status_code
            assert expected in (200, 403)
            assert c.get(csv_url).status_code == expected, (role, csv_url)
            refused += expected == 403
    assert refused >= 3  # the operator, the reviewer and the admin may not read the log
    # an export is recorded for each one given, none for a refused one
    assert len(exports_logged(ctx)) == len(Role) * len(lists) - refused


def test_an_export_reads_in_batches(ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """More rows than a batch: several chunks, every row once, in the list's order."""
    monkeypatch.setattr(exports, "BATCH", 2)
    codes = [issue(ctx, seal_type=t) for t in ("official", "finance", "contract", "invoice", "finance")]
    who = Actor("sam", roles=frozenset({Role.OPERATOR}))
    chunks = list(exports.seals(ctx, who, ""))
    assert len(chunks) == 4  # header, 2 + 2 + 1 rows
    rows = list(csv.reader(io.StringIO("".join(chunks)[1:], newline="")))
    assert [r[0] for r in rows[1:]] == codes[::-1]


def test_admin_seal_page_shows_the_seal_picture(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    code = issue(ctx)
    c = client_as(app, ctx, "sam", Role.OPERATOR)
    html = c.get(f"/admin/seals/{code}").get_data(as_text=True)
    assert f'src="/admin/seals/{code}/picture"' in html
    r = c.get(f"/admin/seals/{code}/picture")
    assert r.status_code == 200 and r.mimetype == "image/png"
    with ctx.reader() as s:
        assert r.get_data() == bytes(ses.parse_seal(seals.find_seal(s, code).ses_der).picture.data)
    assert c.get("/admin/seals/440300022026000000000000X/picture").status_code in (400, 404)
    assert app.test_client().get(f"/admin/seals/{code}/picture").status_code == 302
