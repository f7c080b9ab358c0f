"""The SES data model: what a seal and a signature hold, and the limits the registry applies.

:class:`Seal` and :class:`SesSignature` are what the decoder (:mod:`.decode`) returns for every
generation (GM/T 0031-2014, GB/T 38540-2020 v4, GM/T 0031-2025 v5); :class:`SealProperty`,
:class:`SealPicture`, :class:`ExtData` and :class:`CertDigest` are what the encoder
(:mod:`.encode`) takes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from typing import Literal

from gmalglib.sm3 import SM3 as _SM3

from ...messages import Localized, M
from .. import oids
from ..x509 import Certificate, CertificateError


class SesError(Localized, ValueError):
    """An SES structure is malformed, inconsistent or unsupported; the message says what and where."""


Generation = Literal["2014", "v4", "v5"]

# GB/T 38540 SES_ESPropertyInfo.certListType
CERT_LIST_CERTIFICATES = 1  # certList holds DER certificates (CertInfoList)
CERT_LIST_DIGESTS = 2  # certList holds certificate digests (CertDigestList)

# Picture types we issue. GB/T 38540 names "GIF、BMP、JPG、PNG、SVG 等"; OFD is used for vector seal
# images (e.g. the Zhejiang tax seal in ofdrw's SignScaleError.ofd carries type "ofd").
PICTURE_TYPES = ("PNG", "JPG", "GIF", "BMP", "SVG", "OFD")
_PICTURE_MAGIC: dict[str, tuple[bytes, ...]] = {
    "PNG": (b"\x89PNG\r\n\x1a\n",),
    "JPG": (b"\xff\xd8\xff",),
    "GIF": (b"GIF87a", b"GIF89a"),
    "BMP": (b"BM",),
    "OFD": (b"PK\x03\x04",),  # GB/T 33190: an OFD package is a ZIP file
}

# esID: GB/T 38540 fixes no format ("区分电子印章的唯一标识编码"). We accept 1–64 visible ASCII
# characters (0x21–0x7E): enough for a UUID (32/36), an area+type+year+serial code (18–20), or a
# 14-digit vendor code, and short enough to be a database key and to print on a verification page.
MAX_ES_ID_LENGTH = 64
MAX_VID_LENGTH = 64
_ES_ID_RE = re.compile(rf"[\x21-\x7e]{{1,{MAX_ES_ID_LENGTH}}}")
_VID_RE = re.compile(rf"[\x20-\x7e]{{1,{MAX_VID_LENGTH}}}")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_MAX_INT32 = 2**31 - 1  # Java/C# implementations read type/width/height into 32-bit ints

_SEQ = 16  # universal tag number of SEQUENCE (identifier octet 0x30)


@dataclass(frozen=True)
class CertDigest:
    """GB/T 38540 ``CertDigestObj ::= SEQUENCE { type PrintableString, value OCTET STRING }``.

    ``type`` is vendor-defined ("自定义类型"); we write the digest algorithm name ("SM3" or "SHA256").
    """

    type: str
    value: bytes


CertListItem = bytes | CertDigest


@dataclass(frozen=True)
class SealProperty:
    """``SES_ESPropertyInfo``.

    ``cert_list`` holds DER certificates (``bytes``) when ``cert_list_type`` is 1 and
    :class:`CertDigest` objects when it is 2. A 2014 seal has no ``certListType``; decoding reports
    1 for it. Times are timezone-aware UTC datetimes (whole seconds when encoded).
    """

    type: int
    name: str
    cert_list_type: int
    cert_list: tuple[CertListItem, ...] = field(repr=False)
    create_date: dt.datetime
    valid_start: dt.datetime
    valid_end: dt.datetime

    @property
    def certificates(self) -> tuple[bytes, ...]:
        """The DER certificates of a type-1 list (empty for a digest list)."""
        return tuple(c for c in self.cert_list if isinstance(c, bytes))

    @property
    def cert_digests(self) -> tuple[CertDigest, ...]:
        """The digests of a type-2 list (empty for a certificate list)."""
        return tuple(c for c in self.cert_list if isinstance(c, CertDigest))


@dataclass(frozen=True)
class SealPicture:
    """``SES_ESPictureInfo``: image ``type`` (e.g. "PNG"), bytes, display size in millimetres."""

    type: str
    data: bytes = field(repr=False)
    width: int
    height: int


@dataclass(frozen=True)
class ExtData:
    """``ExtData ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }``."""

    oid: str
    critical: bool
    value: bytes


@dataclass(frozen=True)
class Seal:
    """A decoded ``SESeal`` of any generation.

    ``signed_bytes`` is exactly what the maker signed: for v4/v5 the raw ``SES_SealInfo`` element
    as received (GB/T 38540: signedValue covers SES_SealInfo only); for 2014 the DER
    ``SEQUENCE { SES_SealInfo, cert, signatureAlgorithm }`` assembled from the raw element encodings
    (GM/T 0031-2014 SES_SignInfo.signData; domain §1.5). ``signature`` is the BIT STRING contents as carried
    (normally GB/T 35276 DER; some producers store raw 64-byte r‖s). ``timestamp`` is the contents of
    the v5 ``timeStamp`` BIT STRING (a GB/T 20520 token over the signature value), if present.
    """

    generation: Generation
    header_id: str
    version: int
    vid: str
    es_id: str
    property: SealProperty
    picture: SealPicture
    ext_datas: tuple[ExtData, ...]
    maker_cert: bytes = field(repr=False)
    signature_algorithm: str
    signature: bytes = field(repr=False)
    signed_bytes: bytes = field(repr=False)
    timestamp: bytes | None = field(repr=False)
    raw: bytes = field(repr=False)

    def maker_certificate(self) -> Certificate:
        """The 制章者 certificate, parsed; :class:`SesError` if it is not a certificate."""
        return _load_certificate(self.maker_cert, "seal maker certificate")

    def holder_certs(self) -> tuple[Certificate, ...]:
        """The 签章者 certificates of a certificate list (certListType 1), parsed.

        Raises :class:`SesError` for a digest list (certListType 2) or an unparseable entry.
        """
        if self.property.cert_list_type != CERT_LIST_CERTIFICATES:
            raise SesError(
                M(
                    "ses.seal_certlist_has_type",
                    "seal certList has type {cert_list_type} (certificate digests), not certificates",
                    "印章的 certList 类型为 {cert_list_type}（证书摘要），不是证书",
                ),
                cert_list_type=self.property.cert_list_type,
            )
        return tuple(_load_certificate(c, f"certList entry {i}") for i, c in enumerate(self.property.certificates))

    def lists_certificate(self, cert_der: bytes) -> bool:
        """Whether ``cert_der`` is one of the seal's 签章者 certificates.

        Type 1: binary comparison (GM/T 0031-2014 §6.2.2 c). Type 2: the certificate's digest under
        each entry's named algorithm (SM3 or SHA-256; GB/T 38540 leaves ``type`` vendor-defined, so
        other names raise :class:`SesError`).
        """
        for item in self.property.cert_list:
            if isinstance(item, bytes):
                if item == cert_der:
                    return True
            elif _cert_digest(item.type, cert_der) == item.value:
                return True
        return False


@dataclass(frozen=True)
class SesSignature:
    """A decoded ``SES_Signature`` (电子签章) of any generation.

    ``signed_bytes`` is the raw ``TBS_Sign`` element as received, for all generations. In 2014 the
    signer certificate and algorithm are *inside* TBS_Sign (GM/T 0031-2014 §6.2.1); in v4/v5 they are
    outside it (GB/T 38540 SES_Signature) — either way the signature covers TBS_Sign.
    ``time_info_raw`` is the timeInfo contents: the GeneralizedTime text (v4/v5) or the 2014 BIT STRING
    contents, which may be a UTCTime text or a timestamp token; ``time_info`` is set when it is a time.
    """

    generation: Generation
    version: int
    seal: Seal
    time_info: dt.datetime | None
    time_info_raw: bytes = field(repr=False)
    data_hash: bytes = field(repr=False)
    property_info: str
    signer_cert: bytes = field(repr=False)
    signature_algorithm: str
    signature: bytes = field(repr=False)
    signed_bytes: bytes = field(repr=False)
    ext_datas: tuple[ExtData, ...]
    timestamp: bytes | None = field(repr=False)
    raw: bytes = field(repr=False)

    def signer_certificate(self) -> Certificate:
        """The 签章者 certificate, parsed; :class:`SesError` if it is not a certificate."""
        return _load_certificate(self.signer_cert, "signer certificate")


def _load_certificate(cert_der: bytes, what: str) -> Certificate:
    try:
        return Certificate.from_der(cert_der)
    except CertificateError as exc:
        raise SesError(
            M("ses.cannot_parsed", "{what} cannot be parsed: {exc}", "{what} 无法解析：{exc}"), what=what, exc=exc
        ) from None
    except (ValueError, IndexError, TypeError) as exc:
        raise SesError(
            M("ses.cannot_parsed", "{what} cannot be parsed: {exc}", "{what} 无法解析：{exc}"), what=what, exc=exc
        ) from None


def _cert_digest(kind: str, cert_der: bytes) -> bytes:
    name = kind.strip().upper().replace("-", "")
    if name in ("SM3", oids.SM3):
        h = _SM3()
        h.update(cert_der)
        return h.digest()
    if name in ("SHA256", oids.SHA256):
        return hashlib.sha256(cert_der).digest()
    raise SesError(
        M(
            "ses.certlist_digest_type_supported",
            "certList digest type {kind} is not supported (SM3 or SHA256)",
            "不支持 certList 摘要类型 {kind}（应为 SM3 或 SHA256）",
        ),
        kind=f"{kind!r}",
    )


def cert_digest(cert_der: bytes, kind: str = "SM3") -> CertDigest:
    """A :class:`CertDigest` entry for a certListType 2 list (SM3 or SHA256)."""
    return CertDigest(kind, _cert_digest(kind, cert_der))
