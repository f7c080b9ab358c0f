"""The audit log: written inside the transaction of the change it records, append-only (database
triggers refuse UPDATE, DELETE and TRUNCATE), and tamper-evident (a hash chain).

Hash chain
----------
Events are numbered ``seq`` = 1, 2, 3 ... without gaps, in commit order. Each event stores
``prev_hash`` (the ``hash`` of event ``seq - 1``; for event 1 the genesis value, 64 × ``0``) and

    hash = lower-case hex of SM3(canonical(event))            (GB/T 32905, 32-byte digest)

where ``canonical(event)`` is the UTF-8 encoding of this JSON object (encoding version 1)::

    {"action":A,"actor":W,"details":D,"occurred_at":T,"prev_hash":P,"seq":N,"target_id":I,"target_type":Y}

* keys sorted by code point (the outer keys are exactly the eight above; ``details`` is a JSON
  object whose keys are strings and are sorted too, at every depth), no whitespace at all (the
  separators are ``,`` and ``:``);
* strings: UTF-8, not ASCII-escaped; only ``"`` → ``\\"``, ``\\`` → ``\\\\`` and the control
  characters U+0000–U+001F are escaped (``\\b \\t \\n \\f \\r`` in short form, the others as
  ``\\u00xx`` with lower-case hex); ``/``, U+007F and everything above stay literal;
* numbers are integers in plain decimal (no sign for positives, no exponent, no fraction; any
  size); ``true``, ``false``, ``null``; arrays keep their order. Floating-point numbers are refused
  when an event is recorded: they have no portable text form;
* ``occurred_at`` is the event time in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (always six digits
  of microseconds); ``seq`` is a JSON integer; ``prev_hash`` is 64 lower-case hex digits.

For these values this is the JSON Canonicalization Scheme (RFC 8785), so a verifier in another
language can recompute every hash from the stored columns. ``id`` is a storage key, not covered.

SM3 rather than SHA-256: GB/T 39786-2021 asks for commercial cryptography (SM3, HMAC-SM3 or SM2)
to protect the integrity of important data such as audit records, the registry's other half
(SM2/SM3 certificates, seals, CRLs) already depends on SM3, and SM3 is in every OpenSSL since
1.1.1 (``openssl dgst -sm3``), BouncyCastle and the Go and Java GM libraries.

Writing: :func:`record` and :func:`record_many` lock the one-row chain head
(``audit_chain_head``) with SELECT ... FOR UPDATE on PostgreSQL (on SQLite the write
transaction already holds the database's single write lock: BEGIN IMMEDIATE), give the events
the next numbers in call order, and move the head, all inside the caller's transaction. The
head lock is held until that transaction ends, so writers serialize from their first audit event
to their commit; services write their audit events last, after the slow work (signing).

What the chain does and does not prove: :func:`verify_chain` finds the first event that was
edited, removed or inserted behind the application's back, and a tail that was cut off (the head
names a later event). Someone who can write to the database and recomputes the hashes of every
event from the change onwards *and* moves the head to match leaves a chain that verifies: a hash
chain alone cannot stop that. Checkpoints can (:mod:`registry.services.audit_anchor`): the head's
number and hash, signed with the SM2 root key outside the database's reach, written at each CRL
publish run; :func:`verify_audit_chain` compares the chain with the newest one.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from sqlalchemy import Connection, String, insert, select, type_coerce, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from ..config import Settings
from ..db.models import AuditChainHead, AuditEvent
from ..domain.errors import M, ValidationError
from ..domain.roles import Permission, require
from .context import Actor, ServiceContext

GENESIS = "0" * 64
_EVENTS = AuditEvent.__table__
_HEAD = AuditChainHead.__table__


class AuditChainError(RuntimeError):
    """The chain cannot be extended (its head row is missing): nothing is written until an
    operator looks at ``registry audit verify``."""


# ------------------------------------------------------------------------------------------------
# Canonical encoding and hash (encoding version 1, see the module docstring)


_SCALARS = frozenset({str, int, bool, type(None)})


def plain_details(value: Any, _path: str = "details") -> Any:
    """``value`` as plain JSON data (dict with str keys, list, str, int, bool, None), or ValueError.
    Tuples become lists and str/int enums their values; floats, non-string keys, dates and other
    objects are refused, so what is stored is exactly what was hashed."""
    if type(value) is dict and all(type(k) is str and type(v) in _SCALARS for k, v in value.items()):
        return dict(value)  # the usual case: flat and already plain
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"audit {_path}: key {k!r} is not a string")
            out[str.__str__(k)] = plain_details(v, f"{_path}.{k}")
        return out
    if isinstance(value, (list, tuple)):
        return [plain_details(v, f"{_path}[{i}]") for i, v in enumerate(value)]
    raise ValueError(f"audit {_path}: {type(value).__name__} has no canonical JSON form (use a string or an integer)")


def utc_text(when: dt.datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC; naive datetimes are refused."""
    if when.tzinfo is None:
        raise ValueError("naive datetime in an audit event")
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_json = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode


