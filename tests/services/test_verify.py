"""Verification with the registry's trust, and the signing helper (issue: verifier services)."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import pytest

from registry.domain.errors import ValidationError
from registry.pki import crl, ses, x509
from registry.pki.crl import CrlReason
from registry.pki.keys import Algorithm, PrivateKey
from registry.services import revocation, signing, verify
from registry.services.context import ServiceContext
from tests.support.data import ADMIN, NOW, VECTORS
from tests.support.seals import issue, sign

DOC = "采购合同 No. 2026-118：甲方向乙方采购电子印章服务。".encode()
NAME = "合同.txt"  # the signed file's name


def checks(report, index: int = 0) -> dict[str, bool | None]:  # type: ignore[no-untyped-def]
    return {c.id: c.ok for c in report.items[index].checks}


def reasons(report, cid: str) -> str:  # type: ignore[no-untyped-def]
    check = report.items[0].check(cid)
    return " ".join(m[1] for m in check.reasons + check.notes)


@pytest.mark.parametrize("alg", ["sm2", "ecdsa"])
def test_round_trip_issue_sign_verify_is_valid_on_every_check(ctx: ServiceContext, alg: str) -> None:
    r = issue(ctx, "contract", algorithm=alg)
    ctx.clock.advance(minutes=5)
    sig = sign(ctx, r, DOC, NAME)
    parsed = ses.parse_signature(sig)
    assert parsed.generation == "v4" and parsed.seal.raw == r.seal_der
    assert parsed.property_info == f"file=%E5%90%88%E5%90%8C.txt;size={len(DOC)}"
    assert parsed.time_info == ctx.clock.now()
    report = verify.verify_file(ctx, sig, document=DOC)
    assert report.verdict == "valid", report.to_json()
    assert checks(report) == {
        c: True
        for c in (
            "format",
            "signer_signature",
            "signer_in_seal",
            "seal_signature",
            "maker_certificate",
            "seal_validity",
            "signer_certificate",
            "document_digest",
        )
    }
    # without the document the digest is undecided, so the verdict is not "valid"
    assert verify.verify_file(ctx, sig).verdict == "indeterminate"
    # the seal itself is valid now
    seal_report = verify.verify_file(ctx, r.seal_der)
    assert seal_report.kind == "seal" and seal_report.verdict == "valid", seal_report.to_json()


def test_changed_document_is_detected(ctx: ServiceContext) -> None:
    r = issue(ctx, "contract")
    sig = sign(ctx, r, DOC, NAME)
    report = verify.verify_file(ctx, sig, document=DOC + b" ")
    assert report.verdict == "invalid"
    assert checks(report)["document_digest"] is False
    assert "does not match" in reasons(report, "document_digest")


def test_revoked_after_signing_stays_valid_and_later_signatures_are_invalid(ctx: ServiceContext) -> None:
    r = issue(ctx, "contract")
    ctx.clock.advance(hours=1)
    before = sign(ctx, r, DOC, NAME)
    ctx.clock.advance(hours=1)
    revoked_at = ctx.clock.now()
    revocation.revoke_seal(ctx, ADMIN, r.es_id, "keyCompromise")
    ctx.clock.advance(hours=1)

    report = verify.verify_file(ctx, before, document=DOC)
    assert report.verdict == "valid", report.to_json()
    notes = reasons(report, "signer_certificate")
    assert "after the signing time" in notes and "keyCompromise" in notes

    # the helper refuses to sign with the revoked seal, and says why
    with pytest.raises(ValidationError, match="refusing to sign.*revoked"):
        sign(ctx, r, DOC, NAME)

    # a signature whose signing time is after the revocation (made without the helper) is invalid
    assert r.private_key_pem is not None
    late = ses.make_signature(
        seal=r.seal_der,
        signer_cert=r.certificate_der,
        signer=PrivateKey.from_pem(r.private_key_pem),
        data_hash=ses.document_digest(Algorithm.SM2.signature_oid, DOC),
        property_info="file=late.txt;size=1",
        signing_time=revoked_at + dt.timedelta(seconds=1),
    )
    report = verify.verify_file(ctx, late, document=DOC)
    assert report.verdict == "invalid"
    assert checks(report)["signer_certificate"] is False and checks(report)["seal_validity"] is False
    assert checks(report)["signer_signature"] is True  # intact, but made too late
    assert "was revoked (keyCompromise)" in reasons(report, "signer_certificate")

    # the seal on its own is now invalid
    assert verify.verify_file(ctx, r.seal_der).verdict == "invalid"


def test_suspension_invalidates_signatures_made_while_suspended_only(ctx: ServiceContext) -> None:
    r = issue(ctx, "contract")
    ctx.clock.advance(minutes=1)
    good = sign(ctx, r, DOC, NAME)
    ctx.clock.advance(minutes=1)
    revocation.suspend_seal(ctx, ADMIN, r.es_id)
    ctx.clock.advance(minutes=1)
    with pytest.raises(ValidationError, match="suspended"):
        sign(ctx, r, DOC, NAME)
    assert verify.verify_file(ctx, good, document=DOC).verdict == "valid"
    revocation.resume_seal(ctx, ADMIN, r.es_id)
    ctx.clock.advance(minutes=1)
    assert verify.verify_file(ctx, sign(ctx, r, DOC, NAME), document=DOC).verdict == "valid"


def test_signing_refuses_a_foreign_key_or_certificate_and_writes_nothing(ctx: ServiceContext) -> None:
    r = issue(ctx, "contract")
    other = issue(ctx, "finance")
    assert r.private_key_pem and other.private_key_pem
    with pytest.raises(ValidationError, match="does not belong to the signer certificate"):
        signing.sign_file(
            ctx,
            seal=r.seal_der,
            key=PrivateKey.from_pem(other.private_key_pem),
            certificate=r.certificate_der,
            data=DOC,
            file_name="a",
        )
    with pytest.raises(ValidationError, match="not one of the seal's certificates"):
        signing.sign_file(
            ctx,
            seal=r.seal_der,
            key=PrivateKey.from_pem(other.private_key_pem),
            certificate=other.certificate_der,
            data=DOC,
            file_name="a",
        )
    with pytest.raises(ValidationError, match="seal cannot be read"):
        signing.sign_file(
            ctx,
            seal=b"\x30\x03\x02\x01\x01",
            key=PrivateKey.from_pem(r.private_key_pem),
            certificate=r.certificate_der,
            data=DOC,
            file_name="a",
        )


def test_expired_seal_is_refused_and_reported(ctx: ServiceContext) -> None:
    r = issue(ctx, "contract")
    ctx.clock.advance(days=ctx.settings.seal_validity_days + 1)
    with pytest.raises(ValidationError, match="refusing to sign"):
        sign(ctx, r, DOC, NAME)
    report = verify.verify_file(ctx, r.seal_der)
    assert report.verdict == "invalid"
    assert checks(report)["seal_validity"] is False
    assert "after the seal's validity ended" in reasons(report, "seal_validity")


def test_seal_maker_revoked_after_the_seal_was_made_is_a_notice(ctx: ServiceContext) -> None:
    """GM/T 0031-2025: a maker certificate revoked after createDate leaves the seal's making valid."""
    r = issue(ctx, "contract")
    ctx.clock.advance(minutes=1)
    sig = sign(ctx, r, DOC, NAME)
    ctx.clock.advance(minutes=1)
    revocation.revoke_authority(ctx, ADMIN, "sm2-seal-maker", "superseded")
    report = verify.verify_file(ctx, sig, document=DOC)
    assert checks(report)["maker_certificate"] is True
    assert "after the signing time" in reasons(report, "maker_certificate")


