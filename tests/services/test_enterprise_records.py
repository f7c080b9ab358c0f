"""Enterprises in the back office: search with keyset pages (ties on a name included), one
enterprise's record, the licence-change preview against what the change then does, and the import
report's rows."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from registry.db.models import AuditEvent, SealApplication
from registry.domain.errors import Conflict, NotFound, PermissionDenied, ValidationError
from registry.domain.roles import Role
from registry.services import enterprise_records, licences, revocation
from registry.services.context import Actor, ServiceContext
from tests.support.data import ADMIN, CANCELLED_USCC, SHENZHEN_USCC, UNKNOWN_USCC
from tests.support.enterprises import HEADER, load, make_uscc
from tests.support.seals import issue_es_id as issue

OPERATOR = Actor("olivia", roles=frozenset({Role.OPERATOR}))
AUDITOR = Actor("aud", roles=frozenset({Role.AUDITOR}))


def walk(ctx: ServiceContext, query: str, limit: int) -> list[tuple[str, str]]:
    """Every page of a search, following next_after / next_name as the list page's link does."""
    out: list[tuple[str, str]] = []
    after, after_name = None, None
    for _ in range(100):
        page = enterprise_records.search(ctx, AUDITOR, query, after=after, after_name=after_name, limit=limit)
        out += [(r.name, r.uscc) for r in page.rows]
        if page.next_after is None:
            return out
        after, after_name = page.next_after, page.next_name
    raise AssertionError("the pages never end")


@pytest.mark.parametrize("limit", [1, 2, 3, 50])
def test_name_search_visits_every_match_once_in_name_order_even_with_equal_names(
    ctx: ServiceContext, limit: int
) -> None:
    # five firms share one name (not unique in law across registration areas); pages may end inside it
    names = ["深圳市甲乙科技有限公司"] * 5 + [
        "深圳市甲丙贸易有限公司",
        "深圳市甲乙科技有限公司分公司",
        "深圳市乙方物流有限公司",
        "深圳市甲",
    ]
    codes = load(ctx, names)
    # renamed and back: on PostgreSQL their index entries now follow the others' (equal keys are
    # kept in heap order), so an index read alone would give ids 3, 4, 5, 1, 2
    for code in codes[:2]:
        licences.set_licence_status(ctx, ADMIN, code, "active", name="临时名称")
        licences.set_licence_status(ctx, ADMIN, code, "active", name=names[0])
    got = walk(ctx, "深圳市甲", limit)
    want = sorted(
        ((n, c) for n, c in zip(names, codes, strict=True) if n.startswith("深圳市甲")),
        key=lambda nc: (nc[0], codes.index(nc[1])),
    )
    assert got == want
    assert len(set(got)) == len(got) == 8


def test_name_prefix_is_a_prefix_and_wildcards_are_plain_characters(ctx: ServiceContext) -> None:
    load(ctx, ["深圳市%通配有限公司", "深圳市_下划线有限公司", "深圳市百分比有限公司"])
    assert [n for n, _c in walk(ctx, "深圳市%", 10)] == ["深圳市%通配有限公司"]
    assert [n for n, _c in walk(ctx, "深圳市_", 10)] == ["深圳市_下划线有限公司"]
    assert walk(ctx, "圳市", 10) == []  # not a substring search
    assert walk(ctx, "\U0010ffff", 10) == []  # no upper bound to compute: still a prefix search


def test_list_all_runs_newest_first_and_a_uscc_finds_one(ctx: ServiceContext) -> None:
    codes = load(ctx, ["深圳市一号有限公司", "深圳市二号有限公司", "深圳市三号有限公司"])
    everything = walk(ctx, "", 2)
    assert [c for _n, c in everything[:3]] == codes[::-1]
    assert len(everything) == 5 + 3  # the demo licences too
    page = enterprise_records.search(ctx, AUDITOR, codes[1].lower())
    assert page.kind == "uscc" and [r.uscc for r in page.rows] == [codes[1]]
    assert enterprise_records.search(ctx, AUDITOR, UNKNOWN_USCC).rows == []


def test_a_continuation_from_another_search_starts_over(ctx: ServiceContext) -> None:
    load(ctx, ["深圳市甲一有限公司", "深圳市甲二有限公司"])
    page = enterprise_records.search(ctx, AUDITOR, "深圳市甲", after=1, after_name="北京市某某有限公司")
    assert [r.name for r in page.rows] == ["深圳市甲一有限公司", "深圳市甲二有限公司"]


