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
# messages: not yet converted (tests/test_messages.py)
from __future__ import annotations

from ..messages import Localized, M

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass

from .keys import PublicKey, Signer

__all__ = ["CredentialError", "Credential", "sign_credential", "parse_credential", "PREFIX"]

PREFIX = "ELC1"
MAX_TOKEN = 8192


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


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise CredentialError(f"the credential's {what} is not base64url") from None


def _time(t: dt.datetime) -> str:
    if t.tzinfo is None:
        raise CredentialError("credential times must be timezone-aware")
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: object, what: str) -> dt.datetime:
    if not isinstance(text, str):
        raise CredentialError(f"the credential's {what} is missing")
    try:
        return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        raise CredentialError(f"the credential's {what} {text!r} is not a UTC time like 2026-11-30T08:00:00Z") from None


def sign_credential(signer: Signer, *, uscc: str, name: str, legal_representative: str, issued_at: dt.datetime,
                    expires_at: dt.datetime, challenge: str, audience: str) -> str:
    payload = json.dumps({"v": 1, "aud": audience, "uscc": uscc, "name": name,
                          "legal_representative": legal_representative, "issued_at": _time(issued_at),
                          "expires_at": _time(expires_at), "challenge": challenge},
                         ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    signed = f"{PREFIX}.{_b64(payload)}"
    return f"{signed}.{_b64(signer.sign(signed.encode('ascii')))}"


def parse_credential(token: str, issuer_key: PublicKey) -> Credential:
    """Check the signature with ``issuer_key`` and decode. Freshness, challenge and audience are the
    caller's (they need a clock and the portal's state)."""
    token = (token or "").strip()
    if not token:
        raise CredentialError("no credential was given")
    if len(token) > MAX_TOKEN:
        raise CredentialError(f"the credential is longer than {MAX_TOKEN} characters")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise CredentialError(f"not an e-licence credential (expected {PREFIX}.<payload>.<signature>)")
    payload, signature = _unb64(parts[1], "payload"), _unb64(parts[2], "signature")
    if not issuer_key.verify(f"{parts[0]}.{parts[1]}".encode("ascii"), signature):
        raise CredentialError("the credential's signature does not verify with the e-licence issuer's key "
                              "(forged or altered)")
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CredentialError("the credential's payload is not JSON") from None
    if not isinstance(data, dict) or data.get("v") != 1:
        raise CredentialError("unsupported credential version")
    for field in ("uscc", "name", "legal_representative", "challenge", "aud"):
        if not isinstance(data.get(field), str) or not data[field]:
            raise CredentialError(f"the credential's {field} is missing")
    return Credential(uscc=data["uscc"], name=data["name"], legal_representative=data["legal_representative"],
                      issued_at=_parse_time(data.get("issued_at"), "issue time"),
                      expires_at=_parse_time(data.get("expires_at"), "expiry"), challenge=data["challenge"],
                      audience=data["aud"])
