"""Encoding of GB/T 38540-2020 (v4) ``SES_SealInfo``: the only generation this registry issues.

:func:`encode_seal_info` checks its input against the contract it states and returns the DER bytes
the seal maker signs (:func:`.signing.make_seal`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from ...messages import M
from .. import der
from .model import (
    _CONTROL_RE,
    _ES_ID_RE,
    _MAX_INT32,
    _PICTURE_MAGIC,
    _SEQ,
    _VID_RE,
    CERT_LIST_CERTIFICATES,
    CERT_LIST_DIGESTS,
    MAX_ES_ID_LENGTH,
    MAX_VID_LENGTH,
    PICTURE_TYPES,
    CertDigest,
    ExtData,
    SealPicture,
    SealProperty,
    SesError,
)

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
