"""The OCSP responder service: responses pre-signed at issuance, rewritten in the transaction of
every status change, refreshed before expiry, signed on demand when missing; live signing for
nonces under a concurrency limit; unknown and unauthorized."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, func, select, update

from registry.db.models import Certificate, OcspResponse, Seal
from registry.pki import ocsp as pki_ocsp
from registry.pki import x509
from registry.pki.crl import CrlReason
from registry.services import authorities, licences, ocsp, revocation, seals
from registry.services.context import ServiceContext
from tests.support.data import ADMIN, NOW, SHENZHEN_USCC
from tests.support.seals import issue_with_algorithm as issue


def request_for(
    ctx: ServiceContext,
    cert_der: bytes,
    alg: pki_ocsp.HashAlgorithm = pki_ocsp.HashAlgorithm.SHA1,
    nonce: bytes | None = None,
    issuer: str | None = None,
) -> bytes:
    cert = x509.Certificate.from_der(cert_der)
    name = issuer or ("ecdsa-issuing" if cert.signature_algorithm == "1.2.840.10045.4.3.2" else "sm2-issuing")
    with ctx.reader() as s:
        ca = authorities.chain(ctx, s, name)[0]
    return pki_ocsp.build_request([pki_ocsp.cert_id(alg, ca.subject_der, ca.public_key.point, cert.serial)], nonce)


def status_of(answer: ocsp.Answer) -> pki_ocsp.SingleStatus:
    parsed = pki_ocsp.parse_response(answer.body)
    assert parsed.status is pki_ocsp.ResponseStatus.SUCCESSFUL
    (single,) = parsed.responses
    return single


def stored(ctx: ServiceContext, cert_der: bytes) -> list[OcspResponse]:
    serial = format(x509.Certificate.from_der(cert_der).serial, "x")
    with ctx.reader() as s:
        return list(s.scalars(select(OcspResponse).where(OcspResponse.serial == serial)))


@pytest.mark.parametrize("alg", ["sm2", "ecdsa"])
def test_issuance_stores_a_signed_good_response_that_is_served_as_is(ctx: ServiceContext, alg: str) -> None:
    r = issue(ctx, alg)
    (row,) = stored(ctx, r.certificate_der)
    assert row.status == "good" and row.hash_alg == "sha1" and row.this_update == NOW
    assert row.next_update == NOW + dt.timedelta(hours=24)
    parsed = pki_ocsp.parse_response(row.response_der)
    with ctx.reader() as s:
        issuing = authorities.load(ctx, s, f"{alg}-issuing")
    assert issuing.signer.public_key.verify(parsed.tbs, parsed.signature)
    ans = ocsp.answer(ctx, request_for(ctx, r.certificate_der))
    assert ans.kind == "presigned" and ans.cacheable and ans.body == row.response_der
    assert status_of(ans).status == "good"


def test_ca_and_seal_maker_certificates_have_responses_signed_by_their_root(ctx: ServiceContext) -> None:
    with ctx.reader() as s:
        certs = list(s.scalars(select(Certificate).where(Certificate.kind.in_(("ca", "seal-maker")))))
        assert len(certs) == 4
        for cert in certs:
            row = s.get(OcspResponse, (cert.id, "sha1"))
            assert row is not None and row.status == "good"
            root = authorities.load(ctx, s, cert.issuer.name)
            assert root.kind == "root"
            parsed = pki_ocsp.parse_response(row.response_der)
            assert root.signer.public_key.verify(parsed.tbs, parsed.signature)
    with ctx.reader() as s:
        maker = authorities.chain(ctx, s, "sm2-seal-maker")[0]
    ans = ocsp.answer(ctx, request_for(ctx, maker.der, issuer="sm2-root"))
    assert status_of(ans).status == "good"


def test_every_status_change_rewrites_the_stored_response_in_its_transaction(ctx: ServiceContext) -> None:
    r = issue(ctx, "ecdsa")
    req = request_for(ctx, r.certificate_der)
    ctx.clock.advance(hours=1)
    revocation.suspend_seal(ctx, ADMIN, r.es_id)
    s = status_of(ocsp.answer(ctx, req))
    assert (s.status, s.reason, s.revoked_at, s.this_update) == (
        "revoked",
        CrlReason.CERTIFICATE_HOLD,
        ctx.clock.now(),
        ctx.clock.now(),
    )
    ctx.clock.advance(hours=1)
    revocation.resume_seal(ctx, ADMIN, r.es_id)
    assert status_of(ocsp.answer(ctx, req)).status == "good"
    ctx.clock.advance(hours=1)
    revocation.revoke_seal(ctx, ADMIN, r.es_id, "keyCompromise")
    s = status_of(ocsp.answer(ctx, req))
    assert (s.status, s.reason, s.revoked_at) == ("revoked", CrlReason.KEY_COMPROMISE, ctx.clock.now())
    (row,) = stored(ctx, r.certificate_der)
    assert row.status == "revoked" and row.this_update == ctx.clock.now()


def test_a_failed_revocation_leaves_the_good_response(ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    """Same transaction: when the revocation rolls back, so does the new OCSP response."""
    r = issue(ctx, "ecdsa")
    before = fingerprint(ctx)
    with pytest.raises(RuntimeError), ctx.transaction() as session:
        cert = session.scalars(
            select(Certificate).join(Seal, Certificate.seal_id == Seal.id).where(Seal.es_id == r.es_id)
        ).one()
        revocation.list_certificate(ctx, session, cert, CrlReason.KEY_COMPROMISE, ctx.clock.now())
        assert session.scalar(select(OcspResponse.status).where(OcspResponse.certificate_id == cert.id)) == "revoked"
        raise RuntimeError("abort")
    assert fingerprint(ctx) == before
    assert status_of(ocsp.answer(ctx, request_for(ctx, r.certificate_der))).status == "good"


def test_licence_event_and_renewal_and_ca_revocation_update_ocsp(ctx: ServiceContext) -> None:
    a, b = issue(ctx, "ecdsa"), issue(ctx, "sm2")
    renewed = seals.renew_seal(ctx, ADMIN, b.es_id)
    s = status_of(ocsp.answer(ctx, request_for(ctx, b.certificate_der)))
    assert (s.status, s.reason) == ("revoked", CrlReason.SUPERSEDED)
    assert status_of(ocsp.answer(ctx, request_for(ctx, renewed.certificate_der))).status == "good"
    licences.set_licence_status(ctx, ADMIN, SHENZHEN_USCC, "cancelled")
    for res in (a, renewed):
        s = status_of(ocsp.answer(ctx, request_for(ctx, res.certificate_der)))
        assert (s.status, s.reason) == ("revoked", CrlReason.CESSATION_OF_OPERATION)
    revocation.revoke_authority(ctx, ADMIN, "ecdsa-issuing", "keyCompromise")
    with ctx.reader() as session:
        issuing = authorities.chain(ctx, session, "ecdsa-issuing")[0]
    s = status_of(ocsp.answer(ctx, request_for(ctx, issuing.der, issuer="ecdsa-root")))
    assert (s.status, s.reason) == ("revoked", CrlReason.KEY_COMPROMISE)
    # the revoked CA still answers for what it issued (as it still publishes its CRLs)
    assert status_of(ocsp.answer(ctx, request_for(ctx, a.certificate_der))).status == "revoked"


def test_refresh_resigns_at_half_life_and_signs_missing_responses(ctx: ServiceContext) -> None:
    r, gone = issue(ctx, "ecdsa"), issue(ctx, "ecdsa")
    with ctx.transaction() as s:
        s.execute(
            delete(OcspResponse).where(
                OcspResponse.serial == format(x509.Certificate.from_der(gone.certificate_der).serial, "x")
            )
        )
    ctx.clock.advance(hours=11)
    report = ocsp.refresh(ctx)
    assert (report.refreshed, report.created) == (0, 1)  # not yet at half-life; the missing one signed
    assert stored(ctx, gone.certificate_der)[0].this_update == ctx.clock.now()
    ctx.clock.advance(hours=1, seconds=1)
    report = ocsp.refresh(ctx, batch=2)
    with ctx.reader() as s:
        total = s.scalar(select(func.count()).select_from(OcspResponse))
    assert report.refreshed == total - 1 and report.created == 0  # all but the one signed an hour ago
    assert stored(ctx, r.certificate_der)[0].this_update == ctx.clock.now()
    assert ocsp.refresh(ctx).refreshed == 0


def test_refresh_never_overwrites_a_status_change_made_meanwhile(ctx: ServiceContext, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    r = issue(ctx, "ecdsa")
    ctx.clock.advance(hours=13)
    real_store = ocsp._store_checked

    def revoke_first(ctx_, signed):  # type: ignore[no-untyped-def]
        # between the refresh's signing and its write, the seal is revoked
        monkeypatch.setattr(ocsp, "_store_checked", real_store)
        revocation.revoke_seal(ctx, ADMIN, r.es_id, "keyCompromise")
        return real_store(ctx_, signed)

    monkeypatch.setattr(ocsp, "_store_checked", revoke_first)
    ocsp.refresh(ctx)
    (row,) = stored(ctx, r.certificate_der)
    assert row.status == "revoked"
    assert status_of(ocsp.answer(ctx, request_for(ctx, r.certificate_der))).status == "revoked"


def test_other_hash_algorithms_and_missing_or_expired_responses_are_signed_on_demand(ctx: ServiceContext) -> None:
    r = issue(ctx, "sm2")
    for alg in (pki_ocsp.HashAlgorithm.SM3, pki_ocsp.HashAlgorithm.SHA256):
        ans = ocsp.answer(ctx, request_for(ctx, r.certificate_der, alg))
        single = status_of(ans)
        assert single.status == "good" and single.cert_id.hash_algorithm is alg and ans.cacheable
    assert {row.hash_alg for row in stored(ctx, r.certificate_der)} == {"sha1", "sha256", "sm3"}
    revocation.revoke_seal(ctx, ADMIN, r.es_id, "keyCompromise")  # every stored algorithm is re-signed
    assert {row.status for row in stored(ctx, r.certificate_der)} == {"revoked"}
    ctx.clock.advance(hours=25)  # past nextUpdate and no refresher ran: signed afresh on request
    ans = ocsp.answer(ctx, request_for(ctx, r.certificate_der))
    assert status_of(ans).this_update == ctx.clock.now() and status_of(ans).status == "revoked"


def test_nonce_is_signed_live_and_falls_back_to_the_presigned_response_past_the_limit(ctx: ServiceContext) -> None:
    r = issue(ctx, "ecdsa")
    ans = ocsp.answer(ctx, request_for(ctx, r.certificate_der, nonce=b"abc123"))
    assert ans.kind == "live" and not ans.cacheable
    assert pki_ocsp.parse_response(ans.body).nonce == b"\x04\x06abc123"
    limiter = ocsp._limiter(ctx)
    assert limiter is not None
    held = [limiter.acquire(blocking=False) for _ in range(ctx.settings.ocsp_live_concurrency)]
    try:
        assert all(held)
        busy = ocsp.answer(ctx, request_for(ctx, r.certificate_der, nonce=b"abc123"))
        assert busy.kind == "fallback" and pki_ocsp.parse_response(busy.body).nonce is None
        assert busy.body == stored(ctx, r.certificate_der)[0].response_der
        unknown = request_for(ctx, r.certificate_der)[:-3] + b"\x01\x02\x03"  # another serial
        assert ocsp.answer(ctx, unknown).body == ocsp.TRY_LATER  # nothing pre-signed to fall back to
    finally:
        for _ in held:
            limiter.release()


def test_unknown_serial_unknown_issuer_and_garbage(ctx: ServiceContext) -> None:
    r = issue(ctx, "ecdsa")
    with ctx.reader() as s:
        ca = authorities.chain(ctx, s, "ecdsa-issuing")[0]
    other = pki_ocsp.cert_id(pki_ocsp.HashAlgorithm.SHA1, ca.subject_der, ca.public_key.point, 0x1234567)
    ans = ocsp.answer(ctx, pki_ocsp.build_request([other]))
    assert status_of(ans).status == "unknown" and not ans.cacheable
    stranger = pki_ocsp.cert_id(pki_ocsp.HashAlgorithm.SHA1, ca.subject_der, b"\x04" + b"\x01" * 64, 5)
    assert ocsp.answer(ctx, pki_ocsp.build_request([stranger])).body == ocsp.UNAUTHORIZED
    assert ocsp.answer(ctx, b"\x30\x03garbage").body == ocsp.MALFORMED
    both = pki_ocsp.build_request([other, pki_ocsp.parse_request(request_for(ctx, r.certificate_der)).cert_ids[0]])
    statuses = [s.status for s in pki_ocsp.parse_response(ocsp.answer(ctx, both).body).responses]
    assert statuses == ["unknown", "good"]


def test_a_status_read_from_the_database_not_from_memory(ctx: ServiceContext) -> None:
    """Serving reads the stored row every time: a row changed behind the service's back is what is served."""
    r = issue(ctx, "ecdsa")
    req = request_for(ctx, r.certificate_der)
    first = ocsp.answer(ctx, req).body
    with ctx.transaction() as s:
        s.execute(update(OcspResponse).values(response_der=b"\x30\x03\x0a\x01\x03"))
    assert ocsp.answer(ctx, req).body == b"\x30\x03\x0a\x01\x03" != first


