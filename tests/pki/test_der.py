"""DER encoder and decoder (registry.pki.der), checked against known encodings (X.690, RFC 5280) and the
independent encoder in ``asn1crypto``; the decoder's error contract is checked with random input.

Each test names the rule it checks.
"""

from __future__ import annotations

import datetime as dt
import itertools

import asn1crypto.core
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.pki import der
from registry.pki.der import DERError, Node

UTC = dt.UTC
# No example database: the tree is shared and this suite must not write files outside tmp_path.
PROPERTY = settings(database=None, deadline=None, max_examples=400, suppress_health_check=[HealthCheck.too_slow])


# --- INTEGER ----------------------------------------------------------------------------------

INTEGER_VECTORS = [
    (0, "020100"),
    (1, "020101"),
    (-1, "0201ff"),
    (127, "02017f"),
    (128, "02020080"),
    (255, "020200ff"),
    (256, "02020100"),
    (-128, "020180"),
    (-129, "0202ff7f"),
    (-256, "0202ff00"),
    (-257, "0202feff"),
    (32767, "02027fff"),
    (32768, "0203008000"),
    (2**159, "021500" + "80" + "00" * 19),
    (2**159 - 1, "0214" + "7f" + "ff" * 19),
]


@pytest.mark.parametrize("value,encoding", INTEGER_VECTORS, ids=[str(v) for v, _ in INTEGER_VECTORS])
def test_integer_is_minimal_twos_complement(value: int, encoding: str) -> None:
    assert der.integer(value).hex() == encoding


@pytest.mark.parametrize("value,encoding", INTEGER_VECTORS, ids=[str(v) for v, _ in INTEGER_VECTORS])
def test_integer_decodes_back_to_its_value(value: int, encoding: str) -> None:
    node = der.parse(bytes.fromhex(encoding))
    assert node.is_universal(der.INTEGER)
    assert node.as_int() == value


@PROPERTY
@given(st.integers(min_value=-(2**300), max_value=2**300))
def test_integer_encoding_matches_asn1crypto_and_round_trips(value: int) -> None:
    enc = der.integer(value)
    assert enc == asn1crypto.core.Integer(value).dump()
    assert der.parse(enc).as_int() == value


def test_enumerated_uses_tag_10_with_integer_contents() -> None:
    assert der.enumerated(1).hex() == "0a0101"
    assert der.enumerated(300).hex() == "0a02012c"


def test_empty_integer_contents_are_rejected() -> None:
    with pytest.raises(DERError, match="offset 0"):
        der.parse(b"\x02\x00").as_int()


# --- OBJECT IDENTIFIER ------------------------------------------------------------------------

OID_VECTORS = [
    ("1.2.156.10197.1.501", "06082a811ccf55018375"),  # SM2-with-SM3 (domain.md §1.6)
    ("1.2.156.10197.1.301", "06082a811ccf5501822d"),  # SM2 curve
    ("1.2.840.10045.2.1", "06072a8648ce3d0201"),  # id-ecPublicKey
    ("1.2.840.10045.3.1.7", "06082a8648ce3d030107"),  # prime256v1
    ("2.5.29.15", "0603551d0f"),  # keyUsage
    ("2.999.3", "0603883703"),  # X.690 §8.19.5 example: first subidentifier 1079
    ("0.0", "060100"),
]


@pytest.mark.parametrize("dotted,encoding", OID_VECTORS, ids=[d for d, _ in OID_VECTORS])
def test_oid_encoding_matches_known_bytes(dotted: str, encoding: str) -> None:
    assert der.oid(dotted).hex() == encoding


@pytest.mark.parametrize("dotted,encoding", OID_VECTORS, ids=[d for d, _ in OID_VECTORS])
def test_oid_decodes_back_to_dotted_form(dotted: str, encoding: str) -> None:
    assert der.parse(bytes.fromhex(encoding)).as_oid() == dotted


@PROPERTY
@given(st.tuples(st.integers(0, 2), st.integers(0, 39), st.lists(st.integers(0, 2**70), max_size=8)))
def test_oid_encoding_matches_asn1crypto_and_round_trips(arcs: tuple[int, int, list[int]]) -> None:
    first, second, rest = arcs
    dotted = ".".join(str(a) for a in [first, second, *rest])
    enc = der.oid(dotted)
    assert enc == asn1crypto.core.ObjectIdentifier(dotted).dump()
    assert der.parse(enc).as_oid() == dotted


