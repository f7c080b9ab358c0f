"""Issuing seals: an application under dual control, the holder (签章者) certificate signed by the
issuing CA, and the GB/T 38540 v4 SESeal signed by the seal-maker (制章者) certificate."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db.models import Certificate, Enterprise, Seal, SealApplication
from ..domain.errors import Conflict, NotFound, ValidationError
from ..domain.esid import make_esid, validate_esid
from ..domain.roles import Permission, check_dual_control, require
from ..domain.seal_types import SealType, seal_name
from ..domain.states import (ApplicationAction, ApplicationState, CertificateStatus, LicenceStatus,
                             SealStatus, next_application_state)
from ..pki import der, picture, ses, x509
from ..pki.keys import Algorithm, KeyFormatError, PrivateKey, PublicKey
from ..pki.uscc import UsccError, is_valid_uscc, validate_uscc
from . import audit, authorities
from .context import Actor, ServiceContext
from .users import staff_actor

ROUND_SEAL_MM = 40   # picture width/height in mm (SES_ESPictureInfo); ofdrw's sample is 40 × 40
NAME_SEAL_MM = 20
_USCC_TOKEN = re.compile(r"[0-9A-HJ-NP-RTUW-Y]{18}")


@dataclass(frozen=True)
class KeyMaterial:
    """Exactly one of: a PKCS#10 request, a public key (PEM), or ``generate`` (we make the key pair
    and hand the private key to the enterprise once; it is never stored)."""

    csr: bytes | None = None
    public_key_pem: bytes | None = None
    generate: bool = False


@dataclass(frozen=True)
class IssueRequest:
    uscc: str
    seal_type: str
    key: KeyMaterial
    operator: str
    approver: str
    algorithm: str | None = None
    picture_png: bytes | None = None
    channel: str = "cli"
    require_uscc_in_csr: bool = False


@dataclass
class IssueResult:
    seal_id: int
    es_id: str
    application_id: int
    algorithm: Algorithm
    seal_der: bytes
    certificate_der: bytes
    chain_der: list[bytes]
    private_key_pem: str | None = field(default=None, repr=False)


# ----------------------------------------------------------------------------------------------
# Checks that happen before anything is written


def _resolve_key(req: IssueRequest, uscc: str) -> tuple[PublicKey, bytes | None, PrivateKey | None]:
    given = sum(x is not None and x is not False for x in (req.key.csr, req.key.public_key_pem,
                                                            req.key.generate or None))
    if given != 1:
        raise ValidationError("give exactly one of a certificate request, a public key, or generate-key")
    wanted = Algorithm.parse(req.algorithm) if req.algorithm else None
    if req.key.generate:
        key = PrivateKey.generate(wanted or Algorithm.SM2)
        return key.public_key, None, key
    if req.key.csr is not None:
        try:
            csr = x509.CertificationRequest.load(req.key.csr)
        except x509.CertificateError as exc:
            raise ValidationError(str(exc)) from None
        _check_csr_subject(csr, uscc, req.require_uscc_in_csr)
        pub, csr_der = csr.public_key, csr.der
    else:
        try:
            pub = PublicKey.from_pem(req.key.public_key_pem or b"")
        except KeyFormatError as exc:
            raise ValidationError(f"public key: {exc}") from None
        csr_der = None
    if wanted is not None and wanted is not pub.algorithm:
        raise ValidationError(f"--algorithm {wanted.value} was asked for but the key is {pub.algorithm.label}")
    return pub, csr_der, None


def _check_csr_subject(csr: x509.CertificationRequest, uscc: str, required: bool) -> None:
    named = {tok for _oid, value in csr.subject.attributes for tok in _USCC_TOKEN.findall(value.upper())
             if is_valid_uscc(tok)}
    if named and uscc not in named:
        raise ValidationError(f"the certificate request names USCC {', '.join(sorted(named))}, "
                              f"not the applicant {uscc}")
    if required and not named:
        raise ValidationError(f"the certificate request subject must carry the enterprise's USCC {uscc} "
                              "(e.g. as organizationIdentifier or serialNumber)")


def _check_picture(ctx: ServiceContext, data: bytes | None) -> None:
    if data is None:
        return
    try:
        picture.validate_png(data, max_bytes=ctx.settings.max_picture_bytes)
    except picture.PictureError as exc:
        raise ValidationError(str(exc)) from None


def _render_picture(ctx: ServiceContext, ent: Enterprise, st: SealType) -> bytes:
    def render() -> bytes:
        font = picture.find_cjk_font(ctx.settings.seal_font)
        if st.is_name_seal:
            return picture.render_seal(ent.legal_representative, "", shape="square", font_path=font)
        return picture.render_seal(ent.name, st.picture_label, shape="round", font_path=font)

    try:
        return render()
    except picture.PictureError as exc:
        raise ValidationError(f"cannot draw the seal picture: {exc}") from None


# ----------------------------------------------------------------------------------------------
# Building


def _holder_certificate(ctx: ServiceContext, issuing: authorities.LoadedAuthority, ent: Enterprise,
                        name: str, pub: PublicKey, start: dt.datetime, end: dt.datetime) -> tuple[bytes, int, int]:
    serial = x509.random_serial()
    shard = serial % ctx.settings.crl_shards
    subject = x509.Name.build(C="CN", O=ent.name, CN=name, organizationIdentifier=ent.uscc)
    exts = [
        x509.basic_constraints(False),
        x509.key_usage(x509.KU_DIGITAL_SIGNATURE, x509.KU_NON_REPUDIATION),
        x509.subject_key_identifier(pub.key_identifier()),
        x509.authority_key_identifier(issuing.key_id),
        # Full CRL first (verifiers that ignore partitions), then the shard fixed now (design.md §5).
        x509.crl_distribution_points([authorities.crl_url(ctx, issuing.name),
                                      authorities.crl_url(ctx, issuing.name, shard)]),
        x509.freshest_crl([authorities.delta_crl_url(ctx, issuing.name)]),
        x509.authority_info_access(None, authorities.ca_cert_url(ctx, issuing.name)),
        x509.certificate_policies(ctx.settings.policy_oid),
    ]
    tbs = x509.build_tbs(serial=serial, signature_alg=issuing.algorithm,
                         issuer=issuing.certificate.subject_der, subject=subject, not_before=start,
                         not_after=end, public_key=pub, extensions=exts)
    return x509.sign_tbs(tbs, issuing.signer), serial, shard


def issue_seal(ctx: ServiceContext, actor: Actor, req: IssueRequest) -> IssueResult:
    """Issue one seal at the counter: the application is submitted, reviewed by ``req.operator``,
    approved by ``req.approver`` (a different person with the reviewer role) and issued, in one
    transaction with one audit event per transition. Every check runs before the first write."""
    try:
        uscc = validate_uscc(req.uscc)
    except UsccError as exc:
        raise ValidationError(f"USCC {req.uscc!r}: {exc}") from None
    st = SealType.parse(req.seal_type)
    if req.channel not in ("cli", "counter", "portal", "reissue"):
        raise ValidationError(f"unknown channel {req.channel!r}")
    _check_picture(ctx, req.picture_png)
    pub, csr_der, generated = _resolve_key(req, uscc)
    alg = pub.algorithm
    for attempt in range(3):
        try:
            return _issue_once(ctx, actor, req, uscc, st, alg, pub, csr_der, generated)
        except IntegrityError:
            # A random serial or esID collided with an existing one (p ≈ 2^-60): draw again.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _issue_once(ctx: ServiceContext, actor: Actor, req: IssueRequest, uscc: str, st: SealType,
                alg: Algorithm, pub: PublicKey, csr_der: bytes | None,
                generated: PrivateKey | None) -> IssueResult:
    with ctx.transaction() as session:
        operator = staff_actor(session, req.operator, purpose="operator")
        approver = staff_actor(session, req.approver, purpose="approver")
        require(operator.name, operator.roles, Permission.APPLICATION_REVIEW)
        require(approver.name, approver.roles, Permission.APPLICATION_APPROVE)
        check_dual_control(operator.name, approver.name)
        ent = session.scalar(select(Enterprise).where(Enterprise.uscc == uscc))
        if ent is None:
            raise NotFound(f"no licence on record for USCC {uscc}: import the licence first")
        if ent.status is not LicenceStatus.ACTIVE:
            raise Conflict(f"the licence of {uscc} is {ent.status.value}; seals are issued only to "
                           "enterprises with an active licence")
        authorities.require_algorithm_ready(ctx, session, alg)
        issuing = authorities.load(ctx, session, authorities.authority_name(alg, "issuing"))
        maker = authorities.load(ctx, session, authorities.authority_name(alg, "seal-maker"))
        now = ctx.clock.now()
        end = now + dt.timedelta(days=ctx.settings.seal_validity_days)
        if end > issuing.certificate.not_after or end > maker.certificate.not_after:
            raise Conflict("the issuing CA or seal-maker certificate expires before the seal would; "
                           "renew the hierarchy first")
        png = req.picture_png or _render_picture(ctx, ent, st)
        name = seal_name(ent.name, st, ent.legal_representative)

        app = SealApplication(enterprise_id=ent.id, seal_type=st, algorithm=alg,
                              state=ApplicationState.SUBMITTED, channel=req.channel,
                              public_key_spki=pub.spki(), csr_der=csr_der, picture_png=req.picture_png,
                              submitted_by=actor.name, submitted_at=now)
        session.add(app)
        session.flush()
        events: list[tuple[Actor, str, dict[str, Any]]] = [
            (actor, "application.submitted", {"uscc": uscc, "seal_type": st.code, "channel": req.channel,
                                              "algorithm": alg.value, "key": pub.fingerprint()}),
        ]
        app.state = next_application_state(app.state, ApplicationAction.REVIEW)
        app.reviewed_by_id, app.reviewed_at = operator.user_id, now
        events.append((operator, "application.reviewed", {"licence_status": ent.status.value}))
        app.state = next_application_state(app.state, ApplicationAction.APPROVE)
        app.approved_by_id, app.approved_at = approver.user_id, now
        events.append((approver, "application.approved", {"reviewed_by": operator.name}))

        cert_der, serial, shard = _holder_certificate(ctx, issuing, ent, name, pub, now, end)
        es_id = make_esid(ctx.settings.area_code, st, now.year)
        size = NAME_SEAL_MM if st.is_name_seal else ROUND_SEAL_MM
        seal_info = ses.encode_seal_info(
            es_id=es_id, vid=ctx.settings.vendor_id,
            prop=ses.SealProperty(type=st.ses_type, name=name, cert_list_type=1, cert_list=(cert_der,),
                                  create_date=now, valid_start=now, valid_end=end),
            picture=ses.SealPicture(type="PNG", data=png, width=size, height=size))
        seal_der = ses.make_seal(seal_info, maker.certificate.der, maker.signer)

        seal = Seal(es_id=es_id, enterprise_id=ent.id, seal_type=st, name=name, algorithm=alg,
                    status=SealStatus.ACTIVE, picture_png=png, picture_width_mm=size, picture_height_mm=size,
                    valid_start=now, valid_end=end, created_at=now, maker_id=maker.id, ses_der=seal_der,
                    application_id=app.id)
        session.add(seal)
        session.flush()
        session.add(Certificate(issuer_id=issuing.id, serial=format(serial, "x"), kind="holder",
                                subject=f"CN={name}, organizationIdentifier={uscc}", algorithm=alg,
                                shard=shard, not_before=now, not_after=end, der=cert_der,
                                key_fingerprint=pub.fingerprint(), status=CertificateStatus.GOOD,
                                seal_id=seal.id, created_at=now))
        app.state = next_application_state(app.state, ApplicationAction.ISSUE)
        events.append((actor, "seal.issued", {"es_id": es_id, "uscc": uscc, "seal_type": st.code,
                                              "certificate_serial": format(serial, "x"),
                                              "issuer": issuing.name, "shard": shard,
                                              "valid_end": end.isoformat()}))
        for who, action, details in events:
            target = ("seal", es_id) if action == "seal.issued" else ("application", app.id)
            audit.record(session, ctx, who, action, target[0], target[1], **details)
        chain = [c.der for c in authorities.chain(ctx, session, issuing.name)]
        return IssueResult(seal.id, es_id, app.id, alg, seal_der, cert_der, chain,
                           generated.pem() if generated else None)


# ----------------------------------------------------------------------------------------------
# Reading


def _find(session: Session, code: str) -> Seal:
    es_id = validate_esid(code)
    seal = session.scalar(select(Seal).where(Seal.es_id == es_id))
    if seal is None:
        raise NotFound(f"no seal with code {es_id}")
    return seal


def show_seal(ctx: ServiceContext, code: str) -> dict[str, Any]:
    """Everything a person or script needs to know about one seal, as plain data."""
    with ctx.reader() as session:
        seal = _find(session, code)
        now = ctx.clock.now()
        certs = []
        for c in seal.certificates:
            certs.append({"serial": c.serial, "issuer": c.issuer.name, "subject": c.subject,
                          "shard": c.shard, "status": c.status.value, "not_before": c.not_before.isoformat(),
                          "not_after": c.not_after.isoformat(), "key_sha256": c.key_fingerprint})
        return {
            "es_id": seal.es_id,
            "type": seal.seal_type.code,
            "type_name": seal.seal_type.english,
            "type_name_zh": seal.seal_type.chinese,
            "name": seal.name,
            "uscc": seal.enterprise.uscc,
            "enterprise": seal.enterprise.name,
            "algorithm": seal.algorithm.value,
            "status": seal.effective_status(now),
            "valid_start": seal.valid_start.isoformat(),
            "valid_end": seal.valid_end.isoformat(),
            "created_at": seal.created_at.isoformat(),
            "maker": seal.maker.name,
            "picture": {"type": "PNG", "width_mm": seal.picture_width_mm, "height_mm": seal.picture_height_mm,
                        "bytes": len(seal.picture_png)},
            "ses_sha256": __import__("hashlib").sha256(seal.ses_der).hexdigest(),
            "certificates": certs,
            "application_id": seal.application_id,
        }


@dataclass(frozen=True)
class SealExport:
    es_id: str
    seal_der: bytes
    certificate_pem: str
    chain_pem: str
    maker_chain_pem: str


def export_seal(ctx: ServiceContext, code: str) -> SealExport:
    """seal.esl (DER SESeal), the holder certificate, the issuing chain, and the seal-maker chain."""
    with ctx.reader() as session:
        seal = _find(session, code)
        holder = next((c for c in seal.certificates if c.kind == "holder"), None)
        if holder is None:
            raise NotFound(f"seal {seal.es_id} has no holder certificate on record")
        chain = authorities.chain(ctx, session, holder.issuer.name)
        maker_chain = authorities.chain(ctx, session, seal.maker.name)
        return SealExport(seal.es_id, seal.ses_der, der.der_to_pem(holder.der, "CERTIFICATE"),
                          "".join(c.pem() for c in chain), "".join(c.pem() for c in maker_chain))
