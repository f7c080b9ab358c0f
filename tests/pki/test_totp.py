"""TOTP against the RFC 6238 Appendix B test vectors and the replay/drift rules."""

from __future__ import annotations

import base64
import datetime as dt

import pytest

from registry.pki import totp

RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
UTC = dt.UTC


@pytest.mark.parametrize(
    "unix, eight_digits",
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1111111111, "14050471"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ],
)
def test_rfc6238_sha1_vectors(unix: int, eight_digits: str) -> None:
    # the RFC lists 8-digit codes; ours are the last 6 digits of the same truncated value
    when = dt.datetime.fromtimestamp(unix, UTC)
    assert totp.code_at(RFC_SECRET, when) == eight_digits[-6:]


def test_match_accepts_one_step_of_drift_and_returns_the_step() -> None:
    secret = totp.new_secret()
    now = dt.datetime(2026, 11, 30, 8, 0, 15, tzinfo=UTC)
    step = int(now.timestamp()) // 30
    assert totp.match(secret, totp.code_at(secret, now), now) == step
    earlier = now - dt.timedelta(seconds=30)
    assert totp.match(secret, totp.code_at(secret, earlier), now) == step - 1
    assert totp.match(secret, totp.code_at(secret, now - dt.timedelta(seconds=90)), now) is None
    assert totp.match(secret, totp.code_at(secret, now + dt.timedelta(seconds=30)), now) == step + 1


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "12 34 5x"])
def test_malformed_codes_never_match(code: str) -> None:
    assert totp.match(totp.new_secret(), code, dt.datetime.now(UTC)) is None


def test_secret_and_uri() -> None:
    secret = totp.new_secret()
    assert len(base64.b32decode(secret + "=" * (-len(secret) % 8))) == 20
    uri = totp.provisioning_uri(secret, "rita", "深圳市市场监督管理局")
    assert uri.startswith("otpauth://totp/") and f"secret={secret}" in uri and "digits=6" in uri
    with pytest.raises(ValueError):
        totp.code_at(secret, dt.datetime(2026, 1, 1))