def test_forged_seal_not_in_the_registry_is_invalid(ctx: ServiceContext) -> None:
    """A seal our maker key never made: a re-signed copy with a changed name fails the maker signature."""
    r = issue(ctx, "contract")
    data = bytearray(r.seal_der)
    name = "深圳市前海示范科技有限公司".encode()
    i = data.find(name)
    data[i : i + 3] = "广".encode()  # same length in UTF-8
    report = verify.verify_file(ctx, bytes(data))
    assert checks(report)["seal_signature"] is False
    assert report.verdict == "invalid"


def test_status_comes_from_the_database_at_once_not_from_a_lagging_crl(ctx: ServiceContext) -> None:
    r = issue(ctx, "contract")
    revocation.revoke_seal(ctx, ADMIN, r.es_id, "cessationOfOperation")
    report = verify.verify_file(ctx, r.seal_der)
    assert "cessationOfOperation" in reasons(report, "holder_certificates")


def test_unreadable_input_is_a_clear_error(ctx: ServiceContext) -> None:
    for data, message in (
        (b"", "empty"),
        (b"hello", "neither DER nor ZIP"),
        (b"\x30\x03\x02\x01\x05", "neither an electronic seal"),
        (b"PK\x03\x04garbage", "not a readable ZIP"),
    ):
        with pytest.raises(ValidationError, match=message):
            verify.verify_file(ctx, data)