@pytest.mark.parametrize("query", ["x" * 101, "深圳\x00市", "a\tb"])
def test_bad_search_text_is_refused(ctx: ServiceContext, query: str) -> None:
    with pytest.raises(ValidationError):
        enterprise_records.search(ctx, AUDITOR, query)


def test_upper_bound() -> None:
    ub = enterprise_records._upper_bound
    assert ub("ab") == "ac" and ub("深圳") == "深" + chr(ord("圳") + 1)
    assert ub("a\U0010ffff") == "b" and ub("\U0010ffff") is None and ub("\ud7ff") == "\ue000"


def test_detail_has_the_seals_applications_and_licence_history(ctx: ServiceContext) -> None:
    from tests.support.applications import submit

    es_id = issue(ctx)
    app_id = submit(ctx)
    revocation.revoke_seal(ctx, ADMIN, issue(ctx, seal_type="contract"), "keyCompromise")
    licences.set_licence_status(ctx, ADMIN, SHENZHEN_USCC, "active", legal_representative="张三丰")
    d = enterprise_records.detail(ctx, AUDITOR, SHENZHEN_USCC.lower())
    assert d["enterprise"]["legal_representative"] == "张三丰"
    assert es_id in [s["es_id"] for s in d["seals"]] and d["seal_total"] == 2 and d["live_seals"] == 0
    assert app_id in [a["id"] for a in d["applications"]]
    # newest first: the change, then the registration
    assert [h["event"] for h in d["licence_history"]] == ["changed", "registered"]
    assert d["licence_history"][0]["changes"]["legal_representative"] == ["张三", "张三丰"]
    assert d["licence_history"][0]["source"] == "set-status"


def test_detail_of_an_unknown_or_mistyped_uscc(ctx: ServiceContext) -> None:
    with pytest.raises(NotFound):
        enterprise_records.detail(ctx, AUDITOR, UNKNOWN_USCC)
    with pytest.raises(ValidationError):
        enterprise_records.detail(ctx, AUDITOR, "<b>not a uscc</b>")


def test_preview_lists_exactly_the_seals_the_change_revokes(ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    live = [issue(ctx, seal_type=t) for t in ("official", "finance", "contract")]
    revocation.revoke_seal(ctx, ADMIN, live.pop(0), "keyCompromise")  # already revoked: not listed
    revocation.suspend_seal(ctx, ADMIN, live[0])  # suspended: listed
    before = fingerprint(ctx)
    preview = licences.preview_status_change(ctx, OPERATOR, SHENZHEN_USCC, "cancelled")
    assert fingerprint(ctx) == before  # reads only
    assert preview.reason == "cessationOfOperation" and preview.changes == {"status": ["active", "cancelled"]}
    assert [s.es_id for s in preview.seals] == live and not any(s.reissue for s in preview.seals)
    assert [s.status for s in preview.seals] == ["suspended", "active"]
    done = licences.set_licence_status(
        ctx, OPERATOR, SHENZHEN_USCC, "cancelled", expect_seals=[s.es_id for s in preview.seals]
    )
    assert done.revoked_seals == [s.es_id for s in preview.seals]


def test_rename_preview_marks_the_reissues_the_change_opens(ctx: ServiceContext) -> None:
    live = [issue(ctx, seal_type=t) for t in ("official", "finance")]
    preview = licences.preview_status_change(
        ctx, OPERATOR, SHENZHEN_USCC, "active", name="深圳市前海新名称科技有限公司"
    )
    assert preview.reason == "affiliationChanged" and [s.es_id for s in preview.seals] == live
    assert all(s.reissue for s in preview.seals)
    with ctx.reader() as s:
        before = s.scalar(select(func.count()).select_from(SealApplication)) or 0
    done = licences.set_licence_status(
        ctx, OPERATOR, SHENZHEN_USCC, "active", name="深圳市前海新名称科技有限公司", expect_seals=live
    )
    assert done.revoked_seals == live
    with ctx.reader() as s:
        assert (s.scalar(select(func.count()).select_from(SealApplication)) or 0) == before + sum(
            x.reissue for x in preview.seals
        )


def test_a_change_refuses_when_the_seals_differ_from_the_preview(ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    first = issue(ctx)
    shown = [s.es_id for s in licences.preview_status_change(ctx, OPERATOR, SHENZHEN_USCC, "revoked").seals]
    assert shown == [first]
    later = issue(ctx, seal_type="contract")  # issued between the preview and the confirmation
    before = fingerprint(ctx)
    with pytest.raises(revocation.SealsChanged) as exc:
        licences.set_licence_status(ctx, OPERATOR, SHENZHEN_USCC, "revoked", expect_seals=shown)
    assert exc.value.http_status == 409 and exc.value.actual == sorted([first, later]) and later in str(exc.value)
    assert fingerprint(ctx) == before
    # someone else applied it first: the preview's seals are not revoked by this call either
    licences.set_licence_status(ctx, OPERATOR, SHENZHEN_USCC, "revoked")
    with pytest.raises(revocation.SealsChanged):
        licences.set_licence_status(ctx, OPERATOR, SHENZHEN_USCC, "revoked", expect_seals=[first, later])


def test_preview_errors(ctx: ServiceContext) -> None:
    with pytest.raises(Conflict):
        licences.preview_status_change(ctx, OPERATOR, CANCELLED_USCC, "cancelled", name="新名称")
    with pytest.raises(NotFound):
        licences.preview_status_change(ctx, OPERATOR, UNKNOWN_USCC, "cancelled")
    with pytest.raises(ValidationError):
        licences.preview_status_change(ctx, OPERATOR, SHENZHEN_USCC, "closed")
    with pytest.raises(ValidationError):
        licences.preview_status_change(ctx, OPERATOR, SHENZHEN_USCC, "active", name="x" * 201)
    nothing = licences.preview_status_change(ctx, OPERATOR, SHENZHEN_USCC, "active")
    assert nothing.changes == {} and nothing.seals == [] and nothing.current["status"] == "active"


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.ADMIN, Role.AUDITOR])
def test_only_operators_import_and_change_licences(ctx: ServiceContext, role: Role) -> None:
    who = Actor("someone", roles=frozenset({role}))
    with pytest.raises(PermissionDenied):
        licences.preview_status_change(ctx, who, SHENZHEN_USCC, "cancelled")
    with pytest.raises(PermissionDenied):
        licences.set_licence_status(ctx, who, SHENZHEN_USCC, "cancelled")
    with pytest.raises(PermissionDenied):
        licences.import_licences(ctx, who, HEADER.encode(), "x.csv")
    assert enterprise_records.search(ctx, who, "").rows  # everyone on the staff may look


