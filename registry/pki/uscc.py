"""Unified social credit code (统一社会信用代码) validation — GB 32100-2015, with GB 11714-1997 inside it.

An 18-character code is laid out as (GB 32100-2015 §4):

    pos 1      登记管理部门代码  registration authority (``9`` = 工商 / market regulation)
    pos 2      机构类别代码      entity category under that authority (under ``9``: 1 企业, 2 个体工商户, 3 农民专业合作社)
    pos 3–8    登记管理机关行政区划码  GB/T 2260 administrative division code, 6 digits (Shenzhen = ``440300``)
    pos 9–17   主体标识码        the GB 11714 organisation code: 8 body characters + 1 check character
    pos 18     校验码            GB 32100 check character over positions 1–17

Two independent check layers are verified:

* GB 11714-1997 (position 17): body characters valued ``0``–``9`` → 0–9 and ``A``–``Z`` → 10–35 (the *full*
  Latin alphabet), weights 3, 7, 9, 10, 5, 8, 4, 2; ``C9 = 11 − (Σ mod 11)`` with 10 → ``X`` and 11 → ``0``.
* GB 32100-2015 (position 18): characters valued by their index in the 31-symbol alphabet
  ``0123456789ABCDEFGHJKLMNPQRTUWXY`` (I, O, S, V, Z are never used), weights ``3^(i−1) mod 31``;
  ``C18 = 31 − (Σ mod 31)`` with 31 → ``0``.

Note the two layers value letters differently (``M`` is 22 for GB 11714 but 21 for GB 32100).

Why one wrong character is always caught: changing the character at position *i* (1 ≤ i ≤ 18) to another
symbol of the alphabet changes its value by some δ with 0 < |δ| ≤ 30, so the weighted sum changes by δ·Wᵢ.
Every weight Wᵢ = 3^(i−1) mod 31 (and W₁₈ = 1) is non-zero and 31 is prime, so δ·Wᵢ ≢ 0 (mod 31): the
GB 32100 check character no longer matches. The GB 11714 layer alone does *not* have this property — its
values span 0–35, so a change by δ = 11, 22 or 33 (e.g. ``0`` → ``B``) leaves the mod-11 sum unchanged.

The module is pure: no I/O, no clock, no framework imports.
"""

from __future__ import annotations

from typing import Final, Literal

from ..messages import Localized, M, Message

__all__ = [
    "ALPHABET",
    "UsccError",
    "describe_uscc",
    "is_valid_uscc",
    "orgcode_check_char",
    "uscc_check_char",
    "validate_uscc",
]

#: GB 32100-2015 code symbols; a symbol's value is its index (0…30). I, O, S, V, Z are excluded.
ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE: Final = {c: i for i, c in enumerate(ALPHABET)}
#: GB 32100-2015 weights for positions 1–17: 3^(i−1) mod 31.
_USCC_WEIGHTS: Final = tuple(pow(3, i, 31) for i in range(17))
#: GB 11714-1997 weights for the 8 body characters of an organisation code: 2^(9−i) mod 11.
_ORG_WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)
_EXCLUDED: Final = "I, O, S, V, Z"

CheckName = Literal["length", "charset", "area", "orgcode", "check"]

