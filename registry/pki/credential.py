"""Electronic business licence (电子营业执照) credentials: what the e-licence app hands the portal.

A credential is a statement signed by the licence issuer's key: this enterprise (USCC, name, legal
representative), presented at this time, until then, in answer to this challenge from the portal.
Encoding (compact, pasteable, like a JWS but with SM2):

    ELC1.<base64url(payload)>.<base64url(DER signature)>

``payload`` is canonical JSON (UTF-8, sorted keys, no spaces) of
``{"v": 1, "aud": ..., "uscc": ..., "name": ..., "legal_representative": ..., "issued_at": ...,
"expires_at": ..., "challenge": ...}`` with times as ``YYYY-MM-DDTHH:MM:SSZ``. The signature is SM2
with SM3 and the GM/T 0009 default ID over the ASCII bytes ``ELC1.<base64url(payload)>`` (or ECDSA
P-256 with SHA-256 if the issuer's key is P-256).

The real national e-licence service signs differently; :mod:`registry.services.elicence` keeps
this behind one interface so it can be replaced. Pure: no clock, no I/O.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass

from ..messages import Localized, M
from .keys import PublicKey, Signer
from .strict_json import DuplicateKey, nesting_depth, no_duplicate_keys

__all__ = ["CredentialError", "Credential", "sign_credential", "parse_credential", "PREFIX"]

PREFIX = "ELC1"
MAX_TOKEN = 8192
#: The payload is one flat object; anything nested deeper is refused before parsing (a deep
#: nesting would exhaust the parser's recursion even from the trusted issuer's key).
MAX_DEPTH = 4


class CredentialError(Localized, ValueError):
    """The credential is malformed, forged or does not say what is needed; the message says which."""


@dataclass(frozen=True)
class Credential:
    uscc: str
    name: str
    legal_representative: str
    issued_at: dt.datetime
    expires_at: dt.datetime
    challenge: str
    audience: str


_PART = {
    "payload": M("credential.part.payload", "payload", "内容"),
    "signature": M("credential.part.signature", "signature", "签名"),
    "issue time": M("credential.part.issued_at", "issue time", "签发时间"),
    "expiry": M("credential.part.expires_at", "expiry", "失效时间"),
    "uscc": M("credential.part.uscc", "uscc", "统一社会信用代码"),
    "name": M("credential.part.name", "name", "企业名称"),
    "legal_representative": M("credential.part.legal_representative", "legal_representative", "法定代表人"),
    "challenge": M("credential.part.challenge", "challenge", "挑战码"),
    "aud": M("credential.part.aud", "audience (aud)", "受众（aud）"),
}
_NOT_JSON = M("credential.not_json", "the credential's payload is not JSON", "电子营业执照凭证的内容不是 JSON")


def _payload(payload: bytes) -> object:
    """The signed payload as JSON, refusing what no issuer should send: nesting deeper than
    :data:`MAX_DEPTH`, duplicate keys, numbers too long to convert."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise CredentialError(_NOT_JSON) from None
    if nesting_depth(text, MAX_DEPTH) > MAX_DEPTH:
        raise CredentialError(
            M(
                "credential.too_deep",
                "the credential's payload is nested more than {limit} levels deep",
                "电子营业执照凭证的内容嵌套超过 {limit} 层",
            ),
            limit=MAX_DEPTH,
        )
    try:
        return json.loads(text, object_pairs_hook=no_duplicate_keys)
    except DuplicateKey as exc:
        raise CredentialError(
            M(
                "credential.duplicate_key",
                "the credential's payload has the key {key} twice",
                "电子营业执照凭证的内容中键 {key} 出现了两次",
            ),
            key=repr(exc.key[:40]),
        ) from None
    except (json.JSONDecodeError, RecursionError, ValueError):  # ValueError: a number too long to convert
        raise CredentialError(_NOT_JSON) from None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise CredentialError(
            M(
                "credential.not_base64",
                "the credential's {what} is not base64url",
                "电子营业执照凭证的{what}不是 base64url 编码",
            ),
            what=_PART[what],
        ) from None


