"""The electronic seal identifier (esID, GB/T 38540 ``SES_SealInfo.esID``, an IA5String).

The standard fixes no format (domain.md §2.3), so ours is documented here and in docs/pki.md ("esID format")::

    4403000220262K7QW3M9XB1DF
    └─area─┘└┘└yr┘└─ random ─┘└ check
    440300  02 2026 2K7QW3M9XB1D F

* area (6 digits): the GB/T 2260 division of the registering authority (USCC positions 3–8 of the
  enterprise, e.g. 440300 Shenzhen);
* seal type (2 digits): the category code of :class:`~registry.domain.seal_types.SealType`;
* year (4 digits): the year the seal was made;
* 12 characters of Crockford base32 (digits and upper-case letters without I, L, O, U) drawn from
  the OS CSPRNG: 60 bits, so identifiers are unguessable and a collision is caught by the unique
  index and retried;
* one Luhn mod 32 check character over the 24 characters before it, so a mistyped code is
  refused before any lookup.

25 ASCII characters, unique across re-issues (a renewal gets a new esID).
"""

from __future__ import annotations

import os
import re

from .errors import M, ValidationError
from .seal_types import SealType

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_PATTERN = re.compile(r"^\d{6}\d{2}\d{4}[0-9A-HJKMNP-TV-Z]{13}$")


def luhn32_check(body: str) -> str:
    """Luhn mod N (N = 32) check character: catches every single substitution and most swaps."""
    total = 0
    factor = 2
    for ch in reversed(body):
        addend = factor * _VALUE[ch]
        total += addend // 32 + addend % 32
        factor = 1 if factor == 2 else 2
    return ALPHABET[(32 - total % 32) % 32]


def make_esid(area_code: str, seal_type: SealType, year: int, random_bytes: bytes | None = None) -> str:
    if not (len(area_code) == 6 and area_code.isdigit()):
        raise ValidationError(
            M("esid.area_code", "area code must be 6 digits, got {value!r}", "地区代码须为 6 位数字，现为 {value!r}"),
            value=area_code,
        )
    rnd = int.from_bytes(random_bytes if random_bytes is not None else os.urandom(8), "big")
    rand = "".join(ALPHABET[(rnd >> (5 * i)) & 31] for i in range(12))
    body = f"{area_code}{seal_type.code}{year:04d}{rand}"
    return body + luhn32_check(body)


def validate_esid(text: str) -> str:
    """Normalise (strip, upper-case) and check an esID of our format; raise naming the problem."""
    code = (text or "").strip().upper()
    if not _PATTERN.match(code):
        raise ValidationError(
            M(
                "esid.format",
                "{text!r} is not a seal code of this registry: expected 25 characters "
                "(6-digit area, 2-digit type, 4-digit year, 13 base32 characters)",
                "“{text}”不是本系统的印章编码：应为 25 位（6 位地区代码、2 位类型、4 位年份、13 位字母数字）",
            ),
            text=(text or "")[:40],
        )
    if luhn32_check(code[:-1]) != code[-1]:
        raise ValidationError(
            M(
                "esid.check_character",
                "seal code {code} has a wrong check character (mistyped?)",
                "印章编码 {code} 的校验位不正确（是否输错？）",
            ),
            code=code,
        )
    return code