def _outer(
    when_text: str, actor: str, action: str, target_type: str, target_id: str, details: Any
) -> tuple[bytes, bytes]:
    """The canonical JSON around the link: keys sort as action, actor, details, occurred_at |
    prev_hash, seq | target_id, target_type, so the content parts can be encoded (and hashed)
    before the chain head is locked."""
    return (
        f'{{"action":{_json(action)},"actor":{_json(actor)},"details":{_json(details)},'
        f'"occurred_at":{_json(when_text)},'
    ).encode(), f'"target_id":{_json(target_id)},"target_type":{_json(target_type)}}}'.encode()


def _link(seq: int, prev_hash: str) -> bytes:
    return f'"prev_hash":{_json(prev_hash)},"seq":{_json(seq)},'.encode()


def canonical(
    seq: int,
    occurred_at: dt.datetime,
    actor: str,
    action: str,
    target_type: str,
    target_id: str,
    details: Any,
    prev_hash: str,
) -> bytes:
    """The bytes an event's hash is computed over (RFC 8785 form of the eight fields)."""
    before, after = _outer(utc_text(occurred_at), actor, action, target_type, target_id, details)
    return before + _link(seq, prev_hash) + after


def sm3_hex(data: bytes) -> str:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize().hex()


def event_hash(
    seq: int,
    occurred_at: dt.datetime,
    actor: str,
    action: str,
    target_type: str,
    target_id: str,
    details: Any,
    prev_hash: str,
) -> str:
    return sm3_hex(canonical(seq, occurred_at, actor, action, target_type, target_id, details, prev_hash))


# ------------------------------------------------------------------------------------------------
# Writing


class _Pending:
    """An event's column values, and its hash input up to the link, already absorbed by SM3."""

    __slots__ = ("row", "state", "after")

    def __init__(
        self,
        when: dt.datetime,
        when_text: str,
        who: Actor,
        action: str,
        target_type: str,
        target_id: object,
        details: dict[str, Any],
    ) -> None:
        self.row: dict[str, Any] = {
            "occurred_at": when,
            "actor": who.name,
            "action": action,
            "target_type": target_type,
            "target_id": str(target_id),
            "details": plain_details(details),
        }
        r = self.row
        before, self.after = _outer(when_text, r["actor"], action, target_type, r["target_id"], r["details"])
        self.state = hashes.Hash(hashes.SM3())
        self.state.update(before)


def _append(conn: Connection, pending: list[_Pending]) -> list[dict[str, Any]]:
    """Number and chain ``pending`` (in order) under the head lock, move the head, and return the
    rows for the caller to insert in the same transaction. Under the lock each event costs one
    short SM3 update: its content was encoded and absorbed before."""
    head = conn.execute(
        select(_HEAD.c.last_seq, _HEAD.c.last_hash).where(_HEAD.c.id == 1).with_for_update()
    ).first()  # SQLite: no FOR UPDATE, the write lock is held
    if head is None:
        raise AuditChainError(
            "the audit chain head (table audit_chain_head) is missing; "
            "no audit event can be chained: run `registry audit verify`"
        )
    seq, prev = head
    for p in pending:
        seq += 1
        p.state.update(_link(seq, prev))
        p.state.update(p.after)
        p.row["seq"], p.row["prev_hash"] = seq, prev
        p.row["hash"] = prev = p.state.finalize().hex()
    conn.execute(update(_HEAD).where(_HEAD.c.id == 1).values(last_seq=seq, last_hash=prev))
    return [p.row for p in pending]