def _time(t: dt.datetime) -> str:
    if t.tzinfo is None:
        raise CredentialError(
            M("credential.naive_time", "credential times must be timezone-aware", "凭证时间必须带时区")
        )
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: object, what: str) -> dt.datetime:
    if not isinstance(text, str):
        raise CredentialError(
            M("credential.time_missing", "the credential's {what} is missing", "电子营业执照凭证缺少{what}"),
            what=_PART[what],
        )
    try:
        return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise CredentialError(
            M(
                "credential.bad_time",
                "the credential's {what} {value} is not a UTC time like 2026-11-30T08:00:00Z",
                "电子营业执照凭证的{what} {value} 不是形如 2026-11-30T08:00:00Z 的 UTC 时间",
            ),
            what=_PART[what],
            value=repr(text[:40]),
        ) from None


def sign_credential(
    signer: Signer,
    *,
    uscc: str,
    name: str,
    legal_representative: str,
    issued_at: dt.datetime,
    expires_at: dt.datetime,
    challenge: str,
    audience: str,
) -> str:
    payload = json.dumps(
        {
            "v": 1,
            "aud": audience,
            "uscc": uscc,
            "name": name,
            "legal_representative": legal_representative,
            "issued_at": _time(issued_at),
            "expires_at": _time(expires_at),
            "challenge": challenge,
        },
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    ).encode("utf-8")
    signed = f"{PREFIX}.{_b64(payload)}"
    return f"{signed}.{_b64(signer.sign(signed.encode('ascii')))}"


def parse_credential(token: str, issuer_key: PublicKey) -> Credential:
    """Check the signature with ``issuer_key`` and decode. Freshness, challenge and audience are the
    caller's (they need a clock and the portal's state)."""
    token = (token or "").strip()
    if not token:
        raise CredentialError(M("credential.empty", "no credential was given", "未提供电子营业执照凭证"))
    if len(token) > MAX_TOKEN:
        raise CredentialError(
            M(
                "credential.too_long",
                "the credential is longer than {limit} characters",
                "电子营业执照凭证超过 {limit} 个字符",
            ),
            limit=MAX_TOKEN,
        )
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise CredentialError(
            M(
                "credential.not_credential",
                "not an e-licence credential (expected {prefix}.<payload>.<signature>)",
                "不是电子营业执照凭证（应为 {prefix}.<payload>.<signature>）",
            ),
            prefix=PREFIX,
        )
    payload, signature = _unb64(parts[1], "payload"), _unb64(parts[2], "signature")
    if not issuer_key.verify(f"{parts[0]}.{parts[1]}".encode("ascii"), signature):
        raise CredentialError(
            M(
                "credential.bad_signature",
                "the credential's signature does not verify with the e-licence issuer's key (forged or altered)",
                "电子营业执照凭证的签名无法用执照签发方的密钥验证（伪造或被篡改）",
            )
        )
    data = _payload(payload)
    if not isinstance(data, dict) or data.get("v") != 1:
        raise CredentialError(M("credential.version", "unsupported credential version", "不支持的凭证版本"))
    for field in ("uscc", "name", "legal_representative", "challenge", "aud"):
        if not isinstance(data.get(field), str) or not data[field]:
            raise CredentialError(
                M("credential.field_missing", "the credential's {field} is missing", "电子营业执照凭证缺少{field}"),
                field=_PART[field],
            )
    return Credential(
        uscc=data["uscc"],
        name=data["name"],
        legal_representative=data["legal_representative"],
        issued_at=_parse_time(data.get("issued_at"), "issue time"),
        expires_at=_parse_time(data.get("expires_at"), "expiry"),
        challenge=data["challenge"],
        audience=data["aud"],
    )
