"""Certificate profiles: what a certificate the registry issues carries, chosen in one place.

The holder (签章者) certificate of a seal: an end-entity certificate (RFC 5280) for digital
signature and non-repudiation, its subject the enterprise (``C=CN``, ``O`` the licence name, ``CN``
the seal's name, ``organizationIdentifier`` the USCC), valid from the seal's start to its end, and
pointing its relying parties to the full CRL then the certificate's shard (design.md §5), the
delta CRLs, OCSP, the issuer's certificate and the registry's policy. :func:`holder_certificate`
checks what it is given before it signs, and raises :class:`ProfileError` (coded, bilingual).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from ..messages import Localized, M
from . import x509
from .keys import Algorithm, PrivateKey, PublicKey
from .uscc import is_valid_uscc

__all__ = ["ProfileError", "HolderPublication", "holder_certificate"]

_MAX_SERIAL = 1 << 159  # RFC 5280 §4.1.2.2: positive, at most 20 octets


class ProfileError(Localized, ValueError):
    """What was asked for does not fit the certificate profile."""


@dataclass(frozen=True)
class HolderPublication:
    """Where a holder certificate's relying parties look, the same for every certificate of one
    issuing CA and shard: the issuer's key identifier, the full CRL and the shard's CRL (in that
    order), the delta CRL, OCSP (or None), the issuer's certificate and the policy OID."""

    issuer_key_id: bytes
    crl_urls: tuple[str, str]
    delta_crl_url: str
    ocsp_url: str | None
    ca_issuers_url: str
    policy_oid: str


@functools.lru_cache(maxsize=1024)
def _fixed_extensions(pub: HolderPublication) -> tuple[bytes, bytes]:
    # Everything but the subject key identifier is the same for every holder certificate of this
    # issuer and shard: encoded once per process.
    return (
        x509.basic_constraints(False) + x509.key_usage(x509.KU_DIGITAL_SIGNATURE, x509.KU_NON_REPUDIATION),
        x509.authority_key_identifier(pub.issuer_key_id)
        # Full CRL first (verifiers that ignore partitions), then the shard fixed now (design.md §5).
        + x509.crl_distribution_points(list(pub.crl_urls))
        + x509.freshest_crl([pub.delta_crl_url])
        + x509.authority_info_access(pub.ocsp_url, pub.ca_issuers_url)
        + x509.certificate_policies(pub.policy_oid),
    )


def holder_certificate(
    *,
    serial: int,
    issuer_subject_der: bytes,
    signature_alg: Algorithm,
    signer: PrivateKey,
    publication: HolderPublication,
    organization: str,
    common_name: str,
    uscc: str,
    public_key: PublicKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> bytes:
    """The signed DER of one holder certificate (see the module's description)."""
    if not 0 < serial < _MAX_SERIAL:
        raise ProfileError(
            M(
                "profile.serial",
                "a certificate serial must be positive and at most 20 octets",
                "证书序列号须为正数且不超过 20 个八位组",
            )
        )
    if not organization.strip() or not common_name.strip():
        raise ProfileError(
            M(
                "profile.subject_empty",
                "a holder certificate names its enterprise and its seal",
                "签章者证书须写明企业名称和印章名称",
            )
        )
    if not is_valid_uscc(uscc):
        raise ProfileError(
            M(
                "profile.uscc",
                "{uscc} is not a valid USCC for a holder certificate",
                "{uscc} 不是有效的统一社会信用代码，不能写入签章者证书",
            ),
            uscc=f"{uscc!r}",
        )
    if not_before.tzinfo is None or not_after.tzinfo is None or not_after <= not_before:
        raise ProfileError(
            M(
                "profile.validity",
                "a certificate's validity needs two times with a zone, the end after the start",
                "证书有效期须为带时区的两个时间，且结束晚于开始",
            )
        )
    if len(publication.crl_urls) != 2 or not all(publication.crl_urls) or not publication.delta_crl_url:
        raise ProfileError(
            M(
                "profile.crl_urls",
                "a holder certificate points to the full CRL, its shard's CRL and the delta CRL",
                "签章者证书须指向完整 CRL、所在分区的 CRL 和增量 CRL",
            )
        )
    head, tail = _fixed_extensions(publication)
    subject = x509.Name.build(C="CN", O=organization, CN=common_name, organizationIdentifier=uscc)
    tbs = x509.build_tbs(
        serial=serial,
        signature_alg=signature_alg,
        issuer=issuer_subject_der,
        subject=subject,
        not_before=not_before,
        not_after=not_after,
        public_key=public_key,
        extensions=[head, x509.subject_key_identifier(public_key.key_identifier()), tail],
    )
    return x509.sign_tbs(tbs, signer)
