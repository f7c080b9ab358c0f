"""Times as people read them: in the bureau's zone (``REGISTRY_DISPLAY_TIMEZONE``, Beijing time by
default), labelled. Storage, the API, exports and logs stay in UTC.

Web pages use the ``|localtime`` filter (the time in the display zone with its label, the UTC
instant in the element's ``datetime`` and ``title``); e-mails and other text use :func:`format_local`.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["DEFAULT_ZONE", "as_utc", "to_zone", "zone_label", "format_local"]

DEFAULT_ZONE = "Asia/Shanghai"
_NAMED = {  # zones people know by a name rather than a city
    "Asia/Shanghai": ("北京时间", "Beijing time"),
    "Asia/Chongqing": ("北京时间", "Beijing time"),
    "Asia/Hong_Kong": ("香港时间", "Hong Kong time"),
    "UTC": ("UTC", "UTC"),
    "Etc/UTC": ("UTC", "UTC"),
}


@lru_cache(maxsize=16)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def as_utc(value: dt.datetime | dt.date | str | None) -> dt.datetime | None:
    """A stored instant as an aware UTC datetime (naive values are UTC, as the database keeps them)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, dt.datetime):  # a date has no instant: midnight UTC
        value = dt.datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def to_zone(value: dt.datetime | str | None, zone: str = DEFAULT_ZONE) -> dt.datetime | None:
    utc = as_utc(value)
    return None if utc is None else utc.astimezone(_zone(zone))


def zone_label(zone: str = DEFAULT_ZONE, lang: str = "zh") -> str:
    """北京时间 / Beijing time for Asia/Shanghai; other zones by their IANA name."""
    pair = _NAMED.get(zone)
    if pair is None:
        return zone
    return pair[0] if lang == "zh" else pair[1]


def format_local(
    value: dt.datetime | str | None,
    zone: str = DEFAULT_ZONE,
    lang: str = "zh",
    fmt: str = "%Y-%m-%d %H:%M",
    *,
    label: bool = True,
) -> str:
    """``2026-12-03 01:56 北京时间`` (or without the label); empty for no value."""
    local = to_zone(value, zone)
    if local is None:
        return ""
    text = local.strftime(fmt)
    return f"{text} {zone_label(zone, lang)}" if label else text


class LocalTime:
    """A time as a value of a bilingual message: shown in the display zone, labelled, in the
    message's language (``{until}`` → ``14:05 北京时间`` / ``14:05 Beijing time``)."""

    def __init__(self, value: dt.datetime, zone: str = DEFAULT_ZONE, fmt: str = "%H:%M") -> None:
        self.value, self.zone, self.fmt = value, zone, fmt

    def label(self, lang: str) -> str:
        return format_local(self.value, self.zone, lang, self.fmt)

    def __str__(self) -> str:
        return self.label("en")
