"""Peers' CRLs (mutual-recognition.md §2.3): fetched only from the URLs **the peer's list** names
for each of its CAs (never a certificate's CDP), accepted only if signed by that listed CA and not
lower-numbered than the one held, and stored once in the database, their entries in sorted pages
indexed by (CRL, highest serial in the page) (:mod:`registry.pki.crl.pages`) — a lookup is one
statement: the issuer's CRLs by the listed CA's certificate hash, and in each one index probe.

A refused or failed CRL keeps the one held (its freshness then decides, at verification, whether
it can still speak); the error is recorded on its row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, delete, select, text

from ...db import bulk
from ...db.trust_models import Peer, PeerCrl, PeerRevocationPage
from ...domain import trust_list as tl
from ...domain.errors import M, Message
from ...pki import crl
from ...pki.crl import pages as crl_pages
from ...pki.keys import KeyFormatError
from ..context import Actor, ServiceContext
from ..core.tx import Tx, begin, reading
from .admission import find_peer
from .fetch import FetchError, fetch
from .lists import held_list

__all__ = [
    "CrlResult",
    "refresh_crls",
    "lookup",
    "MAX_CRL_BYTES",
    "Listed",
    "Found",
    "HeldCrl",
    "status_sql",
    "read_status",
    "serial_key",
]

#: Largest CRL fetched (a 1,000,000-entry CRL is about 41 MB).
MAX_CRL_BYTES = 256 * 1024 * 1024
CRL_TIMEOUT = 30.0

_NOT_CRL = M("peer_crl.not_crl", "{url} is not a CRL: {error}", "{url} 不是 CRL：{error}")
_WRONG_ISSUER = M(
    "peer_crl.wrong_issuer",
    "{url} is not signed by {service}, the CA the list names for it",
    "{url} 不是由列表为其指定的 CA {service} 签发",
)
_LOWER = M(
    "peer_crl.lower_number",
    "{url} has CRL number {number}, lower than the {held} held",
    "{url} 的 CRL 编号 {number} 低于已持有的 {held}",
)
_SAME_NUMBER = M(
    "peer_crl.same_number_other_bytes",
    "{url} has CRL number {number} again with other contents",
    "{url} 再次出现编号 {number} 的 CRL，但内容不同",
)
_NO_NUMBER = M("peer_crl.no_number", "{url} has no CRL number", "{url} 没有 CRL 编号")


@dataclass(frozen=True)
class Listed:
    """A CRL URL of a listed CA, with that CA's certificate."""

    service: tl.Service
    url: str


@dataclass(frozen=True)
class CrlResult:
    peer: str
    url: str
    outcome: str  # stored | not-modified | unchanged | refused | failed
    number: int | None = None
    entries: int | None = None
    message: str | None = None

    def line(self) -> str:
        what = f" number {self.number}" if self.number is not None else ""
        count = f" entries {self.entries}" if self.entries is not None else ""
        why = f": {self.message}" if self.message else ""
        return f"peer {self.peer} {self.url}{what}{count} {self.outcome}{why}"


def _bound(message: Message, **params: object) -> Message:
    return Message(message.code, message.format("en", **params), message.format("zh", **params))


def listed_crls(trust_list: tl.TrustList) -> list[Listed]:
    """Every CRL URL of every root and issuing CA of the list (shards expanded)."""
    out: list[Listed] = []
    for s in trust_list.services:
        if s.role not in (tl.ServiceRole.ROOT, tl.ServiceRole.ISSUING_CA):
            continue
        for point in s.crl:
            out.extend(Listed(s, url) for url in point.urls())
    return out


def _check(listed: Listed, data: bytes, held: PeerCrl | None) -> tuple[crl.ParsedCrl, str]:
    """The CRL, if it is one, signed by the listed CA, numbered and not lower than the one held
    (and its SHA-256); otherwise :class:`_Refused` naming the problem."""
    url = listed.url
    try:
        parsed = crl.parse_crl(data)
    except crl.CrlError as exc:
        raise _Refused(_bound(_NOT_CRL, url=url, error=str(exc)[:300])) from None
    cert = listed.service.certificate
    try:
        signed = parsed.issuer_der == cert.subject_der and parsed.verify_signature(cert.public_key)
    except (KeyFormatError, ValueError):
        signed = False
    if not signed:
        raise _Refused(_bound(_WRONG_ISSUER, url=url, service=listed.service.id))
    if parsed.number is None:
        raise _Refused(_bound(_NO_NUMBER, url=url))
    digest = hashlib.sha256(data).hexdigest()
    if held is not None and held.number is not None:
        if parsed.number < held.number:
            raise _Refused(_bound(_LOWER, url=url, number=parsed.number, held=held.number))
        if parsed.number == held.number and digest != held.sha256:
            raise _Refused(_bound(_SAME_NUMBER, url=url, number=parsed.number))
    return parsed, digest


