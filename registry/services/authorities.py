"""Our CA hierarchies (design.md §4): for each of SM2/SM3 and ECDSA P-256, a root CA that certifies
an issuing CA (for holder 签章者 certificates) and the seal-maker (制章者) unit certificate."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import Authority, Certificate
from ..domain.states import CertificateStatus
from ..pki import x509
from ..pki.keys import Algorithm, PrivateKey, decrypt_private_key, encrypt_private_key
from .context import Actor, KeyRing, ServiceContext
from .core import authorities as core_authorities
from .core import ocsp
from .core.authorities import LoadedAuthority as LoadedAuthority
from .core.authorities import add_years as add_years
from .core.authorities import authority_name as authority_name
from .core.authorities import ca_cert_url as ca_cert_url
from .core.authorities import crl_url as crl_url
from .core.authorities import delta_crl_url as delta_crl_url
from .core.tx import Tx, begin, joined

ROOT_YEARS = 20
ISSUING_YEARS = 10
MAKER_YEARS = 8


def load(ctx: ServiceContext, session: Session, name: str) -> LoadedAuthority:
    """:func:`registry.services.core.authorities.load` for callers holding a bare session (tests, benchmarks)."""
    return core_authorities.load(joined(ctx, session), name)


def chain(ctx: ServiceContext, session: Session, name: str) -> list[x509.Certificate]:
    """:func:`registry.services.core.authorities.chain` for callers holding a bare session (tests, benchmarks)."""
    return core_authorities.chain(joined(ctx, session), name)


def _ca_extensions(
    ctx: ServiceContext,
    key: PrivateKey,
    parent_kid: bytes | None,
    parent_name: str | None,
    *,
    ca: bool,
    path_len: int | None,
) -> list[bytes]:
    exts = [
        x509.basic_constraints(ca, path_len),
        x509.key_usage(x509.KU_KEY_CERT_SIGN, x509.KU_CRL_SIGN)
        if ca
        else x509.key_usage(x509.KU_DIGITAL_SIGNATURE, x509.KU_NON_REPUDIATION),
        x509.subject_key_identifier(key.public_key.key_identifier()),
    ]
    if parent_kid is not None and parent_name is not None:
        exts.append(x509.authority_key_identifier(parent_kid))
        exts.append(x509.crl_distribution_points([crl_url(ctx, parent_name)]))
        exts.append(x509.authority_info_access(ctx.settings.ocsp_url, ca_cert_url(ctx, parent_name)))
        exts.append(x509.certificate_policies(ctx.settings.policy_oid))
    return exts


def ensure_hierarchies(ctx: ServiceContext, actor: Actor) -> list[str]:
    """Create whichever of the six authorities are missing; returns the names created.

    Idempotent: a second run creates nothing. Each authority is one transaction with its audit event.
    """
    keyring = ctx.require_keyring()
    created: list[str] = []
    s = ctx.settings
    for alg in Algorithm:
        tag = "SM2" if alg is Algorithm.SM2 else "ECDSA"
        with begin(ctx, actor) as tx:
            session = tx.session
            existing = {a.name: a for a in session.scalars(select(Authority).where(Authority.algorithm == alg))}
            now = tx.now
            root = existing.get(authority_name(alg, "root"))
            if root is None:
                key = PrivateKey.generate(alg)
                name = x509.Name.build(
                    C="CN", O=s.authority_name, OU=s.authority_name_en, CN=f"{s.authority_name}电子印章根CA ({tag})"
                )
                der_cert = x509.sign_tbs(
                    x509.build_tbs(
                        serial=x509.random_serial(),
                        signature_alg=alg,
                        issuer=name,
                        subject=name,
                        not_before=now,
                        not_after=add_years(now, ROOT_YEARS),
                        public_key=key.public_key,
                        extensions=_ca_extensions(ctx, key, None, None, ca=True, path_len=1),
                    ),
                    key,
                )
                root = _store(tx, keyring, authority_name(alg, "root"), "root", alg, None, der_cert, key)
                tx.audit(
                    "authority.created",
                    "authority",
                    root.name,
                    kind="root",
                    algorithm=alg.value,
                    subject=root.subject,
                    serial=root.serial,
                )
                created.append(root.name)
            root_key = decrypt_private_key(root.key_blob, keyring.keys)
            root_cert = x509.Certificate.from_der(root.certificate_der)
            for kind, years, cn in (
                ("issuing", ISSUING_YEARS, f"{s.authority_name}电子印章签章者CA ({tag})"),
                ("seal-maker", MAKER_YEARS, f"{s.authority_name}电子印章制章者 ({tag})"),
            ):
                nm = authority_name(alg, kind)
                if nm in existing:
                    continue
                key = PrivateKey.generate(alg)
                subject = x509.Name.build(C="CN", O=s.authority_name, OU=s.authority_name_en, CN=cn)
                not_after = min(add_years(now, years), root_cert.not_after)
                serial = x509.random_serial()
                der_cert = x509.sign_tbs(
                    x509.build_tbs(
                        serial=serial,
                        signature_alg=alg,
                        issuer=root_cert.subject_der,
                        subject=subject,
                        not_before=now,
                        not_after=not_after,
                        public_key=key.public_key,
                        extensions=_ca_extensions(
                            ctx,
                            key,
                            root_cert.subject_key_id,
                            root.name,
                            ca=kind == "issuing",
                            path_len=0 if kind == "issuing" else None,
                        ),
                    ),
                    root_key,
                )
                row = _store(tx, keyring, nm, kind, alg, root, der_cert, key)
                cert_row = Certificate(
                    issuer_id=root.id,
                    serial=row.serial,
                    kind="ca" if kind == "issuing" else "seal-maker",
                    subject=row.subject,
                    algorithm=alg,
                    shard=serial % s.crl_shards,
                    not_before=row.not_before,
                    not_after=row.not_after,
                    der=der_cert,
                    key_fingerprint=key.public_key.fingerprint(),
                    status=CertificateStatus.GOOD,
                    created_at=now,
                )
                session.add(cert_row)
                # the root answers OCSP for the certificates it issued
                ocsp.presign_certificate(tx, cert_row, now)
                tx.audit(
                    "authority.created",
                    "authority",
                    nm,
                    kind=kind,
                    algorithm=alg.value,
                    subject=row.subject,
                    serial=row.serial,
                    issuer=root.name,
                )
                created.append(nm)
    return created


def _store(
    tx: Tx,
    keyring: KeyRing,
    name: str,
    kind: str,
    alg: Algorithm,
    parent: Authority | None,
    der_cert: bytes,
    key: PrivateKey,
) -> Authority:
    cert = x509.Certificate.from_der(der_cert)
    row = Authority(
        name=name,
        kind=kind,
        algorithm=alg,
        parent=parent,
        subject=str(cert.subject),
        serial=format(cert.serial, "x"),
        not_before=cert.not_before,
        not_after=cert.not_after,
        certificate_der=der_cert,
        key_blob=encrypt_private_key(key, keyring.keys[keyring.current], keyring.current),
        key_kek_id=keyring.current,
        active=True,
        created_at=tx.now,
    )
    tx.session.add(row)
    tx.session.flush()
    return row


def list_authorities(ctx: ServiceContext) -> list[Authority]:
    with ctx.reader() as session:
        return list(session.scalars(select(Authority).order_by(Authority.id)))


def verify_hierarchy(ctx: ServiceContext, when: dt.datetime | None = None) -> list[str]:
    """Problems found in the stored hierarchies (signatures, validity); empty when all is well."""
    problems: list[str] = []
    when = when or ctx.clock.now()
    with ctx.reader() as session:
        for row in session.scalars(select(Authority)):
            cert = x509.Certificate.from_der(row.certificate_der)
            issuer = x509.Certificate.from_der((row.parent or row).certificate_der)
            if not cert.verify_signature(issuer.public_key):
                problems.append(f"{row.name}: certificate signature does not verify under {issuer.subject}")
            if not cert.valid_at(when):
                problems.append(f"{row.name}: certificate not valid at {when.isoformat()}")
    return problems
