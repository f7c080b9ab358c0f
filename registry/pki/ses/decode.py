"""Decoding of ``SESeal`` and ``SES_Signature`` of every generation (2014, v4, v5).

The generation is found by structure first (element counts, as ofdrw's ``VersionParser`` does) and
only then by the header version; both tag variants seen in the wild are accepted for ``timeStamp``
and ``extDatas`` (``[0] EXPLICIT`` as ofdrw writes, untagged as Chingliu/OfdSharp do). Every failure
is a :class:`.SesError` naming the element and its offset.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ...messages import M
from .. import der
from .elements import (
    _bits,
    _children,
    _El,
    _first_grandchild_tag,
    _hdr,
    _int,
    _kids,
    _node,
    _octets,
    _oid,
    _tagged_bit_string,
    _text,
    _time,
    _time_from_text,
    _where,
)
from .model import (
    _SEQ,
    CERT_LIST_CERTIFICATES,
    CERT_LIST_DIGESTS,
    CertDigest,
    CertListItem,
    ExtData,
    Generation,
    Seal,
    SealPicture,
    SealProperty,
    SesError,
    SesSignature,
)

_SEAL_CACHE_SIZE = 256
_parsed_seals: dict[bytes, Seal] = {}  # exact SESeal bytes -> the Seal decoded from them


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