@pytest.mark.parametrize("dotted", ["1", "3.1", "0.40", "1.40.2", "1.2.x"])
def test_invalid_oids_are_refused_by_the_encoder(dotted: str) -> None:
    with pytest.raises(ValueError):
        der.oid(dotted)


def test_oid_whose_last_subidentifier_is_unfinished_is_rejected() -> None:
    with pytest.raises(DERError, match="truncated OBJECT IDENTIFIER at offset 0"):
        der.parse(b"\x06\x02\x2a\x81").as_oid()


# --- lengths, tags and the small encoders -----------------------------------------------------


@pytest.mark.parametrize(
    "size,header",
    [(0, "0400"), (127, "047f"), (128, "048180"), (255, "0481ff"), (256, "04820100"), (65536, "0483010000")],
)
def test_length_uses_short_form_below_128_and_minimal_long_form_above(size: int, header: str) -> None:
    enc = der.octet_string(b"\x00" * size)
    assert enc.hex().startswith(header)
    assert len(enc) == len(header) // 2 + size
    assert der.parse(enc).content == b"\x00" * size


def test_explicit_and_implicit_context_tags() -> None:
    assert der.explicit(0, der.integer(2)).hex() == "a003020102"
    assert der.implicit(6, b"x").hex() == "860178"
    assert der.implicit(0, b"", constructed=True).hex() == "a000"


@pytest.mark.parametrize("number", [0, 30, 31, 127, 128, 16383, 16384, 2**21])
def test_context_tag_numbers_round_trip_including_high_tag_form(number: int) -> None:
    node = der.parse(der.explicit(number, der.null()))
    assert node.cls == der.CLASS_CONTEXT and node.constructed and node.number == number
    assert node.children()[0].is_universal(der.NULL)
    prim = der.parse(der.implicit(number, b"ab"))
    assert prim.cls == der.CLASS_CONTEXT and not prim.constructed and prim.number == number
    assert prim.content == b"ab"


def test_high_tag_number_form_matches_x690_example() -> None:
    # X.690 §8.1.2.4: tag 31 needs the 0x1F escape and one subsequent octet.
    assert der.explicit(31, b"").hex() == "bf1f00"
    assert der.implicit(201, b"").hex() == "9f814900"


def test_boolean_true_is_ff_and_false_is_00() -> None:
    assert der.boolean(True).hex() == "0101ff"
    assert der.boolean(False).hex() == "010100"
    assert der.parse(der.boolean(True)).as_bool() is True
    assert der.parse(der.boolean(False)).as_bool() is False


def test_null_and_bit_string_encodings() -> None:
    assert der.null().hex() == "0500"
    assert der.bit_string(b"\xc0", 6).hex() == "030206c0"
    assert der.parse(der.bit_string(b"\x04abc")).as_bit_string() == b"\x04abc"


def test_bit_string_with_more_than_seven_unused_bits_is_rejected() -> None:
    with pytest.raises(DERError, match="offset 0"):
        der.parse(b"\x03\x02\x08\x00").as_bit_string()


def test_printable_string_refuses_characters_outside_its_alphabet() -> None:
    assert der.printable("CN").hex() == "1302434e"
    for bad in ["a@b", "深圳", "x_y", "a*"]:
        with pytest.raises(ValueError):
            der.printable(bad)


def test_ia5_refuses_non_ascii() -> None:
    assert der.ia5("http://x").hex() == "1608" + b"http://x".hex()
    with pytest.raises(ValueError):
        der.ia5("http://深圳")


def test_utf8_string_round_trips_chinese_text() -> None:
    enc = der.utf8("深圳测试有限公司")
    assert enc[0] == der.UTF8_STRING
    assert der.parse(enc).as_str() == "深圳测试有限公司"


def test_string_accessor_rejects_invalid_utf8_with_offset() -> None:
    with pytest.raises(DERError, match="offset 0"):
        der.parse(b"\x0c\x02\xff\xfe").as_str()


# --- SET OF ordering (X.690 §11.6) ------------------------------------------------------------


def test_set_of_sorts_its_elements_by_encoding() -> None:
    a, b, c = der.integer(1), der.integer(2), der.utf8("a")
    expected = "3109" + "020101" + "020102" + "0c0161"
    for perm in itertools.permutations([c, b, a]):
        assert der.set_of(*perm).hex() == expected


