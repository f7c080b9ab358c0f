"""Search text typed into the admin portal's lists: one rule for every list."""

from __future__ import annotations

from .errors import M, ValidationError

MAX_SEARCH_LENGTH = 100


def search_text(raw: str | None, *, extra: str | None = None) -> str:
    """The stripped search text, or :class:`ValidationError` for text no search could match and
    a database would choke on: longer than 100 characters, or with control characters (PostgreSQL
    refuses a NUL in a string) or lone surrogates (not encodable as UTF-8). ``extra`` is another
    piece of typed text checked the same way (e.g. a keyset cursor from the URL)."""
    q = (raw or "").strip()
    if len(q) > MAX_SEARCH_LENGTH:
        raise ValidationError(
            M("search.too_long", "the search text is longer than {max} characters", "搜索内容超过 {max} 个字符"),
            max=MAX_SEARCH_LENGTH,
        )
    if any(ord(c) < 32 or ord(c) == 127 or 0xD800 <= ord(c) <= 0xDFFF for c in q + (extra or "")):
        raise ValidationError(
            M("search.control_characters", "the search text contains control characters", "搜索内容含有控制字符")
        )
    return q
