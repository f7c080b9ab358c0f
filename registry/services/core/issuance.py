"""Issuing seals, the building block: a batch of requests checked, each holder (签章者) certificate
signed by the issuing CA and each GB/T 38540 v4 SESeal by the seal-maker (制章者) certificate, and
the applications, seals, certificates, OCSP responses and audit events inserted together.

It does not check who asks: the use cases do, each by its own rule, and then call :func:`issue` —
staff issuance (:func:`registry.services.seals.issue_seals`, ``seal.issue``), the renewals
(:mod:`registry.services.renewal`, the staff's ``seal.issue`` or the enterprise's grant), and an
approved application (:func:`registry.services.applications.issue`). Issuance is the floor's one
exception to "inside the caller's transaction": it reads in one transaction, signs with none open,
and writes in a short one (:func:`write`, which takes that :class:`Tx`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from ...db.models import Certificate, Enterprise, Seal, SealApplication, SealGrant
from ...db.session import allocate_ids
from ...domain.errors import Conflict, InvalidTransition, M, NotFound, PermissionDenied, ValidationError
from ...domain.esid import make_esid
from ...domain.roles import Permission, check_dual_control, require
from ...domain.seal_types import seal_name
from ...domain.states import (
    ApplicationAction,
    ApplicationState,
    CertificateStatus,
    LicenceStatus,
    SealStatus,
    next_application_state,
)
from ...pki import picture, profiles, ses, x509
from ...pki.crl import CrlReason
from ...pki.keys import PublicKey
from ..context import Actor, ServiceContext
from . import authorities, ocsp, revocation
from .issue_requests import MAX_BATCH as MAX_BATCH
from .issue_requests import NAME_SEAL_MM as NAME_SEAL_MM
from .issue_requests import ROUND_SEAL_MM as ROUND_SEAL_MM
from .issue_requests import IssueRequest as IssueRequest
from .issue_requests import IssueResult as IssueResult
from .issue_requests import KeyMaterial as KeyMaterial
from .issue_requests import Prepared, check_batch_size, in_batch, prepare
from .issue_requests import resolve_key as resolve_key
from .pictures import render_picture
from .staff import staff_actors
from .tx import Tx, begin, reading

# ----------------------------------------------------------------------------------------------
# Building


def _holder_certificate(
    ctx: ServiceContext,
    issuing: authorities.LoadedAuthority,
    uscc: str,
    enterprise_name: str,
    name: str,
    pub: PublicKey,
    start: dt.datetime,
    end: dt.datetime,
) -> tuple[bytes, int, int]:
    """The holder certificate of one seal (:func:`registry.pki.profiles.holder_certificate`), its
    random serial and the CRL shard the serial falls in."""
    serial = x509.random_serial()
    shard = serial % ctx.settings.crl_shards
    publication = profiles.HolderPublication(
        issuer_key_id=issuing.key_id,
        crl_urls=(authorities.crl_url(ctx, issuing.name), authorities.crl_url(ctx, issuing.name, shard)),
        delta_crl_url=authorities.delta_crl_url(ctx, issuing.name),
        ocsp_url=ctx.settings.ocsp_url,
        ca_issuers_url=authorities.ca_cert_url(ctx, issuing.name),
        policy_oid=ctx.settings.policy_oid,
    )
    try:
        cert_der = profiles.holder_certificate(
            serial=serial,
            issuer_subject_der=issuing.certificate.subject_der,
            signature_alg=issuing.algorithm,
            signer=issuing.signer,
            publication=publication,
            organization=enterprise_name,
            common_name=name,
            uscc=uscc,
            public_key=pub,
            not_before=start,
            not_after=end,
        )
    except profiles.ProfileError as exc:
        raise ValidationError.carrying(exc) from None
    return cert_der, serial, shard


def issue(ctx: ServiceContext, actor: Actor, reqs: list[IssueRequest]) -> list[IssueResult]:
    """Issue several seals in one transaction, all or nothing. Each seal gets the same checks, rows
    and audit events; a refused request names its position and nothing at all is written. The
    caller has checked that ``actor`` may ask for these seals (and, for a break-glass request, that
    it comes from the command line with a checked reason)."""
    if not reqs:
        return []
    check_batch_size(reqs)
    prepared: list[Prepared] = []
    seen_pictures: dict[bytes, None] = {}
    for i, req in enumerate(reqs):
        try:
            prepared.append(prepare(ctx, req, seen_pictures))
        except ValidationError as exc:
            raise in_batch(exc, i, len(reqs)) from None
    for attempt in range(3):
        try:
            return _issue_batch(ctx, actor, prepared)
        except IntegrityError:
            # A random serial or esID collided with an existing one (p ≈ 2^-60): draw again.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@dataclass
class _Row:
    p: Prepared
    operator: Actor
    approver: Actor
    enterprise_id: int
    enterprise_name: str
    legal_representative: str
    name: str
    png: bytes
    issuing: authorities.LoadedAuthority
    maker: authorities.LoadedAuthority


class _ChangedMeanwhile(Exception):
    """A licence or staff account changed between the checks and the write: check again."""


def _check(tx: Tx, prepared: list[Prepared], end: dt.datetime) -> tuple[list[_Row], tuple[object, ...]]:
    """Every database-backed check, in two SELECTs. Returns the rows to issue and a snapshot of the
    facts they rest on (staff roles, licence name/representative/status), to compare at write time."""
    session = tx.session
    total = len(prepared)
    purposes: dict[str, str] = {}
    for p in prepared:
        if p.req.renewal_of is None and p.req.application_id is None and p.req.break_glass is None:
            purposes.setdefault(p.req.operator.strip().lower(), "operator")
            purposes.setdefault(p.req.approver.strip().lower(), "approver")
    by_name = staff_actors(session, purposes) if purposes else {}
    renewed = {
        r.es_id: r
        for r in session.connection().execute(
            select(Seal.id, Seal.es_id, Seal.enterprise_id, Seal.seal_type, Seal.status).where(
                Seal.es_id.in_([p.req.renewal_of for p in prepared if p.req.renewal_of])
            )
        )
    }
    apps = {
        r.id: r
        for r in session.connection().execute(
            select(
                SealApplication.id,
                SealApplication.state,
                SealApplication.enterprise_id,
                SealApplication.seal_type,
                SealApplication.reviewed_by_id,
                SealApplication.approved_by_id,
            ).where(SealApplication.id.in_([p.req.application_id for p in prepared if p.req.application_id]))
        )
    }
    ents = {
        r.uscc: r
        for r in session.connection().execute(
            select(
                Enterprise.id, Enterprise.uscc, Enterprise.name, Enterprise.legal_representative, Enterprise.status
            ).where(Enterprise.uscc.in_({p.uscc for p in prepared}))
        )
    }
    rows: list[_Row] = []
    for i, p in enumerate(prepared):
        try:
            if p.req.application_id is not None:
                # reviewed and approved by two people already (registry.services.applications)
                operator = approver = Actor(name="application", kind="system")
                app = apps.get(p.req.application_id)
                if app is None:
                    raise NotFound(
                        M("seal.no_application", "no application {application_id}", "没有申请 {application_id}"),
                        application_id=p.req.application_id,
                    )
                if app.state is not ApplicationState.APPROVED:
                    raise InvalidTransition(
                        M(
                            "seal.application_only_approved_application",
                            "application {id} is {state}; only an approved application is issued",
                            "申请 {id} 为{state}；只有已批准的申请才能签发",
                        ),
                        id=app.id,
                        state=app.state.value,
                    )
                ent_row = ents.get(p.uscc)
                if ent_row is not None and (app.enterprise_id != ent_row.id or app.seal_type is not p.seal_type):
                    raise ValidationError(
                        M(
                            "seal.application_another_enterprise_seal",
                            "application {id} is for another enterprise or seal type",
                            "申请 {id} 属于其他企业或其他印章类型",
                        ),
                        id=app.id,
                    )
            elif p.req.break_glass is not None:
                # no second person: recorded as the command-line user's own act (the writer's actor)
                operator = approver = Actor(name="policy:break-glass", kind="system")
            elif p.req.renewal_of is None:
                operator = by_name[p.req.operator.strip().lower()]
                approver = by_name[p.req.approver.strip().lower()]
                require(operator.name, operator.roles, Permission.APPLICATION_REVIEW)
                require(approver.name, approver.roles, Permission.APPLICATION_APPROVE)
                check_dual_control(operator.name, approver.name)
            else:
                # A renewal is approved by policy: same enterprise and type, the old seal not revoked.
                operator = approver = Actor(name="policy:renewal", kind="system")
                old = renewed.get(p.req.renewal_of)
                if old is None:
                    raise NotFound(
                        M("seal.no_seal_code_2", "no seal with code {renewal_of}", "没有编码为 {renewal_of} 的印章"),
                        renewal_of=p.req.renewal_of,
                    )
                if old.status is SealStatus.REVOKED:
                    raise InvalidTransition(
                        M(
                            "seal.seal_revoked_revoked_seal",
                            "seal {es_id} is revoked; a revoked seal cannot be renewed (apply for a new one)",
                            "印章 {es_id} 已吊销；已吊销的印章不能续期（请申请新印章）",
                        ),
                        es_id=old.es_id,
                    )
                ent_row = ents.get(p.uscc)
                if ent_row is not None and (old.enterprise_id != ent_row.id or old.seal_type is not p.seal_type):
                    raise ValidationError(
                        M(
                            "seal.seal_belongs_another_enterprise",
                            "seal {es_id} belongs to another enterprise or type",
                            "印章 {es_id} 属于其他企业或其他类型",
                        ),
                        es_id=old.es_id,
                    )
            ent = ents.get(p.uscc)
            if ent is None:
                raise NotFound(
                    M(
                        "seal.no_licence_record_uscc",
                        "no licence on record for USCC {uscc}: import the licence first",
                        "没有统一社会信用代码为 {uscc} 的执照记录：请先导入执照",
                    ),
                    uscc=p.uscc,
                )
            if ent.status is not LicenceStatus.ACTIVE:
                raise Conflict(
                    M(
                        "seal.licence_seals_are_issued",
                        "the licence of {uscc} is {status}; seals are issued only to enterprises with an "
                        "active licence",
                        "{uscc} 的执照{status}；只向执照存续的企业签发印章",
                    ),
                    uscc=p.uscc,
                    status=ent.status.value,
                )
            alg = p.public_key.algorithm
            issuing = authorities.load(tx, authorities.authority_name(alg, "issuing"))
            maker = authorities.load(tx, authorities.authority_name(alg, "seal-maker"))
            if end > issuing.certificate.not_after or end > maker.certificate.not_after:
                raise Conflict(
                    M(
                        "seal.issuing_ca_seal_maker",
                        "the issuing CA or seal-maker certificate expires before the seal would; renew "
                        "the hierarchy first",
                        "签发 CA 或制章者证书将先于印章过期；请先更新证书层级",
                    )
                )
        except (ValidationError, NotFound, Conflict, PermissionDenied, InvalidTransition) as exc:
            raise in_batch(exc, i, total) from None
        rows.append(
            _Row(
                p,
                operator,
                approver,
                ent.id,
                ent.name,
                ent.legal_representative,
                seal_name(ent.name, p.seal_type, ent.legal_representative),
                b"",
                issuing,
                maker,
            )
        )
    snapshot = (
        tuple(sorted((a.name, a.user_id, tuple(sorted(a.roles))) for a in by_name.values())),
        tuple(sorted(tuple(r) for r in ents.values())),
        tuple(sorted(tuple(r) for r in renewed.values())),
        tuple(sorted(tuple(r) for r in apps.values())),
    )
    return rows, snapshot


def _issue_batch(ctx: ServiceContext, actor: Actor, prepared: list[Prepared]) -> list[IssueResult]:
    """Three phases, so no lock is held while signing (SQLite has one writer at a time):
    1. check everything in a read transaction;
    2. build and sign every certificate and seal with no transaction open;
    3. in a short write transaction, run the same checks again and insert with one multi-row
       INSERT per table. If a licence or staff account changed in between, the signed objects are
       discarded (they were never stored or shown to anyone) and the whole issuance starts over."""
    for _attempt in range(3):
        try:
            return _issue_batch_once(ctx, actor, prepared)
        except _ChangedMeanwhile:
            continue
    raise Conflict(
        M(
            "seal.licence_staff_data_kept",
            "the licence or staff data kept changing during issuance; try again",
            "签发期间执照或人员数据不断变化；请重试",
        )
    )


@dataclass
class _Signed:
    """One seal built and signed with no transaction open (phase 2): the rows :func:`write` inserts
    for it, and the facts its audit events carry. The ids are filled in at write time."""

    row: _Row
    application: dict[str, Any] | None  # a new application's row; None when an approved one is issued
    seal: dict[str, Any]
    certificate: dict[str, Any]
    ocsp: dict[str, object]  # its RFC 6960 'good' response, pre-signed
    result: IssueResult
    serial_hex: str
    shard: int
    key_fp: str
    application_id: int = 0
    seal_id: int = 0


def _issue_batch_once(ctx: ServiceContext, actor: Actor, prepared: list[Prepared]) -> list[IssueResult]:
    now = ctx.clock.now()
    end = now + dt.timedelta(days=ctx.settings.seal_validity_days)
    with reading(ctx, actor) as tx:
        rows, snapshot = _check(tx, prepared, end)
        chains = {r.issuing.name: [c.der for c in authorities.chain(tx, r.issuing.name)] for r in rows}
    for r in rows:
        # An uploaded picture goes into the signed seal with its image chunks only (no text, time or
        # private chunks: nothing but the image is signed); a drawn one has no others.
        r.png = (
            picture.strip_png(r.p.req.picture_png)
            if r.p.req.picture_png
            else render_picture(ctx, r.enterprise_name, r.legal_representative, r.p.seal_type, r.p.uscc)
        )

    # Phase 2: sign.
    signed = [_sign(ctx, actor, r, now, end, chains[r.issuing.name]) for r in rows]

    # Phase 3: write.
    with begin(ctx, actor) as tx:
        _rows_again, snapshot_again = _check(tx, prepared, end)
        if snapshot_again != snapshot:
            raise _ChangedMeanwhile()
        write(tx, signed, now)
    for s in signed:
        s.result.application_id, s.result.seal_id = s.application_id, s.seal_id
    return [s.result for s in signed]


def _sign(
    ctx: ServiceContext, actor: Actor, r: _Row, now: dt.datetime, end: dt.datetime, chain: list[bytes]
) -> _Signed:
    """Build and sign one seal's holder certificate and SESeal, and the rows that record them."""
    p, alg = r.p, r.p.public_key.algorithm
    cert_der, serial, shard = _holder_certificate(
        ctx, r.issuing, p.uscc, r.enterprise_name, r.name, p.public_key, now, end
    )
    es_id = make_esid(ctx.settings.area_code, p.seal_type, now.year)
    width_mm, height_mm = p.seal_type.picture_mm
    seal_info = ses.encode_seal_info(
        es_id=es_id,
        vid=ctx.settings.vendor_id,
        prop=ses.SealProperty(
            type=p.seal_type.ses_type,
            name=r.name,
            cert_list_type=1,
            cert_list=(cert_der,),
            create_date=now,
            valid_start=now,
            valid_end=end,
        ),
        picture=ses.SealPicture(type="PNG", data=r.png, width=width_mm, height=height_mm),
    )
    seal_der = ses.make_seal(seal_info, r.maker.certificate.der, r.maker.signer)
    serial_hex = format(serial, "x")
    key_fp = p.public_key.fingerprint()
    application = None
    if p.req.application_id is None:
        application = {
            "enterprise_id": r.enterprise_id,
            "seal_type": p.seal_type,
            "algorithm": alg,
            "state": _ISSUED,
            "channel": p.req.channel,
            "public_key_spki": p.public_key.spki(),
            "csr_der": p.csr_der,
            "picture_png": None,  # the seal carries the picture
            "submitted_by": actor.name,
            "submitted_at": now,
            "reviewed_by_id": r.operator.user_id,
            "reviewed_at": now,
            "approved_by_id": r.approver.user_id,
            "approved_at": now,
            "decided_reason": None,
        }
    seal = {
        "es_id": es_id,
        "enterprise_id": r.enterprise_id,
        "seal_type": p.seal_type,
        "name": r.name,
        "algorithm": alg,
        "status": SealStatus.ACTIVE,
        "picture_width_mm": width_mm,
        "picture_height_mm": height_mm,
        "valid_start": now,
        "valid_end": end,
        "created_at": now,
        "maker_id": r.maker.id,
        "ses_der": seal_der,
    }
    certificate = {
        "issuer_id": r.issuing.id,
        "serial": serial_hex,
        "kind": "holder",
        "subject": f"CN={r.name}, organizationIdentifier={p.uscc}",
        "algorithm": alg,
        "shard": shard,
        "not_before": now,
        "not_after": end,
        "der": cert_der,
        "key_fingerprint": key_fp,
        "status": CertificateStatus.GOOD,
        "created_at": now,
    }
    response = ocsp.presign_new(ctx, r.issuing.id, serial_hex, now)  # stored by write()
    result = IssueResult(0, es_id, 0, alg, seal_der, cert_der, chain, p.generated.pem() if p.generated else None)
    return _Signed(r, application, seal, certificate, response, result, serial_hex, shard, key_fp)


