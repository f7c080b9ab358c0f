"""What is asked of issuance, and every check of it that needs no database: the request, the
holder's key material (a CSR with its USCC and proof of possession, a public key, or a key we
generate), the uploaded picture, the batch size. :mod:`registry.services.core.issuance` checks
the rest against the database, signs and writes; the use cases run these checks early too (the
portal's apply form, an application's submission)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ...domain.errors import M, ValidationError
from ...domain.seal_types import SealType
from ...pki import x509
from ...pki.keys import Algorithm, KeyFormatError, PrivateKey, PublicKey
from ...pki.uscc import UsccError, is_valid_uscc, validate_uscc
from ..context import ServiceContext
from .pictures import check_picture

ROUND_SEAL_MM = 40  # picture width/height in mm (SES_ESPictureInfo); ofdrw's sample is 40 × 40
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
    renewal_of: str | None = None  # esID of the seal this one replaces (approved by policy)
    application_id: int | None = None  # an approved application (reviewed and approved by two people)
    break_glass: str | None = None  # the reason: issued by the CLI user alone (services.counter_auth)


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


def resolve_key(req: IssueRequest, uscc: str) -> tuple[PublicKey, bytes | None, PrivateKey | None]:
    """The holder's public key of ``req`` (for the applicant ``uscc``), the CSR's DER if it came
    as one, and the private key if we generated it; a ValidationError if the key material is wrong."""
    given = [req.key.csr is not None, req.key.public_key_pem is not None, req.key.generate]
    if sum(given) != 1:
        raise ValidationError(
            M(
                "seal.give_exactly_one_certificate",
                "give exactly one of a certificate request, a public key, or generate-key",
                "请恰好给出以下一项：证书请求、公钥或生成密钥",
            )
        )
    wanted = Algorithm.parse(req.algorithm) if req.algorithm else None
    if req.key.generate:
        key = PrivateKey.generate(wanted or Algorithm.SM2)
        return key.public_key, None, key
    if req.key.csr is not None:
        try:
            csr = x509.CertificationRequest.load(req.key.csr)
        except x509.CertificateError as exc:
            raise ValidationError.carrying(exc) from None
        _check_csr_subject(csr, uscc, req.require_uscc_in_csr)
        pub, csr_der = csr.public_key, csr.der
    else:
        try:
            pub = PublicKey.from_pem(req.key.public_key_pem or b"")
        except KeyFormatError as exc:
            raise ValidationError(M("seal.public_key", "public key: {exc}", "公钥：{exc}"), exc=exc) from None
        csr_der = None
    if wanted is not None and wanted is not pub.algorithm:
        raise ValidationError(
            M(
                "seal.algorithm_was_asked_but",
                "--algorithm {wanted} was asked for but the key is {label}",
                "要求使用 --algorithm {wanted}，但密钥为 {label}",
            ),
            wanted=wanted.value,
            label=pub.algorithm.label,
        )
    return pub, csr_der, None


def _check_csr_subject(csr: x509.CertificationRequest, uscc: str, required: bool) -> None:
    named = {
        tok
        for _oid, value in csr.subject.attributes
        for tok in _USCC_TOKEN.findall(value.upper())
        if is_valid_uscc(tok)
    }
    if named and uscc not in named:
        raise ValidationError(
            M(
                "seal.certificate_request_names_uscc",
                "the certificate request names USCC {join}, not the applicant {uscc}",
                "证书请求中的统一社会信用代码为 {join}，不是申请企业的 {uscc}",
            ),
            join=", ".join(sorted(named)),
            uscc=uscc,
        )
    if required and not named:
        raise ValidationError(
            M(
                "seal.certificate_request_subject_carry",
                "the certificate request subject must carry the enterprise's USCC {uscc} (e.g. as "
                "organizationIdentifier or serialNumber)",
                "证书请求的主题必须含有企业的统一社会信用代码 {uscc}（如作为 organizationIdentifier 或 serialNumber）",
            ),
            uscc=uscc,
        )


@dataclass(frozen=True)
class Prepared:
    """A request after every check that needs no database: parsed, validated, key resolved."""

    req: IssueRequest
    uscc: str
    seal_type: SealType
    public_key: PublicKey
    csr_der: bytes | None
    generated: PrivateKey | None


def prepare(ctx: ServiceContext, req: IssueRequest, validated_pictures: dict[bytes, None]) -> Prepared:
    try:
        uscc = validate_uscc(req.uscc)
    except UsccError as exc:
        raise ValidationError(
            M("seal.uscc", "USCC {uscc}: {exc}", "统一社会信用代码 {uscc}：{exc}"), uscc=f"{req.uscc!r}", exc=exc
        ) from None
    st = SealType.parse(req.seal_type)
    if req.channel not in ("cli", "counter", "portal", "reissue", "renewal"):
        raise ValidationError(
            M("seal.unknown_channel", "unknown channel {channel}", "未知渠道 {channel}"), channel=f"{req.channel!r}"
        )
    if req.picture_png is not None and req.picture_png not in validated_pictures:
        check_picture(ctx, req.picture_png)
        validated_pictures[req.picture_png] = None  # a batch often shares one uploaded picture
    pub, csr_der, generated = resolve_key(req, uscc)
    return Prepared(req, uscc, st, pub, csr_der, generated)


MAX_BATCH = 500


def check_batch_size(reqs: list[IssueRequest]) -> None:
    """At most :data:`MAX_BATCH` seals in one issuance."""
    if len(reqs) > MAX_BATCH:
        raise ValidationError(
            M(
                "seal.most_seals_per_batch",
                "at most {max_batch} seals per batch, got {n_reqs}",
                "每批最多 {max_batch} 枚印章，实为 {n_reqs} 枚",
            ),
            max_batch=MAX_BATCH,
            n_reqs=len(reqs),
        )


def in_batch(exc: Exception, index: int, total: int) -> Exception:
    if total == 1:
        return exc
    return type(exc)(f"seal {index + 1} of {total}: {exc}")
