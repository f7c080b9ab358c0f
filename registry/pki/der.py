"""Minimal DER (ITU-T X.690) encoder and a tolerant, offset-reporting decoder.

The encoder functions return ``bytes`` and are deliberately tiny: certificates, CRLs and seals are
assembled from pre-encoded pieces, which is what makes issuance and CRL publication fast.

The decoder keeps every node's exact input bytes (``Node.raw``): signatures are always checked over
the bytes as received, never over a re-encoding (GB/T 38540 signs ``SES_SealInfo`` "as encoded").
"""

from __future__ import annotations

import datetime as _dt
import re as _re
from collections.abc import Iterator
from dataclasses import dataclass

from ..messages import Localized, M

# Universal tag numbers (X.680 §8.4)
BOOLEAN = 0x01
INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
NULL = 0x05
OID = 0x06
ENUMERATED = 0x0A
UTF8_STRING = 0x0C
PRINTABLE_STRING = 0x13
T61_STRING = 0x14
IA5_STRING = 0x16
UTC_TIME = 0x17
GENERALIZED_TIME = 0x18
BMP_STRING = 0x1E
SEQUENCE = 0x30
SET = 0x31

CLASS_UNIVERSAL = 0
CLASS_APPLICATION = 1
CLASS_CONTEXT = 2
CLASS_PRIVATE = 3


class DERError(Localized, ValueError):
    """Input is not valid DER for the structure expected; the message names what and where."""


# ----------------------------------------------------------------------------------------------
# Encoding


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def tlv(tag: int, content: bytes) -> bytes:
    """One TLV with a single-byte identifier octet ``tag``."""
    return bytes((tag,)) + _length(len(content)) + content


def seq(*parts: bytes) -> bytes:
    return tlv(SEQUENCE, b"".join(parts))


def set_of(*parts: bytes) -> bytes:
    """SET OF: DER requires the encodings sorted (X.690 §11.6)."""
    return tlv(SET, b"".join(sorted(parts)))