def write(tx: Tx, signed: list[_Signed], now: dt.datetime) -> None:
    """Insert the signed seals in the issuance's write transaction, one multi-row INSERT per table:
    the applications (or an approved one moved to issued), the seals, their holder certificates and
    OCSP responses, the audit events; then a renewal's old seal revoked as superseded, its grants
    carried over. Fills in each seal's ``application_id`` and ``seal_id``."""
    conn, actor = tx.conn, tx.actor
    new_apps = [s.application for s in signed if s.application is not None]
    new_app_ids = iter(allocate_ids(conn, SealApplication.__table__, len(new_apps)))
    seal_ids = allocate_ids(conn, Seal.__table__, len(signed))
    cert_ids = allocate_ids(conn, Certificate.__table__, len(signed))
    for s, seal_id, cert_id in zip(signed, seal_ids, cert_ids, strict=True):
        s.application_id = s.row.p.req.application_id or next(new_app_ids)
        if s.application is not None:
            s.application["id"] = s.application_id
        s.seal_id = seal_id
        s.seal["id"], s.seal["application_id"] = seal_id, s.application_id
        s.certificate["seal_id"], s.certificate["id"] = seal_id, cert_id
    if new_apps:
        conn.execute(insert(SealApplication), new_apps)
    for s in signed:
        if s.application is None:
            done = conn.execute(
                update(SealApplication)
                .where(SealApplication.id == s.application_id, SealApplication.state == ApplicationState.APPROVED)
                .values(state=_ISSUED, picture_png=None)
            )
            if done.rowcount != 1:
                raise _ChangedMeanwhile()
    conn.execute(insert(Seal), [s.seal for s in signed])
    conn.execute(insert(Certificate), [s.certificate for s in signed])
    ocsp.store_new(tx, [s.ocsp for s in signed], cert_ids)
    events: list[tuple[Actor, str, str, object, dict[str, Any]]] = []
    for s in signed:
        events += _events(actor, s)
    tx.audit_many(events)
    for s in signed:
        if s.row.p.req.renewal_of is not None:
            # GB/T 38540 re-make: the old seal is revoked as superseded in the same transaction.
            old = tx.session.scalar(select(Seal).where(Seal.es_id == s.row.p.req.renewal_of))
            if old is None:  # _check found it under the same lock a moment ago
                raise _ChangedMeanwhile()
            revocation.revoke_seal_in(tx, old, CrlReason.SUPERSEDED, now, superseded_by=s.result.es_id)
            old.superseded_by_id = s.seal_id
            _carry_grants(tx, old, s.seal_id, s.result.es_id, now)