def test_size_limit(ctx: ServiceContext) -> None:
    small = ServiceContext(
        ctx.settings.with_overrides(verify_max_bytes=2048),
        ctx.engine,
        ctx.session_factory,
        ctx.read_session_factory,
        ctx.clock,
        ctx.keyring,
    )
    r = issue(ctx, "contract")
    with pytest.raises(ValidationError, match="more than the limit of 2048"):
        verify.verify_file(small, r.seal_der)


# ------------------------------------------------------------------------------------------------
# Other authorities: anchors and CRLs in the trust directory


def _foreign_hierarchy(tmp: Path):  # type: ignore[no-untyped-def]
    """A peer region's ECDSA root issuing a maker and a holder certificate, with its CRL."""
    root_key, maker_key, holder_key = (PrivateKey.generate(Algorithm.ECDSA) for _ in range(3))
    root_name = x509.Name.build(C="CN", O="北京市市场监督管理局", CN="Beijing Seal Root")
    root_der = x509.sign_tbs(
        x509.build_tbs(
            serial=1,
            signature_alg=Algorithm.ECDSA,
            issuer=root_name,
            subject=root_name,
            not_before=NOW - dt.timedelta(days=400),
            not_after=NOW + dt.timedelta(days=3650),
            public_key=root_key.public_key,
            extensions=[
                x509.basic_constraints(True),
                x509.key_usage(x509.KU_KEY_CERT_SIGN, x509.KU_CRL_SIGN),
                x509.subject_key_identifier(root_key.public_key.key_identifier()),
            ],
        ),
        root_key,
    )
    root = x509.Certificate.from_der(root_der)

    def leaf(serial: int, key: PrivateKey, cn: str) -> bytes:
        return x509.sign_tbs(
            x509.build_tbs(
                serial=serial,
                signature_alg=Algorithm.ECDSA,
                issuer=root.subject_der,
                subject=x509.Name.build(C="CN", O="北京某公司", CN=cn),
                not_before=NOW - dt.timedelta(days=300),
                not_after=NOW + dt.timedelta(days=300),
                public_key=key.public_key,
                extensions=[
                    x509.basic_constraints(False),
                    x509.key_usage(x509.KU_DIGITAL_SIGNATURE, x509.KU_NON_REPUDIATION),
                    x509.authority_key_identifier(root_key.public_key.key_identifier()),
                ],
            ),
            root_key,
        )

    maker_der, holder_der = leaf(2, maker_key, "Beijing Seal Maker"), leaf(3, holder_key, "合同专用章")
    info = ses.encode_seal_info(
        es_id="110000042026000000000001",
        vid="BJAMR",
        prop=ses.SealProperty(
            type=4,
            name="北京某公司合同专用章",
            cert_list_type=1,
            cert_list=(holder_der,),
            create_date=NOW - dt.timedelta(days=200),
            valid_start=NOW - dt.timedelta(days=200),
            valid_end=NOW + dt.timedelta(days=200),
        ),
        picture=ses.SealPicture("PNG", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, 40, 40),
    )
    seal = ses.make_seal(info, maker_der, maker_key)
    anchors = tmp / "anchors"
    anchors.mkdir(parents=True)
    (anchors / "beijing-root.pem").write_text(root.pem())
    return root, root_key, seal, holder_der, holder_key