def test_set_of_compares_encodings_octet_by_octet_not_by_length() -> None:
    # X.690 §11.6: ordering is by the whole encodings as octet strings, so a long INTEGER (tag 02)
    # sorts before an empty OCTET STRING (tag 04).
    longer, shorter = der.integer(2**64), der.octet_string(b"")
    assert der.set_of(shorter, longer) == der.tlv(der.SET, longer + shorter)
    assert der.set_of(longer, shorter) == der.tlv(der.SET, longer + shorter)


@PROPERTY
@given(st.lists(st.binary(max_size=6), max_size=6))
def test_set_of_equals_asn1crypto_der_ordering(items: list[bytes]) -> None:
    parts = [der.octet_string(i) for i in items]

    class OctetSet(asn1crypto.core.SetOf):
        _child_spec = asn1crypto.core.OctetString

    assert der.set_of(*parts) == OctetSet(items).dump(force=True)


# --- times (RFC 5280 §4.1.2.5) ----------------------------------------------------------------


def test_x509_time_uses_utctime_through_2049() -> None:
    enc = der.x509_time(dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC))
    assert enc == b"\x17\x0d" + b"491231235959Z"


def test_x509_time_uses_generalizedtime_from_2050() -> None:
    enc = der.x509_time(dt.datetime(2050, 1, 1, 0, 0, 0, tzinfo=UTC))
    assert enc == b"\x18\x0f" + b"20500101000000Z"


def test_x509_time_converts_to_utc_before_choosing_the_type() -> None:
    # 2050-01-01 07:00 in Beijing is still 2049 in UTC.
    beijing = dt.timezone(dt.timedelta(hours=8))
    enc = der.x509_time(dt.datetime(2050, 1, 1, 7, 0, 0, tzinfo=beijing))
    assert enc == b"\x17\x0d" + b"491231230000Z"


def test_x509_time_before_1950_uses_generalizedtime() -> None:
    # RFC 5280 §4.1.2.5.1: UTCTime YY >= 50 means 19YY, so UTCTime can only carry 1950-2049.
    when = dt.datetime(1949, 6, 1, 12, 0, 0, tzinfo=UTC)
    enc = der.x509_time(when)
    assert enc[0] == der.GENERALIZED_TIME
    assert der.parse(enc).as_time() == when


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        der.x509_time(dt.datetime(2030, 1, 1))


@pytest.mark.parametrize(
    "text,year",
    [
        ("500101000000Z", 1950),
        ("680101000000Z", 1968),
        ("690101000000Z", 1969),
        ("991231235959Z", 1999),
        ("000101000000Z", 2000),
        ("491231235959Z", 2049),
    ],
)
def test_utctime_two_digit_year_pivots_at_50(text: str, year: int) -> None:
    t = der.parse(der.tlv(der.UTC_TIME, text.encode())).as_time()
    assert t.year == year and t.tzinfo == UTC


def test_generalized_time_with_fraction_is_read() -> None:
    t = der.parse(der.tlv(der.GENERALIZED_TIME, b"20991231235959.5Z")).as_time()
    assert t == dt.datetime(2099, 12, 31, 23, 59, 59, 500000, tzinfo=UTC)


@pytest.mark.parametrize(
    "raw",
    [
        b"\x17\x0d" + b"991331235959Z",
        b"\x17\x0c" + b"991231235959",
        b"\x18\x0f" + b"2050010100000Z0",
        b"\x17\x03abc",
        b"\x17\x00",
    ],
)
def test_malformed_times_raise_der_error_naming_the_offset(raw: bytes) -> None:
    with pytest.raises(DERError, match="offset 0"):
        der.parse(raw).as_time()


def test_utctime_without_seconds_is_rejected_not_misread() -> None:
    # RFC 5280 §4.1.2.5.1: UTCTime MUST include seconds (YYMMDDHHMMSSZ). "9912312359Z" means 23:59
    # in BER; reading it as 23:05:09 would silently move a validity bound.
    node = der.parse(der.tlv(der.UTC_TIME, b"9912312359Z"))
    try:
        value = node.as_time()
    except DERError as exc:
        assert "offset 0" in str(exc)
        return
    pytest.fail(f"UTCTime 9912312359Z decoded as {value.isoformat()}")


