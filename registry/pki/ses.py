"""Electronic-seal data formats: GM/T 0031-2014, GB/T 38540-2020 (v4) and GM/T 0031-2025 (v5).

* **Encoding** produces GB/T 38540-2020 v4 ``SESeal`` objects — the only generation this registry
  issues. :func:`encode_seal_info` builds ``SES_SealInfo``; :func:`make_seal` signs exactly those
  bytes with the 制章者 (seal maker) key and wraps them in ``SESeal``.
* **Decoding** (:func:`parse_seal`, :func:`parse_signature`) reads all three generations, detects the
  generation by structure first (element counts, as ofdrw's ``VersionParser`` does) and only then by
  the header version, and accepts both tag variants seen in the wild for ``timeStamp`` and
  ``extDatas`` (``[0] EXPLICIT`` as ofdrw writes, untagged as Chingliu/OfdSharp do).
* **Verification** (:func:`verify_seal_signature`, :func:`verify_signature_value`) checks the
  cryptographic signature only, over the bytes *as received* (``Node.raw``), never a re-encoding.
  Certificate validity, chains and revocation are the caller's business (they need a clock and a
  trust store; this module has neither).

Every decoding failure is a :class:`SesError` (a ``ValueError``) naming the element and the byte
offset; no other exception type escapes the public functions for malformed input.

This module is pure: no I/O, no clock, no database.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar, Union

from gmalglib.sm3 import SM3 as _SM3

from ..messages import Localized, M, Message
from . import der, oids
from .keys import KeyFormatError, PublicKey, Signer, algorithm_for_signature_oid, sig_from_der, sig_to_der
from .x509 import Certificate, CertificateError

__all__ = [
    "SesError",
    "Generation",
    "CERT_LIST_CERTIFICATES",
    "CERT_LIST_DIGESTS",
    "PICTURE_TYPES",
    "MAX_ES_ID_LENGTH",
    "MAX_VID_LENGTH",
    "CertDigest",
    "CertListItem",
    "SealProperty",
    "SealPicture",
    "ExtData",
    "Seal",
    "SesSignature",
    "encode_seal_info",
    "make_seal",
    "parse_seal",
    "parse_signature",
    "verify_seal_signature",
    "verify_signature_value",
    "cert_digest",
    "make_signature",
    "document_digest",
]


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
_ES_ID_RE = re.compile(r"[\x21-\x7e]{1,%d}" % MAX_ES_ID_LENGTH)
_VID_RE = re.compile(r"[\x20-\x7e]{1,%d}" % MAX_VID_LENGTH)
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_MAX_INT32 = 2**31 - 1  # Java/C# implementations read type/width/height into 32-bit ints

_SEQ = 16  # universal tag number of SEQUENCE (identifier octet 0x30)


# ----------------------------------------------------------------------------------------------
# Data model


@dataclass(frozen=True)
class CertDigest:
    """GB/T 38540 ``CertDigestObj ::= SEQUENCE { type PrintableString, value OCTET STRING }``.

    ``type`` is vendor-defined ("自定义类型"); we write the digest algorithm name ("SM3" or "SHA256").
    """

    type: str
    value: bytes


CertListItem = Union[bytes, CertDigest]


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


# ----------------------------------------------------------------------------------------------
# Encoding (GB/T 38540-2020 v4)

_ID_ES = der.ia5("ES")  # SES_Header.ID: fixed value "ES"


def _check_time(when: object, what: str) -> dt.datetime:
    if not isinstance(when, dt.datetime):
        raise SesError(
            M("ses.datetime_got", "{what} must be a datetime, got {name}", "{what} 必须为日期时间，实为 {name}"),
            what=what,
            name=type(when).__name__,
        )
    offset = when.utcoffset()
    if offset is None:
        raise SesError(
            M(
                "ses.timezone_aware_generalizedtime_written",
                "{what} must be timezone-aware (GeneralizedTime is written in UTC)",
                "{what} 必须带时区（GeneralizedTime 以 UTC 写入）",
            ),
            what=what,
        )
    if offset:
        when = when.astimezone(dt.UTC)
    return when.replace(microsecond=0) if when.microsecond else when


def _generalized_time(t: dt.datetime) -> bytes:
    """GeneralizedTime ``YYYYMMDDHHMMSSZ`` of a UTC time (same output as ``der.generalized_time``;
    formatted directly because strftime dominated the encoding profile)."""
    return der.tlv(
        der.GENERALIZED_TIME, b"%04d%02d%02d%02d%02d%02dZ" % (t.year, t.month, t.day, t.hour, t.minute, t.second)
    )


def _check_int(value: object, what: str, low: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise SesError(
            M("ses.integer_got", "{what} must be an integer, got {name}", "{what} 必须为整数，实为 {name}"),
            what=what,
            name=type(value).__name__,
        )
    if not low <= value <= _MAX_INT32:
        raise SesError(
            M(
                "ses.between_got",
                "{what} must be between {low} and {max_int32}, got {value}",
                "{what} 必须在 {low} 与 {max_int32} 之间，实为 {value}",
            ),
            what=what,
            low=low,
            max_int32=_MAX_INT32,
            value=value,
        )
    return value


def _encode_cert_list(prop: SealProperty) -> bytes:
    if prop.cert_list_type not in (CERT_LIST_CERTIFICATES, CERT_LIST_DIGESTS):
        raise SesError(
            M(
                "ses.certlisttype_certificates_certificate_digests",
                "certListType must be 1 (certificates) or 2 (certificate digests), got {cert_list_type}",
                "certListType 必须为 1（证书）或 2（证书摘要），实为 {cert_list_type}",
            ),
            cert_list_type=f"{prop.cert_list_type!r}",
        )
    if not prop.cert_list:
        raise SesError(
            M(
                "ses.certlist_name_least_one",
                "certList must name at least one signer (签章者) certificate",
                "certList 必须至少列出一个签章者证书",
            )
        )
    items: list[bytes] = []
    if prop.cert_list_type == CERT_LIST_CERTIFICATES:
        # GB/T 38540: CertInfoList ::= SEQUENCE OF Cert; Cert ::= OCTET STRING (DER, GB/T 20518)
        for i, cert in enumerate(prop.cert_list):
            if not isinstance(cert, (bytes, bytearray)):
                raise SesError(
                    M(
                        "ses.certlist_entry_der_certificate",
                        "certList entry {i} must be DER certificate bytes for certListType 1, got {name}",
                        "certListType 为 1 时，certList 第 {i} 项必须为 DER 证书字节串，实为 {name}",
                    ),
                    i=i,
                    name=type(cert).__name__,
                )
            _check_der_sequence(bytes(cert), f"certList entry {i}")
            items.append(der.octet_string(bytes(cert)))
    else:
        # CertDigestList ::= SEQUENCE OF CertDigestObj { type PrintableString, value OCTET STRING }
        for i, digest in enumerate(prop.cert_list):
            if not isinstance(digest, CertDigest):
                raise SesError(
                    M(
                        "ses.certlist_entry_certdigest_certlisttype",
                        "certList entry {i} must be a CertDigest for certListType 2, got {name}",
                        "certListType 为 2 时，certList 第 {i} 项必须为 CertDigest，实为 {name}",
                    ),
                    i=i,
                    name=type(digest).__name__,
                )
            if not digest.type or not digest.value:
                raise SesError(
                    M(
                        "ses.certlist_entry_digest_type",
                        "certList entry {i}: digest type and value must be non-empty",
                        "certList 第 {i} 项：摘要类型和摘要值不能为空",
                    ),
                    i=i,
                )
            try:
                type_der = der.printable(digest.type)
            except ValueError:
                raise SesError(
                    M(
                        "ses.certlist_entry_digest_type_2",
                        "certList entry {i}: digest type {type} is not a PrintableString",
                        "certList 第 {i} 项：摘要类型 {type} 不是 PrintableString",
                    ),
                    i=i,
                    type=f"{digest.type!r}",
                ) from None
            items.append(der.seq(type_der, der.octet_string(bytes(digest.value))))
    if len(set(items)) != len(items):
        raise SesError(
            M("ses.certlist_lists_same_entry", "certList lists the same entry twice", "certList 重复列出同一项")
        )
    return der.seq(*items)


def _check_der_sequence(data: bytes, what: str) -> None:
    """Cheap structural check: ``data`` is exactly one DER SEQUENCE element."""
    try:
        node = der.parse(data)
    except der.DERError as exc:
        raise SesError(M("ses.der", "{what} is not DER: {exc}", "{what} 不是 DER：{exc}"), what=what, exc=exc) from None
    if not (node.is_universal(_SEQ) and node.constructed):
        raise SesError(
            M(
                "ses.der_certificate_expected_sequence",
                "{what} is not a DER certificate (expected a SEQUENCE, found {describe})",
                "{what} 不是 DER 证书（应为 SEQUENCE，实为 {describe}）",
            ),
            what=what,
            describe=node.describe(),
        )


def _check_picture(picture: SealPicture) -> None:
    if picture.type not in PICTURE_TYPES:
        raise SesError(
            M(
                "ses.picture_type_one_got",
                "picture type must be one of {join}, got {type}",
                "印模类型必须是 {join} 之一，实为 {type}",
            ),
            join=", ".join(PICTURE_TYPES),
            type=f"{picture.type!r}",
        )
    data = picture.data
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise SesError(
            M("ses.picture_data_non_empty", "picture data must be non-empty bytes", "印模数据必须为非空字节串")
        )
    if picture.type == "SVG":
        head = bytes(data[:4096]).lstrip(b"\xef\xbb\xbf \t\r\n")
        if not head.startswith(b"<") or b"<svg" not in head:
            raise SesError(
                M(
                    "ses.picture_data_does_look",
                    "picture data does not look like an SVG document (no <svg element at the start)",
                    "印模数据不像 SVG 文档（开头没有 <svg 元素）",
                )
            )
    elif not bytes(data[:8]).startswith(_PICTURE_MAGIC[picture.type]):
        raise SesError(
            M(
                "ses.picture_data_does_start",
                "picture data does not start with the {type} file signature",
                "印模数据的开头不是 {type} 文件签名",
            ),
            type=picture.type,
        )
    _check_int(picture.width, "picture width (mm)")
    _check_int(picture.height, "picture height (mm)")


def _encode_ext_datas(ext_datas: Sequence[ExtData]) -> bytes:
    encoded: list[bytes] = []
    seen: set[str] = set()
    for i, ext in enumerate(ext_datas):
        if not isinstance(ext, ExtData):
            raise SesError(
                M(
                    "ses.extdatas_entry_extdata_got",
                    "extDatas entry {i} must be an ExtData, got {name}",
                    "extDatas 第 {i} 项必须为 ExtData，实为 {name}",
                ),
                i=i,
                name=type(ext).__name__,
            )
        if ext.oid in seen:
            raise SesError(
                M("ses.extdatas_lists_twice", "extDatas lists {oid} twice", "extDatas 两次列出 {oid}"), oid=ext.oid
            )
        seen.add(ext.oid)
        try:
            oid_der = der.oid(ext.oid)
        except (ValueError, AttributeError):
            raise SesError(
                M(
                    "ses.extdatas_entry_object_identifier",
                    "extDatas entry {i}: {oid} is not an object identifier",
                    "extDatas 第 {i} 项：{oid} 不是对象标识符",
                ),
                i=i,
                oid=f"{ext.oid!r}",
            ) from None
        if not isinstance(ext.value, (bytes, bytearray)):
            raise SesError(
                M(
                    "ses.extdatas_entry_value_bytes",
                    "extDatas entry {i} ({oid}): value must be bytes",
                    "extDatas 第 {i} 项（{oid}）：值必须为字节串",
                ),
                i=i,
                oid=ext.oid,
            )
        if ext.critical:  # critical BOOLEAN DEFAULT FALSE: DER omits the default (X.690 §11.5)
            encoded.append(der.seq(oid_der, der.boolean(True), der.octet_string(bytes(ext.value))))
        else:
            encoded.append(der.seq(oid_der, der.octet_string(bytes(ext.value))))
    # GB/T 38540 ExtensionDatas ::= SEQUENCE SIZE (0..MAX) OF ExtData, untagged as ofdrw and
    # Chingliu encode it. An empty list is omitted altogether (the field is OPTIONAL).
    return der.seq(*encoded)


def encode_seal_info(
    *,
    es_id: str,
    vid: str,
    prop: SealProperty,
    picture: SealPicture,
    ext_datas: Sequence[ExtData] = (),
    version: int = 4,
) -> bytes:
    """DER ``SES_SealInfo`` in the GB/T 38540-2020 (v4) layout — the bytes the maker signs.

    Contract:
      * ``es_id``: 1–64 visible ASCII characters (IA5String, see :data:`MAX_ES_ID_LENGTH`);
      * ``vid``: 1–64 printable ASCII characters (spaces allowed);
      * ``prop``: positive ``type``; non-empty ``name`` without control characters;
        ``cert_list_type`` 1 with DER certificates or 2 with :class:`CertDigest` entries; a non-empty
        list without duplicates; timezone-aware times with ``valid_end`` after ``valid_start``
        (compared at whole seconds, the GeneralizedTime precision written);
      * ``picture``: type in :data:`PICTURE_TYPES` and data starting with that format's signature;
        positive width and height in millimetres;
      * ``ext_datas``: distinct OIDs; written untagged, ``critical`` only when true;
      * ``version``: 4 (GB/T 38540), or 5 (GM/T 0031-2025 keeps this layout and changes the number).

    Violations raise :class:`SesError`. Times are written as GeneralizedTime in UTC, whole seconds.
    """
    if version not in (4, 5):
        raise SesError(
            M(
                "ses.ses_header_version_gb",
                "SES_Header.version must be 4 (GB/T 38540) or 5 (GM/T 0031-2025), got {version}",
                "SES_Header.version 必须为 4（GB/T 38540）或 5（GM/T 0031-2025），实为 {version}",
            ),
            version=f"{version!r}",
        )
    if not isinstance(es_id, str) or not _ES_ID_RE.fullmatch(es_id):
        raise SesError(
            M(
                "ses.esid_visible_ascii_characters",
                "esID must be 1–{max_es_id_length} visible ASCII characters (no spaces), got {es_id}",
                "esID 必须为 1–{max_es_id_length} 个可见 ASCII 字符（不含空格），实为 {es_id}",
            ),
            max_es_id_length=MAX_ES_ID_LENGTH,
            es_id=f"{es_id!r}",
        )
    if not isinstance(vid, str) or not _VID_RE.fullmatch(vid) or not vid.strip():
        raise SesError(
            M(
                "ses.vid_printable_ascii_characters",
                "Vid must be 1–{max_vid_length} printable ASCII characters, got {vid}",
                "Vid 必须为 1–{max_vid_length} 个可打印 ASCII 字符，实为 {vid}",
            ),
            max_vid_length=MAX_VID_LENGTH,
            vid=f"{vid!r}",
        )
    if not isinstance(prop, SealProperty):
        raise SesError(M("ses.prop_sealproperty", "prop must be a SealProperty", "prop 必须为 SealProperty"))
    if not isinstance(picture, SealPicture):
        raise SesError(M("ses.picture_sealpicture", "picture must be a SealPicture", "picture 必须为 SealPicture"))
    _check_int(prop.type, "seal type")
    if not isinstance(prop.name, str) or not prop.name.strip():
        raise SesError(M("ses.seal_name_non_empty", "seal name must be a non-empty string", "印章名称必须为非空字符串"))
    if _CONTROL_RE.search(prop.name):
        raise SesError(
            M(
                "ses.seal_name_contains_control",
                "seal name contains control characters: {prop}",
                "印章名称含有控制字符：{prop}",
            ),
            prop=f"{prop.name!r}",
        )
    created = _check_time(prop.create_date, "createDate")
    start = _check_time(prop.valid_start, "validStart")
    end = _check_time(prop.valid_end, "validEnd")
    if end <= start:
        raise SesError(
            M(
                "ses.validend_z_after_validstart",
                "validEnd ({end}Z) must be after validStart ({start}Z)",
                "validEnd（{end}Z）必须晚于 validStart（{start}Z）",
            ),
            end=f"{end:%Y-%m-%d %H:%M:%S}",
            start=f"{start:%Y-%m-%d %H:%M:%S}",
        )
    _check_picture(picture)

    header = der.seq(_ID_ES, der.integer(version), der.ia5(vid))
    # GB/T 38540 SES_ESPropertyInfo: type, name, certListType, certList, then GeneralizedTime dates
    property_der = der.seq(
        der.integer(prop.type),
        der.utf8(prop.name),
        der.integer(prop.cert_list_type),
        _encode_cert_list(prop),
        _generalized_time(created),
        _generalized_time(start),
        _generalized_time(end),
    )
    picture_der = der.seq(
        der.ia5(picture.type),
        der.octet_string(bytes(picture.data)),
        der.integer(picture.width),
        der.integer(picture.height),
    )
    parts = [header, der.ia5(es_id), property_der, picture_der]
    if ext_datas:
        parts.append(_encode_ext_datas(ext_datas))
    return der.seq(*parts)


# SES_Header content prefix: ID IA5String "ES", version INTEGER 4 or 5 (the Vid follows)
_HEADER_PREFIXES = (b"\x16\x02ES\x02\x01\x04", b"\x16\x02ES\x02\x01\x05")


@functools.lru_cache(maxsize=32)
def _maker_key(maker_cert: bytes) -> PublicKey:
    """Public key of a maker certificate, cached: a registry signs thousands of seals with one cert.

    Also refuses a certificate whose keyUsage forbids signing (GM/T 0031-2014 §6.1.2 c checks
    "密钥用法是否正确", so such a seal would be rejected by every verifier)."""
    cert = _load_certificate(maker_cert, "seal maker certificate")
    try:
        usage = cert.key_usage
        key = cert.public_key
    except (CertificateError, der.DERError, IndexError) as exc:
        raise SesError(
            M("ses.seal_maker_certificate", "seal maker certificate: {exc}", "制章者证书：{exc}"), exc=exc
        ) from None
    if usage and not usage & {"digitalSignature", "nonRepudiation"}:
        raise SesError(
            M(
                "ses.seal_maker_certificate_keyusage",
                "seal maker certificate keyUsage allows neither digitalSignature nor nonRepudiation ({join})",
                "制章者证书的 keyUsage 既不允许 digitalSignature 也不允许 nonRepudiation（{join}）",
            ),
            join=", ".join(sorted(usage)),
        )
    return key


def make_seal(seal_info: bytes, maker_cert: bytes, signer: Signer) -> bytes:
    """DER v4 ``SESeal ::= SEQUENCE { eSealInfo, cert OCTET STRING, signAlgID OID, signedValue BIT STRING }``.

    ``signedValue = signer.sign(seal_info)`` over the ``SES_SealInfo`` bytes only (GB/T 38540; the
    2014 triple {info, cert, alg} must NOT be signed for v4 — domain §1.5). ``seal_info`` is embedded
    byte-for-byte. ``signer`` must hold the private key of ``maker_cert`` (checked against the
    certificate's public key) and the certificate must permit signing. The signature is stored as
    GB/T 35276 DER ``SEQUENCE { r, s }``; a signer returning raw 64-byte r‖s is converted.
    Raises :class:`SesError` on any inconsistency.
    """
    if not isinstance(seal_info, (bytes, bytearray)) or not isinstance(maker_cert, (bytes, bytearray)):
        raise SesError(
            M(
                "ses.seal_info_maker_cert",
                "seal_info and maker_cert must be bytes",
                "seal_info 和 maker_cert 必须为字节串",
            )
        )
    seal_info, maker_cert = bytes(seal_info), bytes(maker_cert)
    # Cheap shape check: one SEQUENCE whose first element is SES_Header { "ES", 4|5, Vid }.
    try:
        top = der.parse(seal_info)
    except der.DERError as exc:
        raise SesError(
            M(
                "ses.seal_info_der_ses",
                "seal_info is not a DER SES_SealInfo: {exc}",
                "seal_info 不是 DER 编码的 SES_SealInfo：{exc}",
            ),
            exc=exc,
        ) from None
    h = top.header_len
    if not (
        top.is_universal(_SEQ)
        and top.constructed
        and seal_info[h : h + 1] == b"\x30"
        and seal_info[h + 2 : h + 9] in _HEADER_PREFIXES
    ):
        raise SesError(
            M(
                "ses.seal_info_v4_v5",
                'seal_info is not a v4/v5 SES_SealInfo (expected SEQUENCE {{ SES_Header {{ "ES", 4, Vid '
                "}}, ... }}); build it with encode_seal_info",
                'seal_info 不是 v4/v5 的 SES_SealInfo（应为 SEQUENCE {{ SES_Header {{ "ES", 4, Vid }}, ... }}）；请用 encode_seal_info 生成',
            )
        )
    key = _maker_key(maker_cert)
    try:
        alg = signer.algorithm
        signer_point = signer.public_key.point
    except AttributeError:
        raise SesError(
            M(
                "ses.signer_provide_algorithm_public",
                "signer must provide .algorithm and .public_key",
                "签名者必须提供 .algorithm 和 .public_key",
            )
        ) from None
    if key.algorithm is not alg or key.point != signer_point:
        raise SesError(
            M(
                "ses.signer_s_key_does",
                "signer's key does not match the seal maker certificate's public key",
                "签名者的密钥与制章者证书的公钥不符",
            )
        )
    signature = _normalise_signature(signer.sign(seal_info))
    return der.seq(seal_info, der.octet_string(maker_cert), der.oid(alg.signature_oid), der.bit_string(signature))


def document_digest(algorithm_oid: str, data: bytes) -> bytes:
    """The ``dataHash`` of ``data`` for a signature made with ``algorithm_oid``: SM3 for
    SM2-with-SM3, SHA-256 for ECDSA-with-SHA256 (GM/T 0031-2014 §6.2.1: the digest follows the
    signature algorithm)."""
    try:
        alg = algorithm_for_signature_oid(algorithm_oid)
    except KeyFormatError:
        raise SesError(
            M(
                "ses.signature_algorithm_supported",
                "signature algorithm {algorithm_oid} is not supported",
                "不支持签名算法 {algorithm_oid}",
            ),
            algorithm_oid=algorithm_oid,
        ) from None
    if alg.signature_oid == oids.SM2_WITH_SM3:
        h = _SM3()
        h.update(data)
        return h.digest()
    return hashlib.sha256(data).digest()


def make_signature(
    *, seal: bytes, signer_cert: bytes, signer: Signer, data_hash: bytes, property_info: str, signing_time: dt.datetime
) -> bytes:
    """DER v4 ``SES_Signature ::= SEQUENCE { toSign TBS_Sign, cert OCTET STRING, signatureAlgID OID,
    signature BIT STRING }`` with ``TBS_Sign ::= SEQUENCE { version 4, eseal SESeal, timeInfo
    GeneralizedTime, dataHash BIT STRING, propertyInfo IA5String }`` (GB/T 38540; domain §1.3).

    ``seal`` is embedded byte-for-byte; ``signer`` must hold the key of ``signer_cert`` and the
    certificate must be one the seal lists. Checks only consistency; whether the seal and the
    certificate may be used (validity, revocation) is the caller's business.
    """
    try:
        parsed = parse_seal(bytes(seal))
    except SesError as exc:
        raise SesError(
            M("ses.seal_cannot_used", "the seal cannot be used: {exc}", "此印章不能使用：{exc}"), exc=exc
        ) from None
    cert = _load_certificate(bytes(signer_cert), "signer certificate")
    try:
        alg = signer.algorithm
        point = signer.public_key.point
    except AttributeError:
        raise SesError(
            M(
                "ses.signer_provide_algorithm_public",
                "signer must provide .algorithm and .public_key",
                "签名者必须提供 .algorithm 和 .public_key",
            )
        ) from None
    try:
        cert_key = cert.public_key
    except CertificateError as exc:
        raise SesError(M("ses.signer_certificate", "signer certificate: {exc}", "签章者证书：{exc}"), exc=exc) from None
    if cert_key.algorithm is not alg or cert_key.point != point:
        raise SesError(
            M(
                "ses.private_key_does_belong",
                "the private key does not belong to the signer certificate",
                "私钥不属于签章者证书",
            )
        )
    if not parsed.lists_certificate(cert.der):
        raise SesError(
            M(
                "ses.signer_certificate_one_seal",
                "the signer certificate is not one of the seal's certificates (certList)",
                "签章者证书不在印章的证书列表（certList）中",
            )
        )
    if not isinstance(data_hash, bytes) or len(data_hash) != 32:
        raise SesError(
            M(
                "ses.datahash_byte_sm3_sha",
                "dataHash must be a 32-byte SM3 or SHA-256 digest",
                "dataHash 必须为 32 字节的 SM3 或 SHA-256 摘要",
            )
        )
    if (
        not isinstance(property_info, str)
        or not property_info
        or not property_info.isascii()
        or _CONTROL_RE.search(property_info)
    ):
        raise SesError(
            M(
                "ses.propertyinfo_non_empty_printable",
                "propertyInfo must be non-empty printable ASCII (an IA5String)",
                "propertyInfo 必须为非空的可打印 ASCII（IA5String）",
            )
        )
    when = _check_time(signing_time, "signing time")
    tbs = der.seq(
        der.integer(4), parsed.raw, _generalized_time(when), der.bit_string(data_hash), der.ia5(property_info)
    )
    signature = _normalise_signature(signer.sign(tbs))
    return der.seq(tbs, der.octet_string(cert.der), der.oid(alg.signature_oid), der.bit_string(signature))


def _normalise_signature(sig: bytes) -> bytes:
    """GB/T 35276 DER ``SEQUENCE { r, s }`` as stored; raw 64-byte r‖s is converted (domain §1.6)."""
    if not isinstance(sig, (bytes, bytearray)):
        raise SesError(
            M(
                "ses.signer_returned_non_bytes",
                "signer returned a non-bytes signature value",
                "签名者返回的签名值不是字节串",
            )
        )
    sig = bytes(sig)
    # an SM2/P-256 DER signature is 8–72 bytes with a one-byte length: the SEQUENCE header suffices,
    # except for a 64-byte value, which may also be raw r‖s that happens to start 30 3E
    if len(sig) >= 8 and sig[0] == 0x30 and sig[1] == len(sig) - 2:
        if len(sig) != 64:
            return sig
        try:
            sig_from_der(sig)
            return sig
        except KeyFormatError:
            pass
    if len(sig) == 64:
        return sig_to_der(sig)
    raise SesError(
        M(
            "ses.signer_returned_malformed_signature",
            "signer returned a malformed signature value ({n_sig} bytes)",
            "签名者返回的签名值格式错误（{n_sig} 字节）",
        ),
        n_sig=len(sig),
    )


# ----------------------------------------------------------------------------------------------
# Decoding helpers: each names the element and its offset in the input
#
# The decoder walks the input once, element headers only: an element is the tuple
# ``(key, start, content_start, end)`` of absolute positions in the whole input, and its bytes are
# sliced only where a field keeps them. ``key`` is the identifier octet with the tag number
# normalised (class and constructed bits | number; numbers of 31 and more as number << 8), so
# ``key == 0x30`` is "universal, constructed, SEQUENCE" even for a high-number-form identifier, as
# der.Node's is_universal/constructed would say. A :class:`der.Node` is built only to word an error,
# so every message (and which error comes first) is the one the node-by-node decoder gave.

_El = tuple[int, int, int, int]

_SEAL_CACHE_SIZE = 256
_parsed_seals: dict[bytes, Seal] = {}  # exact SESeal bytes -> the Seal decoded from them


def _hdr(data: bytes, pos: int, end: int, base: int) -> _El:
    """The element whose identifier is at ``pos`` (``pos < end``). Short and 1–4 octet lengths with
    low tag numbers are read here; anything else (and every error) goes to :func:`der._read_header`
    over the bytes from ``base``, the enclosing element's start, so its offsets read as before."""
    first = data[pos]
    if first & 0x1F != 0x1F and pos + 1 < end:
        lb = data[pos + 1]
        if lb < 0x80:
            c = pos + 2
            e = c + lb
            if e <= end:
                return first, pos, c, e
        elif 0x81 <= lb <= 0x84:
            c = pos + 2 + (lb & 0x7F)
            if c <= end:
                e = c + int.from_bytes(data[pos + 2 : c], "big")
                if e <= end:
                    return first, pos, c, e
    _cls, _cons, number, hl, ln = der._read_header(memoryview(data)[base:], pos - base, end - base)
    key = (first & 0xE0) | (number if number < 0x1F else number << 8)
    return key, pos, pos + hl, pos + hl + ln


def _kids(data: bytes, el: _El) -> list[_El]:
    """The elements inside a constructed element (der.Node.children)."""
    start, pos, end = el[1], el[2], el[3]
    out = []
    while pos < end:
        kid = _hdr(data, pos, end, start)
        out.append(kid)
        pos = kid[3]
    return out


def _node(data: bytes, el: _El) -> der.Node:
    cls, cons, number, hl, ln = der._read_header(data, el[1], el[3])
    return der.Node(cls, cons, number, bytes(data[el[1] : el[3]]), hl, el[1])


def _where(node: der.Node, what: str) -> Message:
    """Where a structure went wrong, in both languages (a value of the messages below)."""
    return Message("ses.where", f"{what} at offset {node.offset}", f"{what}（偏移 {node.offset}）")


def _children(data: bytes, el: _El, what: str, low: int, high: int, kids: list[_El] | None = None) -> list[_El]:
    if el[0] != 0x30:
        node = _node(data, el)
        raise SesError(
            M(
                "ses.expected_sequence_found",
                "{where}: expected SEQUENCE, found {describe}",
                "{where}：应为 SEQUENCE，实为 {describe}",
            ),
            where=_where(node, what),
            describe=node.describe(),
        )
    if kids is None:
        kids = _kids(data, el)
    if not low <= len(kids) <= high:
        want = str(low) if low == high else f"{low}–{high}"
        raise SesError(
            M(
                "ses.expected_elements_found",
                "{where}: expected {want} elements, found {n_kids}",
                "{where}：应有 {want} 个元素，实有 {n_kids} 个",
            ),
            where=_where(_node(data, el), what),
            want=want,
            n_kids=len(kids),
        )
    return kids


def _int(data: bytes, el: _El, what: str) -> int:
    if el[0] != der.INTEGER or el[2] == el[3]:
        node = _node(data, el)
        raise SesError(
            M(
                "ses.expected_integer_found",
                "{where}: expected INTEGER, found {describe}",
                "{where}：应为 INTEGER，实为 {describe}",
            ),
            where=_where(node, what),
            describe=node.describe(),
        )
    return int.from_bytes(data[el[2] : el[3]], "big", signed=True)


def _text(data: bytes, el: _El, what: str) -> str:
    number = el[0] & 0xDF  # universal class and the tag number, primitive or constructed
    c = data[el[2] : el[3]]
    try:
        if number == der.UTF8_STRING:
            return c.decode("utf-8")
        if number in (der.PRINTABLE_STRING, der.IA5_STRING, 0x1A, 0x12):
            return c.decode("ascii")
        if number == der.T61_STRING:
            return c.decode("latin-1")
        if number == der.BMP_STRING:
            return c.decode("utf-16-be")
    except UnicodeDecodeError:
        pass
    node = _node(data, el)
    raise SesError(
        M(
            "ses.expected_character_string_found",
            "{where}: expected a character string, found {describe}",
            "{where}：应为字符串，实为 {describe}",
        ),
        where=_where(node, what),
        describe=node.describe(),
    ) from None


def _octets(data: bytes, el: _El, what: str) -> bytes:
    if el[0] != der.OCTET_STRING:
        node = _node(data, el)
        raise SesError(
            M(
                "ses.expected_octet_string_found",
                "{where}: expected OCTET STRING, found {describe}",
                "{where}：应为 OCTET STRING，实为 {describe}",
            ),
            where=_where(node, what),
            describe=node.describe(),
        )
    return data[el[2] : el[3]]


def _bits(data: bytes, el: _El, what: str) -> bytes:
    if el[0] != der.BIT_STRING or el[2] == el[3]:
        node = _node(data, el)
        raise SesError(
            M(
                "ses.expected_bit_string_found",
                "{where}: expected BIT STRING, found {describe}",
                "{where}：应为 BIT STRING，实为 {describe}",
            ),
            where=_where(node, what),
            describe=node.describe(),
        )
    unused = data[el[2]]
    if unused > 7:
        raise SesError(
            M(
                "ses.bit_string_declares_unused",
                "{where}: BIT STRING declares {unused} unused bits",
                "{where}：BIT STRING 声明了 {unused} 个未用位",
            ),
            where=_where(_node(data, el), what),
            unused=unused,
        )
    return data[el[2] + 1 : el[3]]


_OID_TEXT: dict[bytes, str] = {}  # OID contents -> dotted text (a handful of algorithm OIDs)


def _oid(data: bytes, el: _El, what: str) -> str:
    if el[0] != der.OID:
        node = _node(data, el)
        raise SesError(
            M(
                "ses.expected_object_identifier_found",
                "{where}: expected OBJECT IDENTIFIER, found {describe}",
                "{where}：应为 OBJECT IDENTIFIER，实为 {describe}",
            ),
            where=_where(node, what),
            describe=node.describe(),
        )
    content = data[el[2] : el[3]]
    text = _OID_TEXT.get(content)
    if text is None:
        text = _node(data, el).as_oid()  # raises DERError for an empty or truncated identifier
        if len(_OID_TEXT) >= 256:
            _OID_TEXT.clear()
        _OID_TEXT[content] = text
    return text


def _time(data: bytes, el: _El, what: str) -> dt.datetime:
    number = el[0] & 0xDF
    if number != der.UTC_TIME and number != der.GENERALIZED_TIME:
        node = _node(data, el)
        raise SesError(
            M(
                "ses.expected_time_found",
                "{where}: expected a time, found {describe}",
                "{where}：应为时间，实为 {describe}",
            ),
            where=_where(node, what),
            describe=node.describe(),
        )
    t = der.time_value(number, data[el[2] : el[3]])
    if t is not None:
        return t
    try:
        return _node(data, el).as_time()
    except der.DERError as exc:
        raise SesError(M("ses.bad_time", "{what}: {exc}", "{what}：时间无效：{exc}"), what=what, exc=exc) from None


_TIME_TEXT_RE = re.compile(rb"(\d{12}|\d{14})(\.\d{1,6})?Z")


def _time_from_text(text: bytes) -> dt.datetime | None:
    """UTCTime (12 digits) or GeneralizedTime (14 digits) text with a trailing Z, else None."""
    m = _TIME_TEXT_RE.fullmatch(text)
    if m is None:
        return None
    digits, frac = m.group(1).decode(), (m.group(2) or b"").decode()
    try:
        if len(digits) == 12:
            t = dt.datetime.strptime(digits, "%y%m%d%H%M%S")
            if t.year >= 2050:  # X.509 convention (RFC 5280 §4.1.2.5.1)
                t = t.replace(year=t.year - 100)
        else:
            t = dt.datetime.strptime(digits, "%Y%m%d%H%M%S")
    except ValueError:
        return None
    if frac:
        t = t.replace(microsecond=int(frac[1:].ljust(6, "0")))
    return t.replace(tzinfo=dt.UTC)


def _tagged_bit_string(data: bytes, el: _El, what: str) -> bytes:
    """``timeStamp``: ``[0] EXPLICIT BIT STRING`` (ofdrw), ``[0] IMPLICIT`` or untagged (OfdSharp)."""
    if el[0] & 0xDF == 0x80:  # [0], constructed or not
        if el[0] & 0x20:
            kids = _kids(data, el)
            if len(kids) != 1:
                raise SesError(
                    M(
                        "ses.wrap_exactly_one_bit",
                        "{where}: [0] must wrap exactly one BIT STRING",
                        "{where}：[0] 必须恰好包含一个 BIT STRING",
                    ),
                    where=_where(_node(data, el), what),
                )
            return _bits(data, kids[0], what)
        if el[2] == el[3] or data[el[2]] > 7:
            raise SesError(
                M(
                    "ses.malformed_implicit_bit_string",
                    "{where}: malformed [0] IMPLICIT BIT STRING",
                    "{where}：[0] IMPLICIT BIT STRING 格式错误",
                ),
                where=_where(_node(data, el), what),
            )
        return data[el[2] + 1 : el[3]]
    return _bits(data, el, what)


def _ext_datas(data: bytes, el: _El, what: str) -> tuple[ExtData, ...]:
    """``ExtensionDatas``: untagged SEQUENCE OF ExtData, ``[0] EXPLICIT`` or ``[0] IMPLICIT``."""
    if el[0] == 0xA0:
        kids = _kids(data, el)
        # EXPLICIT wraps one SEQUENCE OF (whose elements are SEQUENCEs or which is empty);
        # IMPLICIT holds the ExtData SEQUENCEs directly (each starting with an OID).
        if len(kids) == 1 and kids[0][0] == 0x30:
            inner = _kids(data, kids[0])
            if not inner or inner[0][0] & 0xDF == _SEQ:
                kids = inner
        items = kids
    elif el[0] == 0x30:
        items = _kids(data, el)
    else:
        node = _node(data, el)
        raise SesError(
            M(
                "ses.expected_extensiondatas_found",
                "{where}: expected ExtensionDatas, found {describe}",
                "{where}：应为 ExtensionDatas，实为 {describe}",
            ),
            where=_where(node, what),
            describe=node.describe(),
        )
    out = []
    for i, item in enumerate(items):
        parts = _children(data, item, f"{what}[{i}]", 2, 3)
        ext_oid = _oid(data, parts[0], f"{what}[{i}].extnID")
        critical = False
        if len(parts) == 3:
            # DEFAULT FALSE should be omitted in DER; SESealData.DER writes it anyway — tolerated.
            flag = parts[1]
            if flag[0] & 0xDF != der.BOOLEAN or flag[3] - flag[2] != 1:
                node = _node(data, flag)
                raise SesError(
                    M(
                        "ses.expected_boolean_found",
                        "{where}: expected BOOLEAN, found {describe}",
                        "{where}：应为 BOOLEAN，实为 {describe}",
                    ),
                    where=_where(node, f"{what}[{i}].critical"),
                    describe=node.describe(),
                )
            critical = data[flag[2]] != 0
        out.append(ExtData(ext_oid, critical, _octets(data, parts[-1], f"{what}[{i}].extnValue")))
    return tuple(out)


def _cert_list(data: bytes, el: _El, list_type: int, what: str) -> tuple[CertListItem, ...]:
    if el[0] != 0x30:
        node = _node(data, el)
        raise SesError(
            M(
                "ses.expected_sequence_found_2",
                "{where}: expected SEQUENCE OF, found {describe}",
                "{where}：应为 SEQUENCE OF，实为 {describe}",
            ),
            where=_where(node, what),
            describe=node.describe(),
        )
    out: list[CertListItem] = []
    for i, item in enumerate(_kids(data, el)):
        if list_type == CERT_LIST_CERTIFICATES:
            out.append(_octets(data, item, f"{what}[{i}] (certListType 1: certificate)"))
        elif list_type == CERT_LIST_DIGESTS:
            label = f"{what}[{i}]"
            kind, value = _children(data, item, f"{label} (certListType 2: CertDigestObj)", 2, 2)
            out.append(CertDigest(_text(data, kind, f"{label}.type"), _octets(data, value, f"{label}.value")))
        else:
            raise SesError(
                M(
                    "ses.unknown_certlisttype",
                    "{where}: unknown certListType {list_type}",
                    "{where}：未知的 certListType {list_type}",
                ),
                where=_where(_node(data, el), what),
                list_type=list_type,
            )
    return tuple(out)


def _property(data: bytes, el: _El) -> SealProperty:
    what = "SES_ESPropertyInfo"
    kids = _children(data, el, what, 6, 7)
    type_ = _int(data, kids[0], f"{what}.type")
    name = _text(data, kids[1], f"{what}.name")
    if len(kids) == 7:  # GB/T 38540: certListType INTEGER precedes certList
        list_type = _int(data, kids[2], f"{what}.certListType")
        rest = kids[3:]
    else:  # GM/T 0031-2014: certList SEQUENCE OF cert, no type (certificates)
        list_type = CERT_LIST_CERTIFICATES
        rest = kids[2:]
    certs = _cert_list(data, rest[0], list_type, f"{what}.certList")
    return SealProperty(
        type=type_,
        name=name,
        cert_list_type=list_type,
        cert_list=certs,
        create_date=_time(data, rest[1], f"{what}.createDate"),
        valid_start=_time(data, rest[2], f"{what}.validStart"),
        valid_end=_time(data, rest[3], f"{what}.validEnd"),
    )


def _picture(data: bytes, el: _El) -> SealPicture:
    what = "SES_ESPictureInfo"
    kids = _children(data, el, what, 4, 4)
    return SealPicture(
        type=_text(data, kids[0], f"{what}.type"),
        data=_octets(data, kids[1], f"{what}.data"),
        width=_int(data, kids[2], f"{what}.width"),
        height=_int(data, kids[3], f"{what}.height"),
    )


@dataclass(frozen=True)
class _SealInfo:
    header_id: str
    version: int
    vid: str
    es_id: str
    prop: SealProperty
    picture: SealPicture
    ext_datas: tuple[ExtData, ...]


def _seal_info(data: bytes, el: _El, kids: list[_El] | None = None) -> _SealInfo:
    kids = _children(data, el, "SES_SealInfo", 4, 5, kids)
    header = _children(data, kids[0], "SES_Header", 3, 3)
    ext = _ext_datas(data, kids[4], "SES_SealInfo.extDatas") if len(kids) == 5 else ()
    return _SealInfo(
        header_id=_text(data, header[0], "SES_Header.ID"),
        version=_int(data, header[1], "SES_Header.version"),
        vid=_text(data, header[2], "SES_Header.Vid"),
        es_id=_text(data, kids[1], "SES_SealInfo.esID"),
        prop=_property(data, kids[2]),
        picture=_picture(data, kids[3]),
        ext_datas=ext,
    )


def _first_grandchild_tag(data: bytes, el: _El) -> tuple[int | None, list[_El] | None, list[_El] | None]:
    """Identifier octet of the first element inside the first element of ``el`` (for shape hints),
    with the children of ``el`` and of its first element when they were read."""
    if not el[0] & 0x20:
        return None, None, None
    kids = _kids(data, el)
    if not kids or not kids[0][0] & 0x20:
        return None, kids, None
    inner = _kids(data, kids[0])
    return (data[inner[0][1]] if inner else None), kids, inner


def _seal_from_node(data: bytes, el: _El) -> Seal:
    raw = data[el[1] : el[3]]
    seal = _parsed_seals.get(raw)
    if seal is not None:
        return seal
    tag, kids, inner = _first_grandchild_tag(data, el)
    if tag == 0x02:  # TBS_Sign starts with version INTEGER; SES_SealInfo does not
        raise SesError(
            M(
                "ses.this_looks_like_ses",
                "{where}: this looks like an SES_Signature (电子签章: its first element starts with an "
                "INTEGER version), not an SESeal; use parse_signature",
                "{where}：这像是电子签章（SES_Signature：第一个元素以 INTEGER 版本号开头），不是电子印章（SESeal）；请用 parse_signature",
            ),
            where=_where(_node(data, el), "SESeal"),
        )
    kids = _children(data, el, "SESeal", 2, 5, kids)
    if len(kids) == 3:
        raise SesError(
            M(
                "ses.elements_neither_gm_t",
                "{where}: 3 elements is neither GM/T 0031-2014 (2) nor GB/T 38540/GM/T 0031-2025 (4–5)",
                "{where}：3 个元素既不符合 GM/T 0031-2014（2 个），也不符合 GB/T 38540/GM/T 0031-2025（4–5 个）",
            ),
            where=_where(_node(data, el), "SESeal"),
        )
    info = _seal_info(data, kids[0], inner)
    timestamp = None
    info_raw = data[kids[0][1] : kids[0][3]]
    if len(kids) == 2:
        # GM/T 0031-2014: SESeal { esealInfo, signInfo { cert, signatureAlgorithm, signData } }
        generation: Generation = "2014"
        cert_el, alg_el, sig_el = _children(data, kids[1], "SES_SignInfo", 3, 3)
        # GM/T 0031-2014 SES_SignInfo.signData: the maker signs SEQUENCE { SES_SealInfo, cert,
        # signatureAlgorithm } ("按 SEQUENCE 方式组成的信息内容"; domain §1.5, verified on UserV1.esl)
        signed = der.seq(info_raw, data[cert_el[1] : cert_el[3]], data[alg_el[1] : alg_el[3]])
    else:
        # GB/T 38540 SESeal { eSealInfo, cert, signAlgID, signedValue } (+ GM/T 0031-2025
        # [0] timeStamp): signedValue covers SES_SealInfo only (domain §1.5, verified on UserV4.esl).
        cert_el, alg_el, sig_el = kids[1], kids[2], kids[3]
        generation = "v5" if len(kids) == 5 or info.version == 5 else "v4"
        if len(kids) == 5:
            timestamp = _tagged_bit_string(data, kids[4], "SESeal.timeStamp")
        signed = info_raw
    seal = Seal(
        generation=generation,
        header_id=info.header_id,
        version=info.version,
        vid=info.vid,
        es_id=info.es_id,
        property=info.prop,
        picture=info.picture,
        ext_datas=info.ext_datas,
        maker_cert=_octets(data, cert_el, "SESeal maker cert"),
        signature_algorithm=_oid(data, alg_el, "SESeal signature algorithm"),
        signature=_bits(data, sig_el, "SESeal signature value"),
        signed_bytes=signed,
        timestamp=timestamp,
        raw=raw,
    )
    # A seal decodes the same wherever it sits (on its own or inside a signature), so the decoded
    # object is kept by its exact bytes: verifiers see the same few seals on many documents.
    if raw[0] == 0x30:  # as parse_seal reads it on its own (a high-number-form tag it would refuse)
        if len(_parsed_seals) >= _SEAL_CACHE_SIZE:
            try:
                del _parsed_seals[next(iter(_parsed_seals))]
            except (KeyError, StopIteration, RuntimeError):
                pass
        _parsed_seals[raw] = seal
    return seal


_BASE64_RE = re.compile(rb"[A-Za-z0-9+/=\s]+")


def _top(data: object, what: str) -> tuple[bytes, _El]:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise SesError(
            M("ses.bytes_got", "{what} must be bytes, got {name}", "{what} 必须为字节串，实为 {name}"),
            what=what,
            name=type(data).__name__,
        )
    data = bytes(data)
    if not data:
        raise SesError(M("ses.empty", "{what} is empty", "{what} 为空"), what=what)
    if data[0] != 0x30:
        hint = ""
        if data.lstrip().startswith(b"-----") or _BASE64_RE.fullmatch(data[:256]):
            hint = " (the input looks like PEM/base64 text; decode it to DER first)"
        raise SesError(
            M(
                "ses.der_sequence_first_byte",
                "{what} is not a DER SEQUENCE: first byte is 0x{data}{hint}",
                "{what} 不是 DER SEQUENCE：第一个字节为 0x{data}{hint}",
            ),
            what=what,
            data=f"{data[0]:02x}",
            hint=hint,
        )
    el = _hdr(data, 0, len(data), 0)
    if el[3] != len(data):  # der.parse: one element, nothing after it
        raise der.DERError(
            M(
                "ses.trailing_bytes_after_element",
                "{value} trailing bytes after the element at offset {el}",
                "偏移 {el} 处的元素之后多出 {value} 字节",
            ),
            value=len(data) - el[3],
            el=el[3],
        )
    return data, el


_T = TypeVar("_T")


def _guarded(what: str, fn: Callable[[bytes], _T], data: bytes) -> _T:
    """Run a decoder; any failure leaves as :class:`SesError` prefixed with the structure name."""
    try:
        return fn(data)
    except SesError:
        raise
    except der.DERError as exc:
        raise SesError(
            M("ses.malformed_der", "{what}: malformed DER: {exc}", "{what}：DER 格式错误：{exc}"), what=what, exc=exc
        ) from None
    except (ValueError, IndexError, UnicodeDecodeError, TypeError, OverflowError) as exc:
        raise SesError(
            M("ses.malformed", "{what}: malformed: {exc}", "{what}：格式错误：{exc}"), what=what, exc=exc
        ) from None


def parse_seal(data: bytes) -> Seal:
    """Decode an ``SESeal`` of any generation (2014, v4, v5).

    Generation by structure (ofdrw VersionParser): 2 elements → 2014; 5 → v5; 4 → v5 if
    ``SES_Header.version`` is 5, else v4. Property layout (with or without certListType) and time
    types (UTCTime/GeneralizedTime) are read as found. ``timeStamp`` and ``extDatas`` are accepted
    with ``[0]`` EXPLICIT/IMPLICIT tags or untagged. Nothing is verified here.
    Raises :class:`SesError` naming the element and offset for anything malformed.
    """
    return _guarded("SESeal", _parse_seal, data)


def _parse_seal(data: bytes) -> Seal:
    if type(data) is bytes:
        seal = _parsed_seals.get(data)
        if seal is not None:
            return seal
    return _seal_from_node(*_top(data, "SESeal"))


def parse_signature(data: bytes) -> SesSignature:
    """Decode an ``SES_Signature`` (电子签章) of any generation.

    2 elements → GM/T 0031-2014 ``{ TBS_Sign, signature }`` with cert and algorithm inside TBS_Sign;
    4–5 elements → GB/T 38540 ``{ TBS_Sign, cert, signatureAlgID, signature [, [0] timeStamp] }``,
    generation v5 when the embedded seal or ``TBS_Sign.version`` says 5. ``TBS_Sign.extDatas`` may be
    ``[0]``-tagged (ofdrw) or untagged. Raises :class:`SesError` for anything malformed.
    """
    return _guarded("SES_Signature", _parse_signature, data)


def _parse_signature(data: bytes) -> SesSignature:
    data, top = _top(data, "SES_Signature")
    tag, kids, inner = _first_grandchild_tag(data, top)
    if tag == 0x30:  # SES_SealInfo starts with SES_Header SEQUENCE
        raise SesError(
            M(
                "ses.ses_signature_offset_this",
                "SES_Signature at offset 0: this looks like an SESeal (电子印章: its first element starts "
                "with an SES_Header SEQUENCE), not an SES_Signature; use parse_seal",
                "偏移 0 处的 SES_Signature：这像是电子印章（SESeal：第一个元素以 SES_Header SEQUENCE 开头），不是电子签章（SES_Signature）；请用 parse_seal",
            )
        )
    kids = _children(data, top, "SES_Signature", 2, 5, kids)
    if len(kids) == 3:
        raise SesError(
            M(
                "ses.elements_neither_gm_t",
                "{where}: 3 elements is neither GM/T 0031-2014 (2) nor GB/T 38540/GM/T 0031-2025 (4–5)",
                "{where}：3 个元素既不符合 GM/T 0031-2014（2 个），也不符合 GB/T 38540/GM/T 0031-2025（4–5 个）",
            ),
            where=_where(_node(data, top), "SES_Signature"),
        )
    tbs_el = kids[0]
    timestamp = None
    ext: tuple[ExtData, ...] = ()
    if len(kids) == 2:
        # GM/T 0031-2014 TBS_Sign { version, eseal, timeInfo BIT STRING, dataHash BIT STRING,
        #                               propertyInfo IA5String, cert OCTET STRING, signatureAlgorithm }
        tbs = _children(data, tbs_el, "TBS_Sign", 7, 7, inner)
        signer_cert = _octets(data, tbs[5], "TBS_Sign.cert")
        sig_alg = _oid(data, tbs[6], "TBS_Sign.signatureAlgorithm")
        signature = _bits(data, kids[1], "SES_Signature.signature")
        seal = _seal_from_node(data, tbs[1])
        generation: Generation = "2014"
        time_el = tbs[2]
        if time_el[0] & 0xDF == der.BIT_STRING:
            # "可以是时间戳，也可以是 UTCTIME 时间": keep the contents, decode when it is a time text
            time_raw = _bits(data, time_el, "TBS_Sign.timeInfo")
            time_info = _time_from_text(time_raw)
        else:
            time_info = _time(data, time_el, "TBS_Sign.timeInfo")
            time_raw = data[time_el[2] : time_el[3]]
    else:
        # GB/T 38540: TBS_Sign { version, eseal, timeInfo GeneralizedTime, dataHash BIT STRING,
        #                        propertyInfo IA5String, [0] extDatas OPTIONAL }
        tbs = _children(data, tbs_el, "TBS_Sign", 5, 6, inner)
        signer_cert = _octets(data, kids[1], "SES_Signature.cert")
        sig_alg = _oid(data, kids[2], "SES_Signature.signatureAlgID")
        signature = _bits(data, kids[3], "SES_Signature.signature")
        if len(kids) == 5:
            timestamp = _tagged_bit_string(data, kids[4], "SES_Signature.timeStamp")
        seal = _seal_from_node(data, tbs[1])
        time_el = tbs[2]
        if time_el[0] & 0xDF == der.BIT_STRING:  # 2014-style timeInfo in a v4 container
            time_raw = _bits(data, time_el, "TBS_Sign.timeInfo")
            time_info = _time_from_text(time_raw)
        else:
            time_info = _time(data, time_el, "TBS_Sign.timeInfo")
            time_raw = data[time_el[2] : time_el[3]]
        if len(tbs) == 6:
            ext = _ext_datas(data, tbs[5], "TBS_Sign.extDatas")
        generation = "v4"  # refined below once the version is read
    version = _int(data, tbs[0], "TBS_Sign.version")
    if generation != "2014":
        generation = "v5" if seal.generation == "v5" or version == 5 else "v4"
    return SesSignature(
        generation=generation,
        version=version,
        seal=seal,
        time_info=time_info,
        time_info_raw=time_raw,
        data_hash=_bits(data, tbs[3], "TBS_Sign.dataHash"),
        property_info=_text(data, tbs[4], "TBS_Sign.propertyInfo"),
        signer_cert=signer_cert,
        signature_algorithm=sig_alg,
        signature=signature,
        signed_bytes=data[tbs_el[1] : tbs_el[3]],
        ext_datas=ext,
        timestamp=timestamp,
        raw=data,
    )


# ----------------------------------------------------------------------------------------------
# Verification


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


_ALG_NAMES = {oids.SM2_WITH_SM3: "SM2-with-SM3", oids.ECDSA_WITH_SHA256: "ECDSA-with-SHA256"}


def _der_uint256(sig: bytes, pos: int, length: int) -> bool:
    """The INTEGER contents at ``pos`` are the minimal encoding of a value in 1 … 2**256 - 1."""
    if length == 0 or length > 33:
        return False
    first = sig[pos]
    if first & 0x80:  # negative
        return False
    if first == 0:  # a leading zero octet only in front of a high bit; 0 itself is out of range
        return length > 1 and sig[pos + 1] & 0x80 != 0
    return length <= 32


def _is_der_signature(sig: bytes) -> bool:
    """Exactly what :func:`keys.sig_from_der` accepts — the canonical DER ``SEQUENCE { r, s }``
    with 0 < r, s < 2**256 (GB/T 35276) — checked on the octets, without decoding them."""
    n = len(sig)
    if n < 8 or n > 72 or sig[0] != 0x30 or sig[1] != n - 2 or sig[2] != der.INTEGER:
        return False
    p = 4 + sig[3]
    if p + 2 > n or sig[p] != der.INTEGER or p + 2 + sig[p + 1] != n:
        return False
    return _der_uint256(sig, 4, sig[3]) and _der_uint256(sig, p + 2, sig[p + 1])


def _signature_candidates(sig: bytes) -> Iterator[bytes]:
    """GB/T 35276 DER first; raw 64-byte r‖s (BouncyCastle PlainDSAEncoding, gmssl) converted."""
    if _is_der_signature(sig):
        yield sig
    if len(sig) == 64:
        yield sig_to_der(sig)


def _verify(cert_der: bytes, alg_oid: str, signature: bytes, data: bytes, role: str) -> bool:
    cert = _load_certificate(cert_der, f"{role} certificate")
    try:
        alg = algorithm_for_signature_oid(alg_oid)
    except KeyFormatError:
        raise SesError(
            M(
                "ses.signature_algorithm_supported_expected",
                "{role} signature algorithm {alg_oid} is not supported (expected SM2-with-SM3 "
                "{sm2_with_sm3} or ECDSA-with-SHA256 {ecdsa_with_sha256})",
                "不支持{role}签名算法 {alg_oid}（应为 SM2-with-SM3 {sm2_with_sm3} 或 ECDSA-with-SHA256 {ecdsa_with_sha256}）",
            ),
            role=role,
            alg_oid=alg_oid,
            sm2_with_sm3=oids.SM2_WITH_SM3,
            ecdsa_with_sha256=oids.ECDSA_WITH_SHA256,
        ) from None
    try:
        key = cert.public_key
    except CertificateError as exc:
        raise SesError(
            M("ses.certificate", "{role} certificate: {exc}", "{role}证书：{exc}"), role=role, exc=exc
        ) from None
    if key.algorithm is not alg:
        raise SesError(
            M(
                "ses.signature_algorithm_but_certificate",
                "{role} signature algorithm is {alg_names} but the {role} certificate holds a {label} key",
                "{role}签名算法为 {alg_names}，但{role}证书持有 {label} 密钥",
            ),
            role=role,
            alg_names=_ALG_NAMES[alg_oid],
            label=key.algorithm.label,
        )
    # SM2: SM3 with Z over the GM/T 0009 default ID 1234567812345678 (domain §6.2)
    return any(key.verify(data, candidate) for candidate in _signature_candidates(signature))


def verify_seal_signature(seal: Seal) -> bool:
    """Whether the maker certificate's key made ``seal.signature`` over ``seal.signed_bytes``.

    True/False is the cryptographic answer only (no validity period, chain or revocation check).
    Raises :class:`SesError` when it cannot be decided: unparseable maker certificate, unsupported
    algorithm, or an algorithm that does not match the certificate's key type.
    """
    return _verify(seal.maker_cert, seal.signature_algorithm, seal.signature, seal.signed_bytes, "seal maker")


def verify_signature_value(sig: SesSignature) -> bool:
    """Whether the signer certificate's key made ``sig.signature`` over the raw ``TBS_Sign``.

    Does not check the embedded seal (use :func:`verify_seal_signature` on ``sig.seal``), the
    document hash, or certificate status. Raises :class:`SesError` as :func:`verify_seal_signature`.
    """
    return _verify(sig.signer_cert, sig.signature_algorithm, sig.signature, sig.signed_bytes, "signer")


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
