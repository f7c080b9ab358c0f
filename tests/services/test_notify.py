"""E-mail notifications (issue 6): notices derived from the audit log and the expiry scan, one digest
per enterprise per local day, delivered to a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update

from registry.db.models import (
    Enterprise,
    EnterprisePerson,
    Notification,
    NotificationDigest,
    NotifyState,
    Seal,
    SealGrant,
)
from registry.services import applications, licences, notify, revocation, seals
from registry.services.context import ServiceContext
from registry.services.core.leases import lease
from tests.support.applications import staff_actor, submit
from tests.support.data import ADMIN, NOW, SHENZHEN_USCC
from tests.support.mail import Inbox
from tests.support.net import free_port
from tests.support.seals import issue_es_id as issue

FUTIAN_USCC = "91440300MA5GK7B25F"
QIANHAI = "深圳市前海示范科技有限公司"
FUTIAN = "深圳市福田样例贸易有限公司"
OFFICE = "office@qianhai.example"


# ------------------------------------------------------------------------------------------------
# A real SMTP server on 127.0.0.1


def set_contact(ctx: ServiceContext, uscc: str, email: str) -> None:
    with ctx.transaction() as s:
        s.execute(update(Enterprise).where(Enterprise.uscc == uscc).values(contact_email=email))


def use_smtp(ctx: ServiceContext, port: int) -> None:
    ctx.settings = ctx.settings.with_overrides(
        smtp_host="127.0.0.1", smtp_port=port, smtp_security="none", mail_from="seals@registry.test"
    )


@pytest.fixture
def mctx(ctx: ServiceContext, inbox: Inbox) -> ServiceContext:
    """The registry with an SMTP server configured and a contact address for the Qianhai firm."""
    use_smtp(ctx, inbox.port)
    set_contact(ctx, SHENZHEN_USCC, OFFICE)
    return ctx


def run(ctx: ServiceContext) -> notify.RunReport:
    return notify.run_once(ctx, ADMIN)


def notices(ctx: ServiceContext, **where: Any) -> list[Notification]:
    with ctx.reader() as s:
        stmt = select(Notification).order_by(Notification.id)
        for k, v in where.items():
            stmt = stmt.where(getattr(Notification, k) == v)
        return list(s.scalars(stmt))


def digests(ctx: ServiceContext) -> list[NotificationDigest]:
    with ctx.reader() as s:
        return list(s.scalars(select(NotificationDigest).order_by(NotificationDigest.id)))


def set_clock(ctx: ServiceContext, when: dt.datetime) -> None:
    ctx.clock.at = when  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------------
# What is sent


def test_application_decided_seal_issued_and_revoked_reach_the_contact_address(
    mctx: ServiceContext, inbox: Inbox
) -> None:
    olivia, rita = staff_actor(mctx, "olivia"), staff_actor(mctx, "rita")
    app = submit(mctx)
    applications.review(mctx, olivia, app)
    applications.approve(mctx, rita, app)
    report = run(mctx)
    assert [r[0] for r in report.sent] == [SHENZHEN_USCC] and report.failed == []
    [first] = inbox.messages
    assert first.recipients == [OFFICE] and first.sender == "seals@registry.test"
    assert first.message["To"].addresses[0].addr_spec == OFFICE
    assert f"合同专用章申请（编号 {app}）已审核通过" in first.text
    assert f"Your application no. {app} for a contract seal was approved" in first.text
    assert f"http://registry.test/portal/applications/{app}" in first.text
    assert first.message["Auto-Submitted"] == "auto-generated"

    mctx.clock.advance(days=1)  # type: ignore[attr-defined]
    es_id = applications.issue(mctx, olivia, app).es_id
    other = submit(mctx)
    applications.reject(mctx, rita, other, "营业执照照片不清晰")
    revocation.revoke_seal(mctx, ADMIN, es_id, "keyCompromise")
    run(mctx)
    assert len(inbox.messages) == 2
    second = inbox.messages[1]
    text = second.text
    assert "2026-11-24" in str(second.message["Subject"])
    assert f"印章“{QIANHAI}合同专用章”（合同专用章，印章编码 {es_id}）已制作完成，有效期至 2028-11-23" in text
    assert f'The seal "{QIANHAI}合同专用章" (contract, code {es_id}) has been issued' in text
    assert f"申请（编号 {other}）未通过审核。原因：营业执照照片不清晰" in text
    assert "已于 2026-11-24 16:00 北京时间 撤销，原因：挂失" in text
    assert "reported lost or compromised (keyCompromise)" in text
    assert f"http://registry.test/seals/{es_id}" in text and "http://registry.test/portal/" in text
    # Chinese first, English below; in the order things happened
    assert text.index("已制作完成") < text.index("未通过审核") < text.index("撤销") < text.index("has been issued")
    assert f'<a href="http://registry.test/seals/{es_id}">' in second.html
    assert {n.state for n in notices(mctx)} == {"sent"}


def test_a_counter_issuance_says_issued_once_not_approved_as_well(mctx: ServiceContext, inbox: Inbox) -> None:
    es_id = issue(mctx, seal_type="contract")
    run(mctx)
    [m] = inbox.messages
    assert "已制作完成" in m.text and "审核通过" not in m.text and "was approved" not in m.text
    assert m.text.count(es_id) == 4  # the Chinese and the English line, each with its link
    kinds = {(n.kind, n.state) for n in notices(mctx)}
    assert kinds == {("application_approved", "folded"), ("seal_issued", "sent")}


def test_one_digest_per_enterprise_per_local_day_the_rest_waits_for_the_next(
    mctx: ServiceContext, inbox: Inbox
) -> None:
    # NOW is 08:00 UTC, 16:00 in Shanghai
    first = [issue(mctx, seal_type=t) for t in ("finance", "contract", "invoice")]
    revocation.revoke_seal(mctx, ADMIN, first[0], "unspecified")
    run(mctx)
    assert len(inbox.messages) == 1
    assert all(code in inbox.messages[0].text for code in first)
    later = issue(mctx, seal_type="official")
    revocation.suspend_seal(mctx, ADMIN, first[1])
    report = run(mctx)
    assert report.sent == [] and report.waiting == 1 and report.pending == 3  # issued (+ folded approval), suspended
    mctx.clock.advance(hours=7, minutes=59)  # type: ignore[attr-defined]   # 23:59 in Shanghai
    run(mctx)
    assert len(inbox.messages) == 1
    mctx.clock.advance(minutes=1)  # type: ignore[attr-defined]   # midnight in Shanghai, still the 23rd in UTC
    run(mctx)
    assert len(inbox.messages) == 2
    nxt = inbox.messages[1].text
    assert later in nxt and "停用" in nxt and first[2] not in nxt
    assert [d.local_day for d in digests(mctx)] == [dt.date(2026, 11, 23), dt.date(2026, 11, 24)]
    assert run(mctx).sent == [] and len(inbox.messages) == 2


def test_each_enterprise_gets_its_own_digest_with_only_its_own_seals(mctx: ServiceContext, inbox: Inbox) -> None:
    set_contact(mctx, FUTIAN_USCC, "finance@futian.example")
    mine = issue(mctx, seal_type="contract")
    theirs = issue(mctx, FUTIAN_USCC, "finance")
    report = run(mctx)
    assert sorted(r[0] for r in report.sent) == sorted([SHENZHEN_USCC, FUTIAN_USCC])
    by_to = {m.recipients[0]: m for m in inbox.messages}
    assert set(by_to) == {OFFICE, "finance@futian.example"}
    assert mine in by_to[OFFICE].text and theirs not in by_to[OFFICE].text and FUTIAN not in by_to[OFFICE].text
    assert theirs in by_to["finance@futian.example"].text and mine not in by_to["finance@futian.example"].text


def test_licence_events_revocations_and_reissue_applications_are_notified(mctx: ServiceContext, inbox: Inbox) -> None:
    es_id = issue(mctx, seal_type="contract")
    run(mctx)
    mctx.clock.advance(days=1)  # type: ignore[attr-defined]
    licences.set_licence_status(mctx, ADMIN, SHENZHEN_USCC, "active", name="深圳市前海新名称科技有限公司")
    run(mctx)
    text = inbox.messages[-1].text
    assert f"{es_id}）已于 2026-11-24 16:00 北京时间 撤销，原因：营业执照登记信息变更" in text
    assert "因营业执照登记信息变更，已为贵单位的合同专用章提交重新制作申请" in text
    assert "the business licence details changed (affiliationChanged)" in text
    mctx.clock.advance(days=1)  # type: ignore[attr-defined]
    fresh = issue(mctx, seal_type="finance")
    mctx.clock.advance(days=1)  # type: ignore[attr-defined]
    run(mctx)  # the issuance of the day before, then
    licences.set_licence_status(mctx, ADMIN, SHENZHEN_USCC, "cancelled")
    mctx.clock.advance(days=1)  # type: ignore[attr-defined]
    run(mctx)
    assert f"{fresh}）已于 2026-11-26 16:00 北京时间 撤销，原因：营业执照注销或吊销" in inbox.messages[-1].text


def test_a_renewal_says_issued_replacing_the_old_seal_and_the_old_one_superseded(
    mctx: ServiceContext, inbox: Inbox
) -> None:
    old = issue(mctx, seal_type="contract")
    run(mctx)
    mctx.clock.advance(days=1)  # type: ignore[attr-defined]
    new = seals.renew_seal(mctx, ADMIN, old).es_id
    run(mctx)
    text = inbox.messages[-1].text
    assert f"印章编码 {new}）已制作完成" in text and f"它替代原印章 {old}。" in text
    assert f"原因：印章已重新制作（新印章 {new}）" in text and "审核通过" not in text
    assert f"It replaces seal {old}." in text and f"replaced by seal {new}" in text


def test_text_from_the_database_is_escaped_in_the_html_part(mctx: ServiceContext, inbox: Inbox) -> None:
    app = submit(mctx)
    applications.reject(mctx, staff_actor(mctx, "rita"), app, '<a href="http://evil.example">点这里</a>')
    run(mctx)
    [m] = inbox.messages
    assert '<a href="http://evil.example">' in m.text  # plain text: as written
    assert '<a href="http://evil.example">' not in m.html
    assert "&lt;a href=&#34;http://evil.example&#34;&gt;" in m.html


# ------------------------------------------------------------------------------------------------
# Expiry reminders


def test_expiry_reminders_30_7_and_1_days_ahead_each_once(mctx: ServiceContext, inbox: Inbox) -> None:
    mctx.settings = mctx.settings.with_overrides(seal_validity_days=40)
    es_id = issue(mctx, seal_type="contract")  # valid until NOW + 40 days: 2027-01-02 16:00 in Shanghai
    run(mctx)
    inbox.messages.clear()
    said = {}
    for day in (9, 10, 10, 11, 32, 33, 33, 38, 39, 39, 40):
        set_clock(mctx, NOW + dt.timedelta(days=day))
        run(mctx)
        said[day] = len(inbox.messages)
    assert [said[d] for d in (9, 10, 11, 32, 33, 38, 39, 40)] == [0, 1, 1, 1, 2, 2, 3, 3]
    texts = [m.text for m in inbox.messages]
    assert f"印章编码 {es_id}）将于 2027-01-02 到期（还有 30 天）" in texts[0] and "(in 30 days)" in texts[0]
    assert "（还有 7 天）" in texts[1] and "(in 7 days)" in texts[1]
    assert "（还有 1 天）" in texts[2] and "(in 1 day)" in texts[2] and "续期" in texts[2]
    with mctx.reader() as s:
        seal_id = s.scalar(select(Seal.id).where(Seal.es_id == es_id))
    assert [n.dedupe_key for n in notices(mctx, kind="seal_expiring")] == [
        f"expiry:{seal_id}:30",
        f"expiry:{seal_id}:7",
        f"expiry:{seal_id}:1",
    ]


def test_a_job_that_was_down_sends_the_nearest_reminder_only(mctx: ServiceContext, inbox: Inbox) -> None:
    mctx.settings = mctx.settings.with_overrides(seal_validity_days=40)
    es_id = issue(mctx, seal_type="contract")
    set_clock(mctx, NOW + dt.timedelta(days=35))  # 5 days left, nothing ran since the issuance
    run(mctx)
    [m] = inbox.messages
    assert "（还有 5 天）" in m.text and "还有 30 天" not in m.text and es_id in m.text
    assert [n.details["threshold"] for n in notices(mctx, kind="seal_expiring")] == [7]


def test_the_reminder_day_is_the_configured_time_zones_day(ctx: ServiceContext, inbox: Inbox) -> None:
    use_smtp(ctx, inbox.port)
    set_contact(ctx, SHENZHEN_USCC, OFFICE)
    ctx.settings = ctx.settings.with_overrides(seal_validity_days=31)
    set_clock(ctx, dt.datetime(2026, 11, 23, 17, 0, tzinfo=dt.UTC))
    issue(ctx, seal_type="contract")  # valid until 2026-12-24 17:00 UTC = 2026-12-25 01:00 in Shanghai
    set_clock(ctx, dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC))  # 23:00 on the 24th in Shanghai
    assert notify.scan_expiry(ctx) == (0, dt.date(2026, 11, 24))  # 31 days ahead in Shanghai: not yet
    ctx.settings = ctx.settings.with_overrides(notify_timezone="UTC")
    with ctx.transaction() as s:
        s.execute(update(NotifyState).values(expiry_scanned_on=None))
    assert notify.scan_expiry(ctx) == (1, dt.date(2026, 11, 24))  # 30 days ahead in UTC


def test_a_reminder_for_a_seal_revoked_before_it_went_out_is_not_sent(mctx: ServiceContext, inbox: Inbox) -> None:
    mctx.settings = mctx.settings.with_overrides(seal_validity_days=40)
    es_id = issue(mctx, seal_type="contract")
    run(mctx)
    set_clock(mctx, NOW + dt.timedelta(days=33))
    mctx.settings = mctx.settings.with_overrides(smtp_host="")
    run(mctx)  # the 7-day reminder is recorded, nothing sent
    revocation.revoke_seal(mctx, ADMIN, es_id, "keyCompromise")
    use_smtp(mctx, inbox.port)
    run(mctx)
    last = inbox.messages[-1].text
    assert "撤销" in last and "到期" not in last
    assert [n.state for n in notices(mctx, kind="seal_expiring")] == ["folded"]


# ------------------------------------------------------------------------------------------------
# Delivery failures, missing addresses, no server


def test_a_failed_send_is_retried_by_the_next_run_and_never_duplicated(mctx: ServiceContext, inbox: Inbox) -> None:
    inbox.fail_data = "451 4.3.0 Try again later"
    first = issue(mctx, seal_type="contract")
    report = run(mctx)
    assert report.sent == [] and len(report.failed) == 1 and "451" in report.failed[0][1]
    [d] = digests(mctx)
    assert (d.status, d.attempts) == ("failed", 1) and "451" in (d.last_error or "")
    assert inbox.messages == [] and {n.state for n in notices(mctx)} == {"pending"}
    second = issue(mctx, seal_type="finance")  # arrives while the digest waits: it joins it
    run(mctx)
    assert digests(mctx)[0].attempts == 2 and inbox.messages == []
    inbox.fail_data = None
    run(mctx)
    [m] = inbox.messages
    assert first in m.text and second in m.text
    [d] = digests(mctx)
    assert (d.status, d.attempts, d.last_error) == ("sent", 3, None) and d.body_text == m.text
    run(mctx)
    mctx.clock.advance(days=1)  # type: ignore[attr-defined]
    run(mctx)
    assert len(inbox.messages) == 1 and len(digests(mctx)) == 1


def test_a_server_that_cannot_be_reached_fails_the_run_and_a_later_day_sends_it_once(
    mctx: ServiceContext, inbox: Inbox
) -> None:
    use_smtp(mctx, free_port())  # nothing listens there
    set_contact(mctx, FUTIAN_USCC, "finance@futian.example")
    issue(mctx, seal_type="contract")
    issue(mctx, FUTIAN_USCC, "finance")
    report = run(mctx)
    assert len(report.failed) == 1 and report.stopped and "127.0.0.1" in report.stopped  # stopped after the first
    assert report.pending == 4
    mctx.clock.advance(days=1)  # type: ignore[attr-defined]
    use_smtp(mctx, inbox.port)
    run(mctx)
    assert sorted(m.recipients[0] for m in inbox.messages) == ["finance@futian.example", OFFICE]
    days = {(d.enterprise_id, d.local_day, d.status) for d in digests(mctx)}
    assert (
        len(days) == 2 and {d for _e, d, _s in days} == {dt.date(2026, 11, 24)} and {s for *_x, s in days} == {"sent"}
    )
    run(mctx)
    assert len(inbox.messages) == 2


def test_a_permanently_refused_address_is_recorded_and_not_retried(mctx: ServiceContext, inbox: Inbox) -> None:
    inbox.refuse_rcpt = "550 5.1.1 mailbox unavailable"
    issue(mctx, seal_type="contract")
    report = run(mctx)
    assert report.failed == [] and len(report.rejected) == 1 and "550" in report.rejected[0][1]
    assert digests(mctx)[0].status == "undeliverable"
    assert {n.state for n in notices(mctx)} == {"undeliverable"}
    inbox.refuse_rcpt = None
    run(mctx)
    assert inbox.messages == []


def test_no_contact_address_nothing_is_sent_and_nothing_fails(mctx: ServiceContext, inbox: Inbox) -> None:
    set_contact(mctx, SHENZHEN_USCC, "")
    issue(mctx, seal_type="contract")
    report = run(mctx)
    assert inbox.messages == [] and report.failed == [] and report.rejected == [] and report.stopped is None
    assert report.undeliverable == 2 and report.pending == 0
    assert {n.state for n in notices(mctx)} == {"undeliverable"} and digests(mctx) == []
    assert any("not deliverable" in line for line in report.lines())
    set_contact(mctx, SHENZHEN_USCC, OFFICE)  # later notices go out; the old ones stay recorded
    mctx.clock.advance(days=1)  # type: ignore[attr-defined]
    issue(mctx, seal_type="finance")
    run(mctx)
    assert (
        len(inbox.messages) == 1
        and "财务专用章" in inbox.messages[0].text
        and "合同专用章" not in inbox.messages[0].text
    )


def test_without_an_smtp_host_notices_accumulate_and_go_out_once_one_is_configured(
    mctx: ServiceContext, inbox: Inbox
) -> None:
    port = mctx.settings.smtp_port
    mctx.settings = mctx.settings.with_overrides(smtp_host="")
    issue(mctx, seal_type="contract")
    report = run(mctx)
    assert report.smtp is None and report.pending == 2 and digests(mctx) == []
    assert any("SMTP not configured (REGISTRY_SMTP_HOST)" in line for line in report.lines())
    use_smtp(mctx, port)
    run(mctx)
    assert len(inbox.messages) == 1


# ------------------------------------------------------------------------------------------------
# Idempotence and one job at a time


def test_rerunning_never_records_a_notice_twice(mctx: ServiceContext, inbox: Inbox) -> None:
    mctx.settings = mctx.settings.with_overrides(seal_validity_days=20, smtp_host="")
    issue(mctx, seal_type="contract")
    first = run(mctx)
    assert first.collected == 2 and first.reminders == 1
    keys = [n.dedupe_key for n in notices(mctx)]
    again = run(mctx)
    assert (again.collected, again.reminders, again.scanned) == (0, 0, None)
    with mctx.transaction() as s:  # forget where the job was: the keys still stop duplicates
        s.execute(update(NotifyState).values(audit_seq=0, expiry_scanned_on=None))
    assert notify.collect(mctx) == (0, first.audit_seq) and notify.scan_expiry(mctx)[0] == 0
    assert [n.dedupe_key for n in notices(mctx)] == keys


def test_a_missing_watermark_starts_after_the_existing_history(mctx: ServiceContext, inbox: Inbox) -> None:
    issue(mctx, seal_type="contract")
    with mctx.transaction() as s:
        s.execute(delete(NotifyState))
    collected, seq = notify.collect(mctx)
    assert collected == 0 and seq > 0
    issue(mctx, seal_type="finance")
    assert notify.collect(mctx)[0] == 2


def test_a_second_run_while_one_holds_the_lease_is_skipped(mctx: ServiceContext, inbox: Inbox) -> None:
    issue(mctx, seal_type="contract")
    with lease(mctx, notify.LEASE_NAME, "other-host:1", dt.timedelta(minutes=5)):
        report = run(mctx)
    assert report.skipped and report.lines()[0].startswith("skipped:") and inbox.messages == []
    with pytest.raises(notify.LeaseLost):
        notify.collect(mctx, holder="not-the-holder")
    run(mctx)
    assert len(inbox.messages) == 1


def test_two_job_instances_at_once_send_each_digest_once(mctx: ServiceContext, inbox: Inbox) -> None:
    set_contact(mctx, FUTIAN_USCC, "finance@futian.example")
    issue(mctx, seal_type="contract")
    issue(mctx, FUTIAN_USCC, "finance")
    inbox.gate = threading.Event()
    reports: list[notify.RunReport] = []

    def first_run() -> None:
        try:
            reports.append(run(mctx))
        finally:
            inbox.entered.set()

    t = threading.Thread(target=first_run)
    t.start()
    inbox.entered.wait()  # the first run is inside an SMTP transaction now
    second = run(mctx)
    inbox.gate.set()
    t.join()
    assert second.skipped and second.sent == []
    assert len(reports[0].sent) == 2 and len(inbox.messages) == 2
    assert sorted(m.recipients[0] for m in inbox.messages) == ["finance@futian.example", OFFICE]


# ------------------------------------------------------------------------------------------------
# Copies to authorised persons


def _authorise(ctx: ServiceContext, es_id: str, username: str, email: str) -> None:
    with ctx.transaction() as s:
        ent_id, seal_id = s.execute(select(Seal.enterprise_id, Seal.id).where(Seal.es_id == es_id)).one()
        person = EnterprisePerson(
            enterprise_id=ent_id,
            username=username,
            display_name=username,
            email=email,
            password_hash="x",
            created_at=NOW,
            created_by="test",
        )
        s.add(person)
        s.flush()
        s.add(SealGrant(person_id=person.id, seal_id=seal_id, authority="hold", granted_at=NOW, granted_by="test"))


def test_authorised_persons_are_copied_only_on_digests_about_their_seals(mctx: ServiceContext, inbox: Inbox) -> None:
    held = issue(mctx, seal_type="contract")
    other = issue(mctx, seal_type="finance")
    run(mctx)
    _authorise(mctx, held, "wang", "wang@qianhai.example")
    mctx.clock.advance(days=1)  # type: ignore[attr-defined]
    revocation.suspend_seal(mctx, ADMIN, held)
    run(mctx)
    m = inbox.messages[-1]
    assert sorted(m.recipients) == sorted([OFFICE, "wang@qianhai.example"])
    assert m.message["Cc"].addresses[0].addr_spec == "wang@qianhai.example"
    mctx.clock.advance(days=1)  # type: ignore[attr-defined]
    revocation.resume_seal(mctx, ADMIN, held)
    revocation.suspend_seal(mctx, ADMIN, other)  # a seal Wang may not see: no copy of this digest
    run(mctx)
    m = inbox.messages[-1]
    assert m.recipients == [OFFICE] and m.message["Cc"] is None and other in m.text


def test_the_job_counts_what_it_did(mctx: ServiceContext, inbox: Inbox) -> None:
    issue(mctx, seal_type="contract")
    lines = run(mctx).lines()
    assert lines[0].startswith("collected 2 notices from the audit log")
    assert f"sent {SHENZHEN_USCC}: 1 notices to {OFFICE}" in lines
    assert lines[-1].startswith("sent 1 digests through 127.0.0.1:") and lines[-1].endswith(
        "0 notices pending for 0 enterprises"
    )
    with mctx.reader() as s:
        assert s.scalar(select(func.count()).select_from(NotificationDigest)) == 1


def test_a_run_that_lost_its_lease_stops_before_sending_more(mctx: ServiceContext, inbox: Inbox) -> None:
    from registry.db.models import Lease

    set_contact(mctx, FUTIAN_USCC, "finance@futian.example")
    issue(mctx, seal_type="contract")
    issue(mctx, FUTIAN_USCC, "finance")
    inbox.gate = threading.Event()
    reports: list[notify.RunReport] = []

    def stalled_run() -> None:
        try:
            reports.append(run(mctx))
        finally:
            inbox.entered.set()

    t = threading.Thread(target=stalled_run)
    t.start()
    inbox.entered.wait()  # the first digest is on the wire; the run's lease runs out meanwhile
    with mctx.transaction() as s:
        s.execute(
            update(Lease)
            .where(Lease.name == notify.LEASE_NAME)
            .values(expires_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
        )
    with lease(mctx, notify.LEASE_NAME, "other-host:2", dt.timedelta(minutes=5)):
        inbox.gate.set()
        t.join()
    [stalled] = reports
    assert len(stalled.sent) == 1 and stalled.stopped and "taken over" in stalled.stopped
    assert len(inbox.messages) == 1
    run(mctx)  # the next run sends the other enterprise's digest, and only that
    assert sorted(m.recipients[0] for m in inbox.messages) == ["finance@futian.example", OFFICE]
