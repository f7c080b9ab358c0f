"""A CRL's entries stored in pages (the peer CRL store, mutual-recognition issue).

A million-entry CRL stored as a million rows costs seconds to insert on either database, most of
it per-row overhead. Stored instead as sorted pages of :data:`PAGE_SIZE` entries, keyed by the
highest serial in each page, it is a few thousand rows, and a lookup is still one index probe —
the first page whose last key is not below the serial — followed by a search in one small page
done by ``bytes.find`` in C.

A page is three byte strings:

``keys``
    the entries' serial keys (:func:`serial_key`), :data:`KEY` octets each, ascending;
``ends``
    where each entry ends in ``entries``, as little-endian unsigned 32-bit offsets;
``entries``
    the entries' DER as received, concatenated in the same order.

Pure: no database, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import accumulate, islice
from operator import itemgetter
from struct import Struct

from .parse import ParsedCrl, _hdr
from .reasons import CrlError

__all__ = ["KEY", "PAGE_SIZE", "Page", "serial_key", "keyed_entries", "paginate", "find"]

#: Octets of a stored serial key: a 20-octet serial's INTEGER content with its sign octet.
KEY = 21
#: Entries per page: a page is about 4.5 KB (keys 1.3 KB, ends 256 B, entries ~3 KB), small
#: enough to be read whole on every lookup, large enough that 1,000,000 entries are 15,625 rows.
PAGE_SIZE = 64

_END = Struct("<I")


@dataclass(frozen=True, slots=True)
class Page:
    last_key: bytes
    keys: bytes
    ends: bytes
    entries: bytes
    count: int


def serial_key(serial: int) -> bytes:
    """How a stored page spells a serial: its unsigned big-endian value in :data:`KEY` octets
    (byte order is then number order on every database)."""
    if serial < 0:
        raise ValueError("a certificate serial is not negative")
    try:
        return serial.to_bytes(KEY, "big")
    except OverflowError:
        raise ValueError("a certificate serial is at most 20 octets (RFC 5280 §4.1.2.2)") from None


def keyed_entries(parsed: ParsedCrl) -> Iterator[tuple[bytes, bytes]]:
    """``(key, entry DER)`` of each revoked certificate, in order, for bulk storage
    (these pages): ``key`` is the serial as :func:`serial_key` spells it (the
    INTEGER's content octets, left-padded to 21), cut from the DER without making an int. Only
    the element headers and the serial are read (about twenty times faster than
    :meth:`ParsedCrl.entries`); :func:`decode_entry` decodes one stored entry when it is looked up. The
    structure is checked as far as it is read: each element a SEQUENCE within the list, its
    first element a positive INTEGER of at most 21 content octets (RFC 5280 §4.1.2.2: serials
    are at most 20 octets); a malformed one raises :class:`CrlError`."""
    pos, end = parsed.entries_span
    data = parsed.der
    index = 0
    width = KEY
    while pos < end:
        if data[pos] != 0x30:
            raise CrlError(f"revoked entry {index} at offset {pos}: not a SEQUENCE")
        first = data[pos + 1]
        if first < 0x80:
            hl, ln = 2, first
        elif first == 0x81:
            hl, ln = 3, data[pos + 2]
        elif first == 0x82:
            hl, ln = 4, (data[pos + 2] << 8) | data[pos + 3]
        else:
            _tag, hl, ln = _hdr(data, pos, end, f"revoked entry {index}")
        stop = pos + hl + ln
        q = pos + hl
        n = data[q + 1]
        if stop > end or data[q] != 0x02 or n >= 0x80 or n == 0 or stop < q + 2 + n:
            raise CrlError(f"revoked entry {index} at offset {pos}: malformed (expected SEQUENCE {{ INTEGER ... }})")
        if data[q + 2] >= 0x80:
            raise CrlError(f"revoked entry {index} at offset {pos}: negative serial number")
        if n > width:
            raise CrlError(f"revoked entry {index} at offset {pos}: serial number longer than 20 octets")
        yield data[q + 2 : q + 2 + n].rjust(width, b"\0"), data[pos:stop]
        pos = stop
        index += 1


def paginate(keyed: Iterable[tuple[bytes, bytes]], size: int = PAGE_SIZE) -> Iterator[Page]:
    """Sort ``(key, entry DER)`` pairs by key and cut them into pages. A serial listed twice
    (a malformed CRL) is refused with :class:`CrlError`: which of its entries speaks is not ours
    to guess."""
    pairs = sorted(keyed, key=itemgetter(0))
    it = iter(pairs)
    previous = b""
    while chunk := list(islice(it, size)):
        keys = [k for k, _ in chunk]
        if keys[0] == previous or len(set(keys)) != len(keys):
            raise CrlError("the CRL lists a serial number twice")
        entries = [e for _, e in chunk]
        ends = b"".join(_END.pack(n) for n in accumulate(map(len, entries)))
        previous = keys[-1]
        yield Page(previous, b"".join(keys), ends, b"".join(entries), len(chunk))


def find(keys: bytes, ends: bytes, entries: bytes, key: bytes) -> bytes | None:
    """The DER of the entry for ``key`` in one page, or None if the page does not list it."""
    pos = keys.find(key)
    while pos >= 0 and pos % KEY:  # a match straddling two keys: look further
        pos = keys.find(key, pos + 1)
    if pos < 0:
        return None
    i = pos // KEY
    start = _END.unpack_from(ends, (i - 1) * 4)[0] if i else 0
    return entries[start : _END.unpack_from(ends, i * 4)[0]]
