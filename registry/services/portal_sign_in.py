"""Sessions of the enterprise portal: the legal representative's (e-licence) and an authorised
person's (services.enterprise_people), kept on the server (services.web_sessions).

Every portal request calls :func:`signed_in`, which re-checks who the session is for:

* the legal representative: the enterprise's licence is still active and still names the person
  who signed in. After a change of legal representative, or a suspended or cancelled licence, the
  session ends at the next request (and the services refuse the legal representative's actions in
  their own transaction too);
* an authorised person: still active, still enrolled, their enterprise's licence still active.

An e-licence challenge is answered once: :func:`representative_sign_in` records it in the same
transaction that starts the session, so a replayed credential (with the cookie of the page it was
made for) is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ..db.models import Enterprise
from ..domain.errors import M
from ..domain.states import LicenceStatus
from . import person_sign_in, web_sessions
from .context import ServiceContext
from .core.tx import begin
from .elicence import CredentialRejected, Identity
from .portal_access import Principal

__all__ = ["PortalSession", "representative_sign_in", "signed_in", "sign_out"]

CHALLENGE_USED = M(
    "elicence.challenge_used",
    "this credential was already used to sign in: make a new one for the code on this page",
    "该凭证已用于登录过：请为本页上的新二维码重新生成凭证",
)


@dataclass(frozen=True)
class PortalSession:
    principal: Principal
    must_change_password: bool
    key: str


def representative_sign_in(ctx: ServiceContext, who: Identity, challenge: str) -> str:
    """Start the legal representative's session for a verified credential; returns its token."""
    principal = Principal(
        enterprise_id=who.enterprise_id, uscc=who.uscc, enterprise_name=who.name, person=who.legal_representative
    )
    with begin(ctx, principal.actor) as tx:
        if not web_sessions.use_challenge(tx, challenge):
            raise CredentialRejected(CHALLENGE_USED)
        started = web_sessions.start(
            tx,
            "representative",
            enterprise_id=who.enterprise_id,
            legal_representative=who.legal_representative,
        )
        tx.audit("signin.succeeded", "enterprise", who.uscc, via="e-licence")
    return started.token


def signed_in(ctx: ServiceContext, token: str | None) -> PortalSession | str | None:
    """Who a portal session is for, re-checked now; a reason string if it ended; None if none."""
    found = web_sessions.load(ctx, token, ("representative", "person"))
    if not isinstance(found, web_sessions.Current):
        return found
    reason: str | None = None
    result: PortalSession | None = None
    if found.kind == "representative":
        with ctx.reader() as session:
            ent = session.scalar(select(Enterprise).where(Enterprise.id == found.enterprise_id))
            if ent is None or ent.status is not LicenceStatus.ACTIVE:
                reason = web_sessions.LICENCE_INACTIVE
            elif ent.legal_representative != found.legal_representative:
                reason = web_sessions.REPRESENTATIVE_CHANGED
            else:
                result = PortalSession(
                    Principal(
                        enterprise_id=ent.id, uscc=ent.uscc, enterprise_name=ent.name, person=ent.legal_representative
                    ),
                    False,
                    found.key,
                )
    elif found.person_id is None:  # a person's session always names its person: end any other
        reason = web_sessions.ACCOUNT_CHANGED
    else:
        person = person_sign_in.principal_for(ctx, found.person_id)
        if person is None:
            reason = (
                web_sessions.LICENCE_INACTIVE
                if _licence_inactive(ctx, found.enterprise_id)
                else web_sessions.ACCOUNT_CHANGED
            )
        else:
            result = PortalSession(person[0], person[1], found.key)
    if result is None:
        ended = reason or web_sessions.ACCOUNT_CHANGED  # every branch above names its reason
        web_sessions.end(ctx, token, ended)
        return ended
    return result


def _licence_inactive(ctx: ServiceContext, enterprise_id: int | None) -> bool:
    with ctx.reader() as session:
        status = session.scalar(select(Enterprise.status).where(Enterprise.id == enterprise_id))
    return status is not LicenceStatus.ACTIVE


def sign_out(ctx: ServiceContext, principal: Principal | None, token: str | None) -> None:
    web_sessions.end(ctx, token, web_sessions.SIGNED_OUT)
    if principal is not None:
        with begin(ctx, principal.actor) as tx:
            target = principal.uscc if principal.person_id is None else f"{principal.uscc}/{principal.username}"
            tx.audit("signout", "enterprise" if principal.person_id is None else "person", target)