def _crl(root: x509.Certificate, root_key: PrivateKey, revoked: list[int], number: int) -> bytes:
    entries = b"".join(crl.encode_entry(s, NOW - dt.timedelta(days=10), CrlReason.KEY_COMPROMISE) for s in revoked)
    return crl.build_crl(
        signer=root_key,
        issuer_name_der=root.subject_der,
        authority_key_id=root_key.public_key.key_identifier(),
        number=number,
        this_update=NOW - dt.timedelta(hours=1),
        next_update=NOW + dt.timedelta(days=1),
        entries=entries,
    )


def test_foreign_seal_trusted_through_the_trust_directory_with_crl_status(ctx: ServiceContext) -> None:
    trust_dir = ctx.settings.trust_dir
    root, root_key, seal, holder_der, holder_key = _foreign_hierarchy(trust_dir)
    sig = ses.make_signature(
        seal=seal,
        signer_cert=holder_der,
        signer=holder_key,
        data_hash=ses.document_digest(Algorithm.ECDSA.signature_oid, DOC),
        property_info="file=a.txt;size=1",
        signing_time=NOW - dt.timedelta(days=20),
    )
    verify.trust_store(ctx)  # loaded before the CRLs exist: the cache must be refreshed by the TTL
    ctx.forget(("verify-trust-store",))
    report = verify.verify_file(ctx, sig, document=DOC)
    # no CRL yet: trusted chain, but revocation status undecided
    assert checks(report)["maker_certificate"] is None and report.verdict == "indeterminate", report.to_json()
    assert "unknown" in reasons(report, "maker_certificate")

    (trust_dir / "crls").mkdir()
    (trust_dir / "crls" / "beijing.crl").write_bytes(_crl(root, root_key, [99], 1))
    ctx.forget(("verify-trust-store",))
    report = verify.verify_file(ctx, sig, document=DOC)
    assert report.verdict == "valid", report.to_json()

    # the holder certificate (serial 3) revoked 10 days ago, after the signature 20 days ago: still valid
    (trust_dir / "crls" / "beijing-2.crl").write_bytes(_crl(root, root_key, [3], 2))
    ctx.forget(("verify-trust-store",))
    report = verify.verify_file(ctx, sig, document=DOC)
    assert report.verdict == "valid"
    assert "after the signing time" in reasons(report, "signer_certificate")
    # ... but a seal check now finds the holder certificate revoked
    assert verify.verify_file(ctx, seal).verdict == "invalid"


def test_unsigned_or_forged_crl_in_the_trust_directory_is_not_used(ctx: ServiceContext) -> None:
    trust_dir = ctx.settings.trust_dir
    root, _root_key, seal, _h, _k = _foreign_hierarchy(trust_dir)
    (trust_dir / "crls").mkdir()
    impostor = PrivateKey.generate(Algorithm.ECDSA)
    (trust_dir / "crls" / "forged.crl").write_bytes(_crl(root, impostor, [], 5))
    ctx.forget(("verify-trust-store",))
    report = verify.verify_file(ctx, seal)
    assert report.verdict == "indeterminate"
    assert "no usable CRL" in reasons(report, "maker_certificate")


