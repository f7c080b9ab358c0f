"""What the enterprise portal does with seals — apply, read and download, renew in the window, report
loss, cancel (services application_intake, seal_records, renewal, revocation) — and who may do each
(portal_access)."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from registry.db.models import (
    Certificate,
    Revocation,
    RevocationEvent,
    Seal,
    SealApplication,
    SealGrant,
)
from registry.domain.errors import InvalidTransition, NotFound, PermissionDenied, ValidationError
from registry.domain.states import SealStatus
from registry.pki import crl, der, ses, x509
from registry.pki.csr import build_csr
from registry.pki.keys import Algorithm, PrivateKey
from registry.services import application_intake, crl_publish, renewal, revocation, seal_records, seals
from registry.services.context import ServiceContext
from tests.support.data import ADMIN, OTHER_USCC, SHENZHEN_USCC
from tests.support.pki import csr_for
from tests.support.portal import legal
from tests.support.portal_seals import into_window, issue, person, png

# ------------------------------------------------------------------------------------------------
# Applying


def test_apply_set_of_four_with_a_drawn_and_an_uploaded_picture(ctx: ServiceContext) -> None:
    lr = legal(ctx)
    picture = png()
    items = [
        application_intake.ApplyItem(code, csr_for(SHENZHEN_USCC)[1], picture if code == "02" else None)
        for code in ("01", "02", "04", "05")
    ]
    ids = application_intake.apply(ctx, lr, items)
    assert len(ids) == 4
    with ctx.reader() as s:
        apps = {a.seal_type.code: a for a in s.scalars(select(SealApplication).where(SealApplication.id.in_(ids)))}
    assert set(apps) == {"01", "02", "04", "05"}
    assert all(a.channel == "portal" and a.state.value == "submitted" for a in apps.values())
    assert apps["02"].picture_png == picture
    assert apps["01"].picture_png is None and apps["05"].picture_png is None  # drawn at issuance, as previewed


def test_apply_single_seal_of_a_type_outside_the_set(ctx: ServiceContext) -> None:
    ids = application_intake.apply(ctx, legal(ctx), [application_intake.ApplyItem("03", csr_for(SHENZHEN_USCC)[1])])
    with ctx.reader() as s:
        assert s.get(SealApplication, ids[0]).seal_type.code == "03"  # type: ignore[union-attr]


def test_apply_reports_every_refused_item_and_stores_nothing(ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    before = fingerprint(ctx)
    bad_pop = bytearray(der.pem_to_der(csr_for(SHENZHEN_USCC)[1]))
    bad_pop[-3] ^= 0xFF
    items = [
        application_intake.ApplyItem("01", csr_for(OTHER_USCC)[1]),  # another enterprise's USCC
        application_intake.ApplyItem("02", bytes(bad_pop)),  # proof of possession fails
        application_intake.ApplyItem("04", csr_for(SHENZHEN_USCC)[1], b"GIF89a not a png"),  # not a PNG
        application_intake.ApplyItem("05", csr_for(SHENZHEN_USCC)[1]),
    ]  # fine on its own
    with pytest.raises(application_intake.ApplicationRefused) as err:
        application_intake.apply(ctx, legal(ctx), items)
    problems = err.value.problems
    assert set(problems) == {"01", "02", "04"}
    assert OTHER_USCC in str(problems["01"])
    assert "proof of possession" in str(problems["02"])
    assert "not a PNG" in str(problems["04"]) and "GIF" in str(problems["04"])
    assert fingerprint(ctx) == before


def test_a_csr_without_the_uscc_is_refused(ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    before = fingerprint(ctx)
    key = PrivateKey.generate(Algorithm.ECDSA)
    plain = build_csr(key, x509.Name.build(C="CN", CN="no code here")).encode()
    with pytest.raises(application_intake.ApplicationRefused) as err:
        application_intake.apply(ctx, legal(ctx), [application_intake.ApplyItem("03", plain)])
    assert "must carry the enterprise's USCC" in str(err.value.problems["03"])
    assert fingerprint(ctx) == before


def test_only_the_legal_representative_applies(ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    code, _key = issue(ctx)
    someone = person(ctx, {code: "manage"})
    before = fingerprint(ctx)
    with pytest.raises(PermissionDenied):
        application_intake.apply(ctx, someone, [application_intake.ApplyItem("03", csr_for(SHENZHEN_USCC)[1])])
    with pytest.raises(PermissionDenied):
        application_intake.preview_picture(ctx, someone, "03")
    assert fingerprint(ctx) == before


def test_preview_is_the_picture_issued_without_an_upload(ctx: ServiceContext) -> None:
    lr = legal(ctx)
    preview = application_intake.preview_picture(ctx, lr, "02")
    ids = application_intake.apply(ctx, lr, [application_intake.ApplyItem("02", csr_for(SHENZHEN_USCC)[1])])
    from registry.services import applications
    from tests.support.applications import staff_actor

    applications.review(ctx, staff_actor(ctx, "olivia"), ids[0])
    applications.approve(ctx, staff_actor(ctx, "rita"), ids[0])
    issued = applications.issue(ctx, staff_actor(ctx, "olivia"), ids[0])
    assert ses.parse_seal(issued.seal_der).picture.data == preview
    with Image.open(io.BytesIO(preview)) as img:
        assert img.format == "PNG" and img.size == (472, 472)
    # the name seal is square and carries the legal representative's name: another picture
    assert application_intake.preview_picture(ctx, lr, "05") != preview


# ------------------------------------------------------------------------------------------------
# Reading and downloading


def test_seal_detail_and_files(ctx: ServiceContext, openssl: str, tmp_path: Path) -> None:
    code, key = issue(ctx, alg=Algorithm.ECDSA)
    lr = legal(ctx)
    d = seal_records.enterprise_detail(ctx, lr, code)
    assert d["es_id"] == code and d["status"] == "active" and d["can_manage"] and not d["renewable_now"]
    assert d["renewal_opens"] == d["valid_end"] - dt.timedelta(days=60)
    files = seal_records.enterprise_files(ctx, lr, code)
    with ctx.reader() as s:
        assert files.seal_der == s.scalar(select(Seal.ses_der).where(Seal.es_id == code))
    (tmp_path / "cert.pem").write_text(files.certificate_pem)
    (tmp_path / "chain.pem").write_text(files.chain_pem)
    (tmp_path / "chain.p7b").write_bytes(files.p7b_der)
    ok = subprocess.run(
        [openssl, "verify", "-CAfile", "chain.pem", "cert.pem"], cwd=tmp_path, capture_output=True, text=True
    )
    assert ok.returncode == 0 and "cert.pem: OK" in ok.stdout
    out = subprocess.run(
        [openssl, "pkcs7", "-inform", "DER", "-in", "chain.p7b", "-print_certs"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.count("-----BEGIN CERTIFICATE-----") == 3 and SHENZHEN_USCC in out
    assert x509.Certificate.load(files.certificate_pem.encode()).public_key == key.public_key
    # the back office's export (CLI, admin) is the same object with the same bytes
    assert seals.export_seal(ctx, code) == files


def test_sm2_p7b_carries_the_holder_certificate_and_chain(ctx: ServiceContext, openssl: str, tmp_path: Path) -> None:
    code, _key = issue(ctx, alg=Algorithm.SM2)
    files = seal_records.enterprise_files(ctx, legal(ctx), code)
    (tmp_path / "c.p7b").write_bytes(files.p7b_der)
    out = subprocess.run(
        [openssl, "pkcs7", "-inform", "DER", "-in", "c.p7b", "-print_certs", "-outform", "PEM"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    ders = {
        der.pem_to_der(f"-----BEGIN CERTIFICATE-----{block}-----END CERTIFICATE-----", "CERTIFICATE")
        for block in out.split("-----BEGIN CERTIFICATE-----")[1:]
        for block in [block.split("-----END CERTIFICATE-----")[0]]
    }
    expected = {der.pem_to_der(files.certificate_pem, "CERTIFICATE")} | {
        der.pem_to_der("-----BEGIN CERTIFICATE-----" + b, "CERTIFICATE")
        for b in files.chain_pem.split("-----BEGIN CERTIFICATE-----")[1:]
    }
    assert ders == expected and len(ders) == 3


def test_another_enterprises_seal_is_not_found_by_any_use_case(ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    theirs, _key = issue(ctx, uscc=OTHER_USCC)
    into_window(ctx, theirs)
    me = legal(ctx)
    before = fingerprint(ctx)
    for call in (
        lambda: seal_records.enterprise_detail(ctx, me, theirs),
        lambda: seal_records.enterprise_files(ctx, me, theirs),
        lambda: seal_records.enterprise_picture(ctx, me, theirs),
        lambda: renewal.renew_own_seal(ctx, me, theirs),
        lambda: revocation.report_loss(ctx, me, theirs, theirs),
        lambda: revocation.cancel_seal(ctx, me, theirs, theirs),
    ):
        with pytest.raises(NotFound):
            call()
    assert fingerprint(ctx) == before


def test_a_person_sees_only_the_seals_granted_to_them(ctx: ServiceContext) -> None:
    granted, _k1 = issue(ctx, seal_type="finance")
    other, _k2 = issue(ctx, seal_type="contract")
    someone = person(ctx, {granted: "hold"})
    assert seal_records.enterprise_detail(ctx, someone, granted)["authority"] == "hold"
    with pytest.raises(NotFound):
        seal_records.enterprise_files(ctx, someone, other)


# ------------------------------------------------------------------------------------------------
# Renewal


def _revocation(ctx: ServiceContext, code: str) -> tuple[int, str]:
    with ctx.reader() as s:
        row = s.execute(
            select(Revocation.reason, Certificate.serial)
            .join(Certificate, Certificate.id == Revocation.certificate_id)
            .join(Seal, Seal.id == Certificate.seal_id)
            .where(Seal.es_id == code)
        ).one()
        return row[0], row[1]


def test_renew_in_the_window_issues_a_new_seal_then_supersedes_the_old(ctx: ServiceContext) -> None:
    code, key = issue(ctx)
    manager = person(ctx, {code: "manage"})
    into_window(ctx, code, days_left=59)
    result = renewal.renew_own_seal(ctx, manager, code)
    assert result.es_id != code
    with ctx.reader() as s:
        old = s.scalar(select(Seal).where(Seal.es_id == code))
        new = s.scalar(select(Seal).where(Seal.es_id == result.es_id))
        assert old.status is SealStatus.REVOKED and old.revocation_reason == "superseded"  # type: ignore[union-attr]
        assert old.superseded_by_id == new.id and new.status is SealStatus.ACTIVE  # type: ignore[union-attr]
        assert new.created_at == ctx.clock.now() and new.seal_type == old.seal_type  # type: ignore[union-attr]
        # the person who manages the old seal manages its renewal
        assert s.get(SealGrant, (manager.person_id, new.id)).authority == "manage"  # type: ignore[union-attr]
    assert _revocation(ctx, code)[0] == crl.CrlReason.SUPERSEDED
    # same key, same picture
    cert = x509.Certificate.from_der(result.certificate_der)
    assert cert.public_key == key.public_key
    with ctx.reader() as s:
        old_picture = seals.seal_picture(s.scalar(select(Seal).where(Seal.es_id == code))).data  # type: ignore[arg-type]
    assert ses.parse_seal(result.seal_der).picture.data == old_picture
    assert seal_records.enterprise_detail(ctx, manager, result.es_id)["replaces"] == code


def test_renew_with_a_new_key_from_a_csr(ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    code, old_key = issue(ctx)
    lr = legal(ctx)
    into_window(ctx, code)
    before = fingerprint(ctx)
    with pytest.raises(ValidationError, match=OTHER_USCC):
        renewal.renew_own_seal(ctx, lr, code, csr_for(OTHER_USCC)[1])
    assert fingerprint(ctx) == before
    new_key, req = csr_for(SHENZHEN_USCC, Algorithm.ECDSA)
    result = renewal.renew_own_seal(ctx, lr, code, req)
    cert = x509.Certificate.from_der(result.certificate_der)
    assert cert.public_key == new_key.public_key != old_key.public_key
    assert result.algorithm is Algorithm.ECDSA


def test_renewal_outside_the_window_is_refused_and_changes_nothing(ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    code, _key = issue(ctx)
    lr = legal(ctx)
    into_window(ctx, code, days_left=61)
    before = fingerprint(ctx)
    with pytest.raises(renewal.RenewalNotOpen) as err:
        renewal.renew_own_seal(ctx, lr, code)
    assert err.value.http_status == 409 and err.value.days == 60
    assert "can be renewed from" in str(err.value)
    ctx.clock.at = ctx.clock.now() + dt.timedelta(days=62)  # type: ignore[attr-defined]
    with pytest.raises(InvalidTransition, match="expired"):
        renewal.renew_own_seal(ctx, lr, code)
    assert fingerprint(ctx) == before


def test_renewal_window_follows_the_setting(ctx: ServiceContext) -> None:
    code, _key = issue(ctx)
    ctx.settings = ctx.settings.with_overrides(renewal_window_days=10)
    into_window(ctx, code, days_left=30)
    with pytest.raises(renewal.RenewalNotOpen):
        renewal.renew_own_seal(ctx, legal(ctx), code)
    into_window(ctx, code, days_left=9)
    assert renewal.renew_own_seal(ctx, legal(ctx), code).es_id != code


def test_holding_a_seal_is_not_enough_to_renew_or_cancel_it(ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    code, _key = issue(ctx)
    holder = person(ctx, {code: "hold"})
    into_window(ctx, code)
    before = fingerprint(ctx)
    with pytest.raises(PermissionDenied):
        renewal.renew_own_seal(ctx, holder, code)
    with pytest.raises(PermissionDenied):
        revocation.cancel_seal(ctx, holder, code, code)
    assert fingerprint(ctx) == before


# ------------------------------------------------------------------------------------------------
# Loss and cancellation


def test_a_holder_reports_loss_the_seal_is_revoked_at_once_and_the_crl_publisher_sees_it(
    ctx: ServiceContext, fingerprint, openssl: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    code, _key = issue(ctx, alg=Algorithm.ECDSA)
    holder = person(ctx, {code: "hold"})
    crl_publish.publish(ctx, ADMIN)
    assert "ecdsa-issuing" not in crl_publish.pending(ctx)
    before = fingerprint(ctx)
    with pytest.raises(ValidationError, match="does not match"):
        revocation.report_loss(ctx, holder, code, "4403000220260000000000000")
    assert fingerprint(ctx) == before
    revocation.report_loss(ctx, holder, code, f"  {code.lower()} ")
    reason, serial = _revocation(ctx, code)
    assert reason == crl.CrlReason.KEY_COMPROMISE
    with ctx.reader() as s:
        seal = s.scalar(select(Seal).where(Seal.es_id == code))
        assert seal.status is SealStatus.REVOKED and seal.revoked_at == ctx.clock.now()  # type: ignore[union-attr]
        assert (
            s.scalar(
                select(RevocationEvent.kind)
                .join(Certificate, Certificate.id == RevocationEvent.certificate_id)
                .where(Certificate.serial == serial)
            )
            == "listed"
        )
    # the publisher daemon's check: a change waits for the ecdsa issuing CA's CRLs
    assert "ecdsa-issuing" in crl_publish.pending(ctx)
    written = crl_publish.publish(ctx, ADMIN, ["ecdsa-issuing"])
    full = next(p for p in written if p.kind == "full")
    path = ctx.settings.publish_dir / full.path
    text = subprocess.run(
        [openssl, "crl", "-inform", "DER", "-in", str(path), "-noout", "-text"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert serial.upper() in text.upper().replace(":", "") and "Key Compromise" in text
    with pytest.raises(InvalidTransition, match="already revoked"):
        revocation.report_loss(ctx, holder, code, code)


def test_cancel_revokes_with_cessation_of_operation(ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    code, _key = issue(ctx)
    manager = person(ctx, {code: "manage"})
    before = fingerprint(ctx)
    with pytest.raises(ValidationError):
        revocation.cancel_seal(ctx, manager, code, "")
    assert fingerprint(ctx) == before
    revocation.cancel_seal(ctx, manager, code, code)
    assert _revocation(ctx, code)[0] == crl.CrlReason.CESSATION_OF_OPERATION
    assert seal_records.enterprise_detail(ctx, manager, code)["revocation_reason"] == "cessationOfOperation"


def test_an_expired_seal_is_not_cancelled(ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    code, _key = issue(ctx)
    into_window(ctx, code, days_left=-1)
    before = fingerprint(ctx)
    with pytest.raises(InvalidTransition, match="expired"):
        revocation.cancel_seal(ctx, legal(ctx), code, code)
    assert fingerprint(ctx) == before


def test_one_key_per_seal_and_every_problem_in_one_pass(ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    before = fingerprint(ctx)
    _key, same = csr_for(SHENZHEN_USCC)
    items = [
        application_intake.ApplyItem("01", same),
        application_intake.ApplyItem("02", b"", b"GIF89a not a png"),  # no CSR and a bad picture: both said
        application_intake.ApplyItem("04", same),
        application_intake.ApplyItem("05", csr_for(SHENZHEN_USCC)[1]),
    ]
    with pytest.raises(application_intake.ApplicationRefused) as err:
        application_intake.apply(ctx, legal(ctx), items)
    problems = err.value.problems
    assert set(problems) == {"01", "02", "04"}
    assert problems["01"].text("zh") == "此证书请求的密钥与04 合同专用章的相同：每枚印章须使用各自的密钥"
    assert "one key per seal" in str(problems["04"]) and "01 Official seal" in str(problems["04"])
    assert "CSR" in str(problems["02"]) and "not a PNG" in str(problems["02"])
    assert "此印章需要上传证书请求（CSR）" in problems["02"].text("zh")
    assert fingerprint(ctx) == before