# 登记管理部门代码 and 机构类别代码 for display only. Source: the third-party enums
# fdstar/NumberValidators ManagementCode.cs / ManagementKindCode.cs (domain.md §3.1, [IMPL] — the official
# table was not read); unknown codes are reported as None, never rejected.
_AUTHORITIES: Final[dict[str, str]] = {
    "1": "机构编制",
    "2": "外交",
    "3": "教育",
    "4": "公安",
    "5": "民政",
    "6": "司法",
    "7": "交通运输",
    "8": "文化",
    "9": "工商",
    "A": "旅游",
    "B": "宗教事务",
    "C": "全国总工会",
    "D": "人民解放军总后勤部",
    "E": "省级人民政府",
    "F": "地市级人民政府",
    "G": "区县级人民政府",
    "Y": "其他",
}
_CATEGORIES: Final[dict[str, dict[str, str]]] = {
    "1": {"1": "机关", "2": "事业单位", "3": "中央编办直接管理机构编制的群众团体", "9": "其他"},
    "5": {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"},
    "9": {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"},
}


class UsccError(Localized, ValueError):
    """A unified social credit code failed validation.

    ``check`` is the machine name of the failed check: ``"length"``, ``"charset"``, ``"area"``,
    ``"orgcode"`` (GB 11714 check character, position 17) or ``"check"`` (GB 32100 check character,
    position 18). The message is one human-readable sentence naming that check.
    """

    def __init__(self, check: CheckName, message: Message | str, /, **params: object) -> None:
        super().__init__(message, **params)
        self.check: CheckName = check


def uscc_check_char(first17: str) -> str:
    """Return the GB 32100-2015 check character (position 18) for the first 17 characters of a code.

    ``first17`` must be exactly 17 symbols of :data:`ALPHABET` (upper case); otherwise ``ValueError``.
    """
    if len(first17) != 17:
        raise ValueError(f"expected 17 characters, got {len(first17)}")
    try:
        total = sum(_VALUE[c] * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    except KeyError as exc:
        raise ValueError(f"character {exc.args[0]!r} is not a GB 32100 code symbol") from None
    # GB 32100-2015 §5: C18 = 31 − MOD(Σ Ci×Wi, 31); a result of 31 is written as 0.
    return ALPHABET[(31 - total % 31) % 31]


def _org_value(c: str) -> int:
    # GB 11714-1997: digits keep their value, letters A–Z are 10–35 (full Latin alphabet).
    if "0" <= c <= "9":
        return ord(c) - ord("0")
    if "A" <= c <= "Z":
        return ord(c) - ord("A") + 10
    raise ValueError(f"character {c!r} is not a GB 11714 code character")


def orgcode_check_char(body8: str) -> str:
    """Return the GB 11714-1997 organisation-code check character for an 8-character body.

    ``body8`` must be 8 characters from ``0``–``9`` / ``A``–``Z`` (upper case); otherwise ``ValueError``.
    The result is ``0``–``9`` or ``X``.
    """
    if len(body8) != 8:
        raise ValueError(f"expected 8 characters, got {len(body8)}")
    total = sum(_org_value(c) * w for c, w in zip(body8, _ORG_WEIGHTS, strict=True))
    # GB 11714-1997: C9 = 11 − MOD(Σ Ci×Wi, 11); 10 is written X, 11 is written 0.
    c9 = 11 - total % 11
    return {10: "X", 11: "0"}.get(c9, str(c9))


def validate_uscc(code: str) -> str:
    """Validate a unified social credit code and return it normalised (surrounding whitespace removed,
    upper case).

    Checks, in this order, each raising :class:`UsccError` with ``check`` set:

    1. ``length``  — not empty and exactly 18 characters;
    2. ``charset`` — every character is one of the 31 GB 32100 symbols (names the first offender and its
       1-based position);
    3. ``area``    — positions 3–8 are a 6-digit administrative division code;
    4. ``orgcode`` — position 17 is the GB 11714 check character of positions 9–16;
    5. ``check``   — position 18 is the GB 32100 check character of positions 1–17.

    The area check is syntactic only (six digits); the code is not looked up in the GB/T 2260 table.
    """
    if not isinstance(code, str):
        raise TypeError(f"a unified social credit code must be a str, not {type(code).__name__}")
    norm = code.strip().upper()
    if not norm:
        raise UsccError(
            "length",
            M(
                "uscc.unified_social_credit_code",
                "the unified social credit code is empty; it must have 18 characters",
                "统一社会信用代码为空；应为 18 位",
            ),
        )
    if len(norm) != 18:
        raise UsccError(
            "length",
            M(
                "uscc.unified_social_credit_code_2",
                "the unified social credit code has {n_norm} characters; it must have exactly 18",
                "统一社会信用代码有 {n_norm} 位；应恰好为 18 位",
            ),
            n_norm=len(norm),
        )
    for pos, c in enumerate(norm, start=1):
        if c not in _VALUE:
            raise UsccError(
                "charset",
                M(
                    "uscc.character_position_allowed_unified",
                    "character {c} at position {pos} is not allowed; a unified social credit code uses only the "
                    "digits 0-9 and the letters A-Z except {excluded}, which are never used (GB 32100-2015)",
                    "第 {pos} 位的字符 {c} 不允许；统一社会信用代码只使用数字 0-9 和除 {excluded} 以外的字母 A-Z（GB 32100-2015）",
                ),
                c=f"{c!r}",
                pos=pos,
                excluded=_EXCLUDED,
            )
    area = norm[2:8]
    if not area.isdigit():  # all characters are already ASCII symbols, so isdigit() means 0-9 here
        raise UsccError(
            "area",
            M(
                "uscc.positions_digit_administrative_division",
                "positions 3-8 ({area}) must be the 6-digit administrative division code (GB/T 2260) of the "
                "registration authority",
                "第 3–8 位（{area}）应为登记管理机关的 6 位行政区划代码（GB/T 2260）",
            ),
            area=f"{area!r}",
        )
    expected17 = orgcode_check_char(norm[8:16])
    if norm[16] != expected17:
        raise UsccError(
            "orgcode",
            M(
                "uscc.organisation_code_check_character",
                "the organisation-code check character at position 17 is {norm} but GB 11714 requires {expected17} "
                "for {norm2}",
                "第 17 位组织机构代码校验码为 {norm}，但按 GB 11714，{norm2} 的校验码应为 {expected17}",
            ),
            norm=f"{norm[16]!r}",
            expected17=f"{expected17!r}",
            norm2=f"{norm[8:16]!r}",
        )
    expected18 = uscc_check_char(norm[:17])
    if norm[17] != expected18:
        raise UsccError(
            "check",
            M(
                "uscc.check_character_position_but",
                "the check character at position 18 is {norm} but GB 32100 requires {expected18}",
                "第 18 位校验码为 {norm}，但按 GB 32100 应为 {expected18}",
            ),
            norm=f"{norm[17]!r}",
            expected18=f"{expected18!r}",
        )
    return norm


def is_valid_uscc(code: str) -> bool:
    """True if :func:`validate_uscc` accepts ``code``; False for any failure (including a non-str)."""
    try:
        validate_uscc(code)
    except (UsccError, TypeError):
        return False
    return True


def describe_uscc(code: str) -> dict[str, str | None]:
    """Split a valid code into its parts for display; raises :class:`UsccError` if it is not valid.

    Returns a dict with keys ``code`` (normalised), ``authority_code``, ``authority`` (name or None if
    not in the known table), ``category_code``, ``category`` (name or None), ``area_code``,
    ``organisation_code`` (the GB 11714 code written in its customary ``XXXXXXXX-X`` form) and
    ``check_char``.
    """
    norm = validate_uscc(code)
    authority_code, category_code = norm[0], norm[1]
    return {
        "code": norm,
        "authority_code": authority_code,
        "authority": _AUTHORITIES.get(authority_code),
        "category_code": category_code,
        "category": _CATEGORIES.get(authority_code, {}).get(category_code),
        "area_code": norm[2:8],
        "organisation_code": f"{norm[8:16]}-{norm[16]}",
        "check_char": norm[17],
    }
