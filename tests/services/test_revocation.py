"""Revocation, suspension, renewal and licence events (issue: revocation and CRLs)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from registry.db.models import AuditEvent, Certificate, Revocation, RevocationEvent, Seal, SealApplication
from registry.domain.errors import Conflict, InvalidTransition, NotFound, ValidationError
from registry.domain.esid import make_esid
from registry.domain.seal_types import STANDARD_SET, SealType
from registry.domain.states import ApplicationState, CertificateStatus, SealStatus
from registry.pki import crl, ses, x509
from registry.pki.crl import CrlReason
from registry.services import licences, revocation, seals
from registry.services.context import ServiceContext
from tests.support.data import ADMIN, NOW, SHENZHEN_USCC
from tests.support.seals import issue, issue_many


def holder(ctx: ServiceContext, es_id: str) -> Certificate:
    with ctx.reader() as s:
        return s.scalars(
            select(Certificate).join(Seal, Certificate.seal_id == Seal.id).where(Seal.es_id == es_id)
        ).one()


def listing(ctx: ServiceContext, es_id: str) -> Revocation | None:
    cert = holder(ctx, es_id)
    with ctx.reader() as s:
        return s.scalar(select(Revocation).where(Revocation.certificate_id == cert.id))


def test_revocation_lists_the_holder_certificate_at_the_event_time_with_its_reason(ctx: ServiceContext) -> None:
    r = issue(ctx)
    ctx.clock.advance(hours=3)
    seal = revocation.revoke_seal(ctx, ADMIN, r.es_id, "keyCompromise")
    assert seal.status is SealStatus.REVOKED and seal.revoked_at == ctx.clock.now()
    row = listing(ctx, r.es_id)
    assert row is not None and row.reason == CrlReason.KEY_COMPROMISE and row.revoked_at == ctx.clock.now()
    serial = x509.Certificate.from_der(r.certificate_der).serial
    assert row.entry_der == crl.encode_entry(serial, ctx.clock.now(), CrlReason.KEY_COMPROMISE)
    assert holder(ctx, r.es_id).status is CertificateStatus.REVOKED


def test_invalidity_date_is_carried_and_never_in_the_future(ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    r = issue(ctx)
    before = fingerprint(ctx)
    with pytest.raises(ValidationError, match="future"):
        revocation.revoke_seal(ctx, ADMIN, r.es_id, "keyCompromise", NOW + dt.timedelta(days=1))
    assert fingerprint(ctx) == before
    ctx.clock.advance(hours=1)
    revocation.revoke_seal(ctx, ADMIN, r.es_id, "keyCompromise", NOW)
    row = listing(ctx, r.es_id)
    assert row is not None and row.invalidity_date == NOW


BAD = {
    "unknown seal": (
        lambda ctx, r: revocation.revoke_seal(ctx, ADMIN, make_esid("440300", SealType.FINANCE, 2026), "keyCompromise"),
        NotFound,
        "no seal with code",
    ),
    "mistyped seal code": (
        lambda ctx, r: revocation.revoke_seal(
            ctx, ADMIN, r.es_id[:-1] + ("0" if r.es_id[-1] != "0" else "1"), "keyCompromise"
        ),
        ValidationError,
        "check character",
    ),
    "invalidity date without a time zone": (
        lambda ctx, r: revocation.revoke_seal(ctx, ADMIN, r.es_id, "keyCompromise", NOW.replace(tzinfo=None)),
        ValidationError,
        "time zone",
    ),
    "unknown reason": (
        lambda ctx, r: revocation.revoke_seal(ctx, ADMIN, r.es_id, "lostItOnTheBus"),
        ValidationError,
        "use one of: keyCompromise",
    ),
    "hold is not a revocation reason": (
        lambda ctx, r: revocation.revoke_seal(ctx, ADMIN, r.es_id, "certificateHold"),
        ValidationError,
        "unsuitable",
    ),
    "resume a seal that is not suspended": (
        lambda ctx, r: revocation.resume_seal(ctx, ADMIN, r.es_id),
        InvalidTransition,
        "only a suspended seal",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_lifecycle_requests_are_clear_errors_that_change_nothing(
    ctx: ServiceContext, fingerprint, case: str
) -> None:  # type: ignore[no-untyped-def]
    r = issue(ctx)
    action, exc, words = BAD[case]
    before = fingerprint(ctx)
    with pytest.raises(exc) as info:
        action(ctx, r)
    assert words in str(info.value)
    assert fingerprint(ctx) == before


def test_revoking_an_already_revoked_seal_is_refused_and_changes_nothing(ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    r = issue(ctx)
    revocation.revoke_seal(ctx, ADMIN, r.es_id, "keyCompromise")
    before = fingerprint(ctx)
    with pytest.raises(InvalidTransition, match="already revoked"):
        revocation.revoke_seal(ctx, ADMIN, r.es_id, "superseded")
    with pytest.raises(InvalidTransition):
        revocation.suspend_seal(ctx, ADMIN, r.es_id)
    assert fingerprint(ctx) == before


def test_suspend_holds_and_resume_releases_with_change_log(ctx: ServiceContext) -> None:
    r = issue(ctx)
    revocation.suspend_seal(ctx, ADMIN, r.es_id, note="挂起核查")
    row = listing(ctx, r.es_id)
    assert row is not None and row.reason == CrlReason.CERTIFICATE_HOLD
    assert holder(ctx, r.es_id).status is CertificateStatus.HOLD
    ctx.clock.advance(hours=2)
    revocation.resume_seal(ctx, ADMIN, r.es_id)
    assert listing(ctx, r.es_id) is None and holder(ctx, r.es_id).status is CertificateStatus.GOOD
    with ctx.reader() as s:
        kinds = s.scalars(select(RevocationEvent.kind).order_by(RevocationEvent.id)).all()
        actions = s.scalars(
            select(AuditEvent.action).where(AuditEvent.target_id == r.es_id).order_by(AuditEvent.id)
        ).all()
    assert kinds == ["listed", "unlisted"]
    assert actions == ["seal.issued", "seal.suspended", "seal.resumed"]


def test_suspended_then_revoked_keeps_the_hold_start_as_invalidity_date(ctx: ServiceContext) -> None:
    r = issue(ctx)
    revocation.suspend_seal(ctx, ADMIN, r.es_id)
    ctx.clock.advance(days=2)
    revocation.revoke_seal(ctx, ADMIN, r.es_id, "keyCompromise")
    row = listing(ctx, r.es_id)
    assert row is not None and row.reason == CrlReason.KEY_COMPROMISE
    assert row.revoked_at == ctx.clock.now() and row.invalidity_date == NOW


def test_renewal_issues_a_new_seal_and_supersedes_the_old_in_one_step(ctx: ServiceContext) -> None:
    r = issue(ctx, "contract")
    ctx.clock.advance(days=30)
    new = seals.renew_seal(ctx, ADMIN, r.es_id)
    assert new.es_id != r.es_id
    old_cert, new_cert = (x509.Certificate.from_der(d) for d in (r.certificate_der, new.certificate_der))
    assert new_cert.public_key == old_cert.public_key and new_cert.serial != old_cert.serial
    assert ses.parse_seal(new.seal_der).picture.data == ses.parse_seal(r.seal_der).picture.data
    with ctx.reader() as s:
        old = s.scalar(select(Seal).where(Seal.es_id == r.es_id))
        assert old is not None and old.status is SealStatus.REVOKED and old.revocation_reason == "superseded"
        assert old.superseded_by_id == new.seal_id and old.revoked_at == ctx.clock.now()
        app = s.get(SealApplication, new.application_id)
        assert app is not None and app.channel == "renewal" and app.state is ApplicationState.ISSUED
    row = listing(ctx, r.es_id)
    assert row is not None and row.reason == CrlReason.SUPERSEDED
    with pytest.raises(InvalidTransition, match="revoked"):
        seals.renew_seal(ctx, ADMIN, r.es_id)


@pytest.mark.parametrize("alg", ["sm2", "ecdsa"])
def test_renewal_with_a_new_key_stays_on_the_seals_hierarchy(ctx: ServiceContext, alg: str) -> None:
    r = issue(ctx, algorithm=alg)
    new = seals.renew_seal(ctx, ADMIN, r.es_id, seals.KeyMaterial(generate=True))
    assert new.private_key_pem is not None and new.algorithm.value == alg
    old_cert, new_cert = (x509.Certificate.from_der(d) for d in (r.certificate_der, new.certificate_der))
    assert new_cert.public_key != old_cert.public_key and new_cert.public_key.algorithm.value == alg


def test_licence_cancellation_revokes_all_four_seals_in_one_step(ctx: ServiceContext) -> None:
    results = issue_many(ctx, [t.code for t in STANDARD_SET])
    ctx.clock.advance(hours=1)
    change = licences.set_licence_status(ctx, ADMIN, SHENZHEN_USCC, "cancelled")
    assert sorted(change.revoked_seals) == sorted(r.es_id for r in results)
    for r in results:
        row = listing(ctx, r.es_id)
        assert row is not None and row.reason == CrlReason.CESSATION_OF_OPERATION
        assert row.revoked_at == ctx.clock.now()
    with pytest.raises(Conflict, match="cancelled"):
        issue(ctx)
    with ctx.reader() as s:
        assert s.scalar(select(func.count(SealApplication.id)).where(SealApplication.channel == "reissue")) == 0


def test_rename_revokes_as_affiliation_changed_and_opens_reissue_applications(ctx: ServiceContext) -> None:
    results = issue_many(ctx, [t.code for t in STANDARD_SET])
    change = licences.set_licence_status(ctx, ADMIN, SHENZHEN_USCC, "active", name="深圳市前海更名科技有限公司")
    assert change.changes["name"][1] == "深圳市前海更名科技有限公司" and len(change.revoked_seals) == 4
    for r in results:
        row = listing(ctx, r.es_id)
        assert row is not None and row.reason == CrlReason.AFFILIATION_CHANGED
    with ctx.reader() as s:
        apps = s.scalars(select(SealApplication).where(SealApplication.channel == "reissue")).all()
    assert sorted(a.seal_type for a in apps) == sorted(STANDARD_SET)
    assert all(a.state is ApplicationState.SUBMITTED for a in apps)


def test_address_change_leaves_seals_alone(ctx: ServiceContext, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from registry.services.demo import DEMO_CSV

    r = issue(ctx)
    report = licences.import_licences(ctx, ADMIN, DEMO_CSV.replace("前海大道1号", "前海大道100号").encode(), "x.csv")
    assert report.updated == [SHENZHEN_USCC] and report.revoked_seals == []
    assert listing(ctx, r.es_id) is None


def test_licence_reimport_with_a_new_legal_representative_revokes(ctx: ServiceContext) -> None:
    from registry.services.demo import DEMO_CSV

    r = issue(ctx)
    report = licences.import_licences(ctx, ADMIN, DEMO_CSV.replace(",张三,", ",张三丰,").encode(), "x.csv")
    assert report.revoked_seals == [r.es_id]
    row = listing(ctx, r.es_id)
    assert row is not None and row.reason == CrlReason.AFFILIATION_CHANGED


def test_revoking_the_seal_maker_certificate_lists_it_on_the_root_crl_and_stops_issuance(ctx: ServiceContext) -> None:
    revocation.revoke_authority(ctx, ADMIN, "sm2-seal-maker", "keyCompromise")
    with ctx.reader() as s:
        rows = s.scalars(select(Revocation)).all()
    assert len(rows) == 1 and rows[0].reason == CrlReason.KEY_COMPROMISE
    with pytest.raises(ValidationError, match="sm2-seal-maker does not exist"):
        issue(ctx)
    with pytest.raises(ValidationError, match="root CA"):
        revocation.revoke_authority(ctx, ADMIN, "sm2-root", "keyCompromise")


def test_expired_seal_shows_as_expired(ctx: ServiceContext) -> None:
    r = issue(ctx)
    ctx.clock.advance(days=ctx.settings.seal_validity_days + 1)
    assert seals.show_seal(ctx, r.es_id)["status"] == "expired"
