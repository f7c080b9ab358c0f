"""Reading JSON from strangers: the checks made before and during ``json.loads`` of untrusted text.

``json.loads`` recurses once per nesting level (deep input raises RecursionError, or worse, late)
and keeps the last of two equal keys silently. :func:`nesting_depth` measures the nesting first,
without parsing; :func:`no_duplicate_keys` is an ``object_pairs_hook`` that refuses a key given
twice by raising :class:`DuplicateKey`. The callers word their own messages.
"""

from __future__ import annotations

__all__ = ["DuplicateKey", "nesting_depth", "no_duplicate_keys"]


class DuplicateKey(Exception):
    """An object of the JSON text names ``key`` twice (raised from inside ``json.loads``)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """``object_pairs_hook`` for ``json.loads``: the object, or :class:`DuplicateKey`."""
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(key)
        out[key] = value
    return out


def nesting_depth(text: str, limit: int) -> int:
    """The deepest nesting of arrays and objects in ``text``, outside strings (0 for a scalar).

    Stops as soon as the nesting exceeds ``limit``: a value over ``limit`` means "too deep", not how
    deep."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif ch in "]}":
            depth -= 1
    return deepest
