"""``registry licence credential`` plays the e-licence app; ``registry init`` makes the demo issuer."""

from __future__ import annotations

from registry.config import Settings
from registry.services import elicence
from registry.services.context import ServiceContext
from tests.support.cli import Cli, last_line
from tests.support.data import SHENZHEN_USCC, UNKNOWN_USCC


def test_credential_from_the_command_line_is_accepted_by_the_portal_verifier(ready: Cli) -> None:
    res = ready("licence", "credential", SHENZHEN_USCC, "--challenge", "abc123")
    token = last_line(res)
    ctx = ServiceContext.create(Settings.from_env(ready.env))
    who = elicence.LocalIssuerVerifier(ctx).verify(token, challenge="abc123", now=ctx.clock.now())
    assert who.uscc == SHENZHEN_USCC
    # without --challenge a new one is made and printed first
    res = ready("licence", "credential", SHENZHEN_USCC)
    challenge = res.stdout.splitlines()[0].removeprefix("challenge: ")
    assert (
        elicence.LocalIssuerVerifier(ctx).verify(last_line(res), challenge=challenge, now=ctx.clock.now()).uscc
        == SHENZHEN_USCC
    )
    bad = ready("licence", "credential", UNKNOWN_USCC, "--challenge", "x", ok=False)
    assert bad.exit_code == 2 and "no licence on record" in bad.stderr


def test_init_makes_the_demo_issuer_once(cli: Cli) -> None:
    assert "e-licence issuer (demo): new key and certificate" in cli("init").stdout
    assert "e-licence issuer" not in cli("init").stdout
