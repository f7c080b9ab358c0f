"""E-licence credentials: the demo issuer, the app stand-in, and every way a credential is refused."""

from __future__ import annotations

import datetime as dt

import pytest

from registry.pki import credential
from registry.pki.keys import Algorithm, PrivateKey
from registry.services import elicence, licences
from registry.services.context import ServiceContext
from tests.support.data import ADMIN, CANCELLED_USCC, SHENZHEN_USCC, UNKNOWN_USCC


def verify(ctx: ServiceContext, token: str, challenge: str = "c-1") -> elicence.Identity:
    return elicence.LocalIssuerVerifier(ctx).verify(token, challenge=challenge, now=ctx.clock.now())


def test_a_fresh_credential_for_the_challenge_signs_the_enterprise_in(issuer: ServiceContext) -> None:
    token = elicence.demo_credential(issuer, SHENZHEN_USCC, "c-1")
    assert token.startswith("ELC1.") and token.count(".") == 2
    who = verify(issuer, token)
    assert who.uscc == SHENZHEN_USCC and who.legal_representative == "张三"
    issuer.clock.advance(seconds=elicence.FRESH_SECONDS - 1)
    assert verify(issuer, token).uscc == SHENZHEN_USCC


def _forged(ctx: ServiceContext, **overrides: object) -> str:
    key = PrivateKey.generate(Algorithm.SM2)
    fields = dict(
        uscc=SHENZHEN_USCC,
        name="深圳市前海示范科技有限公司",
        legal_representative="张三",
        issued_at=ctx.clock.now(),
        expires_at=ctx.clock.now() + dt.timedelta(minutes=5),
        challenge="c-1",
        audience=elicence.AUDIENCE,
    )
    fields.update(overrides)
    return credential.sign_credential(key, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "case, message",
    [
        ("forged", "does not verify"),
        ("expired", "expired"),
        ("future", "future"),
        ("wrong challenge", "another challenge"),
        ("altered payload", "does not verify"),
        ("garbage", "not an e-licence credential"),
        ("empty", "no credential"),
        ("cancelled licence", "cancelled"),
        ("unknown licence", "no licence on record"),
        ("other audience", "made for"),
    ],
)
def test_refused_credentials(issuer: ServiceContext, case: str, message: str) -> None:
    now = issuer.clock.now()
    token = {
        "forged": lambda: _forged(issuer),
        "expired": lambda: elicence.demo_credential(issuer, SHENZHEN_USCC, "c-1", now=now - dt.timedelta(minutes=6)),
        "future": lambda: elicence.demo_credential(issuer, SHENZHEN_USCC, "c-1", now=now + dt.timedelta(minutes=5)),
        "wrong challenge": lambda: elicence.demo_credential(issuer, SHENZHEN_USCC, "c-2"),
        "altered payload": lambda: _alter(elicence.demo_credential(issuer, SHENZHEN_USCC, "c-1")),
        "garbage": lambda: "hello",
        "empty": lambda: "  ",
        "cancelled licence": lambda: elicence.demo_credential(issuer, CANCELLED_USCC, "c-1"),
        "unknown licence": lambda: _signed_by_demo(issuer, UNKNOWN_USCC),
        "other audience": lambda: _signed_by_demo(issuer, SHENZHEN_USCC, audience="another-portal"),
    }[case]()
    with pytest.raises(elicence.CredentialRejected, match=message):
        verify(issuer, token)


def _alter(token: str) -> str:
    import base64
    import json

    head, payload, sig = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["uscc"] = "91440300MA5GK7B25F"
    new = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return f"{head}.{new}.{sig}"


def _signed_by_demo(ctx: ServiceContext, uscc: str, audience: str = elicence.AUDIENCE) -> str:
    key = PrivateKey.from_pem(ctx.settings.elicence_key.read_bytes())
    return credential.sign_credential(
        key,
        uscc=uscc,
        name="某公司",
        legal_representative="某人",
        issued_at=ctx.clock.now(),
        expires_at=ctx.clock.now() + dt.timedelta(minutes=5),
        challenge="c-1",
        audience=audience,
    )


def test_renamed_enterprise_must_update_its_licence_first(issuer: ServiceContext) -> None:
    token = elicence.demo_credential(issuer, SHENZHEN_USCC, "c-1")
    licences.set_licence_status(issuer, ADMIN, SHENZHEN_USCC, "active", name="深圳市前海新名称有限公司")
    with pytest.raises(elicence.CredentialRejected, match="different enterprise name"):
        verify(issuer, token)


def test_demo_credential_needs_the_issuer_and_a_challenge(ctx: ServiceContext) -> None:
    from registry.domain.errors import NotFound, ValidationError

    with pytest.raises(ValidationError, match="registry init"):
        elicence.demo_credential(ctx, SHENZHEN_USCC, "c")
    elicence.ensure_demo_issuer(ctx)
    with pytest.raises(ValidationError, match="challenge"):
        elicence.demo_credential(ctx, SHENZHEN_USCC, "")
    with pytest.raises(NotFound):
        elicence.demo_credential(ctx, UNKNOWN_USCC, "c")


def test_the_issuer_certificate_signature_checks_with_openssl(issuer: ServiceContext, openssl: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Independent check: the demo issuer's self-signed SM2 certificate verifies in OpenSSL."""
    import subprocess

    res = subprocess.run(
        [
            openssl,
            "verify",
            "-vfyopt",
            "distid:1234567812345678",
            "-CAfile",
            str(issuer.settings.elicence_cert),
            str(issuer.settings.elicence_cert),
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0 and "OK" in res.stdout, res.stdout + res.stderr
