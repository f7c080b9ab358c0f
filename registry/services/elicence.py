"""Identity from the electronic business licence (电子营业执照), behind one interface.

The portal asks a :class:`CredentialVerifier` "who is this?" with the credential the enterprise's
e-licence app produced for the portal's challenge. :class:`LocalIssuerVerifier` — the one here —
trusts one licence-issuer certificate (``REGISTRY_ELICENCE_CERT``) and checks, in order: the
signature, the audience (this registry), the time (issued within the last five minutes, not expired),
the challenge (the one this portal handed out, used once), and that the licence is active in our
registry with the same name and legal representative. The national e-licence service would plug
in as another implementation of the same protocol (its own token format and trust).

For demonstrations and tests, ``registry init`` makes a demo issuer (key and self-signed certificate
under ``instance/elicence/``) and ``registry licence credential USCC --challenge C`` plays the app.
"""
# messages: not yet converted (tests/test_messages.py)
from __future__ import annotations

import datetime as dt
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy import select

from ..db.models import Enterprise
from ..domain.errors import DomainError, NotFound, ValidationError
from ..domain.states import LicenceStatus
from ..pki import credential, x509
from ..pki.keys import Algorithm, KeyFormatError, PrivateKey
from .context import ServiceContext

__all__ = ["CredentialRejected", "Identity", "CredentialVerifier", "LocalIssuerVerifier", "new_challenge",
           "ensure_demo_issuer", "demo_credential", "FRESH_SECONDS", "AUDIENCE"]

FRESH_SECONDS = 300      # a credential is good for five minutes after it was made
CLOCK_SKEW = 60          # its issue time may be this far in our future (phone clocks drift)
AUDIENCE = "registry-portal"


class CredentialRejected(DomainError):
    http_status = 401


@dataclass(frozen=True)
class Identity:
    enterprise_id: int
    uscc: str
    name: str
    legal_representative: str


class CredentialVerifier(Protocol):
    def verify(self, token: str, *, challenge: str, now: dt.datetime) -> Identity:
        """The enterprise the credential proves, or :class:`CredentialRejected` naming why not."""
        ...


def new_challenge() -> str:
    return secrets.token_urlsafe(18)


def issuer_files(ctx: ServiceContext) -> tuple[Path, Path]:
    return ctx.settings.elicence_cert, ctx.settings.elicence_key


class LocalIssuerVerifier:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def _issuer(self) -> x509.Certificate:
        cert_path, _key = issuer_files(self.ctx)
        try:
            return self.ctx.cached(("elicence-issuer", str(cert_path)),
                                   lambda: x509.Certificate.load(cert_path.read_bytes()))
        except (OSError, x509.CertificateError) as exc:
            raise ValidationError(f"the e-licence issuer certificate {cert_path} cannot be read: {exc}") from None

    def verify(self, token: str, *, challenge: str, now: dt.datetime) -> Identity:
        issuer = self._issuer()
        try:
            cred = credential.parse_credential(token, issuer.public_key)
        except credential.CredentialError as exc:
            raise CredentialRejected(str(exc)) from None
        if cred.audience != AUDIENCE:
            raise CredentialRejected(f"the credential was made for {cred.audience!r}, not for this portal")
        if cred.issued_at > now + dt.timedelta(seconds=CLOCK_SKEW):
            raise CredentialRejected("the credential claims to be made in the future; check the phone's clock")
        if now - cred.issued_at > dt.timedelta(seconds=FRESH_SECONDS) or now >= cred.expires_at:
            raise CredentialRejected("the credential has expired: make a new one in the e-licence app")
        if not challenge or not secrets.compare_digest(cred.challenge, challenge):
            raise CredentialRejected("the credential answers another challenge (an old or copied credential): "
                                     "scan the code on this page again")
        with self.ctx.reader() as s:
            ent = s.scalar(select(Enterprise).where(Enterprise.uscc == cred.uscc))
            if ent is None:
                raise CredentialRejected(f"no licence on record for USCC {cred.uscc}")
            if ent.status is not LicenceStatus.ACTIVE:
                raise CredentialRejected(f"the licence of {cred.uscc} is {ent.status.value}")
            if ent.name != cred.name or ent.legal_representative != cred.legal_representative:
                raise CredentialRejected("the e-licence names a different enterprise name or legal representative "
                                         "than our records; the licence data must be updated first")
            return Identity(ent.id, ent.uscc, ent.name, ent.legal_representative)


def ensure_demo_issuer(ctx: ServiceContext, now: dt.datetime | None = None) -> bool:
    """Make the demo licence issuer (SM2 key + self-signed certificate) unless one is configured.
    Returns whether it was created."""
    cert_path, key_path = issuer_files(ctx)
    if cert_path.exists():
        return False
    now = now or ctx.clock.now()
    key = PrivateKey.generate(Algorithm.SM2)
    name = x509.Name.build(C="CN", O="电子营业执照签发机构（演示）", CN="Demo e-licence issuer")
    cert = x509.sign_tbs(x509.build_tbs(
        serial=x509.random_serial(), signature_alg=Algorithm.SM2, issuer=name, subject=name, not_before=now,
        not_after=now + dt.timedelta(days=3650), public_key=key.public_key,
        extensions=[x509.key_usage(x509.KU_DIGITAL_SIGNATURE),
                    x509.subject_key_identifier(key.public_key.key_identifier())]), key)
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.pem())
    cert_path.write_text(x509.Certificate.from_der(cert).pem())
    return True


def demo_credential(ctx: ServiceContext, uscc: str, challenge: str, *, now: dt.datetime | None = None,
                    valid_seconds: int = FRESH_SECONDS) -> str:
    """What the e-licence app would produce for ``uscc`` (the licence data as we hold them)."""
    _cert, key_path = issuer_files(ctx)
    try:
        key = PrivateKey.from_pem(key_path.read_bytes())
    except OSError:
        raise ValidationError(f"no demo e-licence issuer key at {key_path}: run `registry init`") from None
    except KeyFormatError as exc:
        raise ValidationError(f"the demo e-licence issuer key cannot be read: {exc}") from None
    if not challenge:
        raise ValidationError("a credential answers the portal's challenge: give --challenge")
    now = now or ctx.clock.now()
    with ctx.reader() as s:
        ent = s.scalar(select(Enterprise).where(Enterprise.uscc == (uscc or "").strip().upper()))
        if ent is None:
            raise NotFound(f"no licence on record for USCC {uscc}")
        return credential.sign_credential(key, uscc=ent.uscc, name=ent.name,
                                          legal_representative=ent.legal_representative, issued_at=now,
                                          expires_at=now + dt.timedelta(seconds=valid_seconds), challenge=challenge,
                                          audience=AUDIENCE)
