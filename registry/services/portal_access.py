"""Who is signed in to the enterprise portal, and what they may see and do.

Two kinds of people sign in as an enterprise:

* the **legal representative**, proven by the electronic business licence (services.elicence): sees
  and does everything for the enterprise, applies for seals, authorises other people;
* an **authorised person** (services.enterprise_people: password + TOTP), who sees only the seals
  granted to them: ``hold`` (see, download, report loss) or ``manage`` (also renew and cancel).

Every portal read and action about a seal goes through :func:`seal_for`, so the rule lives in one
place: another enterprise's seal, or one of our seals not granted to this person, is *not found*
(a 404, the same answer as a code that does not exist); a seal granted only to hold, asked to be
managed, is *forbidden* (403).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Select, select

from ..db.models import Seal, SealGrant
from ..domain.errors import M, NotFound, PermissionDenied
from .context import Actor
from .core.tx import Tx

__all__ = ["Principal", "Need", "seal_for", "visible_seals", "require_legal_representative", "authority_over"]

Need = Literal["view", "hold", "manage"]


@dataclass(frozen=True)
class Principal:
    """The person signed in to the portal, on behalf of one enterprise."""

    enterprise_id: int
    uscc: str
    enterprise_name: str
    person: str  # the legal representative's name, or the person's display name
    person_id: int | None = None  # None: the legal representative
    username: str | None = None  # the authorised person's username

    @property
    def is_legal_representative(self) -> bool:
        return self.person_id is None

    @property
    def actor(self) -> Actor:
        who = self.person if self.person_id is None else f"{self.username}"
        return Actor(name=f"enterprise:{self.uscc}:{who}"[:100], kind="enterprise")

    def as_session(self) -> dict[str, object]:
        return {
            "id": self.enterprise_id,
            "uscc": self.uscc,
            "name": self.enterprise_name,
            "person": self.person,
            "person_id": self.person_id,
            "username": self.username,
        }

    @classmethod
    def from_session(cls, data: dict[str, object]) -> Principal:
        """The principal a signed session cookie stored with :meth:`to_session`."""
        pid = data.get("person_id")
        return cls(
            enterprise_id=_whole(data["id"]),
            uscc=str(data["uscc"]),
            enterprise_name=str(data["name"]),
            person=str(data["person"]),
            person_id=_whole(pid) if pid is not None else None,
            username=str(data["username"]) if data.get("username") else None,
        )


def require_legal_representative(principal: Principal, what: str) -> None:
    if not principal.is_legal_representative:
        raise PermissionDenied(
            M(
                "portal.only_legal_representative_can",
                "only the legal representative can {what}",
                "只有法定代表人可以{what}",
            ),
            what=what,
        )


def authority_over(tx: Tx, principal: Principal, seal: Seal) -> str | None:
    """``manage`` for the legal representative; the person's grant (``hold``/``manage``) or None."""
    if seal.enterprise_id != principal.enterprise_id:
        return None
    if principal.person_id is None:
        return "manage"
    grant = tx.session.get(SealGrant, (principal.person_id, seal.id))
    return grant.authority if grant is not None else None


def seal_for(tx: Tx, principal: Principal, es_id: str, need: Need = "view") -> Seal:
    """The seal with this code if this principal may ``need`` it; NotFound/PermissionDenied if not
    (a read in the caller's transaction, which may be :func:`~registry.services.core.tx.reading`)."""
    seal = tx.session.scalar(
        select(Seal).where(Seal.es_id == (es_id or "").strip(), Seal.enterprise_id == principal.enterprise_id)
    )
    authority = authority_over(tx, principal, seal) if seal is not None else None
    if seal is None or authority is None:
        raise NotFound(
            M("portal.no_seal_this_enterprise", "no seal {es_id} of this enterprise", "本企业没有印章 {es_id}"),
            es_id=f"{es_id!r}",
        )
    if need == "manage" and authority != "manage":
        raise PermissionDenied(
            M(
                "portal.your_authority_over_this",
                "your authority over this seal is to hold it: renewing or cancelling it needs "
                "the authority to manage it, which the legal representative can grant",
                "您对此印章的权限是持有：续期或注销需要管理权限，可由法定代表人授予",
            )
        )
    return seal


def visible_seals(principal: Principal) -> Select[Seal]:
    """A query of the seals this principal can see (the caller adds order and limit)."""
    query = select(Seal).where(Seal.enterprise_id == principal.enterprise_id)
    if principal.person_id is not None:
        query = query.where(Seal.id.in_(select(SealGrant.seal_id).where(SealGrant.person_id == principal.person_id)))
    return query


def _whole(value: object) -> int:
    """An id read back from the session cookie (JSON: an int, or a string of digits)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"not an id: {value!r}")
    return int(value)
