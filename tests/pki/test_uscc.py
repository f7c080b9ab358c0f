"""GB 32100-2015 unified social credit code validation (registry.pki.uscc).

Fixtures are the examples of domain.md §3.5: real codes published in python-stdnum and other validators'
tests, plus fictitious Shenzhen codes generated for tests. Test names state the rule checked.
"""

from __future__ import annotations

import pytest

from registry.pki.uscc import (
    ALPHABET,
    UsccError,
    describe_uscc,
    is_valid_uscc,
    orgcode_check_char,
    uscc_check_char,
    validate_uscc,
)

# domain.md §3.5 — real published codes (both check layers pass).
REAL_CODES = [
    "91350100M000100Y43",  # the widely cited GB 32100-2015 example (福州)
    "91440300568520498A",  # Shenzhen
    "9144030071526726XG",  # Shenzhen, organisation-code check character X
    "91440300708461136T",  # Shenzhen
    "91110000600037341L",  # Beijing
    "91310115MA1K3BTP2B",  # Shanghai, new-style MA… body
    "121200004013590816",  # 机构编制 / 事业单位
    "92340602MA2PBMEM24",  # 个体工商户
]
# domain.md §3.5 — fictitious, test-only Shenzhen codes (not real companies).
FICTITIOUS_CODES = [
    "91440300MA5F12342Q",
    "91440300MA5GK7B25F",
    "92440300MA5GT0017N",
    "93440300MA5HW8N39L",
    "91440300000000000E",
]
VALID_CODES = REAL_CODES + FICTITIOUS_CODES

# domain.md §3.5 negative controls: a wrong check character, and two codes that third-party code lists as
# "valid" samples but that fail the GB 32100 check.
NEGATIVE_CONTROLS = [
    ("91110000600037341N", "check", "L"),
    ("91350200M000000510", "check", "D"),
    ("91350128M00000019A", "check", "F"),
]

EXCLUDED_LETTERS = "IOSVZ"


def _single_substitutions(code: str):
    """Every code differing from ``code`` in exactly one position, by another GB 32100 symbol."""
    for i, original in enumerate(code):
        for symbol in ALPHABET:
            if symbol != original:
                yield i, symbol, code[:i] + symbol + code[i + 1 :]


# --- the alphabet and the two check-character algorithms -----------------------------------------------


def test_alphabet_has_31_symbols_and_excludes_I_O_S_V_Z():
    assert len(ALPHABET) == 31 == len(set(ALPHABET))
    assert not set(EXCLUDED_LETTERS) & set(ALPHABET)
    assert set(ALPHABET) | set(EXCLUDED_LETTERS) == set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def test_uscc_check_char_reproduces_worked_example_of_domain_3_5():
    # Σ = 1640, 1640 mod 31 = 28, 31 − 28 = 3 → '3'
    assert uscc_check_char("91350100M000100Y4") == "3"


def test_orgcode_check_char_reproduces_worked_example_of_domain_3_5():
    # body M000100Y valued with the full Latin alphabet (M = 22, Y = 34): Σ = 139, 139 mod 11 = 7, 11 − 7 = 4
    assert orgcode_check_char("M000100Y") == "4"


def test_orgcode_check_char_writes_10_as_X_and_11_as_0():
    assert orgcode_check_char("71526726") == "X"
    assert orgcode_check_char("00000000") == "0"  # Σ = 0 → 11 − 0 = 11 → '0'


def test_uscc_check_char_writes_31_as_0():
    first17 = "00000000000000000"  # Σ = 0 → 31 − 0 = 31 → '0'
    assert uscc_check_char(first17) == "0"


def test_layers_value_letters_differently_M_is_22_for_orgcode_and_21_for_uscc():
    # Body of the real code 91310115MA1K3BTP2B. Valued with the full Latin alphabet (GB 11714: M = 22,
    # K = 20, T = 29, P = 25) the check character is '2', as published; valued with the 31-symbol index
    # (M = 21, K = 19, T = 26, P = 23) it would be '9'. (For the standard example body M000100Y the two
    # valuations happen to agree — M and Y shift the sum by 3 + 8 = 11 — so it cannot tell them apart.)
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    wrong_sum = sum(ALPHABET.index(c) * w for c, w in zip("MA1K3BTP", weights, strict=True))
    assert str(11 - wrong_sum % 11) == "9"
    assert orgcode_check_char("MA1K3BTP") == "2"
    assert ALPHABET.index("M") == 21 and ord("M") - ord("A") + 10 == 22


