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

Writing (this module, the lower floor: :meth:`Tx.audit <registry.services.core.tx.Tx.audit>` calls it):
:func:`record` and :func:`record_many` lock the one-row chain head
(``audit_chain_head``) with SELECT ... FOR UPDATE on PostgreSQL (on SQLite the write
transaction already holds the database's single write lock: BEGIN IMMEDIATE), give the events
the next numbers in call order, and move the head, all inside the caller's transaction. The
head lock is held until that transaction ends, so writers serialize from their first audit event
to their commit; services write their audit events last, after the slow work (signing).

Reading the chain back is :mod:`registry.services.core.audit_chain`.

What the chain does and does not prove: :func:`registry.services.audit.verify_chain` finds the first event that was
edited, removed or inserted behind the application's back, and a tail that was cut off (the head
names a later event). Someone who can write to the database and recomputes the hashes of every
event from the change onwards *and* moves the head to match leaves a chain that verifies: a hash
chain alone cannot stop that. Checkpoints can (:mod:`registry.services.audit_anchor`): the head's
number and hash, signed with the SM2 root key outside the database's reach, written at each CRL
publish run; :func:`registry.services.audit.verify_audit_chain` compares the chain with the newest one.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, cast

from cryptography.hazmat.primitives import hashes
from sqlalchemy import Connection, Table, insert, select, update
from sqlalchemy.orm import Session

from ...db.models import AuditChainHead, AuditEvent
from ..context import Actor, ServiceContext

__all__ = [
    "GENESIS",
    "AuditChainError",
    "canonical",
    "event_hash",
    "plain_details",
    "record",
    "record_many",
    "sm3_hex",
    "utc_text",
]

GENESIS = "0" * 64
_EVENTS = cast(Table, AuditEvent.__table__)  # a mapped class's table (typed as any FromClause)
_HEAD = cast(Table, AuditChainHead.__table__)


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