@PROPERTY
@given(
    st.datetimes(
        min_value=dt.datetime(1950, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59), timezones=st.just(UTC)
    )
)
def test_x509_time_round_trips_to_the_second(when: dt.datetime) -> None:
    when = when.replace(microsecond=0)
    enc = der.x509_time(when)
    assert enc[0] == (der.UTC_TIME if when.year < 2050 else der.GENERALIZED_TIME)
    assert der.parse(enc).as_time() == when


# --- decoder errors: offsets in messages ------------------------------------------------------


def test_trailing_bytes_are_rejected_naming_their_offset() -> None:
    with pytest.raises(DERError, match=r"1 trailing bytes .* offset 2"):
        der.parse(b"\x05\x00\x00")


def test_trailing_bytes_are_allowed_only_on_request() -> None:
    node = der.parse(b"\x05\x00\x02\x01\x01", allow_trailing=True)
    assert node.is_universal(der.NULL) and node.raw == b"\x05\x00"


def test_indefinite_length_is_rejected() -> None:
    with pytest.raises(DERError, match="indefinite length at offset 0"):
        der.parse(b"\x30\x80\x05\x00\x00\x00")


def test_nested_indefinite_length_reports_its_absolute_offset() -> None:
    outer = der.parse(b"\x30\x06\x02\x01\x01\x30\x80\x00")
    with pytest.raises(DERError, match="indefinite length at offset 5"):
        outer.children()


def test_empty_input_is_rejected() -> None:
    with pytest.raises(DERError, match="offset 0"):
        der.parse(b"")


@pytest.mark.parametrize("raw", [b"\x30", b"\x1f", b"\x1f\x81", b"\x30\x82\x01", b"\x30\x85\x01\x00\x00\x00\x00"])
def test_truncated_headers_are_rejected_with_offset(raw: bytes) -> None:
    with pytest.raises(DERError, match="offset 0"):
        der.parse(raw)


def test_length_past_the_end_is_rejected_with_offset_and_sizes() -> None:
    with pytest.raises(DERError, match=r"offset 0 claims 3 bytes but only 2 remain"):
        der.parse(b"\x30\x03\x02\x01")


def test_child_length_past_its_parent_reports_the_child_offset() -> None:
    node = der.parse(b"\x30\x05\x02\x01\x01\x04\x05")
    with pytest.raises(DERError, match=r"offset 5 claims 5 bytes but only 0 remain"):
        node.children()


def test_non_bytes_input_is_a_der_error() -> None:
    with pytest.raises(DERError):
        der.parse("3000")  # type: ignore[arg-type]


def test_children_of_a_primitive_is_a_der_error() -> None:
    with pytest.raises(DERError, match="not constructed"):
        der.parse(b"\x02\x01\x01").children()


def test_expect_names_the_wanted_and_found_types() -> None:
    node = der.parse(b"\x02\x01\x01")
    assert node.expect(der.INTEGER) is node
    with pytest.raises(DERError, match=r"serial at offset 0: expected OBJECT IDENTIFIER, found INTEGER"):
        node.expect(der.OID, "serial")


# --- Node.raw is the exact input --------------------------------------------------------------