@pytest.mark.parametrize("bad", ["1234567890123456", "123456789012345678", "9135010OM000100Y4"])
def test_uscc_check_char_rejects_wrong_length_or_foreign_symbol(bad):
    with pytest.raises(ValueError):
        uscc_check_char(bad)


@pytest.mark.parametrize("bad", ["1234567", "123456789", "1234567a"])
def test_orgcode_check_char_rejects_wrong_length_or_lower_case(bad):
    with pytest.raises(ValueError):
        orgcode_check_char(bad)


# --- the examples of domain.md §3.5 pass on both layers ---------------------------------------------------


@pytest.mark.parametrize("code", VALID_CODES)
def test_domain_examples_pass_both_check_layers(code):
    assert orgcode_check_char(code[8:16]) == code[16]
    assert uscc_check_char(code[:17]) == code[17]
    assert validate_uscc(code) == code
    assert is_valid_uscc(code)


# --- every single-character change of every example fails -----------------------------------------------


@pytest.mark.parametrize("code", VALID_CODES)
def test_every_single_character_substitution_of_an_example_fails(code):
    """Each position × each of the 30 other symbols (18 × 30 = 540 variants per code) is rejected.

    Proof that this must hold (so the test is a regression check, not luck): a substitution at position i
    changes that symbol's value by δ with 0 < |δ| ≤ 30, hence the GB 32100 sum by δ·Wᵢ, where
    Wᵢ = 3^(i−1) mod 31 for i ≤ 17 and W₁₈ = 1. No Wᵢ is 0 and 31 is prime, so δ·Wᵢ ≢ 0 (mod 31) and
    position 18 no longer matches. Which check *reports* it depends on the earlier checks, asserted below.
    """
    variants = 0
    for i, symbol, variant in _single_substitutions(code):
        variants += 1
        assert not is_valid_uscc(variant), variant
        with pytest.raises(UsccError) as info:
            validate_uscc(variant)
        check = info.value.check
        pos = i + 1
        if 3 <= pos <= 8 and not symbol.isdigit():
            assert check == "area", variant
        elif pos == 17:
            # The organisation-code check character is a function of positions 9–16: any other value fails.
            assert check == "orgcode", variant
        elif 9 <= pos <= 16:
            # Either layer may catch it first (see the next test for the ones only GB 32100 catches).
            assert check in ("orgcode", "check"), variant
        else:
            assert check == "check", variant
    assert variants == 18 * 30


def test_orgcode_layer_alone_misses_changes_by_multiples_of_11_which_the_uscc_layer_catches():
    # GB 11714 values span 0–35, so e.g. '0' (0) → 'B' (11) in the body leaves the mod-11 sum unchanged.
    # Such a variant passes the position-17 check and must be rejected by the position-18 check.
    code = "91440300000000000E"
    variant = code[:8] + "B" + code[9:]
    assert orgcode_check_char(variant[8:16]) == variant[16]
    with pytest.raises(UsccError) as info:
        validate_uscc(variant)
    assert info.value.check == "check"

    missed_by_orgcode = [
        v
        for code in VALID_CODES
        for i, _s, v in _single_substitutions(code)
        if 8 <= i <= 15 and orgcode_check_char(v[8:16]) == v[16]
    ]
    assert missed_by_orgcode, "expected some body changes that only the GB 32100 layer detects"
    assert not any(is_valid_uscc(v) for v in missed_by_orgcode)


@pytest.mark.parametrize("code", VALID_CODES)
def test_excluded_letters_I_O_S_V_Z_fail_the_charset_check_at_any_position(code):
    for i in range(18):
        for letter in EXCLUDED_LETTERS:
            variant = code[:i] + letter + code[i + 1 :]
            with pytest.raises(UsccError) as info:
                validate_uscc(variant)
            assert info.value.check == "charset"
            assert f"position {i + 1}" in str(info.value)


# --- negative controls of domain.md §3.5 ----------------------------------------------------------------


@pytest.mark.parametrize(("code", "check", "expected"), NEGATIVE_CONTROLS)
def test_negative_controls_of_domain_3_5_fail_the_gb32100_check(code, check, expected):
    with pytest.raises(UsccError) as info:
        validate_uscc(code)
    assert info.value.check == check
    assert f"requires {expected!r}" in str(info.value)
    assert not is_valid_uscc(code)


# --- each failure names its check -------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["", "   ", "\t\n"])
def test_empty_code_fails_the_length_check(code):
    with pytest.raises(UsccError) as info:
        validate_uscc(code)
    assert info.value.check == "length"
    assert "empty" in str(info.value)