class _Refused(Exception):
    def __init__(self, message: Message) -> None:
        super().__init__(message.format("en"))
        self.message = message


def _record_error(ctx: ServiceContext, actor: Actor, peer_id: int, url: str, message: Message) -> None:
    with begin(ctx, actor) as tx:
        row = tx.session.scalar(select(PeerCrl).where(PeerCrl.peer_id == peer_id, PeerCrl.url == url))
        if row is not None:
            row.last_error, row.last_error_at, row.checked_at = message.format("en")[:1000], tx.now, tx.now


def _store(
    tx: Tx,
    peer: Peer,
    listed: Listed,
    parsed: crl.ParsedCrl,
    pages: Sequence[crl_pages.Page],
    digest: str,
    size: int,
    etag: str | None,
    last_modified: str | None,
) -> int:
    """Replace the URL's CRL and its entries in one transaction; returns the entry count."""
    row = tx.session.scalar(select(PeerCrl).where(PeerCrl.peer_id == peer.id, PeerCrl.url == listed.url))
    if row is None:
        row = PeerCrl(peer_id=peer.id, url=listed.url)
        tx.session.add(row)
    row.service_id, row.issuer_sha256 = listed.service.id, listed.service.sha256
    row.kind = "delta" if parsed.is_delta else "full"
    row.number, row.base_number = parsed.number, parsed.delta_base
    row.this_update, row.next_update = parsed.this_update, parsed.next_update
    row.entries, row.size, row.sha256 = parsed.entry_count, size, digest
    row.etag, row.last_modified = etag, last_modified
    row.fetched_at = row.checked_at = tx.now
    row.last_error = row.last_error_at = None
    tx.session.flush()
    conn = tx.conn
    conn.execute(delete(PeerRevocationPage).where(PeerRevocationPage.crl_id == row.id))
    crl_id = row.id
    table = PeerRevocationPage.__table__
    assert isinstance(table, Table)
    rows = ((crl_id, p.last_key, p.count, p.keys, p.ends, p.entries) for p in pages)
    bulk.copy_rows(conn, table, ("crl_id", "last_key", "count", "keys", "ends", "entries"), rows)
    return parsed.entry_count


def refresh_crls(ctx: ServiceContext, actor: Actor, name: str, *, only: str | None = None) -> list[CrlResult]:
    """Fetch and store every CRL the peer's list in force names (or only the URL ``only``),
    with a conditional GET per URL."""
    with reading(ctx, actor) as tx:
        peer = find_peer(tx, name)
        held = held_list(tx, peer)
        if held is None:
            return []
        targets = [t for t in listed_crls(held[1].trust_list) if only is None or t.url == only]
        rows = {r.url: r for r in tx.session.scalars(select(PeerCrl).where(PeerCrl.peer_id == peer.id))}
        peer_id = peer.id
        for r in rows.values():
            tx.session.expunge(r)
    return [_refresh_one(ctx, actor, name, peer_id, listed, rows.get(listed.url)) for listed in targets]


def _touch(ctx: ServiceContext, actor: Actor, held_row: PeerCrl | None) -> None:
    """The CRL held is still the one served: checked now, no error."""
    if held_row is None:
        return
    with begin(ctx, actor) as tx:
        row = tx.session.get(PeerCrl, held_row.id)
        if row is not None:
            row.checked_at, row.last_error, row.last_error_at = tx.now, None, None


def _refresh_one(
    ctx: ServiceContext, actor: Actor, name: str, peer_id: int, listed: Listed, held_row: PeerCrl | None
) -> CrlResult:
    try:
        got = fetch(
            listed.url,
            max_bytes=MAX_CRL_BYTES,
            timeout=CRL_TIMEOUT,
            etag=held_row.etag if held_row else None,
            last_modified=held_row.last_modified if held_row else None,
        )
        if got.not_modified:
            _touch(ctx, actor, held_row)
            return CrlResult(name, listed.url, "not-modified", held_row.number if held_row else None)
        parsed, digest = _check(listed, got.body, held_row)
        if held_row is not None and digest == held_row.sha256:
            _touch(ctx, actor, held_row)
            return CrlResult(name, listed.url, "unchanged", parsed.number)
        try:  # every entry read before anything is written: a malformed one refuses the whole CRL
            pages = list(crl_pages.paginate(crl_pages.keyed_entries(parsed)))
        except crl.CrlError as exc:
            raise _Refused(_bound(_NOT_CRL, url=listed.url, error=str(exc)[:300])) from None
        with begin(ctx, actor) as tx:
            owner = tx.session.get(Peer, peer_id)
            assert owner is not None
            count = _store(tx, owner, listed, parsed, pages, digest, len(got.body), got.etag, got.last_modified)
        return CrlResult(name, listed.url, "stored", parsed.number, count)
    except FetchError as exc:
        assert exc.message is not None
        _record_error(ctx, actor, peer_id, listed.url, _bound(exc.message, **exc.params))
        return CrlResult(name, listed.url, "failed", message=str(exc))
    except (_Refused, crl.CrlError) as exc:
        message = exc.message if isinstance(exc, _Refused) else _bound(_NOT_CRL, url=listed.url, error=str(exc))
        _record_error(ctx, actor, peer_id, listed.url, message)
        return CrlResult(name, listed.url, "refused", message=message.format("en"))