def test_import_report_has_every_row_in_file_order(ctx: ServiceContext) -> None:
    es_id = issue(ctx)
    new = make_uscc(1)
    csv = (
        HEADER
        + f"{new},深圳市新设有限公司,王五,有限责任公司,深圳市,2021-01-01,active\n"  # line 2
        + "91440300MA5F12342X,坏代码有限公司,王五,有限责任公司,深圳市,2021-01-01,active\n"  # line 3
        + f"{SHENZHEN_USCC},深圳市前海示范科技有限公司,张三,有限责任公司,深圳市南山区前海大道1号,2019-05-20,cancelled\n"
        + "91440300MA5GK7B25F,深圳市福田样例贸易有限公司,李四,有限责任公司,深圳市福田区深南大道2号,2020-08-11,active\n"
        + f"{new},重复有限公司,王五,有限责任公司,深圳市,2021-01-01,active\n"  # line 6
        + "only,three,fields\n"
    )  # line 7
    report = licences.import_licences(ctx, OPERATOR, csv.encode(), "../../etc/licences.csv")
    assert [(r.line, r.uscc, r.outcome) for r in report.rows] == [
        (2, new, "created"),
        (3, "91440300MA5F12342X", "rejected"),
        (4, SHENZHEN_USCC, "updated"),
        (5, "91440300MA5GK7B25F", "unchanged"),
        (6, new, "rejected"),
        (7, "", "rejected"),
    ]
    updated = report.rows[2]
    assert updated.changes == {"status": ["active", "cancelled"]} and updated.revoked_seals == (es_id,)
    assert "line 2" in report.rows[4].message and "expected 7 fields" in report.rows[5].message
    with ctx.reader() as s:
        event = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "licence.imported").order_by(AuditEvent.id.desc())
        ).first()
    assert event is not None and event.target_id == "licences.csv" and event.actor == "olivia"


def test_file_label_keeps_records_within_their_columns() -> None:
    assert licences.file_label("C:\\feeds\\2026-11.csv") == "2026-11.csv"
    assert licences.file_label("a\x00b\n.csv") == "ab.csv"
    long = licences.file_label("x" * 300 + ".jsonl")
    assert len(long) == 64 and long.endswith(".jsonl")
    assert licences.file_label("") == "licences"
