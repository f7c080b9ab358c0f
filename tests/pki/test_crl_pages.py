"""The peer CRL store's pages (registry.pki.crl.pages): every entry of a CRL is found by its serial
and no other serial is, whatever the serials' lengths; keys cut from the DER equal the keys of
the serials' numbers; what cannot be stored honestly (a serial listed twice, one longer than 20
octets, a negative one) is refused."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from registry.pki import crl
from registry.pki.crl import pages
from registry.pki.keys import Algorithm, PrivateKey

WHEN = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
KEY = PrivateKey.generate(Algorithm.ECDSA)


def _entry(serial: int, i: int) -> bytes:
    """An entry as another CA may write it: our encoder's for serials it makes, else by hand (a
    160-bit serial with its top bit set is 21 content octets: RFC 5280 users must handle it)."""
    if 0 < serial < 1 << 159:
        return crl.encode_entry(serial, WHEN + dt.timedelta(seconds=i), crl.CrlReason(i % 6))
    content = serial.to_bytes(serial.bit_length() // 8 + 1, "big")
    body = bytes([0x02, len(content)]) + content + b"\x17\x0d" + b"261101000000Z"
    return bytes([0x30, len(body)]) + body


def _crl(serials: list[int]) -> crl.ParsedCrl:
    entries = b"".join(_entry(s, i) for i, s in enumerate(serials))
    return crl.parse_crl(
        crl.build_crl(
            signer=KEY,
            issuer_name_der=bytes.fromhex("3000"),
            authority_key_id=b"k" * 20,
            number=7,
            this_update=WHEN,
            next_update=WHEN + dt.timedelta(days=1),
            entries=entries,
        )
    )


def _lookup(paged: list[pages.Page], serial: int) -> bytes | None:
    key = pages.serial_key(serial)
    page = next((p for p in paged if p.last_key >= key), None)  # what the index probe selects
    return None if page is None else pages.find(page.keys, page.ends, page.entries, key)


def test_every_entry_is_found_with_its_own_contents_and_no_other_serial_is() -> None:
    rng = random.Random(5)
    # short and long serials, serials that are byte-substrings of others, the top of the range
    serials = list({rng.getrandbits(rng.choice((8, 16, 63, 64, 120, 159, 160))) or 1 for _ in range(700)})
    serials += [0x0102, 0x010203, 0x020301, (1 << 160) - 1, 0x80]
    serials = list(dict.fromkeys(serials))
    rng.shuffle(serials)
    parsed = _crl(serials)
    paged = list(pages.paginate(pages.keyed_entries(parsed), size=16))
    assert sum(p.count for p in paged) == len(serials)
    assert [p.last_key for p in paged] == sorted(p.last_key for p in paged)
    decoded = {e.serial: e for e in parsed.entries()}
    for s in serials:
        raw = _lookup(paged, s)
        assert raw is not None, hex(s)
        assert crl.decode_entry(raw) == decoded[s]
    present = set(serials)
    absent = [s + 1 for s in serials if s + 1 not in present and s + 1 < 1 << 160]
    absent += [0x01, 0x03, 0x0203, 0x0301]  # straddling matches inside a page's keys
    for s in absent:
        if s not in present:
            assert _lookup(paged, s) is None, hex(s)


def test_a_match_straddling_two_keys_is_not_an_entry() -> None:
    # the keys of 0x05 and 0x0103 side by side read ...00 05 | 00 x19 01 03: the key of 0x05 << 152
    # (a 155-bit serial) appears across them, in the page the index probe picks for it
    parsed = _crl([0x05, 0x0103, 1 << 158])
    paged = list(pages.paginate(pages.keyed_entries(parsed), size=16))
    assert len(paged) == 1
    probe = pages.serial_key(0x05 << 152)
    assert paged[0].keys.find(probe) > 0
    assert _lookup(paged, 0x05 << 152) is None
    assert _lookup(paged, 0x05) is not None


def test_keys_cut_from_the_der_are_the_keys_of_the_numbers() -> None:
    serials = [1, 0x7F, 0x80, 0xFF, 0x100, (1 << 159) + 3, (1 << 160) - 1]
    parsed = _crl(serials)
    assert [k for k, _ in pages.keyed_entries(parsed)] == [pages.serial_key(s) for s in serials]
    assert all(len(k) == pages.KEY for k, _ in pages.keyed_entries(parsed))


def test_a_serial_listed_twice_is_refused() -> None:
    with pytest.raises(crl.CrlError, match="twice"):
        list(pages.paginate(pages.keyed_entries(_crl([5, 9, 5]))))
    # across a page boundary too
    with pytest.raises(crl.CrlError, match="twice"):
        list(pages.paginate(pages.keyed_entries(_crl([1, 2, 3, 3])), size=3))


def test_a_serial_longer_than_20_octets_or_negative_is_refused() -> None:
    with pytest.raises(crl.CrlError, match="longer than 20 octets"):
        list(pages.keyed_entries(_crl([1 << 168])))  # 22 content octets
    with pytest.raises(ValueError, match="20 octets"):
        pages.serial_key(1 << 168)
    with pytest.raises(ValueError, match="not negative"):
        pages.serial_key(-1)
    data = bytearray(_crl([0x42]).der)
    pos = data.index(bytes.fromhex("020142"))
    data[pos + 2] = 0xC2  # the serial's INTEGER now negative; the signature no longer matters here
    with pytest.raises(crl.CrlError, match="negative serial"):
        list(pages.keyed_entries(crl.parse_crl(bytes(data))))


def test_an_empty_crl_has_no_pages() -> None:
    assert list(pages.paginate(pages.keyed_entries(_crl([])))) == []