def integer(value: int) -> bytes:
    if value == 0:
        return b"\x02\x01\x00"
    if value > 0:
        body = value.to_bytes(value.bit_length() // 8 + 1, "big")  # room for a sign bit
    else:
        body = value.to_bytes((value + 1).bit_length() // 8 + 1, "big", signed=True)
    return tlv(INTEGER, body)


def enumerated(value: int) -> bytes:
    return bytes((ENUMERATED,)) + integer(value)[1:]


def boolean(value: bool) -> bytes:
    return b"\x01\x01\xff" if value else b"\x01\x01\x00"


def null() -> bytes:
    return b"\x05\x00"


_OID_CACHE: dict[str, bytes] = {}


def oid(dotted: str) -> bytes:
    cached = _OID_CACHE.get(dotted)
    if cached is not None:
        return cached
    arcs = [int(a) for a in dotted.split(".")]
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40):
        raise ValueError(f"invalid object identifier {dotted!r}")
    out = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out.extend(reversed(chunk))
    enc = tlv(OID, bytes(out))
    _OID_CACHE[dotted] = enc
    return enc


def octet_string(value: bytes) -> bytes:
    return tlv(OCTET_STRING, value)


def bit_string(value: bytes, unused_bits: int = 0) -> bytes:
    return tlv(BIT_STRING, bytes((unused_bits,)) + value)


def utf8(value: str) -> bytes:
    return tlv(UTF8_STRING, value.encode("utf-8"))


def ia5(value: str) -> bytes:
    try:
        return tlv(IA5_STRING, value.encode("ascii"))
    except UnicodeEncodeError:
        raise ValueError(f"IA5String must be ASCII: {value!r}") from None


_PRINTABLE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?")


def printable(value: str) -> bytes:
    if not set(value) <= _PRINTABLE:
        raise ValueError(f"not a PrintableString: {value!r}")
    return tlv(PRINTABLE_STRING, value.encode("ascii"))


def _utc(when: _dt.datetime) -> _dt.datetime:
    if when.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return when.astimezone(_dt.UTC)


def utc_time(when: _dt.datetime) -> bytes:
    return tlv(UTC_TIME, _utc(when).strftime("%y%m%d%H%M%SZ").encode())


def generalized_time(when: _dt.datetime) -> bytes:
    return tlv(GENERALIZED_TIME, _utc(when).strftime("%Y%m%d%H%M%SZ").encode())


def x509_time(when: _dt.datetime) -> bytes:
    """RFC 5280 §4.1.2.5: UTCTime for 1950–2049, GeneralizedTime outside that range."""
    return utc_time(when) if 1950 <= _utc(when).year < 2050 else generalized_time(when)


def explicit(number: int, content: bytes) -> bytes:
    """[number] EXPLICIT around an already encoded element (context class, constructed)."""
    return _tagged(0xA0, number, content)


def implicit(number: int, content_octets: bytes, constructed: bool = False) -> bytes:
    """[number] IMPLICIT: ``content_octets`` are the contents (no inner tag/length)."""
    return _tagged(0xA0 if constructed else 0x80, number, content_octets)


def _tagged(base: int, number: int, content: bytes) -> bytes:
    if number < 31:
        return tlv(base | number, content)
    ident = bytearray([base | 0x1F])
    chunk = [number & 0x7F]
    number >>= 7
    while number:
        chunk.append(0x80 | (number & 0x7F))
        number >>= 7
    ident.extend(reversed(chunk))
    return bytes(ident) + _length(len(content)) + content


# ----------------------------------------------------------------------------------------------
# Decoding


@dataclass(frozen=True, slots=True)
class Node:
    """One decoded TLV. ``raw`` is the exact encoding read; ``offset`` its position in the input."""

    cls: int
    constructed: bool
    number: int
    raw: bytes
    header_len: int
    offset: int

    @property
    def content(self) -> bytes:
        return self.raw[self.header_len :]

    @property
    def tag_byte(self) -> int:
        return self.raw[0]

    def is_universal(self, number: int) -> bool:
        return self.cls == CLASS_UNIVERSAL and self.number == number

    def is_context(self, number: int) -> bool:
        return self.cls == CLASS_CONTEXT and self.number == number

    def describe(self) -> str:
        names = {
            BOOLEAN: "BOOLEAN",
            INTEGER: "INTEGER",
            BIT_STRING: "BIT STRING",
            OCTET_STRING: "OCTET STRING",
            NULL: "NULL",
            OID: "OBJECT IDENTIFIER",
            UTF8_STRING: "UTF8String",
            PRINTABLE_STRING: "PrintableString",
            IA5_STRING: "IA5String",
            UTC_TIME: "UTCTime",
            GENERALIZED_TIME: "GeneralizedTime",
            16: "SEQUENCE",
            17: "SET",
            ENUMERATED: "ENUMERATED",
            BMP_STRING: "BMPString",
        }
        if self.cls == CLASS_UNIVERSAL:
            return names.get(self.number, f"universal {self.number}")
        return f"[{['UNIVERSAL', 'APPLICATION', '', 'PRIVATE'][self.cls]}{self.number}]".replace("[", "[", 1)

    # -- children and typed accessors --------------------------------------------------------

    def children(self) -> list[Node]:
        if not self.constructed:
            raise DERError(
                M(
                    "der.offset_constructed",
                    "{describe} at offset {offset} is not constructed",
                    "偏移 {offset} 处的 {describe} 不是构造类型",
                ),
                describe=self.describe(),
                offset=self.offset,
            )
        return list(_iter_nodes(self.raw, self.offset + self.header_len, self.offset + len(self.raw), self.offset))

    def expect(self, number: int, what: str = "") -> Node:
        if not self.is_universal(number):
            want = Node(CLASS_UNIVERSAL, False, number, b"", 0, 0).describe()
            raise DERError(
                M(
                    "der.offset_expected_found",
                    "{value} at offset {offset}: expected {want}, found {describe}",
                    "偏移 {offset} 处的 {value}：应为 {want}，实为 {describe}",
                ),
                value=what or "element",
                offset=self.offset,
                want=want,
                describe=self.describe(),
            )
        return self

    def as_int(self) -> int:
        if not (self.is_universal(INTEGER) or self.is_universal(ENUMERATED)) or not self.content:
            raise DERError(
                M(
                    "der.expected_integer_offset_found",
                    "expected INTEGER at offset {offset}, found {describe}",
                    "偏移 {offset} 处应为 INTEGER，实为 {describe}",
                ),
                offset=self.offset,
                describe=self.describe(),
            )
        return int.from_bytes(self.content, "big", signed=True)

    def as_bool(self) -> bool:
        if not self.is_universal(BOOLEAN) or len(self.content) != 1:
            raise DERError(
                M("der.expected_boolean_offset", "expected BOOLEAN at offset {offset}", "偏移 {offset} 处应为 BOOLEAN"),
                offset=self.offset,
            )
        return self.content != b"\x00"

    def as_oid(self) -> str:
        if not self.is_universal(OID) or not self.content:
            raise DERError(
                M(
                    "der.expected_object_identifier_offset",
                    "expected OBJECT IDENTIFIER at offset {offset}, found {describe}",
                    "偏移 {offset} 处应为 OBJECT IDENTIFIER，实为 {describe}",
                ),
                offset=self.offset,
                describe=self.describe(),
            )
        arcs: list[int] = []
        value = 0
        for b in self.content:
            value = (value << 7) | (b & 0x7F)
            if not b & 0x80:
                arcs.append(value)
                value = 0
        if self.content[-1] & 0x80:
            raise DERError(
                M(
                    "der.truncated_object_identifier_offset",
                    "truncated OBJECT IDENTIFIER at offset {offset}",
                    "偏移 {offset} 处的 OBJECT IDENTIFIER 被截断",
                ),
                offset=self.offset,
            )
        first = arcs[0]
        head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
        return ".".join(str(a) for a in head + arcs[1:])

    def as_bytes(self) -> bytes:
        """Contents of an OCTET STRING (primitive)."""
        if self.constructed:
            raise DERError(
                M(
                    "der.constructed_string_offset_der",
                    "constructed string at offset {offset} is not DER",
                    "偏移 {offset} 处的构造字符串不符合 DER",
                ),
                offset=self.offset,
            )
        return self.content

    def as_bit_string(self) -> bytes:
        if not self.is_universal(BIT_STRING) or self.constructed or not self.content:
            raise DERError(
                M(
                    "der.expected_bit_string_offset",
                    "expected BIT STRING at offset {offset}, found {describe}",
                    "偏移 {offset} 处应为 BIT STRING，实为 {describe}",
                ),
                offset=self.offset,
                describe=self.describe(),
            )
        if self.content[0] > 7:
            raise DERError(
                M(
                    "der.bit_string_offset_has",
                    "BIT STRING at offset {offset} has {value} unused bits",
                    "偏移 {offset} 处的 BIT STRING 有 {value} 个未用位",
                ),
                offset=self.offset,
                value=self.content[0],
            )
        return self.content[1:]

    def as_str(self) -> str:
        c = self.content
        try:
            if self.is_universal(BMP_STRING):
                return c.decode("utf-16-be")
            if self.is_universal(UTF8_STRING):
                return c.decode("utf-8")
            if self.cls == CLASS_UNIVERSAL and self.number in (PRINTABLE_STRING, IA5_STRING, T61_STRING, 0x1A, 0x12):
                return c.decode("latin-1" if self.number == T61_STRING else "ascii")
        except UnicodeDecodeError:
            raise DERError(
                M(
                    "der.offset_valid_text",
                    "{describe} at offset {offset} is not valid text",
                    "偏移 {offset} 处的 {describe} 不是有效文本",
                ),
                describe=self.describe(),
                offset=self.offset,
            ) from None
        raise DERError(
            M(
                "der.expected_string_offset_found",
                "expected a string at offset {offset}, found {describe}",
                "偏移 {offset} 处应为字符串，实为 {describe}",
            ),
            offset=self.offset,
            describe=self.describe(),
        )

    def as_time(self) -> _dt.datetime:
        if self.cls == CLASS_UNIVERSAL:
            t = time_value(self.number, self.content)
            if t is not None:
                return t
        text = self.content.decode("ascii", "replace")
        shape = {UTC_TIME: rb"[0-9]{12}Z", GENERALIZED_TIME: rb"[0-9]{14}(\.[0-9]+)?Z"}.get(self.number)
        if self.cls == CLASS_UNIVERSAL and shape and not _re.fullmatch(shape, self.content):
            raise DERError(
                M(
                    "der.malformed_time_offset",
                    "malformed time {text} at offset {offset}",
                    "偏移 {offset} 处的时间 {text} 格式错误",
                ),
                text=f"{text!r}",
                offset=self.offset,
            )
        try:
            if self.is_universal(UTC_TIME):
                t = _dt.datetime.strptime(text, "%y%m%d%H%M%SZ")
                if t.year >= 2050:  # RFC 5280 §4.1.2.5.1
                    t = t.replace(year=t.year - 100)
            elif self.is_universal(GENERALIZED_TIME):
                fmt = "%Y%m%d%H%M%S.%fZ" if "." in text else "%Y%m%d%H%M%SZ"
                t = _dt.datetime.strptime(text, fmt)
            else:
                raise DERError(
                    M(
                        "der.expected_time_offset_found",
                        "expected a time at offset {offset}, found {describe}",
                        "偏移 {offset} 处应为时间，实为 {describe}",
                    ),
                    offset=self.offset,
                    describe=self.describe(),
                )
        except ValueError as exc:
            if isinstance(exc, DERError):
                raise
            raise DERError(
                M(
                    "der.malformed_time_offset",
                    "malformed time {text} at offset {offset}",
                    "偏移 {offset} 处的时间 {text} 格式错误",
                ),
                text=f"{text!r}",
                offset=self.offset,
            ) from None
        return t.replace(tzinfo=_dt.UTC)


_UTC = _dt.UTC


def time_value(number: int, content: bytes) -> _dt.datetime | None:
    """The time in the contents of a UTCTime (``YYMMDDHHMMSSZ``; RFC 5280 §4.1.2.5.1: YY >= 50 is
    19YY) or GeneralizedTime (``YYYYMMDDHHMMSS[.f]Z``, 1–6 fraction digits), read without strptime.
    ``None`` for any other shape or an impossible date: :meth:`Node.as_time` then words the error."""
    n = len(content)
    if not n or content[-1] != 0x5A:
        return None
    if number == UTC_TIME:
        if n != 13 or not content[:12].isdigit():
            return None
        yy = int(content[0:2])
        year, p, micro = yy + (1900 if yy >= 50 else 2000), 2, 0
    elif number == GENERALIZED_TIME:
        if n == 15:
            if not content[:14].isdigit():
                return None
            micro = 0
        elif 17 <= n <= 22 and content[14] == 0x2E and content[:14].isdigit() and content[15:-1].isdigit():
            micro = int(content[15:-1].ljust(6, b"0"))
        else:
            return None
        year, p = int(content[0:4]), 4
    else:
        return None
    try:
        return _dt.datetime(
            year,
            int(content[p : p + 2]),
            int(content[p + 2 : p + 4]),
            int(content[p + 4 : p + 6]),
            int(content[p + 6 : p + 8]),
            int(content[p + 8 : p + 10]),
            micro,
            tzinfo=_UTC,
        )
    except ValueError:
        return None


def read_header(data: bytes | bytearray | memoryview, pos: int, end: int) -> tuple[int, bool, int, int, int]:
    """The identifier and length octets of the element at ``pos`` (which must end by ``end``):
    ``(class, constructed, tag number, header length, content length)``. Raises :class:`DERError`
    naming the offset for a truncated, indefinite or over-long header."""
    start = pos
    if pos >= end:
        raise DERError(
            M("der.unexpected_end_data_offset", "unexpected end of data at offset {pos}", "偏移 {pos} 处数据意外结束"),
            pos=pos,
        )
    first = data[pos]
    pos += 1
    cls = first >> 6
    constructed = bool(first & 0x20)
    number = first & 0x1F
    if number == 0x1F:
        number = 0
        while True:
            if pos >= end:
                raise DERError(
                    M("der.truncated_tag_offset", "truncated tag at offset {start}", "偏移 {start} 处的标签被截断"),
                    start=start,
                )
            b = data[pos]
            pos += 1
            number = (number << 7) | (b & 0x7F)
            if not b & 0x80:
                break
            if number > 1 << 28:
                raise DERError(
                    M(
                        "der.tag_number_too_large",
                        "tag number too large at offset {start}",
                        "偏移 {start} 处的标签号过大",
                    ),
                    start=start,
                )
    if pos >= end:
        raise DERError(
            M("der.truncated_length_offset", "truncated length at offset {start}", "偏移 {start} 处的长度字段被截断"),
            start=start,
        )
    lb = data[pos]
    pos += 1
    if lb == 0x80:
        raise DERError(
            M(
                "der.indefinite_length_offset_allowed",
                "indefinite length at offset {start} is not allowed in DER",
                "偏移 {start} 处为不定长度，DER 中不允许",
            ),
            start=start,
        )
    if lb & 0x80:
        n = lb & 0x7F
        if n > 4 or pos + n > end:
            raise DERError(
                M("der.bad_length_field_offset", "bad length field at offset {start}", "偏移 {start} 处的长度字段错误"),
                start=start,
            )
        length = int.from_bytes(data[pos : pos + n], "big")
        pos += n
    else:
        length = lb
    if pos + length > end:
        raise DERError(
            M(
                "der.element_offset_claims_bytes",
                "element at offset {start} claims {length} bytes but only {value} remain",
                "偏移 {start} 处的元素声明 {length} 字节，但只剩 {value} 字节",
            ),
            start=start,
            length=length,
            value=end - pos,
        )
    return cls, constructed, number, pos - start, length


def _iter_nodes(data: bytes, pos: int, end: int, base: int = 0) -> Iterator[Node]:
    # ``data`` may be a node's raw slice whose first byte sits at absolute offset ``base``.
    rel = pos - base
    rel_end = end - base
    while rel < rel_end:
        cls, cons, num, hl, ln = read_header(data, rel, rel_end)
        yield Node(cls, cons, num, bytes(data[rel : rel + hl + ln]), hl, base + rel)
        rel += hl + ln


def parse(data: bytes, *, allow_trailing: bool = False) -> Node:
    """Decode one element from ``data``. Trailing bytes are an error unless allowed."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DERError(M("der.input_bytes", "input must be bytes", "输入必须为字节串"))
    data = bytes(data)
    cls, cons, num, hl, ln = read_header(data, 0, len(data))
    if not allow_trailing and hl + ln != len(data):
        raise DERError(
            M(
                "der.trailing_bytes_after_element",
                "{value} trailing bytes after the element at offset {value2}",
                "偏移 {value2} 处的元素之后多出 {value} 字节",
            ),
            value=len(data) - hl - ln,
            value2=hl + ln,
        )
    return Node(cls, cons, num, data[: hl + ln], hl, 0)


def pem_to_der(text: str | bytes, label: str | None = None) -> bytes:
    """Extract the first PEM block (optionally of ``label``); raises DERError if none."""
    import base64
    import binascii
    import re

    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    pattern = r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----"
    for m in re.finditer(pattern, text, re.S):
        if label is None or m.group(1) == label:
            try:
                return base64.b64decode("".join(m.group(2).split()), validate=True)
            except (binascii.Error, ValueError):
                raise DERError(
                    M(
                        "der.pem_block_valid_base64",
                        "PEM block {group} is not valid base64",
                        "PEM 块 {group} 不是有效的 base64",
                    ),
                    group=m.group(1),
                ) from None
    raise DERError(
        M("der.no_pem_block_found", "no PEM block{value} found", "未找到 PEM 块{value}"),
        value=" " + label if label else "",
    )


def der_to_pem(der: bytes, label: str) -> str:
    import base64

    b64 = base64.b64encode(der).decode()
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"
