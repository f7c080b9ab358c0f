"""Admin portal: the audit log page (filters, newest first, keyset pages, escaped details) and the
hash chain's integrity check, intact and after tampering with raw SQL (issue 5)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from registry.db.models import AuditEvent
from registry.domain.errors import PermissionDenied, ValidationError
from registry.domain.roles import Role
from registry.services import audit, audit_log, revocation, users
from registry.services.context import Actor, ServiceContext
from registry.services.core.tx import reading
from tests.support.audit import make_history, tamper
from tests.support.data import ADMIN, NOW
from tests.support.seals import issue
from tests.support.staff import client_as, page_csrf

AUDITOR = Actor("aud", roles=frozenset({Role.AUDITOR}))


def seqs(html: str) -> list[int]:
    """The event numbers listed on an audit page, in page order."""
    table = html.split('id="audit-events"', 1)[1].split("</table>", 1)[0]
    return [int(n) for n in re.findall(r"<tr><td><code>(\d+)</code></td>", table)]


def all_events(ctx: ServiceContext) -> list[tuple[int, dt.datetime, str, str, str, str]]:
    """Every event newest first, as the page must order them: (occurred_at, seq) descending."""
    with ctx.reader() as s:
        rows = s.execute(
            select(
                AuditEvent.seq,
                AuditEvent.occurred_at,
                AuditEvent.actor,
                AuditEvent.action,
                AuditEvent.target_type,
                AuditEvent.target_id,
            )
        ).all()
    return sorted((tuple(r) for r in rows), key=lambda r: (r[1], r[0]), reverse=True)  # type: ignore[misc]


def test_the_auditor_sees_every_event_newest_first_in_keyset_pages(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    make_history(ctx)  # several events share a time (frozen clock, bulk inserts): seq breaks the ties
    c = client_as(app, ctx, "aud2", Role.AUDITOR)  # (signing in adds events too)
    expected = [e[0] for e in all_events(ctx)]
    assert len(expected) > 12
    pages, after = [], None
    while True:
        page = audit_log.search(ctx, AUDITOR, after=after, limit=5)
        pages.append([r.seq for r in page.rows])
        if page.next_after is None:
            break
        after = page.next_after
    assert [s for p in pages for s in p] == expected and all(len(p) == 5 for p in pages[:-1])
    html = c.get("/admin/audit").get_data(as_text=True)
    first = seqs(html)
    assert first == expected[: audit_log.PAGE_SIZE]
    assert 'class="button" href="/admin/audit?after=' not in html  # one page only: no "Older" link
    html = c.get(f"/admin/audit?after={expected[3]}").get_data(as_text=True)
    assert seqs(html)[:3] == expected[4:7]
    # past a page: follow the "Older" link to the rest, nothing twice, nothing missed
    with ctx.transaction() as s:
        for i in range(audit_log.PAGE_SIZE):
            audit.record(s, ctx, ADMIN, "test.filler", "user", f"u{i}")
    expected = [e[0] for e in all_events(ctx)]
    html = c.get("/admin/audit").get_data(as_text=True)
    link = re.search(r'class="button" href="(/admin/audit\?after=\d+)"', html)
    assert link is not None and seqs(html) == expected[: audit_log.PAGE_SIZE]
    rest = c.get(link.group(1)).get_data(as_text=True)
    assert seqs(rest) == expected[audit_log.PAGE_SIZE : 2 * audit_log.PAGE_SIZE]


def test_filters_by_actor_action_prefix_target_and_time(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    make_history(ctx)
    c = client_as(app, ctx, "aud2", Role.AUDITOR)
    events = all_events(ctx)

    def shown(query: str) -> list[int]:
        resp = c.get("/admin/audit?" + query)
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        return seqs(resp.get_data(as_text=True))

    assert shown("actor=test-admin") == [e[0] for e in events if e[2] == "test-admin"][:50]
    assert shown("actor=aud2") == [e[0] for e in events if e[2] == "aud2"]
    seal_events = [e[0] for e in events if e[3].startswith("seal.")]
    assert len({e[3] for e in events if e[3].startswith("seal.")}) >= 2  # seal.issued and seal.revoked
    assert shown("action=seal.") == seal_events
    assert shown("action=seal.revoked") == [e[0] for e in events if e[3] == "seal.revoked"]
    assert shown("action=seal_") == [] and shown("action=SEAL.") == []  # no wildcard, case-sensitive
    assert shown("type=user&target=zhangwei") == [e[0] for e in events if e[4:] == ("user", "zhangwei")]
    assert shown("target=zhangwei") == [e[0] for e in events if e[5] == "zhangwei"]
    assert shown("type=authority") == [e[0] for e in events if e[4] == "authority"]
    # time: make_history moved the clock a minute at a time from NOW
    later = [e for e in events if e[1] >= NOW + dt.timedelta(minutes=3)]
    assert later and len(later) < len(events)
    assert shown("from=2026-11-23 08:03") == [e[0] for e in later]
    assert shown("to=2026-11-23T08:02Z") == [e[0] for e in events if e[1] < NOW + dt.timedelta(minutes=3)]
    assert shown("from=2026-11-23&to=2026-11-23") == [e[0] for e in events][:50]  # the whole day
    assert shown("from=2026-11-24") == []
    # combined, and the filter is kept on the next page's link
    both = [e[0] for e in events if e[2] == "test-admin" and e[3].startswith("seal.")]
    assert shown("actor=test-admin&action=seal.") == both
    page = audit_log.search(ctx, AUDITOR, audit_log.parse_filter(actor="test-admin"), limit=2)
    assert page.next_after is not None
    html = c.get(f"/admin/audit?actor=test-admin&after={page.next_after}").get_data(as_text=True)
    assert seqs(html)[0] == [e[0] for e in events if e[2] == "test-admin"][2]


@pytest.mark.parametrize(
    "query,message",
    [  # the page speaks Chinese (coded messages, audit_log.py)
        ("from=yesterday", "不是时间"),
        ("from=2026-11-24&to=2026-11-23", "结束早于开始"),
        ("action=seal.%25", "操作名称的开头"),
        ("type=<b>bold</b>", "对象类型"),
        ("after=999999", "审计事件编号 999999"),
    ],
)
def test_bad_filters_are_a_400_with_the_reason(app, ctx: ServiceContext, query: str, message: str) -> None:  # type: ignore[no-untyped-def]
    c = client_as(app, ctx, "aud2", Role.AUDITOR)
    resp = c.get("/admin/audit?" + query)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and message in html
    assert "<b>bold</b>" not in html


def test_details_with_markup_are_shown_escaped(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    r = issue(ctx)
    revocation.suspend_seal(ctx, ADMIN, r.es_id, '<script>alert("x")</script> & <b>')
    users.add_user(ctx, ADMIN, "mallory", [Role.OPERATOR], display_name="<img src=x onerror=alert(1)>")
    c = client_as(app, ctx, "aud2", Role.AUDITOR)
    html = c.get("/admin/audit?action=seal.suspended").get_data(as_text=True)
    assert "<script>alert" not in html and "&lt;script&gt;alert(" in html and "&amp; &lt;b&gt;" in html
    assert "<script" not in html  # no script at all on the page (CSP: none inline)


def test_only_the_auditor_reads_the_log(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    for role in (Role.OPERATOR, Role.REVIEWER, Role.ADMIN):
        c = client_as(app, ctx, f"x{role.value}", role)
        assert c.get("/admin/audit").status_code == 403
    with pytest.raises(PermissionDenied):
        audit_log.search(ctx, Actor("olivia", roles=frozenset({Role.OPERATOR})))
    assert "审计日志" in client_as(app, ctx, "aud2", Role.AUDITOR).get("/admin/").get_data(as_text=True)


def test_parse_filter_rules() -> None:
    f = audit_log.parse_filter(since="2026-11-23 08:15", until="2026-11-23 08:15")
    assert f.since == dt.datetime(2026, 11, 23, 8, 15, tzinfo=dt.UTC)
    assert f.until == dt.datetime(2026, 11, 23, 8, 16, tzinfo=dt.UTC)  # the whole minute
    assert audit_log.parse_filter(until="2026-11-23").until == dt.datetime(2026, 11, 24, tzinfo=dt.UTC)
    assert audit_log.parse_filter().empty
    with pytest.raises(ValidationError):
        audit_log.parse_filter(target_id="x" * 65)


# ------------------------------------------------------------------------------------------------
# Integrity check


def verify(client) -> str:  # type: ignore[no-untyped-def]
    token = page_csrf(client, "/admin/")
    resp = client.post("/admin/audit/integrity", data={"csrf_token": token})
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def test_the_check_reports_an_intact_log_with_its_event_count(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    make_history(ctx)
    c = client_as(app, ctx, "aud2", Role.AUDITOR)
    html = verify(c)
    with ctx.reader() as s:
        n = s.scalar(select(func.count()).select_from(AuditEvent))
    assert f"完整：共 {n} 个事件" in html and 'id="integrity-result"' in html
    assert seqs(html)  # the auditor sees the log under the result


def test_a_tampered_log_is_shown_prominently_with_the_first_problem(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    make_history(ctx)
    target = [e for e in all_events(ctx) if e[3] == "user.created" and e[5] == "zhangwei"][0]
    tamper(ctx, "UPDATE audit_events SET actor = 'mallory' WHERE seq = :s", s=target[0])
    c = client_as(app, ctx, "aud2", Role.AUDITOR)
    html = verify(c)
    result = html.split('id="integrity-result"', 1)[1].split("</div>", 1)[0]
    assert 'role="alert"' in html.split('id="integrity-result"', 1)[1][:40]
    assert "审计日志已被篡改" in result and "有事件被直接修改" in result
    assert '<code id="problem-kind">changed</code>' in result
    assert f'<code id="problem-seq">{target[0]}</code>' in result
    assert "user.created" in result and "mallory" in result and "2026-11-23T08:" in result
    # the admin may run the check (not read the log): the same finding, without the events
    a = client_as(app, ctx, "adm", Role.ADMIN)
    assert a.get("/admin/audit/integrity").status_code == 200
    html = verify(a)
    assert f'<code id="problem-seq">{target[0]}</code>' in html and 'id="audit-events"' not in html


def test_a_removed_event_is_reported_removed(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    make_history(ctx)
    gone = [e for e in all_events(ctx) if e[3] == "seal.revoked"][0]
    tamper(ctx, "DELETE FROM audit_events WHERE seq = :s", s=gone[0])
    html = verify(client_as(app, ctx, "aud2", Role.AUDITOR))
    assert '<code id="problem-kind">removed</code>' in html and f'<code id="problem-seq">{gone[0]}</code>' in html


def test_the_check_needs_a_csrf_token_and_the_permission(app, ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    c = client_as(app, ctx, "aud2", Role.AUDITOR)
    op = client_as(app, ctx, "sam", Role.OPERATOR)
    before = fingerprint(ctx)
    resp = c.post("/admin/audit/integrity", data={})
    assert resp.status_code == 400 and "CSRF" in resp.get_data(as_text=True)
    assert op.post("/admin/audit/integrity", data={"csrf_token": page_csrf(op, "/admin/")}).status_code == 403
    assert op.get("/admin/audit/integrity").status_code == 403
    assert fingerprint(ctx) == before


def test_every_filter_is_served_by_an_index(ctx: ServiceContext) -> None:
    """The query plans at any size: each filter reads an index in page order or seeks a few rows
    (scripts/bench_audit_page.py times them with a million events)."""
    make_history(ctx)
    cases = {
        "none": (audit_log.AuditFilter(), "ix_audit_events_time"),
        "time": (audit_log.parse_filter(since="2026-11-23", until="2026-11-23"), "ix_audit_events_time"),
        "actor": (audit_log.AuditFilter(actor="test-admin"), "ix_audit_events_actor_time"),
        "action": (audit_log.AuditFilter(action="seal."), "ix_audit_events_action_time"),
        "type": (audit_log.AuditFilter(target_type="authority"), "ix_audit_events_type_time"),
        "target": (audit_log.AuditFilter(target_type="user", target_id="zhangwei"), "ix_audit_events_target"),
        "target, any type": (audit_log.AuditFilter(target_id="zhangwei"), "ix_audit_events_target"),
    }
    dialect = ctx.engine.dialect
    with reading(ctx, ADMIN) as tx:
        conn = tx.conn
        if dialect.name == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")  # a tiny table would be read whole
        for name, (filt, index) in cases.items():
            actions = audit_log.actions_with_prefix(tx, filt.action) if filt.action else None
            sql = str(
                audit_log.statement(dialect.name, filt, (NOW, 10**9), 51, actions).compile(
                    dialect=dialect, compile_kwargs={"literal_binds": True}
                )
            )
            if dialect.name == "sqlite":
                plan = [r[-1] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]
                scans = [p for p in plan if "audit_events" in p]
                assert scans and all(p.startswith("SEARCH") or "USING INDEX" in p for p in scans), (name, plan)
            else:
                plan = [r[0] for r in conn.exec_driver_sql("EXPLAIN " + sql)]
                assert not any("Seq Scan" in p for p in plan), (name, plan)
            assert any(index in p for p in plan), (name, index, plan)
        assert audit_log.actions_with_prefix(tx, "seal.") == ["seal.issued", "seal.revoked"]
        assert audit_log.actions_with_prefix(tx, "seal.r") == ["seal.revoked"]
        assert audit_log.actions_with_prefix(tx, "zzz") == []
