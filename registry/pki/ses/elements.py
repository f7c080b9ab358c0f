"""The element reader under the SES decoder (:mod:`.decode`): each helper reads one element and,
when it is not what the structure expects, raises :class:`.SesError` naming it and its offset.
"""

from __future__ import annotations

import datetime as dt
import re

from ...messages import M, Message
from .. import der
from .model import SesError

# The decoder walks the input once, element headers only: an element is the tuple
# ``(key, start, content_start, end)`` of absolute positions in the whole input, and its bytes are
# sliced only where a field keeps them. ``key`` is the identifier octet with the tag number
# normalised (class and constructed bits | number; numbers of 31 and more as number << 8), so
# ``key == 0x30`` is "universal, constructed, SEQUENCE" even for a high-number-form identifier, as
# der.Node's is_universal/constructed would say. A :class:`der.Node` is built only to word an error
# (its ``describe()`` and ``offset``), so the messages are those of the generic DER decoder.

_El = tuple[int, int, int, int]


def _hdr(data: bytes, pos: int, end: int, base: int) -> _El:
    """The element whose identifier is at ``pos`` (``pos < end``). Short and 1–4 octet lengths with
    low tag numbers are read here; anything else (and every error) goes to :func:`der.read_header`
    over the bytes from ``base``, the enclosing element's start, so the offsets in its errors are
    relative to that element, as :meth:`der.Node.children` reports them."""
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
    _cls, _cons, number, hl, ln = der.read_header(memoryview(data)[base:], pos - base, end - base)
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
    cls, cons, number, hl, ln = der.read_header(data, el[1], el[3])
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