def record(
    session: Session,
    ctx: ServiceContext,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: object,
    **details: Any,
) -> AuditEvent:
    """Add one audit event to ``session``'s transaction, numbered and chained now.

    The number is given at this call, not at flush, so several events of one transaction are
    numbered in the order they were recorded; the head row stays locked until the transaction
    ends. Call it after the slow work of the use case (it usually is the last statement)."""
    now = ctx.clock.now()
    [row] = _append(
        session.connection(), [_Pending(now, utc_text(now), actor, action, target_type, target_id, details)]
    )
    event = AuditEvent(**row)
    session.add(event)
    return event


def record_many(
    conn: Connection, ctx: ServiceContext, events: list[tuple[Actor, str, str, object, dict[str, Any]]]
) -> None:
    """Insert several events in one statement on the transaction's connection (hot paths),
    numbered and chained in list order."""
    if not events:
        return
    now = ctx.clock.now()
    when_text = utc_text(now)
    pending = [
        _Pending(now, when_text, who, action, target_type, target_id, details)
        for who, action, target_type, target_id, details in events
    ]
    conn.execute(insert(AuditEvent), _append(conn, pending))


# ------------------------------------------------------------------------------------------------
# Verifying


@dataclass(frozen=True)
class EventRef:
    """Where a problem is: an event as stored (its number may itself be the tampered part)."""

    seq: int
    id: int
    action: str
    actor: str
    occurred_at: str  # as stored, in the canonical text form when it could be read

    def __str__(self) -> str:
        return f"event {self.seq} (id {self.id}, {self.action} by {self.actor} at {self.occurred_at})"


# Kinds of problem, each with what it means.
CHANGED = "changed"  # an event no longer matches its own hash: edited in place
REPLACED = "replaced"  # an event matches its own hash but the next one was chained to another:
# changed and re-hashed, or removed with another written in its place
REMOVED = "removed"  # numbers are missing in the middle of the chain
INSERTED = "inserted"  # an event that is not in the chain: a repeated number, one past the
# head, or one the next event skips over
TRUNCATED = "truncated"  # the head names events after the last one stored: the tail was removed
HEAD_MISMATCH = "head-mismatch"  # the last event is not the one the head recorded: rewritten and re-hashed
HEAD_MISSING = "head-missing"  # the head row itself is gone


@dataclass(frozen=True)
class ChainProblem:
    kind: str
    seq: int  # the first number affected (missing, inserted, changed ...)
    event: EventRef | None  # the event concerned, or for removed/truncated the one next to the hole
    message: str  # one line, English


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events: int  # events read and checked
    head_seq: int | None  # as recorded in the head row (None: the row is missing)
    head_hash: str | None
    problem: ChainProblem | None
    checkpoint: int | None = None  # the newest checkpoint the chain agrees with
    checkpoint_seq: int | None = None
    note: str = ""  # what the checkpoint comparison found, appended to the summary

    def summary(self) -> str:
        if self.problem is None:
            return (
                f"audit chain intact: {self.events} events, head seq {self.head_seq} hash {self.head_hash}" + self.note
            )
        return f"audit chain broken: {self.problem.kind} at seq {self.problem.seq}: {self.problem.message}"


@dataclass
class _Row:
    ref: EventRef
    seq: Any
    prev_hash: Any
    hash: Any
    computed: str | None  # the hash recomputed from the stored content (None: unreadable)
    fields: tuple[Any, ...] | None  # (occurred_at, actor, action, target_type, target_id, details)

    def hash_as(self, seq: int) -> str | None:
        """The hash this row would have if it had been written as number ``seq``."""
        if self.fields is None or not isinstance(self.prev_hash, str):
            return None
        return event_hash(seq, *self.fields, self.prev_hash)


_WINDOW = 256  # recent links kept to tell an insertion from a replacement (constant memory)
_BATCH = 2000