def _walk(node: Node):
    """Every node under ``node`` (iterative, so deep random nesting cannot hit the recursion limit)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        if n.constructed:
            stack.extend(n.children())


def test_node_raw_keeps_non_minimal_lengths_exactly_as_received() -> None:
    # Long-form length 0x81 0x03 for a 3-byte INTEGER (not DER-minimal): the decoder is tolerant,
    # and a signature must be checked over these bytes, not over a re-encoding.
    inner = b"\x02\x81\x03\x01\x00\x01"
    body = inner + b"\x04\x03abc"
    data = b"\x30" + bytes([len(body)]) + body
    top = der.parse(data)
    kids = top.children()
    assert kids[0].raw == inner and kids[0].offset == 2 and kids[0].header_len == 3
    assert kids[0].as_int() == 65537
    assert kids[1].raw == b"\x04\x03abc" and kids[1].offset == 2 + len(inner)
    for n in _walk(top):
        assert data[n.offset : n.offset + len(n.raw)] == n.raw


def test_grandchild_offsets_are_absolute() -> None:
    data = der.seq(der.integer(5), der.seq(der.null(), der.explicit(1, der.utf8("hi"))))
    top = der.parse(data)
    tagged = top.children()[1].children()[1]
    assert tagged.is_context(1)
    leaf = tagged.children()[0]
    assert data[leaf.offset : leaf.offset + len(leaf.raw)] == der.utf8("hi") == leaf.raw
    assert leaf.content == b"hi"


# --- PEM --------------------------------------------------------------------------------------


def test_pem_round_trip_with_64_character_lines() -> None:
    blob = bytes(range(256)) * 2
    pem = der.der_to_pem(blob, "CERTIFICATE")
    lines = pem.strip().splitlines()
    assert lines[0] == "-----BEGIN CERTIFICATE-----" and lines[-1] == "-----END CERTIFICATE-----"
    assert all(len(line) <= 64 for line in lines[1:-1]) and len(lines[1]) == 64
    assert der.pem_to_der(pem) == blob
    assert der.pem_to_der(pem.encode(), "CERTIFICATE") == blob


def test_pem_to_der_picks_the_requested_label() -> None:
    text = der.der_to_pem(b"\x05\x00", "EC PARAMETERS") + der.der_to_pem(b"\x02\x01\x07", "EC PRIVATE KEY")
    assert der.pem_to_der(text, "EC PRIVATE KEY") == b"\x02\x01\x07"
    assert der.pem_to_der(text) == b"\x05\x00"


def test_pem_without_the_label_or_with_bad_base64_is_a_der_error() -> None:
    with pytest.raises(DERError, match="no PEM block CERTIFICATE found"):
        der.pem_to_der(der.der_to_pem(b"\x05\x00", "PUBLIC KEY"), "CERTIFICATE")
    with pytest.raises(DERError, match="not valid base64"):
        der.pem_to_der("-----BEGIN X-----\n@@@@\n-----END X-----\n")
    with pytest.raises(DERError):
        der.pem_to_der("no pem here")


# --- the decoder's contract on arbitrary input ------------------------------------------------


def _exercise(data: bytes) -> None:
    """Parse, walk and read every node; anything but success or DERError fails the test."""
    try:
        top = der.parse(data)
    except DERError:
        return
    assert top.raw == data
    try:
        for n in _walk(top):
            assert data[n.offset : n.offset + len(n.raw)] == n.raw
            assert n.raw[n.header_len :] == n.content
            for accessor in (n.as_int, n.as_bool, n.as_oid, n.as_bytes, n.as_bit_string, n.as_str, n.as_time):
                try:
                    accessor()
                except DERError:
                    pass
    except DERError:
        return


@PROPERTY
@given(st.binary(max_size=200))
def test_random_bytes_parse_or_raise_der_error(data: bytes) -> None:
    _exercise(data)


_leaves = st.one_of(
    st.integers(-(2**70), 2**70).map(der.integer),
    st.booleans().map(der.boolean),
    st.just(der.null()),
    st.binary(max_size=8).map(der.octet_string),
    st.binary(max_size=8).map(der.bit_string),
    st.text(max_size=5).map(der.utf8),
    st.sampled_from(["1.2.156.10197.1.501", "2.5.4.3", "1.2.840.10045.2.1"]).map(der.oid),
    st.sampled_from([der.utc_time, der.generalized_time]).map(
        lambda f: f(dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC))
    ),
)
_trees = st.recursive(
    _leaves,
    lambda kids: st.one_of(
        st.lists(kids, max_size=4).map(lambda xs: der.seq(*xs)),
        st.lists(kids, max_size=4).map(lambda xs: der.set_of(*xs)),
        st.tuples(st.integers(0, 40), kids).map(lambda t: der.explicit(*t)),
    ),
    max_leaves=12,
)


@st.composite
def _mutated_der(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(_trees))
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] ^= draw(st.integers(1, 255))
        elif op == "cut":
            del data[i:]
        elif op == "insert":
            data.insert(i, draw(st.integers(0, 255)))
        else:
            del data[i]
    return bytes(data)


@PROPERTY
@given(_trees)
def test_valid_trees_parse_and_every_node_is_an_exact_slice(data: bytes) -> None:
    top = der.parse(data)
    nodes = list(_walk(top))
    assert nodes[0].raw == data
    assert all(data[n.offset : n.offset + len(n.raw)] == n.raw for n in nodes)


@PROPERTY
@given(_mutated_der())
def test_mutated_der_parses_or_raises_der_error(data: bytes) -> None:
    _exercise(data)


def test_deep_nesting_does_not_escape_as_recursion_error() -> None:
    data = der.null()
    for _ in range(3000):
        data = der.seq(data)
    depth = sum(1 for _ in _walk(der.parse(data)))
    assert depth == 3001
