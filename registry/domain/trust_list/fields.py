"""The reader's primitives: strict JSON in, typed fields out, each refusal naming the field's path."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
import json
from collections.abc import Iterable
from typing import Any

from ...pki.strict_json import DuplicateKey, nesting_depth, no_duplicate_keys
from ..errors import M
from .model import (
    _HEX64,
    _MAX_DEPTH,
    _MISSING,
    _NOT_ALLOWED,
    _TIME,
    _TYPE_NAMES,
    _URL,
    _WRONG_TYPE,
    FORMAT,
    MAX_SIZE,
    _error,
)

# -- reading -----------------------------------------------------------------------------------


class _Obj:
    """A JSON object being read: its fields taken one by one, and no unknown one left at the end."""

    def __init__(self, value: object, path: str) -> None:
        if not isinstance(value, dict):
            raise _error(_WRONG_TYPE, field=path, expected=_TYPE_NAMES["object"])
        self.value: dict[str, object] = value
        self.path = path
        self.seen: set[str] = set()

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str, required: bool = True) -> object:
        self.seen.add(key)
        if key not in self.value or self.value[key] is None:
            if required:
                raise _error(_MISSING, field=self.at(key))
            return None
        return self.value[key]

    def text(self, key: str, required: bool = True, max_len: int = 2048) -> Any:
        value = self.get(key, required)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip() or len(value) > max_len:
            raise _error(_WRONG_TYPE, field=self.at(key), expected=_TYPE_NAMES["string"])
        return value

    def integer(self, key: str, low: int, high: int, required: bool = True) -> Any:
        value = self.get(key, required)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            raise _error(_WRONG_TYPE, field=self.at(key), expected=_TYPE_NAMES["integer"])
        if not low <= value <= high:
            raise _error(
                M(
                    "trust_list.out_of_range",
                    "{field} is {value}, not between {low} and {high}",
                    "{field} 为 {value}，不在 {low} 与 {high} 之间",
                ),
                field=self.at(key),
                value=value,
                low=low,
                high=high,
            )
        return value

    def flag(self, key: str) -> bool | None:
        value = self.get(key, required=False)
        if value is not None and not isinstance(value, bool):
            raise _error(_WRONG_TYPE, field=self.at(key), expected=_TYPE_NAMES["boolean"])
        return value

    def items(self, key: str, required: bool = True, max_items: int = 10_000) -> list[tuple[object, str]]:
        value = self.get(key, required)
        if value is None:
            return []
        if not isinstance(value, list) or len(value) > max_items:
            raise _error(_WRONG_TYPE, field=self.at(key), expected=_TYPE_NAMES["list"])
        return [(item, f"{self.at(key)}[{i}]") for i, item in enumerate(value)]

    def obj(self, key: str, required: bool = True) -> _Obj | None:
        value = self.get(key, required)
        return None if value is None else _Obj(value, self.at(key))

    def enum(self, key: str, kind: type[enum.Enum]) -> Any:
        value = self.text(key)
        try:
            return kind(value)
        except ValueError:
            raise _error(
                _NOT_ALLOWED, field=self.at(key), value=repr(value[:40]), allowed=", ".join(e.value for e in kind)
            ) from None

    def choice(self, key: str, allowed: Iterable[str]) -> Any:
        value = self.text(key)
        options = list(allowed)
        if value not in options:
            raise _error(_NOT_ALLOWED, field=self.at(key), value=repr(value[:40]), allowed=", ".join(options))
        return value

    def time(self, key: str, required: bool = True) -> Any:
        value = self.text(key, required, max_len=40)
        return None if value is None else _time(value, self.at(key))

    def url(self, key: str, required: bool = True) -> Any:
        value = self.text(key, required)
        if value is not None:
            _check_url(value, self.at(key))
        return value

    def hex64(self, key: str) -> Any:
        value = self.text(key, max_len=80)
        if not _HEX64.match(value):
            raise _error(
                M(
                    "trust_list.not_sha256",
                    "{field} must be a SHA-256 as 64 lowercase hexadecimal digits",
                    "{field} 应为以 64 位小写十六进制数字表示的 SHA-256",
                ),
                field=self.at(key),
            )
        return value

    def b64(self, key: str) -> bytes:
        value = self.text(key, max_len=MAX_SIZE)
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            data = b""
        if not data or base64.b64encode(data).decode("ascii") != value:
            raise _error(
                M(
                    "trust_list.not_base64",
                    "{field} is not base64 (RFC 4648 §4, padded)",
                    "{field} 不是 base64 编码（RFC 4648 §4，带填充）",
                ),
                field=self.at(key),
            )
        return data

    def done(self) -> None:
        unknown = sorted(set(self.value) - self.seen)
        if unknown:
            raise _error(
                M(
                    "trust_list.unknown_field",
                    "{field} is not a field of the trust list format {format}",
                    "{field} 不是信任列表格式 {format} 中的字段",
                ),
                field=self.at(unknown[0][:40]),
                format=FORMAT,
            )


def _check_url(value: str, path: str) -> None:
    if not _URL.match(value):
        raise _error(
            M("trust_list.not_url", "{field} must be an http or https URL", "{field} 应为 http 或 https 网址"),
            field=path,
        )


def _time(value: str, path: str) -> dt.datetime:
    m = _TIME.match(value)
    parsed = None
    if m:
        try:
            y, mo, d, h, mi, sec = (int(g) for g in m.groups())
            parsed = dt.datetime(y, mo, d, h, mi, sec, tzinfo=dt.UTC)
        except ValueError:
            parsed = None
    if parsed is None:
        raise _error(
            M(
                "trust_list.not_time",
                "{field} is {value}, not a UTC time like 2026-11-20T08:00:00Z",
                "{field} 为 {value}，不是形如 2026-11-20T08:00:00Z 的 UTC 时间",
            ),
            field=path,
            value=repr(value[:40]),
        )
    return parsed


def format_time(t: dt.datetime) -> str:
    """A time as the list writes it: UTC, whole seconds, ``Z`` (an aware time is required)."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise _error(
            M("trust_list.naive_time", "a trust list time must carry its time zone", "信任列表中的时间必须带时区"),
        )
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _read_json(data: bytes) -> object:
    if len(data) > MAX_SIZE:
        raise _error(
            M("trust_list.too_large", "the trust list is larger than {limit} bytes", "信任列表超过 {limit} 字节"),
            limit=MAX_SIZE,
        )
    not_json = M("trust_list.not_json", "the trust list is not UTF-8 JSON", "信任列表不是 UTF-8 JSON")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _error(not_json) from None
    if nesting_depth(text, _MAX_DEPTH) > _MAX_DEPTH:
        raise _error(
            M(
                "trust_list.too_deep",
                "the trust list is nested more than {limit} levels deep",
                "信任列表嵌套超过 {limit} 层",
            ),
            limit=_MAX_DEPTH,
        )
    try:
        return json.loads(text, object_pairs_hook=no_duplicate_keys)
    except DuplicateKey as exc:
        raise _error(
            M("trust_list.duplicate_key", "the trust list has the key {key} twice", "信任列表中键 {key} 出现了两次"),
            key=repr(exc.key[:40]),
        ) from None
    except (json.JSONDecodeError, RecursionError, ValueError):
        raise _error(not_json) from None
