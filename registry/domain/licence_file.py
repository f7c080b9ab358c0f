"""Parsing licence files (design.md §8): CSV with the header
``uscc,name,legal_representative,entity_type,address,registered_on,status`` (UTF-8, ISO 8601 dates,
status active|cancelled|revoked), or JSON Lines with the same keys.

Each row is checked on its own: good rows come back as :class:`LicenceRow`, bad rows as
:class:`RowError` with the line number and what is wrong (a coded, bilingual error), so an import keeps
the good rows.

JSON Lines are read defensively: a line longer than :data:`MAX_LINE_CHARS`, nesting deeper than
:data:`MAX_DEPTH`, a number longer than :data:`MAX_NUMBER_CHARS` characters, ``NaN``/``Infinity`` and a
key written twice (the last would silently win: a row naming one enterprise could change another) are
row errors, found before or while parsing, never an exception escaping the parser.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass

from ..pki.strict_json import DuplicateKey, nesting_depth, no_duplicate_keys
from ..pki.uscc import UsccError, validate_uscc
from .errors import M, Message, ValidationError
from .states import LicenceStatus

FIELDS = ("uscc", "name", "legal_representative", "entity_type", "address", "registered_on", "status")
REQUIRED = ("uscc", "name", "legal_representative", "entity_type", "registered_on", "status")
LIMITS = {"name": 200, "legal_representative": 100, "entity_type": 100, "address": 300}
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_LINE_CHARS = 64 * 1024  # a good row is a few hundred characters (LIMITS)
MAX_DEPTH = 8  # a good row is one object of strings (depth 1)
MAX_NUMBER_CHARS = 40


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
    """A refused row: ``error`` says why in both languages; ``message`` is its English text."""

    line: int
    error: ValidationError
    uscc: str = ""  # as written in the row, when the row could be read that far

    @property
    def message(self) -> str:
        return str(self.error)

    def text(self, lang: str) -> str:
        return self.error.text(lang)

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def _row_error(line: int, message: Message, row_uscc: str = "", /, **params: object) -> RowError:
    return RowError(line, ValidationError(message, **params), row_uscc)


#: A row as read (its line number, and its fields or why it could not be read), before it is checked.
_RawRow = tuple[int, dict[str, str] | RowError]


def parse_licence_file(data: bytes, filename: str, today: dt.date) -> tuple[list[LicenceRow], list[RowError]]:
    """Parse a whole file. A file-level problem (encoding, header) raises ValidationError."""
    if len(data) > MAX_FILE_BYTES:
        raise ValidationError(
            M(
                "licence_file.too_large",
                "licence file is {size} MB; the limit is {limit} MB",
                "执照文件为 {size} MB，上限为 {limit} MB",
            ),
            size=len(data) // (1024 * 1024),
            limit=MAX_FILE_BYTES // (1024 * 1024),
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            M(
                "licence_file.not_utf8",
                "licence file is not UTF-8 (byte {at} is not valid)",
                "执照文件不是 UTF-8 编码（第 {at} 个字节无效）",
            ),
            at=exc.start,
        ) from None
    lower = filename.lower()
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        raw_rows = _jsonl_rows(text)
    elif lower.endswith((".csv", ".txt")) or not lower.endswith((".xls", ".xlsx")):
        raw_rows = _csv_rows(text)
    else:
        raise ValidationError(
            M(
                "licence_file.format",
                "licence files must be CSV or JSON Lines (export spreadsheets as CSV UTF-8)",
                "执照文件须为 CSV 或 JSON Lines 格式（电子表格请导出为 CSV UTF-8）",
            )
        )
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
            bad.append(RowError(line, exc, (raw.get("uscc") or "").strip()[:40]))
            continue
        if row.uscc in seen:
            bad.append(
                _row_error(
                    line,
                    M(
                        "licence_file.duplicate_uscc",
                        "USCC {uscc} already appears on line {first}",
                        "统一社会信用代码 {uscc} 已在第 {first} 行出现",
                    ),
                    row.uscc,
                    uscc=row.uscc,
                    first=seen[row.uscc],
                )
            )
            continue
        seen[row.uscc] = line
        good.append(row)
    return good, bad


def _csv_rows(text: str) -> Iterator[_RawRow]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationError(M("licence_file.empty", "licence file is empty", "执照文件为空")) from None
    except csv.Error as exc:
        raise ValidationError(
            M(
                "licence_file.bad_header",
                "line 1: malformed CSV header ({reason})",
                "第 1 行：CSV 表头格式错误（{reason}）",
            ),
            reason=str(exc),
        ) from None
    cols = [h.strip().lower() for h in header]
    missing = [f for f in FIELDS if f not in cols]
    unknown = [c for c in cols if c not in FIELDS]
    if missing and unknown:
        raise ValidationError(
            M(
                "licence_file.header_both",
                "line 1: the header must be {header}: missing column(s) {missing}; unknown column(s) {unknown}",
                "第 1 行：表头须为 {header}：缺少列 {missing}；未知列 {unknown}",
            ),
            header=",".join(FIELDS),
            missing=", ".join(missing),
            unknown=", ".join(unknown),
        )
    if missing:
        raise ValidationError(
            M(
                "licence_file.header_missing",
                "line 1: the header must be {header}: missing column(s) {missing}",
                "第 1 行：表头须为 {header}：缺少列 {missing}",
            ),
            header=",".join(FIELDS),
            missing=", ".join(missing),
        )
    if unknown:
        raise ValidationError(
            M(
                "licence_file.header_unknown",
                "line 1: the header must be {header}: unknown column(s) {unknown}",
                "第 1 行：表头须为 {header}：未知列 {unknown}",
            ),
            header=",".join(FIELDS),
            unknown=", ".join(unknown),
        )
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield (
                reader.line_num,
                _row_error(
                    reader.line_num,
                    M("licence_file.bad_csv", "malformed CSV ({reason})", "CSV 格式错误（{reason}）"),
                    reason=str(exc),
                ),
            )
            continue
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(cols):
            yield (
                line,
                _row_error(
                    line,
                    M(
                        "licence_file.field_count",
                        "expected {expected} fields, found {found}",
                        "应有 {expected} 个字段，实际为 {found} 个",
                    ),
                    expected=len(cols),
                    found=len(values),
                ),
            )
            continue
        yield line, dict(zip(cols, values, strict=True))  # as many values as columns: checked above


class _Refused(Exception):
    """Raised from inside json.loads by a hook: the row error to report."""

    def __init__(self, message: Message, **params: object) -> None:
        super().__init__()
        self.message, self.params = message, params


def _number(text: str) -> str:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(
            M(
                "licence_file.number_too_long",
                "a number of {n:,} characters (every value must be a string)",
                "数字长达 {n:,} 个字符（每个值都必须是字符串）",
            ),
            n=len(text),
        )
    return _NumberValue(text)


class _NumberValue(str):
    """A number as written (never converted: a value must be a string, and this is reported)."""


def _constant(text: str) -> object:
    raise _Refused(
        M(
            "licence_file.constant",
            "{name} is not allowed (every value must be a string)",
            "不允许使用 {name}（每个值都必须是字符串）",
        ),
        name=text,
    )


def _jsonl_rows(text: str) -> Iterator[_RawRow]:
    for number, raw_line in enumerate(text.splitlines(), start=1):
        if not raw_line.strip():
            continue
        if len(raw_line) > MAX_LINE_CHARS:
            yield (
                number,
                _row_error(
                    number,
                    M(
                        "licence_file.line_too_long",
                        "the line is {n:,} characters; the limit is {limit:,}",
                        "该行长 {n:,} 个字符，上限为 {limit:,}",
                    ),
                    n=len(raw_line),
                    limit=MAX_LINE_CHARS,
                ),
            )
            continue
        if nesting_depth(raw_line, MAX_DEPTH) > MAX_DEPTH:
            yield (
                number,
                _row_error(
                    number,
                    M(
                        "licence_file.too_deep",
                        "values are nested more than {limit} levels deep "
                        "(each line must be one JSON object of strings)",
                        "值的嵌套超过 {limit} 层（每行须为一个只含字符串的 JSON 对象）",
                    ),
                    limit=MAX_DEPTH,
                ),
            )
            continue
        try:
            obj = json.loads(
                raw_line,
                object_pairs_hook=no_duplicate_keys,
                parse_int=_number,
                parse_float=_number,
                parse_constant=_constant,
            )
        except DuplicateKey as exc:
            yield (
                number,
                _row_error(
                    number,
                    M(
                        "licence_file.duplicate_key",
                        "key {key} is written twice (a row must say each field once)",
                        "键 {key} 出现了两次（每个字段在一行中只能出现一次）",
                    ),
                    key=repr(exc.key[:60]),
                ),
            )
            continue
        except _Refused as exc:
            yield number, _row_error(number, exc.message, **exc.params)
            continue
        except json.JSONDecodeError as exc:
            yield (
                number,
                _row_error(
                    number,
                    M(
                        "licence_file.bad_json",
                        "not valid JSON ({reason} at column {column})",
                        "不是有效的 JSON（第 {column} 列：{reason}）",
                    ),
                    reason=exc.msg,
                    column=exc.colno,
                ),
            )
            continue
        except (RecursionError, ValueError, MemoryError):  # defence in depth: the checks above should catch it
            yield (
                number,
                _row_error(
                    number, M("licence_file.unreadable", "the line cannot be read as JSON", "该行无法按 JSON 读取")
                ),
            )
            continue
        if not isinstance(obj, dict):
            yield (
                number,
                _row_error(
                    number, M("licence_file.not_object", "each line must be a JSON object", "每行必须是一个 JSON 对象")
                ),
            )
            continue
        unknown = [k for k in obj if k not in FIELDS]
        if unknown:
            yield (
                number,
                _row_error(
                    number,
                    M("licence_file.unknown_keys", "unknown key(s) {keys}", "未知的键 {keys}"),
                    keys=", ".join(k[:60] for k in unknown[:10]),
                ),
            )
            continue
        if any(v is not None and (not isinstance(v, str) or isinstance(v, _NumberValue)) for v in obj.values()):
            uscc = obj.get("uscc")
            yield (
                number,
                _row_error(
                    number,
                    M("licence_file.not_string", "every value must be a string", "每个值都必须是字符串"),
                    uscc[:40] if isinstance(uscc, str) and not isinstance(uscc, _NumberValue) else "",
                ),
            )
            continue
        yield number, {k: (v or "") for k, v in obj.items()}


_FIELD_NAMES = {
    "uscc": M("licence_file.field.uscc", "uscc", "统一社会信用代码（uscc）"),
    "name": M("licence_file.field.name", "name", "名称（name）"),
    "legal_representative": M(
        "licence_file.field.legal_representative", "legal_representative", "法定代表人（legal_representative）"
    ),
    "entity_type": M("licence_file.field.entity_type", "entity_type", "主体类型（entity_type）"),
    "address": M("licence_file.field.address", "address", "住所（address）"),
    "registered_on": M("licence_file.field.registered_on", "registered_on", "成立日期（registered_on）"),
    "status": M("licence_file.field.status", "status", "状态（status）"),
}


def _check_row(line: int, raw: dict[str, str], today: dt.date) -> LicenceRow:
    values = {k: (raw.get(k) or "").strip() for k in FIELDS}
    empty = [k for k in REQUIRED if not values[k]]
    if empty:
        raise ValidationError(
            M("licence_file.empty_fields", "empty {fields}", "以下字段为空：{fields}"),
            fields=[_FIELD_NAMES[k] for k in empty],
        )
    for k, limit in LIMITS.items():
        if len(values[k]) > limit:
            raise ValidationError(
                M(
                    "licence_file.too_long",
                    "{field} is {n} characters; the limit is {limit}",
                    "{field}长 {n} 个字符，上限为 {limit}",
                ),
                field=_FIELD_NAMES[k],
                n=len(values[k]),
                limit=limit,
            )
        if any(ord(c) < 32 for c in values[k]):
            raise ValidationError(
                M("licence_file.control_chars", "{field} contains control characters", "{field}含有控制字符"),
                field=_FIELD_NAMES[k],
            )
    try:
        uscc = validate_uscc(values["uscc"])
    except UsccError as exc:
        raise ValidationError(
            M("licence_file.bad_uscc", "uscc {uscc}: {reason}", "统一社会信用代码 {uscc}：{reason}"),
            uscc=repr(values["uscc"][:40]),
            reason=exc,
        ) from None
    try:
        registered = dt.date.fromisoformat(values["registered_on"])
    except ValueError:
        raise ValidationError(
            M(
                "licence_file.bad_date",
                "registered_on {value} is not an ISO 8601 date (YYYY-MM-DD)",
                "成立日期 {value} 不是 ISO 8601 日期（YYYY-MM-DD）",
            ),
            value=repr(values["registered_on"][:40]),
        ) from None
    if registered > today:
        raise ValidationError(
            M("licence_file.future_date", "registered_on {value} is in the future", "成立日期 {value} 晚于今天"),
            value=registered.isoformat(),
        )
    try:
        status = LicenceStatus(values["status"].lower())
    except ValueError:
        raise ValidationError(
            M(
                "licence_file.bad_status",
                "unknown licence status {value}; use active, cancelled or revoked",
                "未知的执照状态 {value}；可用 active、cancelled 或 revoked",
            ),
            value=repr(values["status"][:40]),
        ) from None
    return LicenceRow(
        line,
        uscc,
        values["name"],
        values["legal_representative"],
        values["entity_type"],
        values["address"],
        registered,
        status,
    )