def _rows(conn: Connection, from_seq: int | None = None) -> Iterator[_Row]:
    cols = (
        _EVENTS.c.id,
        _EVENTS.c.seq,
        _EVENTS.c.prev_hash,
        _EVENTS.c.hash,
        _EVENTS.c.actor,
        _EVENTS.c.action,
        _EVENTS.c.target_type,
        _EVENTS.c.target_id,
        # raw values: a row edited behind our back must be reported, not crash the decoder
        type_coerce(_EVENTS.c.occurred_at, String).label("occurred_at"),
        type_coerce(_EVENTS.c.details, String).label("details"),
    )
    query = select(*cols).order_by(_EVENTS.c.seq, _EVENTS.c.id)
    if from_seq is not None:
        query = query.where(_EVENTS.c.seq >= from_seq)
    result = conn.execution_options(stream_results=True, yield_per=_BATCH).execute(query)
    for r in result:
        try:
            when = r.occurred_at
            if isinstance(when, str):
                when = dt.datetime.fromisoformat(when)
            if when.tzinfo is None:  # stored as naive UTC
                when = when.replace(tzinfo=dt.UTC)
            details = json.loads(r.details) if isinstance(r.details, (str, bytes)) else r.details
            fields = (when, r.actor, r.action, r.target_type, r.target_id, details)
            shown = utc_text(when)
            computed = (
                event_hash(r.seq, *fields, r.prev_hash)
                if isinstance(r.seq, int) and isinstance(r.prev_hash, str)
                else None
            )
        except (ValueError, TypeError, AttributeError):
            fields, computed, shown = None, None, str(r.occurred_at)
        yield _Row(
            EventRef(r.seq, r.id, str(r.action), str(r.actor), shown), r.seq, r.prev_hash, r.hash, computed, fields
        )


def verify_chain(ctx: ServiceContext) -> ChainReport:
    """Walk every audit event in ``seq`` order (streamed: constant memory), recompute each hash,
    check each link and the head; report the first problem found. Reads one consistent snapshot
    (REPEATABLE READ on PostgreSQL, the read transaction's snapshot on SQLite), so events
    committed meanwhile don't show as problems."""
    opts: dict[str, Any] = {}
    if ctx.engine.dialect.name == "postgresql":
        opts["isolation_level"] = "REPEATABLE READ"
    with ctx.engine.connect().execution_options(**opts) as conn, conn.begin():
        head = conn.execute(select(_HEAD.c.last_seq, _HEAD.c.last_hash).where(_HEAD.c.id == 1)).first()
        return _walk(_rows(conn), head)


