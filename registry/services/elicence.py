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

from __future__ import annotations

import datetime as dt
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy import select

from ..db.models import Enterprise
from ..domain.errors import DomainError, M, NotFound, ValidationError
from ..domain.states import LicenceStatus
from ..pki import credential, x509
from ..pki.keys import Algorithm, KeyFormatError, PrivateKey
from .context import ServiceContext

__all__ = [
    "CredentialRejected",
    "Identity",
    "CredentialVerifier",
    "LocalIssuerVerifier",
    "new_challenge",
    "ensure_demo_issuer",
    "demo_credential",
    "FRESH_SECONDS",
    "AUDIENCE",
]

FRESH_SECONDS = 300  # a credential is good for five minutes after it was made
CLOCK_SKEW = 60  # its issue time may be this far in our future (phone clocks drift)
AUDIENCE = "registry-portal"


class CredentialRejected(DomainError):
    http_status = 401


ISSUER_UNREADABLE = M(
    "elicence.issuer_unreadable",
    "the e-licence issuer certificate {path} cannot be read: {reason}",
    "电子营业执照签发机构证书 {path} 无法读取：{reason}",
)
BAD_CREDENTIAL = M("elicence.bad_credential", "the credential cannot be read: {reason}", "凭证无法读取：{reason}")
WRONG_AUDIENCE = M(
    "elicence.wrong_audience",
    "the credential was made for {audience}, not for this portal",
    "该凭证是为 {audience} 生成的，不是本门户",
)
FUTURE = M(
    "elicence.future",
    "the credential claims to be made in the future; check the phone's clock",
    "凭证的生成时间在未来：请检查手机的时间",
)
EXPIRED = M(
    "elicence.expired",
    "the credential has expired: make a new one in the e-licence app",
    "凭证已过期：请在电子营业执照应用中重新生成",
)
OTHER_CHALLENGE = M(
    "elicence.other_challenge",
    "the credential answers another challenge (an old or copied credential): scan the code on this page again",
    "该凭证对应的是另一个二维码（旧的或复制的凭证）：请重新扫描本页上的二维码",
)
NO_LICENCE = M(
    "elicence.no_licence", "no licence on record for USCC {uscc}", "没有统一社会信用代码为 {uscc} 的执照记录"
)
LICENCE_NOT_ACTIVE = M(
    "elicence.licence_not_active", "the licence of {uscc} is {status}", "{uscc} 的营业执照状态为{status}"
)
DATA_DIFFER = M(
    "elicence.data_differ",
    "the e-licence names a different enterprise name or legal representative "
    "than our records; the licence data must be updated first",
    "电子营业执照上的企业名称或法定代表人与本系统记录不一致：需先更新执照数据",
)
CHALLENGE_EXPIRED = M(
    "elicence.challenge_expired",
    "the code on this page has expired; a new one is shown",
    "本页的二维码已过期，已显示新的二维码",
)
NO_DEMO_KEY = M(
    "elicence.no_demo_key",
    "no demo e-licence issuer key at {path}: run `registry init`",
    "{path} 处没有演示用电子营业执照签发密钥：请运行 `registry init`",
)
DEMO_KEY_BAD = M(
    "elicence.demo_key_bad",
    "the demo e-licence issuer key cannot be read: {reason}",
    "演示用电子营业执照签发密钥无法读取：{reason}",
)
NEED_CHALLENGE = M(
    "elicence.need_challenge",
    "a credential answers the portal's challenge: give --challenge",
    "凭证需对应门户的二维码：请给出 --challenge",
)


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
            return self.ctx.cached(
                ("elicence-issuer", str(cert_path)), lambda: x509.Certificate.load(cert_path.read_bytes())
            )
        except (OSError, x509.CertificateError) as exc:
            raise ValidationError(ISSUER_UNREADABLE, path=str(cert_path), reason=exc) from None

    def verify(self, token: str, *, challenge: str, now: dt.datetime) -> Identity:
        issuer = self._issuer()
        try:
            cred = credential.parse_credential(token, issuer.public_key)
        except credential.CredentialError as exc:
            raise CredentialRejected(BAD_CREDENTIAL, reason=exc) from None
        if cred.audience != AUDIENCE:
            raise CredentialRejected(WRONG_AUDIENCE, audience=str(cred.audience)[:80])
        if cred.issued_at > now + dt.timedelta(seconds=CLOCK_SKEW):
            raise CredentialRejected(FUTURE)
        if now - cred.issued_at > dt.timedelta(seconds=FRESH_SECONDS) or now >= cred.expires_at:
            raise CredentialRejected(EXPIRED)
        if not challenge or not secrets.compare_digest(cred.challenge, challenge):
            raise CredentialRejected(OTHER_CHALLENGE)
        with self.ctx.reader() as s:
            ent = s.scalar(select(Enterprise).where(Enterprise.uscc == cred.uscc))
            if ent is None:
                raise CredentialRejected(NO_LICENCE, uscc=cred.uscc)
            if ent.status is not LicenceStatus.ACTIVE:
                raise CredentialRejected(LICENCE_NOT_ACTIVE, uscc=cred.uscc, status=ent.status)
            if ent.name != cred.name or ent.legal_representative != cred.legal_representative:
                raise CredentialRejected(DATA_DIFFER)
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
    cert = x509.sign_tbs(
        x509.build_tbs(
            serial=x509.random_serial(),
            signature_alg=Algorithm.SM2,
            issuer=name,
            subject=name,
            not_before=now,
            not_after=now + dt.timedelta(days=3650),
            public_key=key.public_key,
            extensions=[
                x509.key_usage(x509.KU_DIGITAL_SIGNATURE),
                x509.subject_key_identifier(key.public_key.key_identifier()),
            ],
        ),
        key,
    )
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.pem())
    cert_path.write_text(x509.Certificate.from_der(cert).pem())
    return True


def demo_credential(
    ctx: ServiceContext,
    uscc: str,
    challenge: str,
    *,
    now: dt.datetime | None = None,
    valid_seconds: int = FRESH_SECONDS,
) -> str:
    """What the e-licence app would produce for ``uscc`` (the licence data as we hold them)."""
    _cert, key_path = issuer_files(ctx)
    try:
        key = PrivateKey.from_pem(key_path.read_bytes())
    except OSError:
        raise ValidationError(NO_DEMO_KEY, path=str(key_path)) from None
    except KeyFormatError as exc:
        raise ValidationError(DEMO_KEY_BAD, reason=exc) from None
    if not challenge:
        raise ValidationError(NEED_CHALLENGE)
    now = now or ctx.clock.now()
    with ctx.reader() as s:
        ent = s.scalar(select(Enterprise).where(Enterprise.uscc == (uscc or "").strip().upper()))
        if ent is None:
            raise NotFound(NO_LICENCE, uscc=uscc)
        return credential.sign_credential(
            key,
            uscc=ent.uscc,
            name=ent.name,
            legal_representative=ent.legal_representative,
            issued_at=now,
            expires_at=now + dt.timedelta(seconds=valid_seconds),
            challenge=challenge,
            audience=AUDIENCE,
        )