# ------------------------------------------------------------------------------------------------
# ofdrw vectors through the service (no trust in their test root)


@pytest.mark.skipif(not (VECTORS / "V4RideRight.ofd").exists(), reason="ofdrw vectors not present")
@pytest.mark.parametrize("name", ["V4RideRight.ofd", "SignScaleError.ofd"])
def test_ofd_vectors_intact_and_part_changes_named(ctx: ServiceContext, name: str) -> None:
    data = (VECTORS / name).read_bytes()
    report = verify.verify_file(ctx, data)
    assert report.kind == "ofd" and len(report.items) == 1
    got = checks(report)
    assert got["signer_signature"] and got["seal_signature"] and got["document_digest"] and got["document_parts"]
    assert got["maker_certificate"] is False  # their root is not one we trust
    # change one byte of one referenced part
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "Doc_0/Pages/Page_0/Content.xml":
                body = body.replace(b">", b"> ", 1)
            dst.writestr(info, body)
    report = verify.verify_file(ctx, out.getvalue())
    assert checks(report)["document_parts"] is False
    assert "/Doc_0/Pages/Page_0/Content.xml" in reasons(report, "document_parts")
    assert checks(report)["document_digest"] is True  # Signature.xml itself untouched


def test_revocation_in_the_signing_second_counts_as_before_signing(ctx: ServiceContext) -> None:
    """Times are whole seconds; when they tie, the conservative reading wins."""
    r = issue(ctx, "contract")
    ctx.clock.advance(minutes=1)
    sig = sign(ctx, r, DOC, NAME)
    revocation.revoke_seal(ctx, ADMIN, r.es_id, "keyCompromise")  # same frozen second
    report = verify.verify_file(ctx, sig, document=DOC)
    assert report.verdict == "invalid" and checks(report)["signer_certificate"] is False


def test_each_verification_is_one_statement_on_the_threads_own_connection(
    ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import event

    r = issue(ctx, "contract")
    sig = sign(ctx, r, DOC, NAME)
    assert verify.verify_file(ctx, sig, document=DOC).verdict == "valid"  # builds the trust store
    statements: list[str] = []
    real = verify._Reader.__call__

    def counting(self, sql, params):  # type: ignore[no-untyped-def]
        statements.append(sql)
        return real(self, sql, params)

    monkeypatch.setattr(verify._Reader, "__call__", counting)
    through_sqlalchemy: list[str] = []
    listener = lambda *a: through_sqlalchemy.append(a[2])  # noqa: E731
    event.listen(ctx.engine, "before_cursor_execute", listener)
    try:
        connection = verify._reader(ctx).local.conn.dbapi
        for _ in range(3):
            assert verify.verify_file(ctx, sig, document=DOC).verdict == "valid"
        assert verify._reader(ctx).local.conn.dbapi is connection  # kept, not checked out per verification
    finally:
        event.remove(ctx.engine, "before_cursor_execute", listener)
    assert len(statements) == 3 and through_sqlalchemy == []


def test_a_lost_database_connection_is_replaced_and_committed_changes_are_seen(ctx: ServiceContext) -> None:
    r = issue(ctx, "contract")
    ctx.clock.advance(hours=1)
    sig = sign(ctx, r, DOC, NAME)
    assert verify.verify_file(ctx, sig, document=DOC).verdict == "valid"
    reader = verify._reader(ctx)
    lost = reader.local.conn.dbapi
    lost.close()  # as a server restart or a network drop would leave it
    assert verify.verify_file(ctx, sig, document=DOC).verdict == "valid"  # answered through SQLAlchemy
    ctx.clock.advance(hours=1)
    revocation.revoke_seal(ctx, ADMIN, r.es_id, "keyCompromise")
    assert verify.verify_file(ctx, r.seal_der).verdict == "invalid"  # on a new connection, seen at once
    assert reader.local.conn.dbapi is not lost