@pytest.mark.parametrize("code", ["91350100M000100Y4", "91350100M000100Y433", "9135"])
def test_wrong_length_fails_the_length_check_and_states_the_length_found(code):
    with pytest.raises(UsccError) as info:
        validate_uscc(code)
    assert info.value.check == "length"
    assert f"has {len(code)} characters" in str(info.value)
    assert "18" in str(info.value)


def test_character_outside_the_alphabet_is_named_with_its_position_and_the_excluded_letters():
    with pytest.raises(UsccError) as info:
        validate_uscc("91350100M000I00Y43")
    message = str(info.value)
    assert info.value.check == "charset"
    assert "'I'" in message and "position 13" in message
    assert "I, O, S, V, Z" in message


@pytest.mark.parametrize(
    ("code", "char", "pos"),
    [
        ("91350100M000100Y4-", "-", 18),
        ("9135０100M000100Y43", "０", 5),  # full-width digit: not an ASCII code symbol
        ("91350100M000 00Y43", " ", 13),  # interior whitespace is not stripped
    ],
)
def test_non_symbol_characters_fail_the_charset_check(code, char, pos):
    with pytest.raises(UsccError) as info:
        validate_uscc(code)
    assert info.value.check == "charset"
    assert repr(char) in str(info.value) and f"position {pos}" in str(info.value)


def test_letter_in_positions_3_to_8_fails_the_area_check():
    with pytest.raises(UsccError) as info:
        validate_uscc("9144A300568520498A")
    assert info.value.check == "area"
    assert "positions 3-8" in str(info.value) and "administrative division" in str(info.value)


def test_wrong_position_17_fails_the_orgcode_check_and_states_the_expected_character():
    with pytest.raises(UsccError) as info:
        validate_uscc("91350100M000100Y53")
    assert info.value.check == "orgcode"
    assert "position 17" in str(info.value) and "GB 11714" in str(info.value)
    assert "requires '4'" in str(info.value)


def test_wrong_position_18_fails_the_check_character_check_and_states_the_expected_character():
    with pytest.raises(UsccError) as info:
        validate_uscc("91350100M000100Y44")
    assert info.value.check == "check"
    assert "position 18" in str(info.value) and "GB 32100" in str(info.value)
    assert "requires '3'" in str(info.value)


def test_usccerror_is_a_valueerror():
    assert issubclass(UsccError, ValueError)


def test_non_str_input_is_a_type_error_and_not_valid():
    with pytest.raises(TypeError):
        validate_uscc(91350100)  # type: ignore[arg-type]
    assert not is_valid_uscc(None)  # type: ignore[arg-type]


# --- normalisation ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "91310115ma1k3btp2b",
        "  91310115MA1K3BTP2B  ",
        "\t91310115Ma1K3bTp2B\n",
    ],
)
def test_lower_case_and_surrounding_whitespace_normalise(raw):
    assert validate_uscc(raw) == "91310115MA1K3BTP2B"
    assert is_valid_uscc(raw)


def test_lower_case_excluded_letter_is_still_rejected():
    with pytest.raises(UsccError) as info:
        validate_uscc("91350100m000100y4o")
    assert info.value.check == "charset" and "'O'" in str(info.value)


# --- describe_uscc ----------------------------------------------------------------------------------------


def test_describe_splits_authority_category_area_and_organisation_code():
    assert describe_uscc(" 91350100m000100y43 ") == {
        "code": "91350100M000100Y43",
        "authority_code": "9",
        "authority": "工商",
        "category_code": "1",
        "category": "企业",
        "area_code": "350100",
        "organisation_code": "M000100Y-4",
        "check_char": "3",
    }


def test_describe_names_other_authorities_and_categories():
    d = describe_uscc("121200004013590816")
    assert (d["authority"], d["category"], d["area_code"]) == ("机构编制", "事业单位", "120000")
    d = describe_uscc("92340602MA2PBMEM24")
    assert (d["authority"], d["category"]) == ("工商", "个体工商户")


def test_describe_reports_unknown_authority_as_none():
    first17 = "H1440300MA5F1234" + orgcode_check_char("MA5F1234")
    code = first17 + uscc_check_char(first17)
    d = describe_uscc(code)
    assert d["authority_code"] == "H" and d["authority"] is None and d["category"] is None


def test_describe_rejects_an_invalid_code():
    with pytest.raises(UsccError):
        describe_uscc("91110000600037341N")