def _walk(rows: Iterable[_Row], head: Any) -> ChainReport:
    head_seq, head_hash = (head[0], head[1]) if head is not None else (None, None)
    n = 0
    expected, prev = 1, GENESIS
    recent: dict[str, EventRef] = {GENESIS: EventRef(0, 0, "(genesis)", "", "")}  # hash -> event
    order: deque[str] = deque([GENESIS])
    last: EventRef | None = None

    def report(kind: str, seq: int, event: EventRef | None, message: str) -> ChainReport:
        return ChainReport(False, n, head_seq, head_hash, ChainProblem(kind, seq, event, message))

    for r in rows:
        n += 1
        ref, seq = r.ref, r.seq
        if not isinstance(seq, int) or r.computed is None:
            return report(CHANGED, expected, ref, f"{ref} cannot be read back as it was written: edited in place")
        if seq < expected:
            twin = f" of event id {last.id}" if last is not None and last.seq == seq else ""
            return report(
                INSERTED,
                seq,
                ref,
                f"{ref} repeats number {seq}{twin}: one of them was added behind the application's back",
            )
        if head_seq is not None and seq > head_seq and seq == expected:
            return report(
                INSERTED,
                seq,
                ref,
                f"{ref} comes after the chain head (seq {head_seq}): appended behind the application's back",
            )
        followed = recent.get(r.prev_hash) if isinstance(r.prev_hash, str) else None
        if r.computed != r.hash:
            # Edited. Maybe only renumbered (an event inserted or removed before it, the rest shifted):
            # then it still hashes correctly under the number it was written with.
            for was in dict.fromkeys(
                x for x in ((followed.seq + 1) if followed else None, seq + 1, seq - 1) if x is not None and x > 0
            ):
                if r.hash_as(was) != r.hash:
                    continue
                if followed is not None and followed.seq + 1 < expected:
                    first = _recent_by_seq(recent, followed.seq + 1)
                    return report(
                        INSERTED,
                        followed.seq + 1,
                        first,
                        f"{ref} was written as number {was}, right after event {followed.seq}: "
                        f"events {followed.seq + 1}–{expected - 1} were inserted before it and the "
                        "rest renumbered",
                    )
                if followed is None and was > seq:
                    return report(
                        REMOVED,
                        seq,
                        ref,
                        f"{ref} was written as number {was}; the event it followed "
                        "is gone and the later events were renumbered",
                    )
                return report(CHANGED, seq, ref, f"{ref} was written as number {was}: its number was edited")
            return report(CHANGED, seq, ref, f"{ref} does not match its hash: edited in place")
        if seq > expected:
            missing = f"event {expected}" if seq == expected + 1 else f"events {expected}–{seq - 1}"
            return report(REMOVED, expected, ref, f"{missing} missing before {ref}")
        if r.prev_hash != prev:
            if followed is not None and followed.seq + 1 < expected:
                first = _recent_by_seq(recent, followed.seq + 1)
                span = (
                    f"event {expected - 1} was"
                    if followed.seq + 2 == expected
                    else f"events {followed.seq + 1}–{expected - 1} were"
                )
                return report(
                    INSERTED,
                    followed.seq + 1,
                    first,
                    f"{ref} was chained right after event {followed.seq}: {span} inserted before it",
                )
            if last is None:
                return report(REPLACED, seq, ref, f"{ref} does not start from the genesis value: replaced")
            return report(
                REPLACED,
                last.seq,
                last,
                f"{last} matches its own hash but {ref} was chained to a different event "
                f"{last.seq}: changed and re-hashed, or removed and another written in its place",
            )
        # Good link.
        expected, prev, last = expected + 1, r.hash, ref
        recent[r.hash] = ref
        order.append(r.hash)
        if len(order) > _WINDOW:
            recent.pop(order.popleft(), None)

    if head_seq is None:
        return report(HEAD_MISSING, expected, last, "the chain head row (audit_chain_head) is missing")
    if head_seq > expected - 1:
        missing = f"event {expected}" if head_seq == expected else f"events {expected}–{head_seq}"
        return report(
            TRUNCATED,
            expected,
            last,
            f"the chain head records {head_seq} events but the log ends at {expected - 1}: "
            f"{missing} removed from the end",
        )
    if head_hash != prev:
        where = str(last) if last is not None else "the empty log"
        return report(
            HEAD_MISMATCH,
            expected - 1,
            last,
            f"{where} is not the event the chain head recorded: events up to it were rewritten "
            "and re-hashed (the chain alone cannot tell where the rewrite began)",
        )
    return ChainReport(True, n, head_seq, head_hash, None)


def _recent_by_seq(recent: dict[str, EventRef], seq: int) -> EventRef | None:
    return next((e for e in recent.values() if e.seq == seq), None)


def verify_audit_chain(ctx: ServiceContext, actor: Actor) -> ChainReport:
    """The integrity check of the auditor's page and ``registry audit verify``: the chain, then the
    newest signed checkpoint (the chain must reach it and hold the hash it recorded)."""
    from . import audit_anchor

    require(actor.name, actor.roles, Permission.AUDIT_VERIFY)
    return audit_anchor.check(ctx, verify_chain(ctx))


def require_database(settings: Settings) -> None:
    """Before ``registry audit verify`` opens the database: an SQLite file that does not exist is
    refused (opening it would create an empty one, and an empty log is not an intact one)."""
    url = make_url(settings.database_url)
    if (
        url.get_backend_name() == "sqlite"
        and url.database not in (None, "", ":memory:")
        and not Path(url.database).is_file()
    ):
        raise ValidationError(
            M(
                "audit.no_database",
                "no database at {path}: run `registry init` first",
                "{path} 处没有数据库：请先运行 `registry init`",
            ),
            path=url.database,
        )