@dataclass(frozen=True)
class HeldCrl:
    """A CRL held of a listed CA: where from, its number and times."""

    url: str
    number: int | None
    this_update: dt.datetime
    next_update: dt.datetime | None


@dataclass(frozen=True)
class Found:
    """A peer's CRL entry for a certificate, with the CRL that carries it."""

    entry: crl.CrlEntry
    crl_url: str
    number: int | None
    this_update: dt.datetime
    next_update: dt.datetime | None


# One branch per certificate asked about: every CRL held of the listed CA whose certificate hashes
# to :s<i>, each with the one page of its entries that would hold the serial key :k<i> (the first
# whose last key is not below it; NULLs if none). Plain SQL, so that the verifier's reader
# (registry.services.verify) runs the same statement, for all the certificates of a path at once.
_BRANCH = (
    "SELECT {i}, c.url, c.number, c.this_update, c.next_update, p.keys, p.ends, p.entries "
    "FROM peer_crls c LEFT JOIN peer_revocation_pages p ON p.crl_id = c.id AND p.last_key = "
    "(SELECT q.last_key FROM peer_revocation_pages q WHERE q.crl_id = c.id AND q.last_key >= :k{i} "
    "ORDER BY q.last_key LIMIT 1) "
    "WHERE c.issuer_sha256 = :s{i}"
)


def status_sql(wanted: Sequence[tuple[str, int]]) -> tuple[str, dict[str, object]]:
    """One statement (and its parameters) for the CRL status of each ``(issuer certificate
    SHA-256, serial)`` in ``wanted``; :func:`read_status` reads its rows for each."""
    sql = " UNION ALL ".join(_BRANCH.format(i=i) for i in range(len(wanted)))
    params: dict[str, object] = {}
    for i, (issuer, serial) in enumerate(wanted):
        params[f"s{i}"], params[f"k{i}"] = issuer, serial_key(serial)
    return sql, params


#: One row of :func:`status_sql`: index, url, number, thisUpdate, nextUpdate (times as datetimes,
#: or text from SQLite), and the page's keys, ends and entries (NULLs if no page could hold it).
StatusRow = tuple[
    int, str, int | None, dt.datetime | str, dt.datetime | str | None, bytes | None, bytes | None, bytes | None
]


def read_status(rows: Sequence[Sequence[object]], index: int, serial: int) -> tuple[HeldCrl | None, Found | None]:
    """From :func:`status_sql`'s rows, for the ``index``-th certificate asked about: the newest
    CRL held of its issuer (None if none yet), and the newest entry for ``serial`` (None if no
    CRL held lists it)."""
    key = serial_key(serial)
    mine: list[tuple[HeldCrl, StatusRow]] = []
    for r in cast(Sequence[StatusRow], rows):
        if r[0] == index:
            this_update = _utc(r[3])
            assert this_update is not None  # NOT NULL
            mine.append((HeldCrl(r[1], r[2], this_update, _utc(r[4])), r))
    if not mine:
        return None, None
    if len(mine) > 1:
        mine.sort(key=lambda x: x[0].this_update, reverse=True)
    for held, r in mine:
        keys, ends, entries = r[5], r[6], r[7]
        if keys is None or ends is None or entries is None:
            continue
        entry = crl_pages.find(bytes(keys), bytes(ends), bytes(entries), key)
        if entry is not None:
            found = Found(crl.decode_entry(entry), held.url, held.number, held.this_update, held.next_update)
            return mine[0][0], found
    return mine[0][0], None


def serial_key(serial: int) -> bytes:
    """How a stored page spells a serial (registry.pki.crl.pages.serial_key)."""
    return crl_pages.serial_key(serial)


_ONE = text(_BRANCH.format(i=0))


def lookup(tx: Tx, issuer_sha256: str, serial: int) -> Found | None:
    """The newest entry for ``serial`` issued by the CA whose certificate hashes to ``issuer_sha256``."""
    rows = tx.conn.execute(_ONE, {"s0": issuer_sha256, "k0": serial_key(serial)}).all()
    return read_status(rows, 0, serial)[1]


def _utc(t: dt.datetime | str | None) -> dt.datetime | None:
    """A time read through plain SQL (SQLite returns the stored text)."""
    if t is None:
        return None
    if isinstance(t, str):
        t = dt.datetime.fromisoformat(t)
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)
