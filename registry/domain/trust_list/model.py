"""The trust list's parts: its enumerations, its dataclasses, its limits and the messages its checks share."""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass
from typing import Any

from ...pki.jws import ALGORITHMS
from ...pki.keys import Algorithm
from ...pki.x509 import Certificate
from ..errors import M, Message, ValidationError

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
