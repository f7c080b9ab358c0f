"""Parsing licence files (design.md §8): CSV with the header
``uscc,name,legal_representative,entity_type,address,registered_on,status`` (UTF-8, ISO 8601 dates,
status active|cancelled|revoked), or JSON Lines with the same keys.

Each row is checked on its own: good rows come back as :class:`LicenceRow`, bad rows as
:class:`RowError` with the line number and what is wrong, so an import keeps the good rows.
"""
# messages: not yet converted (tests/test_messages.py)
from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass

from ..pki.uscc import UsccError, validate_uscc
from .errors import ValidationError
from .states import LicenceStatus

FIELDS = ("uscc", "name", "legal_representative", "entity_type", "address", "registered_on", "status")
REQUIRED = ("uscc", "name", "legal_representative", "entity_type", "registered_on", "status")
LIMITS = {"name": 200, "legal_representative": 100, "entity_type": 100, "address": 300}
MAX_FILE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class LicenceRow:
    line: int
    uscc: str
    name: str
    legal_representative: str
    entity_type: str
    address: str
    registered_on: dt.date
    status: LicenceStatus


@dataclass(frozen=True)
class RowError:
    line: int
    message: str
    uscc: str = ""      # as written in the row, when the row could be read that far

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def parse_licence_file(data: bytes, filename: str, today: dt.date) -> tuple[list[LicenceRow], list[RowError]]:
    """Parse a whole file. A file-level problem (encoding, header) raises ValidationError."""
    if len(data) > MAX_FILE_BYTES:
        raise ValidationError(f"licence file is {len(data) // (1024 * 1024)} MB; the limit is "
                              f"{MAX_FILE_BYTES // (1024 * 1024)} MB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"licence file is not UTF-8 (byte {exc.start} is not valid)") from None
    lower = filename.lower()
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        raw_rows = _jsonl_rows(text)
    elif lower.endswith((".csv", ".txt")) or not lower.endswith((".xls", ".xlsx")):
        raw_rows = _csv_rows(text)
    else:
        raise ValidationError("licence files must be CSV or JSON Lines (export spreadsheets as CSV UTF-8)")
    good: list[LicenceRow] = []
    bad: list[RowError] = []
    seen: dict[str, int] = {}
    for line, raw in raw_rows:
        if isinstance(raw, RowError):
            bad.append(raw)
            continue
        try:
            row = _check_row(line, raw, today)
        except ValidationError as exc:
            bad.append(RowError(line, str(exc), (raw.get("uscc") or "").strip()[:40]))
            continue
        if row.uscc in seen:
            bad.append(RowError(line, f"USCC {row.uscc} already appears on line {seen[row.uscc]}", row.uscc))
            continue
        seen[row.uscc] = line
        good.append(row)
    return good, bad


def _csv_rows(text: str):  # type: ignore[no-untyped-def]
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationError("licence file is empty") from None
    except csv.Error as exc:
        raise ValidationError(f"line 1: malformed CSV header ({exc})") from None
    cols = [h.strip().lower() for h in header]
    missing = [f for f in FIELDS if f not in cols]
    unknown = [c for c in cols if c not in FIELDS]
    if missing or unknown:
        parts = []
        if missing:
            parts.append("missing column(s) " + ", ".join(missing))
        if unknown:
            parts.append("unknown column(s) " + ", ".join(unknown))
        raise ValidationError(f"line 1: the header must be {','.join(FIELDS)}: " + "; ".join(parts))
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield reader.line_num, RowError(reader.line_num, f"malformed CSV ({exc})")
            continue
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(cols):
            yield line, RowError(line, f"expected {len(cols)} fields, found {len(values)}")
            continue
        yield line, dict(zip(cols, values))


def _jsonl_rows(text: str):  # type: ignore[no-untyped-def]
    for number, raw_line in enumerate(text.splitlines(), start=1):
        if not raw_line.strip():
            continue
        try:
            obj = json.loads(raw_line)
        except json.JSONDecodeError as exc:
            yield number, RowError(number, f"not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(obj, dict):
            yield number, RowError(number, "each line must be a JSON object")
            continue
        unknown = [k for k in obj if k not in FIELDS]
        if unknown:
            yield number, RowError(number, "unknown key(s) " + ", ".join(map(str, unknown)))
            continue
        if any(v is not None and not isinstance(v, str) for v in obj.values()):
            yield number, RowError(number, "every value must be a string")
            continue
        yield number, {k: (v or "") for k, v in obj.items()}


def _check_row(line: int, raw: dict[str, str], today: dt.date) -> LicenceRow:
    values = {k: (raw.get(k) or "").strip() for k in FIELDS}
    empty = [k for k in REQUIRED if not values[k]]
    if empty:
        raise ValidationError("empty " + ", ".join(empty))
    for k, limit in LIMITS.items():
        if len(values[k]) > limit:
            raise ValidationError(f"{k} is {len(values[k])} characters; the limit is {limit}")
        if any(ord(c) < 32 for c in values[k]):
            raise ValidationError(f"{k} contains control characters")
    try:
        uscc = validate_uscc(values["uscc"])
    except UsccError as exc:
        raise ValidationError(f"uscc {values['uscc']!r}: {exc}") from None
    try:
        registered = dt.date.fromisoformat(values["registered_on"])
    except ValueError:
        raise ValidationError(f"registered_on {values['registered_on']!r} is not an ISO 8601 date "
                              "(YYYY-MM-DD)") from None
    if registered > today:
        raise ValidationError(f"registered_on {registered} is in the future")
    status = LicenceStatus.parse(values["status"])
    return LicenceRow(line, uscc, values["name"], values["legal_representative"], values["entity_type"],
                      values["address"], registered, status)