def test_the_crl_daemon_loop_refreshes_ocsp_responses(ctx: ServiceContext) -> None:
    from registry.services import crl_publish

    issue(ctx, "ecdsa")
    ctx.clock.advance(hours=13)
    lines = list(crl_publish.run_publisher(ctx, ADMIN, interval=0.2, max_seconds=0, also=ocsp.refresher(ctx)))
    assert any(line.startswith("ocsp: refreshed 5,") for line in lines), lines  # 4 CA certificates + 1 holder
    with ctx.reader() as s:
        assert s.scalar(select(func.min(OcspResponse.this_update))) == ctx.clock.now()


def test_registry_ocsp_refresh_command(ctx: ServiceContext) -> None:
    from click.testing import CliRunner

    from registry.cli import main
    from tests.support.data import TEST_KEK

    issue(ctx, "ecdsa")
    env = {
        "REGISTRY_DATABASE_URL": ctx.settings.database_url,
        "REGISTRY_KEK": TEST_KEK,
        "REGISTRY_INSTANCE_PATH": str(ctx.settings.instance_path),
        "REGISTRY_BASE_URL": ctx.settings.base_url,
    }
    first = CliRunner().invoke(main, ["ocsp", "refresh", "--batch", "2"], env=env)
    # the command runs on the real clock, days after the frozen one the fixture issued at: all are due
    assert first.exit_code == 0 and first.output.strip() == "ocsp: refreshed 5, created 0 pre-signed responses"
    again = CliRunner().invoke(main, ["ocsp", "refresh"], env=env)
    assert again.exit_code == 0 and "refreshed 0, created 0" in again.output
