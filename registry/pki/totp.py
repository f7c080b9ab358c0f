"""Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP) for the staff second factor.

HMAC-SHA1, 6 digits, 30-second steps: what every authenticator app (Google Authenticator, Microsoft
Authenticator, FreeOTP, 腾讯身份验证器) accepts from an ``otpauth://`` URI. :func:`match` accepts the
current step and one step either side (clock drift) and returns the step that matched, so the
caller can refuse a code whose step was already used (RFC 6238 §5.2: one use per step).

Pure: the time is a parameter.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
import struct
from urllib.parse import quote, urlencode

__all__ = ["new_secret", "code_at", "match", "provisioning_uri", "STEP", "DIGITS"]

STEP = 30
DIGITS = 6
SECRET_BYTES = 20  # 160 bits, RFC 4226 §4 recommends at least 128


def new_secret() -> str:
    """A random base32 secret (unpadded), as authenticator apps expect."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii").rstrip("=")


def _key(secret: str) -> bytes:
    text = secret.strip().replace(" ", "").upper()
    return base64.b32decode(text + "=" * (-len(text) % 8))


def _step(when: dt.datetime) -> int:
    if when.tzinfo is None:
        raise ValueError("TOTP needs a timezone-aware time")
    return int(when.timestamp()) // STEP


def hotp(key: bytes, counter: int) -> str:
    """RFC 4226 §5.3: dynamic truncation of HMAC-SHA1(key, counter)."""
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**DIGITS).zfill(DIGITS)


def code_at(secret: str, when: dt.datetime) -> str:
    return hotp(_key(secret), _step(when))


def match(secret: str, code: str, when: dt.datetime, *, drift: int = 1) -> int | None:
    """The time step ``code`` belongs to (within ±``drift`` steps of ``when``), or None."""
    code = (code or "").strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    key = _key(secret)
    now = _step(when)
    found = None
    for step in range(now - drift, now + drift + 1):
        if hmac.compare_digest(hotp(key, step), code):  # no early exit: constant work per call
            found = step
    return found


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """``otpauth://totp/Issuer:account?secret=...&issuer=...`` (Key Uri Format)."""
    label = quote(f"{issuer}:{account}", safe="")
    return f"otpauth://totp/{label}?" + urlencode(
        {"secret": secret, "issuer": issuer, "algorithm": "SHA1", "digits": DIGITS, "period": STEP}
    )
