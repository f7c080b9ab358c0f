"""A peer's trust list as fetched: verified against the keys it names, then judged by the
acceptance rule (registry.domain.trust_list.decide/walk) against the keys we accept for the peer."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from ...db.trust_models import Peer, PeerKey, PeerList
from ...domain import trust_list as tl
from ...domain.errors import M, Message
from ...pki import jws
from ...pki.keys import KeyFormatError, PublicKey
from ..core.tx import Tx
from .fetch import FetchError, fetch

__all__ = [
    "ListProblem",
    "FetchedList",
    "FetchError",
    "read_list",
    "held_list",
    "pins",
    "fetch_list",
    "store_list",
    "past_list_url",
    "MAX_JWS_BYTES",
    "TRUST_STORE_KEY",
]

MAX_JWS_BYTES = jws.MAX_SIZE
#: The verifier's cached trust store (registry.services.verify): forgotten in this process when a
#: peer or its list in force changes (other processes see it within the store's 30 s).
TRUST_STORE_KEY = ("verify-trust-store",)
FETCH_TIMEOUT = 10.0


class ListProblem(Exception):
    """A fetched list that is refused before the acceptance rule: it is not a JWS, it does not
    verify under any key it names, or the list inside is malformed. ``code`` for the records."""

    def __init__(self, code: str, message: Message) -> None:
        super().__init__(message.format("en"))
        self.code = code
        self.message = message


_NOT_VERIFIED = M(
    "peer_list.not_verified",
    "the trust list does not verify: {error}",
    "信任列表验证未通过：{error}",
)
_MALFORMED = M("peer_list.malformed", "the trust list is malformed: {error}", "信任列表格式错误：{error}")


def _bound(message: Message, **params: object) -> Message:
    return Message(message.code, message.format("en", **params), message.format("zh", **params))


def read_list(document: bytes, extra_keys: tuple[tl.SigningKey, ...] = ()) -> tl.SignedList:
    """Verify ``document`` (a ``list.jws``) under the signing keys its own payload names (and
    ``extra_keys``: the keys of the list held, which may sign a rollover): which of those keys
    count is the acceptance rule's business. Raises :class:`ListProblem`."""
    try:
        payload = jws.unverified_payload(document, max_size=MAX_JWS_BYTES)
        claimed = tl.parse(payload)
    except (jws.JwsError, tl.TrustListError) as exc:
        raise ListProblem("malformed", _bound(_MALFORMED, error=str(exc))) from None
    keys = []
    for k in (*claimed.scheme.signing_keys, *extra_keys):
        try:
            keys.append(PublicKey.from_spki(k.spki))
        except (KeyFormatError, ValueError):
            continue
    try:
        verified = jws.verify(document, keys, max_size=MAX_JWS_BYTES)
    except jws.JwsError as exc:
        raise ListProblem("signature", _bound(_NOT_VERIFIED, error=str(exc))) from None
    return tl.SignedList.from_verified(verified)


def pins(tx: Tx, peer: Peer) -> set[str]:
    """The kids we accept for ``peer``: pinned at admission, or taken over in a rollover."""
    return set(tx.session.scalars(select(PeerKey.kid).where(PeerKey.peer_id == peer.id)))


def held_list(tx: Tx, peer: Peer) -> tuple[PeerList, tl.SignedList] | None:
    """The list in force for ``peer`` (its row and the verified list), or None."""
    if peer.list_sequence is None:
        return None
    row = tx.session.scalar(
        select(PeerList).where(PeerList.peer_id == peer.id, PeerList.sequence == peer.list_sequence)
    )
    if row is None:
        return None
    return row, read_list(row.jws)


def past_list_url(list_url: str, sequence: int) -> str:
    """``lists/<n>.jws`` beside ``list.jws``: where a registry keeps every version."""
    base = list_url.rsplit("/", 1)[0]
    return f"{base}/lists/{sequence}.jws"


@dataclass(frozen=True)
class FetchedList:
    status: int
    document: bytes
    etag: str | None
    last_modified: str | None


def fetch_list(url: str, *, etag: str | None = None, last_modified: str | None = None) -> FetchedList:
    got = fetch(url, max_bytes=MAX_JWS_BYTES, timeout=FETCH_TIMEOUT, etag=etag, last_modified=last_modified)
    return FetchedList(got.status, got.body, got.etag, got.last_modified)


def store_list(tx: Tx, peer: Peer, signed: tl.SignedList, document: bytes, fetched_at: dt.datetime) -> PeerList:
    """Keep a verified, accepted version (once per sequence)."""
    row = tx.session.scalar(select(PeerList).where(PeerList.peer_id == peer.id, PeerList.sequence == signed.sequence))
    if row is None:
        sch = signed.trust_list.scheme
        row = PeerList(
            peer_id=peer.id,
            sequence=sch.sequence,
            sha256=signed.sha256,
            issued_at=sch.issued_at,
            next_update=sch.next_update,
            jws=document,
            fetched_at=fetched_at,
        )
        tx.session.add(row)
        tx.session.flush()
    return row
