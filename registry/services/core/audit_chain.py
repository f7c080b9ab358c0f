"""Reading the audit hash chain back (the chain itself is described in
:mod:`registry.services.core.audit`): the rows as stored, each with the hash recomputed from its
columns, and :func:`walk`, which finds the first event that was edited, removed or inserted behind
the application's back. Both work on a connection the caller opened (one consistent snapshot);
:func:`registry.services.audit.verify_chain` and the checkpoints
(:mod:`registry.services.audit_anchor`) use them."""

from __future__ import annotations

import datetime as dt
import json
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, String, select, type_coerce

from ...db.models import AuditEvent
from .audit import GENESIS, event_hash, utc_text

_EVENTS = AuditEvent.__table__


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
    fields: tuple[dt.datetime, str, str, str, str, dict[str, Any]] | None
    # (occurred_at, actor, action, target_type, target_id, details)

    def hash_as(self, seq: int) -> str | None:
        """The hash this row would have if it had been written as number ``seq``."""
        if self.fields is None or not isinstance(self.prev_hash, str):
            return None
        return event_hash(seq, *self.fields, self.prev_hash)


_WINDOW = 256  # recent links kept to tell an insertion from a replacement (constant memory)
_BATCH = 2000


def rows(conn: Connection, from_seq: int | None = None) -> Iterator[_Row]:
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


def walk(rows: Iterable[_Row], head: Any) -> ChainReport:
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