def _events(actor: Actor, s: _Signed) -> list[tuple[Actor, str, str, object, dict[str, Any]]]:
    """The audit events of one issued seal, in order: its application's steps, then seal.issued."""
    r, p, app_id, es_id = s.row, s.row.p, s.application_id, s.result.es_id
    events: list[tuple[Actor, str, str, object, dict[str, Any]]] = []
    if p.req.application_id is not None:
        events.append((actor, "application.issued", "application", app_id, {"seal": es_id}))
    else:
        events.append(
            (
                actor,
                "application.submitted",
                "application",
                app_id,
                {
                    "uscc": p.uscc,
                    "seal_type": p.seal_type.code,
                    "channel": p.req.channel,
                    "algorithm": s.result.algorithm.value,
                    "key": s.key_fp,
                    "renewal_of": p.req.renewal_of,
                },
            )
        )
        if p.req.break_glass is not None:
            events += [
                (
                    actor,
                    "application.break_glass",
                    "application",
                    app_id,
                    {"policy": "break-glass", "reason": p.req.break_glass, "operator": None, "approver": None},
                ),
                (
                    actor,
                    "application.approved",
                    "application",
                    app_id,
                    {"policy": "break-glass", "reason": p.req.break_glass},
                ),
            ]
        elif p.req.renewal_of is None:
            events += [
                (r.operator, "application.reviewed", "application", app_id, {"licence_status": "active"}),
                (r.approver, "application.approved", "application", app_id, {"reviewed_by": r.operator.name}),
            ]
        else:
            events.append(
                (
                    actor,
                    "application.approved",
                    "application",
                    app_id,
                    {"policy": "renewal", "renews": p.req.renewal_of},
                )
            )
    events.append(
        (
            actor,
            "seal.issued",
            "seal",
            es_id,
            {
                "application": app_id,
                "uscc": p.uscc,
                "seal_type": p.seal_type.code,
                "certificate_serial": s.serial_hex,
                "issuer": r.issuing.name,
                "shard": s.shard,
                "valid_end": s.seal["valid_end"].isoformat(),
                **({"break_glass": p.req.break_glass} if p.req.break_glass is not None else {}),
            },
        )
    )
    return events


def _carry_grants(tx: Tx, old: Seal, new_id: int, new_code: str, now: dt.datetime) -> None:
    """The people authorised to hold or manage the old seal keep that authority over its renewal."""
    session = tx.session
    grants = session.scalars(select(SealGrant).where(SealGrant.seal_id == old.id).order_by(SealGrant.person_id)).all()
    for g in grants:
        session.add(
            SealGrant(
                person_id=g.person_id, seal_id=new_id, authority=g.authority, granted_at=now, granted_by=g.granted_by
            )
        )
    if grants:
        tx.audit(
            "seal.grants_carried",
            "seal",
            new_code,
            renews=old.es_id,
            grants=[{"person": g.person_id, "authority": g.authority} for g in grants],
        )


def _issued_state() -> ApplicationState:
    """Application: submitted → reviewed (operator) → approved (reviewer) → issued."""
    state = ApplicationState.SUBMITTED
    for action in (ApplicationAction.REVIEW, ApplicationAction.APPROVE, ApplicationAction.ISSUE):
        state = next_application_state(state, action)
    return state


_ISSUED = _issued_state()
