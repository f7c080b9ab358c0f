"""The trust list a registry publishes (mutual-recognition.md §2.1) and the rule by which a peer's
newly fetched list replaces the last one accepted (§2.2). Pure: no clock, no I/O.

**The payload** (``list.json``, signed as a JWS by :mod:`registry.pki.jws`), format
``cn-seal-trust-list/1``, field names after ETSI TS 119 602::

    {"format": "cn-seal-trust-list/1",
     "scheme": {"operator": {"area_code": "440300", "name_zh": ..., "name_en": ...},
                "sequence": 57, "issued_at": "2026-11-20T08:00:00Z", "next_update": "2026-11-27T08:00:00Z",
                "previous": {"sequence": 56, "sha256": ..., "url": ...},        # absent in list 1
                "signing_keys": [{"kid": "sha256:...", "alg": "ES256" | "SM2-SM3", "spki": base64 DER,
                                  "status": "current" | "next" | "retired" | "compromised",
                                  "not_before": ...?}],
                "distribution_points": [url, ...], "policy_url": url?},
     "services": [{"id": "sz-sm2-root", "role": "root" | "issuing-ca" | "seal-maker" | "ocsp-responder"
                          | "list-signer", "alg": "SM2" | "P-256", "issuer": id?, "cert": base64 DER,
                   "sha256": hex of the certificate, "status": "granted" | "suspended" | "withdrawn",
                   "status_since": time, "history": [{"status": ..., "since": time}],
                   "crl": [{"url": ..., "shards": n?, "max_age_hours": h}], "ocsp": [{"url": ...}],
                   "constraints": {"es_id_prefix": digits?, "seal_types": ["01", ...]?,
                                   "policy_oids": ["1.2.3"]?}?}],
     "status_api": {"url": ".../{esID}", "signed": bool?}?}

* Times are RFC 3339 in UTC with a ``Z`` and whole seconds (``2026-11-20T08:00:00Z``), nothing else.
* :func:`to_json` writes keys sorted, two-space indented, UTF-8 without ``\\u`` escapes, with a final
  newline, and leaves out absent optional fields. Those bytes are what is signed and served; a
  reader checks the signature over the exact bytes and never re-serialises, so no
  canonicalisation is needed (the order is only for people diffing two versions). It refuses to
  write what :func:`parse` would refuse.
* :func:`parse` checks everything it can without a clock or the network, and names the field in
  every refusal (``services[2].crl[0].url``): types, unknown fields (a new field is a new format
  version), enumerations, times, the 6-digit area code, ``previous.sequence = sequence - 1``, each
  signing key's ``kid`` is the SHA-256 of its SPKI and ``alg`` its curve, at least one current
  key, each certificate parses and hashes to its ``sha256`` with a key of its ``alg``, unique
  service ids, every ``issuer`` is a root or issuing CA of this list whose subject is the
  certificate's issuer (a root is self-issued), a seal maker is scoped by ``es_id_prefix``, the
  history ends with the current status, and a sharded CRL URL has its ``{0..n-1}``.

**Acceptance** (:func:`decide`): a newly fetched list, whose JWS verified, replaces the last accepted
one only if it is signed by a key that is pinned, or announced as ``next`` by the last accepted list
(a rollover: :attr:`Decision.rolled_over` names the keys the caller now pins, an audited step), and
that is ``current`` in the new list; a key the last list calls retired or compromised, or the new
one calls compromised, does not count. Then its area code is the peer's, its sequence is higher (the
same sequence with the same bytes is "unchanged"; with other bytes it is equivocation, which
suspends the peer), its issue time is not earlier, the very next list names the last one as its
``previous`` (by SHA-256), and it has not expired. Otherwise the last list is kept, with the reason.
:func:`walk` applies the rule through missed versions (``lists/<n>``) to the newest one.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..pki.jws import ALGORITHMS, VerifiedJws, normalize_fingerprint
from ..pki.keys import Algorithm, KeyFormatError, PublicKey
from ..pki.strict_json import DuplicateKey, nesting_depth, no_duplicate_keys
from ..pki.x509 import Certificate, CertificateError
from .errors import M, Message, ValidationError

__all__ = [
    "FORMAT",
    "MAX_SIZE",
    "KeyStatus",
    "ServiceRole",
    "ServiceStatus",
    "SERVICE_ALGS",
    "TrustListError",
    "Operator",
    "Previous",
    "SigningKey",
    "Scheme",
    "HistoryEntry",
    "CrlPoint",
    "OcspPoint",
    "Constraints",
    "Service",
    "StatusApi",
    "TrustList",
    "to_json",
    "parse",
    "format_time",
    "SignedList",
    "Outcome",
    "Refusal",
    "Decision",
    "decide",
    "walk",
]

FORMAT = "cn-seal-trust-list/1"
#: Largest payload read (bytes); the JWS around it is limited by :data:`registry.pki.jws.MAX_SIZE`.
MAX_SIZE = 4 * 1024 * 1024
_MAX_DEPTH = 6  # list → services[] → service → crl[] → point (→ nothing deeper)
_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_KID = re.compile(r"^sha256:[0-9a-f]{64}$")
_SERVICE_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_AREA = re.compile(r"^\d{6}$")
_PREFIX = re.compile(r"^\d{2,6}$")
_SEAL_TYPE = re.compile(r"^\d{2}$")
_OID = re.compile(r"^[0-2](\.(0|[1-9]\d*))+$")
_URL = re.compile(r"^https?://[^\s\"<>\\]+$")
_SHARDS = re.compile(r"\{0\.\.(\d+)\}")
_MAX_AGE_HOURS = 24 * 366
_MAX_SEQUENCE = 2**53 - 1  # what every JSON reader holds exactly


class KeyStatus(str, enum.Enum):
    CURRENT = "current"
    NEXT = "next"
    RETIRED = "retired"
    COMPROMISED = "compromised"


class ServiceRole(str, enum.Enum):
    ROOT = "root"
    ISSUING_CA = "issuing-ca"
    SEAL_MAKER = "seal-maker"
    OCSP_RESPONDER = "ocsp-responder"
    LIST_SIGNER = "list-signer"


class ServiceStatus(str, enum.Enum):
    GRANTED = "granted"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"


#: A service's ``alg``: the algorithm of its certificate's key.
SERVICE_ALGS = {"SM2": Algorithm.SM2, "P-256": Algorithm.ECDSA}
_KEY_ALGS = {"SM2-SM3": Algorithm.SM2, "ES256": Algorithm.ECDSA}
assert set(_KEY_ALGS) == set(ALGORITHMS)


class TrustListError(ValidationError):
    """The trust list is malformed or inconsistent; the message names the field."""


# -- the model ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operator:
    area_code: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class Previous:
    sequence: int
    sha256: str
    url: str


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    spki: bytes
    status: KeyStatus
    not_before: dt.datetime | None = None

    @property
    def fingerprint(self) -> str:
        return self.kid[len("sha256:") :]


@dataclass(frozen=True)
class Scheme:
    operator: Operator
    sequence: int
    issued_at: dt.datetime
    next_update: dt.datetime
    signing_keys: tuple[SigningKey, ...]
    previous: Previous | None = None
    distribution_points: tuple[str, ...] = ()
    policy_url: str | None = None


@dataclass(frozen=True)
class HistoryEntry:
    status: ServiceStatus
    since: dt.datetime


@dataclass(frozen=True)
class CrlPoint:
    url: str
    max_age_hours: int
    shards: int | None = None

    def urls(self) -> tuple[str, ...]:
        """The URL, or one per shard with ``{0..n-1}`` replaced by the shard number."""
        if self.shards is None:
            return (self.url,)
        return tuple(_SHARDS.sub(str(i), self.url) for i in range(self.shards))


@dataclass(frozen=True)
class OcspPoint:
    url: str


@dataclass(frozen=True)
class Constraints:
    es_id_prefix: str | None = None
    seal_types: tuple[str, ...] | None = None
    policy_oids: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Service:
    id: str
    role: ServiceRole
    alg: str
    cert: bytes
    sha256: str
    status: ServiceStatus
    status_since: dt.datetime
    issuer: str | None = None
    history: tuple[HistoryEntry, ...] = ()
    crl: tuple[CrlPoint, ...] = ()
    ocsp: tuple[OcspPoint, ...] = ()
    constraints: Constraints | None = None

    @property
    def certificate(self) -> Certificate:
        return Certificate.from_der(self.cert)


@dataclass(frozen=True)
class StatusApi:
    url: str
    signed: bool | None = None


@dataclass(frozen=True)
class TrustList:
    scheme: Scheme
    services: tuple[Service, ...] = ()
    status_api: StatusApi | None = None
    format: str = FORMAT

    def service(self, service_id: str) -> Service | None:
        return next((s for s in self.services if s.id == service_id), None)

    def signing_key(self, kid: str) -> SigningKey | None:
        return next((k for k in self.scheme.signing_keys if k.kid == kid), None)


# -- messages ----------------------------------------------------------------------------------

_TYPE_NAMES = {
    "string": M("trust_list.type.string", "a string", "字符串"),
    "integer": M("trust_list.type.integer", "an integer", "整数"),
    "boolean": M("trust_list.type.boolean", "true or false", "true 或 false"),
    "list": M("trust_list.type.list", "a list", "列表"),
    "object": M("trust_list.type.object", "an object", "对象"),
}
_WRONG_TYPE = M("trust_list.wrong_type", "{field} must be {expected}", "{field} 应为{expected}")
_MISSING = M("trust_list.missing", "{field} is missing", "缺少 {field}")
_NOT_ALLOWED = M(
    "trust_list.one_of", "{field} is {value}, not one of {allowed}", "{field} 为 {value}，不在 {allowed} 之中"
)


def _error(message: Message, **params: Any) -> TrustListError:
    return TrustListError(message, **params)


def _bound(message: Message, **params: Any) -> Message:
    return Message(message.code, message.format("en", **params), message.format("zh", **params))


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


def _operator(o: _Obj) -> Operator:
    area = o.text("area_code", max_len=20)
    if not _AREA.match(area):
        raise _error(
            M(
                "trust_list.area_code",
                "{field} is {value}, not a 6-digit area code",
                "{field} 为 {value}，不是 6 位地区代码",
            ),
            field=o.at("area_code"),
            value=repr(area[:20]),
        )
    op = Operator(area, o.text("name_zh", max_len=200), o.text("name_en", max_len=200))
    o.done()
    return op


def _signing_key(o: _Obj) -> SigningKey:
    kid = o.text("kid", max_len=80)
    if not _KID.match(kid):
        raise _error(
            M(
                "trust_list.bad_kid",
                "{field} must be sha256: and 64 lowercase hexadecimal digits",
                "{field} 应为 sha256: 加 64 位小写十六进制数字",
            ),
            field=o.at("kid"),
        )
    alg = o.choice("alg", _KEY_ALGS)
    spki = o.b64("spki")
    try:
        key = PublicKey.from_spki(spki)
    except KeyFormatError as exc:
        raise _error(
            M("trust_list.bad_spki", "{field} is not a public key: {exc}", "{field} 不是公钥：{exc}"),
            field=o.at("spki"),
            exc=exc,
        ) from None
    if key.spki() != spki:
        raise _error(
            M(
                "trust_list.spki_not_der",
                "{field} is not in the DER encoding of a SubjectPublicKeyInfo",
                "{field} 不是 SubjectPublicKeyInfo 的 DER 编码",
            ),
            field=o.at("spki"),
        )
    expected = "sha256:" + hashlib.sha256(spki).hexdigest()
    if kid != expected:
        raise _error(
            M(
                "trust_list.kid_mismatch",
                "{field} is {kid}, but the key's SubjectPublicKeyInfo hashes to {expected}",
                "{field} 为 {kid}，但该密钥的 SubjectPublicKeyInfo 的哈希值为 {expected}",
            ),
            field=o.at("kid"),
            kid=kid,
            expected=expected,
        )
    if key.algorithm is not _KEY_ALGS[alg]:
        raise _error(
            M(
                "trust_list.key_alg",
                "{field} is {alg}, but the key is {actual}",
                "{field} 为 {alg}，但该密钥为 {actual}",
            ),
            field=o.at("alg"),
            alg=alg,
            actual=key.algorithm.label,
        )
    sk = SigningKey(kid, alg, spki, o.enum("status", KeyStatus), o.time("not_before", required=False))
    o.done()
    return sk


def _unique(values: Iterable[tuple[str, str]]) -> None:
    seen: set[str] = set()
    for value, path in values:
        if value in seen:
            raise _error(
                M("trust_list.listed_twice", "{field}: {value} is listed twice", "{field}：{value} 重复列出"),
                field=path,
                value=value,
            )
        seen.add(value)


def _scheme(o: _Obj) -> Scheme:
    operator_obj = o.obj("operator")
    assert operator_obj is not None
    operator = _operator(operator_obj)
    sequence = o.integer("sequence", 1, _MAX_SEQUENCE)
    issued_at, next_update = o.time("issued_at"), o.time("next_update")
    if next_update <= issued_at:
        raise _error(
            M(
                "trust_list.next_update_not_after",
                "{field} must be after scheme.issued_at",
                "{field} 必须晚于 scheme.issued_at",
            ),
            field=o.at("next_update"),
        )
    prev_obj = o.obj("previous", required=False)
    previous = None
    if prev_obj is not None:
        previous = Previous(
            prev_obj.integer("sequence", 1, _MAX_SEQUENCE), prev_obj.hex64("sha256"), prev_obj.url("url")
        )
        prev_obj.done()
        if previous.sequence != sequence - 1:
            raise _error(
                M(
                    "trust_list.previous_sequence",
                    "{field} is {value}, not {expected} (the list's sequence less one)",
                    "{field} 为 {value}，应为 {expected}（本列表序号减一）",
                ),
                field=prev_obj.at("sequence"),
                value=previous.sequence,
                expected=sequence - 1,
            )
    elif sequence > 1:
        raise _error(
            M(
                "trust_list.previous_missing",
                "{field} is missing: only list 1 has no previous list",
                "缺少 {field}：只有第 1 版列表没有上一版",
            ),
            field=o.at("previous"),
        )
    keys = tuple(_signing_key(_Obj(item, path)) for item, path in o.items("signing_keys", max_items=64))
    _unique((k.kid, f"{o.at('signing_keys')}[{i}].kid") for i, k in enumerate(keys))
    if not any(k.status is KeyStatus.CURRENT for k in keys):
        raise _error(
            M(
                "trust_list.no_current_key",
                "{field} lists no current key",
                "{field} 中没有状态为 current 的密钥",
            ),
            field=o.at("signing_keys"),
        )
    points = []
    for item, path in o.items("distribution_points", required=False, max_items=64):
        if not isinstance(item, str):
            raise _error(_WRONG_TYPE, field=path, expected=_TYPE_NAMES["string"])
        _check_url(item, path)
        points.append(item)
    scheme = Scheme(
        operator, sequence, issued_at, next_update, keys, previous, tuple(points), o.url("policy_url", required=False)
    )
    o.done()
    return scheme


def _strings(o: _Obj, key: str, pattern: re.Pattern[str], what: Message) -> tuple[str, ...] | None:
    if o.get(key, required=False) is None:
        return None
    out = []
    for item, path in o.items(key, max_items=1000):
        if not isinstance(item, str) or not pattern.match(item):
            raise _error(
                M("trust_list.not_a", "{field} is not {what}", "{field} 不是{what}"),
                field=path,
                what=what,
            )
        out.append(item)
    _unique((v, f"{o.at(key)}[{i}]") for i, v in enumerate(out))
    return tuple(out)


def _constraints(o: _Obj) -> Constraints:
    prefix = o.text("es_id_prefix", required=False, max_len=20)
    if prefix is not None and not _PREFIX.match(prefix):
        raise _error(
            M(
                "trust_list.es_id_prefix",
                "{field} must be 2 to 6 digits (the start of an esID's area code)",
                "{field} 应为 2 至 6 位数字（esID 地区代码的开头）",
            ),
            field=o.at("es_id_prefix"),
        )
    c = Constraints(
        prefix,
        _strings(
            o, "seal_types", _SEAL_TYPE, M("trust_list.what.seal_type", "a 2-digit seal type", "2 位印章类型代码")
        ),
        _strings(o, "policy_oids", _OID, M("trust_list.what.oid", "a dotted OID", "点分形式的 OID")),
    )
    o.done()
    return c


def _crl(o: _Obj) -> CrlPoint:
    url = o.url("url")
    point = CrlPoint(url, o.integer("max_age_hours", 1, _MAX_AGE_HOURS), o.integer("shards", 1, 1024, required=False))
    o.done()
    found = _SHARDS.findall(url)
    if point.shards is None and found or point.shards is not None and found != [str(point.shards - 1)]:
        raise _error(
            M(
                "trust_list.shards",
                "{field}: a CRL in n shards has a URL with {{0..n-1}} once, and only then",
                "{field}：分为 n 片的 CRL 的网址中须恰有一处 {{0..n-1}}，其他 CRL 则不得有",
            ),
            field=o.path,
        )
    return point


def _history(o: _Obj) -> HistoryEntry:
    h = HistoryEntry(o.enum("status", ServiceStatus), o.time("since"))
    o.done()
    return h


def _service(o: _Obj) -> tuple[Service, Certificate]:
    service_id = o.text("id", max_len=80)
    if not _SERVICE_ID.match(service_id):
        raise _error(
            M(
                "trust_list.service_id",
                "{field} must be lowercase letters, digits, '.', '_' or '-' (at most 64)",
                "{field} 只能由小写字母、数字、“.”、“_”或“-”组成（至多 64 个）",
            ),
            field=o.at("id"),
        )
    role = o.enum("role", ServiceRole)
    alg = o.choice("alg", SERVICE_ALGS)
    issuer = o.text("issuer", required=False, max_len=80)
    cert_der = o.b64("cert")
    try:
        cert = Certificate.from_der(cert_der)
        if cert.der != cert_der:
            raise _error(
                M(
                    "trust_list.cert_trailing",
                    "{field} has bytes after the certificate",
                    "{field} 在证书之后还有多余字节",
                ),
                field=o.at("cert"),
            )
        key_alg = cert.public_key.algorithm
    except CertificateError as exc:
        raise _error(
            M("trust_list.bad_cert", "{field} is not a certificate: {exc}", "{field} 不是证书：{exc}"),
            field=o.at("cert"),
            exc=exc,
        ) from None
    sha256 = o.hex64("sha256")
    expected = hashlib.sha256(cert_der).hexdigest()
    if sha256 != expected:
        raise _error(
            M(
                "trust_list.cert_sha256",
                "{field} is {value}, but the certificate hashes to {expected}",
                "{field} 为 {value}，但证书的哈希值为 {expected}",
            ),
            field=o.at("sha256"),
            value=sha256,
            expected=expected,
        )
    if key_alg is not SERVICE_ALGS[alg]:
        raise _error(
            M(
                "trust_list.cert_alg",
                "{field} is {alg}, but the certificate's key is {actual}",
                "{field} 为 {alg}，但证书的密钥为 {actual}",
            ),
            field=o.at("alg"),
            alg=alg,
            actual=key_alg.label,
        )
    status, since = o.enum("status", ServiceStatus), o.time("status_since")
    history = tuple(_history(_Obj(item, path)) for item, path in o.items("history", required=False, max_items=1000))
    if any(b.since < a.since for a, b in zip(history, history[1:], strict=False)):
        raise _error(
            M("trust_list.history_order", "{field} is not in time order", "{field} 未按时间顺序排列"),
            field=o.at("history"),
        )
    if history and (history[-1].status, history[-1].since) != (status, since):
        raise _error(
            M(
                "trust_list.history_last",
                "{field} must end with the current status and status_since",
                "{field} 的最后一项须为当前的 status 与 status_since",
            ),
            field=o.at("history"),
        )
    crl = tuple(_crl(_Obj(item, path)) for item, path in o.items("crl", required=False, max_items=64))
    ocsp = []
    for item, path in o.items("ocsp", required=False, max_items=16):
        point = _Obj(item, path)
        ocsp.append(OcspPoint(point.url("url")))
        point.done()
    constraints_obj = o.obj("constraints", required=False)
    constraints = _constraints(constraints_obj) if constraints_obj is not None else None
    if role is ServiceRole.SEAL_MAKER and (constraints is None or constraints.es_id_prefix is None):
        raise _error(
            M(
                "trust_list.maker_unscoped",
                "{field}: a seal maker must be scoped by constraints.es_id_prefix",
                "{field}：制章者必须以 constraints.es_id_prefix 限定范围",
            ),
            field=o.path,
        )
    o.done()
    service = Service(
        service_id, role, alg, cert_der, sha256, status, since, issuer, history, crl, tuple(ocsp), constraints
    )
    return service, cert


def _check_issuers(services: Sequence[tuple[Service, Certificate]]) -> None:
    by_id = {s.id: (s, c) for s, c in services}
    for i, (service, cert) in enumerate(services):
        path = f"services[{i}].issuer"
        if service.role is ServiceRole.ROOT:
            if service.issuer is not None:
                raise _error(
                    M("trust_list.root_issuer", "{field}: a root has no issuer", "{field}：根证书没有签发者"),
                    field=path,
                )
            if cert.issuer_der != cert.subject_der:
                raise _error(
                    M(
                        "trust_list.root_not_self_issued",
                        "{field}: a root's certificate must be self-issued",
                        "{field}：根证书必须是自签发的",
                    ),
                    field=f"services[{i}].cert",
                )
            continue
        if service.issuer is None:
            continue
        found = by_id.get(service.issuer)
        if found is None:
            raise _error(
                M(
                    "trust_list.issuer_unknown",
                    "{field} names {value}, which is not a service of this list",
                    "{field} 指向 {value}，但本列表中没有该服务",
                ),
                field=path,
                value=service.issuer,
            )
        issuer, issuer_cert = found
        if issuer.role not in (ServiceRole.ROOT, ServiceRole.ISSUING_CA) or issuer.id == service.id:
            raise _error(
                M(
                    "trust_list.issuer_not_ca",
                    "{field} names {value}, which is not another root or issuing CA of this list",
                    "{field} 指向 {value}，但它不是本列表中另一个根 CA 或签发 CA",
                ),
                field=path,
                value=service.issuer,
            )
        if cert.issuer_der != issuer_cert.subject_der:
            raise _error(
                M(
                    "trust_list.issuer_name",
                    "{field}: the certificate's issuer is not the subject of {value}'s certificate",
                    "{field}：证书的签发者不是 {value} 证书的主体",
                ),
                field=path,
                value=service.issuer,
            )


def parse(data: bytes) -> TrustList:
    """The trust list in ``data`` (the exact bytes that were signed), fully checked."""
    top = _Obj(_read_json(data), "")
    fmt = top.text("format", max_len=80)
    if fmt != FORMAT:
        raise _error(
            M("trust_list.format", "format is {value}, not {format}", "format 为 {value}，不是 {format}"),
            value=repr(fmt[:40]),
            format=FORMAT,
        )
    scheme_obj = top.obj("scheme")
    assert scheme_obj is not None
    scheme = _scheme(scheme_obj)
    services = [_service(_Obj(item, path)) for item, path in top.items("services")]
    _unique((s.id, f"services[{i}].id") for i, (s, _c) in enumerate(services))
    _check_issuers(services)
    api_obj = top.obj("status_api", required=False)
    status_api = None
    if api_obj is not None:
        url = api_obj.url("url")
        if "{esID}" not in url:
            raise _error(
                M(
                    "trust_list.status_api_url",
                    "{field} must hold {{esID}} where the seal's esID goes",
                    "{field} 中须以 {{esID}} 标出印章 esID 的位置",
                ),
                field=api_obj.at("url"),
            )
        status_api = StatusApi(url, api_obj.flag("signed"))
        api_obj.done()
    top.done()
    return TrustList(scheme, tuple(s for s, _c in services), status_api)


# -- writing -----------------------------------------------------------------------------------


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _service_json(s: Service) -> dict[str, Any]:
    c = s.constraints
    return _drop_none(
        {
            "id": s.id,
            "role": s.role.value,
            "alg": s.alg,
            "issuer": s.issuer,
            "cert": _b64(s.cert),
            "sha256": s.sha256,
            "status": s.status.value,
            "status_since": format_time(s.status_since),
            "history": [{"status": h.status.value, "since": format_time(h.since)} for h in s.history],
            "crl": [_drop_none({"url": p.url, "shards": p.shards, "max_age_hours": p.max_age_hours}) for p in s.crl],
            "ocsp": [{"url": p.url} for p in s.ocsp],
            "constraints": None
            if c is None
            else _drop_none(
                {
                    "es_id_prefix": c.es_id_prefix,
                    "seal_types": None if c.seal_types is None else list(c.seal_types),
                    "policy_oids": None if c.policy_oids is None else list(c.policy_oids),
                }
            ),
        }
    )


def to_json(trust_list: TrustList) -> bytes:
    """The bytes to sign and serve (see the module doc); refuses a list :func:`parse` would refuse."""
    s = trust_list.scheme
    doc = _drop_none(
        {
            "format": trust_list.format,
            "scheme": _drop_none(
                {
                    "operator": {
                        "area_code": s.operator.area_code,
                        "name_zh": s.operator.name_zh,
                        "name_en": s.operator.name_en,
                    },
                    "sequence": s.sequence,
                    "issued_at": format_time(s.issued_at),
                    "next_update": format_time(s.next_update),
                    "previous": None
                    if s.previous is None
                    else {"sequence": s.previous.sequence, "sha256": s.previous.sha256, "url": s.previous.url},
                    "signing_keys": [
                        _drop_none(
                            {
                                "kid": k.kid,
                                "alg": k.alg,
                                "spki": _b64(k.spki),
                                "status": k.status.value,
                                "not_before": None if k.not_before is None else format_time(k.not_before),
                            }
                        )
                        for k in s.signing_keys
                    ],
                    "distribution_points": list(s.distribution_points),
                    "policy_url": s.policy_url,
                }
            ),
            "services": [_service_json(x) for x in trust_list.services],
            "status_api": None
            if trust_list.status_api is None
            else _drop_none({"url": trust_list.status_api.url, "signed": trust_list.status_api.signed}),
        }
    )
    data = (json.dumps(doc, sort_keys=True, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    parse(data)
    return data


# -- acceptance (§2.2) -------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedList:
    """A list whose JWS verified: the parsed list, the SHA-256 of its exact payload bytes, and the
    kids whose signatures verified."""

    trust_list: TrustList
    sha256: str
    verified_kids: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_verified(cls, verified: VerifiedJws) -> SignedList:
        return cls(
            parse(verified.payload), hashlib.sha256(verified.payload).hexdigest(), frozenset(verified.verified_kids)
        )

    @property
    def sequence(self) -> int:
        return self.trust_list.scheme.sequence


class Outcome(str, enum.Enum):
    ACCEPT = "accept"  # the new list replaces the last one
    UNCHANGED = "unchanged"  # the same list again (same sequence, same bytes)
    KEEP_LAST = "keep-last"  # refused: the last list stays, for the reason given


class Refusal(str, enum.Enum):
    UNTRUSTED_SIGNER = "untrusted-signer"
    AREA_CODE_CHANGED = "area-code-changed"
    REPLAY = "replay"
    EQUIVOCATION = "equivocation"
    ISSUED_EARLIER = "issued-earlier"
    BROKEN_CHAIN = "broken-chain"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    sequence: int  # of the list judged
    refusal: Refusal | None = None
    message: Message | None = None  # why it was refused, with the values filled in
    trusted_by: frozenset[str] = frozenset()  # kids whose signatures counted
    rolled_over: frozenset[str] = frozenset()  # of those, the ones trusted only as announced next keys

    @property
    def accepted(self) -> bool:
        return self.outcome is Outcome.ACCEPT

    @property
    def suspends_peer(self) -> bool:
        """Equivocation: the peer is suspended until a person decides (§2.2 step 5)."""
        return self.refusal is Refusal.EQUIVOCATION


_REFUSALS = {
    Refusal.UNTRUSTED_SIGNER: M(
        "trust_list.refused.untrusted_signer",
        "list {sequence} is not signed by a key that is pinned or announced as next by the last accepted list, and current in the list itself",
        "第 {sequence} 版列表未由已固定的密钥或上一版已接受列表预告的下一密钥签名（且该密钥须在本列表中为 current）",
    ),
    Refusal.AREA_CODE_CHANGED: M(
        "trust_list.refused.area_code",
        "list {sequence} is for area {value}, not {expected}",
        "第 {sequence} 版列表的地区代码为 {value}，而非 {expected}",
    ),
    Refusal.REPLAY: M(
        "trust_list.refused.replay",
        "list {sequence} is older than list {last} accepted already (a replay)",
        "第 {sequence} 版列表早于已接受的第 {last} 版（重放）",
    ),
    Refusal.EQUIVOCATION: M(
        "trust_list.refused.equivocation",
        "list {sequence} differs from the list {sequence} accepted already (equivocation: the peer is suspended)",
        "第 {sequence} 版列表与已接受的同一版内容不同（两面说法：暂停该对方）",
    ),
    Refusal.ISSUED_EARLIER: M(
        "trust_list.refused.issued_earlier",
        "list {sequence} was issued at {value}, before list {last} ({expected})",
        "第 {sequence} 版列表的签发时间 {value} 早于第 {last} 版（{expected}）",
    ),
    Refusal.BROKEN_CHAIN: M(
        "trust_list.refused.broken_chain",
        "list {sequence} does not follow list {last}: {value}",
        "第 {sequence} 版列表与第 {last} 版衔接不上：{value}",
    ),
    Refusal.EXPIRED: M(
        "trust_list.refused.expired",
        "list {sequence} expired at {value}",
        "第 {sequence} 版列表已于 {value} 过期",
    ),
}
_PREVIOUS_MISMATCH = M(
    "trust_list.chain.previous",
    "its previous is not the list accepted",
    "其 previous 不是已接受的那一版",
)
_GAP = M("trust_list.chain.gap", "lists are missing in between", "中间缺少若干版列表")


def _refuse(reason: Refusal, new: SignedList, **params: Any) -> Decision:
    return Decision(Outcome.KEEP_LAST, new.sequence, reason, _bound(_REFUSALS[reason], sequence=new.sequence, **params))


def _trusted(last: SignedList | None, pins: frozenset[str], new: SignedList) -> tuple[frozenset[str], frozenset[str]]:
    """(kids whose signatures count, the subset trusted only as keys the last list announced)."""
    announced: set[str] = set()
    barred = {k.kid for k in new.trust_list.scheme.signing_keys if k.status is KeyStatus.COMPROMISED}
    if last is not None:
        for k in last.trust_list.scheme.signing_keys:
            if k.status is KeyStatus.NEXT and (k.not_before is None or k.not_before <= new.trust_list.scheme.issued_at):
                announced.add(k.kid)
            elif k.status in (KeyStatus.RETIRED, KeyStatus.COMPROMISED):
                barred.add(k.kid)
    current = {k.kid for k in new.trust_list.scheme.signing_keys if k.status is KeyStatus.CURRENT}
    counted = frozenset((new.verified_kids & (pins | announced) & current) - barred)
    return counted, frozenset(counted - pins)


def decide(
    last: SignedList | None,
    pinned: Iterable[str],
    new: SignedList,
    *,
    area_code: str,
    now: dt.datetime,
    check_expiry: bool = True,
) -> Decision:
    """Whether ``new`` (a verified list just fetched) replaces ``last`` (the last accepted, or
    ``None`` on admission). ``pinned`` are the peer's pinned key fingerprints (hex, or kids);
    ``area_code`` the one it was admitted with. ``check_expiry`` is off only for the intermediate
    lists of :func:`walk`."""
    pins = frozenset("sha256:" + normalize_fingerprint(p) for p in pinned)
    counted, rolled = _trusted(last, pins, new)
    if not counted:
        return _refuse(Refusal.UNTRUSTED_SIGNER, new)
    scheme = new.trust_list.scheme
    if scheme.operator.area_code != area_code or (
        last is not None and scheme.operator.area_code != last.trust_list.scheme.operator.area_code
    ):
        return _refuse(Refusal.AREA_CODE_CHANGED, new, value=scheme.operator.area_code, expected=area_code)
    outcome = Outcome.ACCEPT
    if last is not None:
        held = last.trust_list.scheme
        if scheme.sequence < held.sequence:
            return _refuse(Refusal.REPLAY, new, last=held.sequence)
        if scheme.sequence == held.sequence:
            if new.sha256 != last.sha256:
                return _refuse(Refusal.EQUIVOCATION, new)
            outcome = Outcome.UNCHANGED
        elif scheme.issued_at < held.issued_at:
            return _refuse(
                Refusal.ISSUED_EARLIER,
                new,
                last=held.sequence,
                value=format_time(scheme.issued_at),
                expected=format_time(held.issued_at),
            )
        elif scheme.sequence == held.sequence + 1 and (
            scheme.previous is None or scheme.previous.sha256 != last.sha256
        ):
            return _refuse(Refusal.BROKEN_CHAIN, new, last=held.sequence, value=_PREVIOUS_MISMATCH)
    if check_expiry and now >= scheme.next_update:
        return _refuse(Refusal.EXPIRED, new, value=format_time(scheme.next_update))
    if outcome is Outcome.UNCHANGED:
        rolled = frozenset()
    return Decision(outcome, scheme.sequence, trusted_by=counted, rolled_over=rolled)


def walk(
    last: SignedList | None,
    pinned: Iterable[str],
    chain: Sequence[SignedList],
    *,
    area_code: str,
    now: dt.datetime,
) -> tuple[Decision, SignedList | None]:
    """Apply :func:`decide` along ``chain``: the lists after ``last`` fetched from ``lists/<n>``,
    consecutive and in order, the newest last. The intermediate ones may have expired since; each
    must be accepted, and the keys one announces count for the next. Returns the decision on the
    newest list (its ``rolled_over`` gathers every key newly trusted on the way, for the caller to
    pin) and the list to hold from now on (``last`` if anything was refused)."""
    if not chain:
        raise ValueError("walk() needs at least one list")
    pins = {"sha256:" + normalize_fingerprint(p) for p in pinned}
    rolled: set[str] = set()
    held = last
    decision = None
    for i, new in enumerate(chain):
        final = i == len(chain) - 1
        if len(chain) > 1 and held is not None and new.sequence != held.sequence + 1:
            return _refuse(Refusal.BROKEN_CHAIN, new, last=held.sequence, value=_GAP), last
        decision = decide(held, pins, new, area_code=area_code, now=now, check_expiry=final)
        if decision.outcome is not Outcome.ACCEPT and not (final and decision.outcome is Outcome.UNCHANGED):
            return decision, last
        rolled |= decision.rolled_over
        pins |= decision.rolled_over
        held = new
    assert decision is not None
    result = Decision(
        decision.outcome, decision.sequence, trusted_by=decision.trusted_by, rolled_over=frozenset(rolled)
    )
    return result, held
