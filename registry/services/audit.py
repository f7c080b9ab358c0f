"""The audit log's use cases: checking the chain (:func:`verify_chain`) and, for the auditor,
checking it against the newest signed checkpoint (:func:`verify_audit_chain`).

The log is written inside the transaction of the change it records, append-only (database triggers
refuse UPDATE, DELETE and TRUNCATE) and tamper-evident (a hash chain). The writer and the chain's
encoding are the lower floor, :mod:`registry.services.core.audit` (a use case writes through
``Tx.audit``); reading the chain back is :mod:`registry.services.core.audit_chain`. Their names are
re-exported here, where the CLI, the web layer and the tests have always found them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import make_url

from ..config import Settings
from ..db.models import AuditChainHead
from ..domain.errors import M, ValidationError
from ..domain.roles import Permission, require
from . import audit_anchor
from .context import Actor, ServiceContext
from .core.audit import (
    GENESIS,
    AuditChainError,
    canonical,
    event_hash,
    plain_details,
    record,
    record_many,
    sm3_hex,
    utc_text,
)
from .core.audit_chain import (
    CHANGED,
    HEAD_MISMATCH,
    HEAD_MISSING,
    INSERTED,
    REMOVED,
    REPLACED,
    TRUNCATED,
    ChainProblem,
    ChainReport,
    EventRef,
)
from .core.audit_chain import rows as _rows
from .core.audit_chain import walk as _walk

__all__ = [
    "CHANGED",
    "GENESIS",
    "HEAD_MISMATCH",
    "HEAD_MISSING",
    "INSERTED",
    "REMOVED",
    "REPLACED",
    "TRUNCATED",
    "AuditChainError",
    "ChainProblem",
    "ChainReport",
    "EventRef",
    "canonical",
    "event_hash",
    "plain_details",
    "record",
    "record_many",
    "sm3_hex",
    "utc_text",
    "verify_audit_chain",
    "verify_chain",
]

_HEAD = AuditChainHead.__table__


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


def verify_audit_chain(ctx: ServiceContext, actor: Actor) -> ChainReport:
    """The integrity check of the auditor's page and ``registry audit verify``: the chain, then the
    newest signed checkpoint (the chain must reach it and hold the hash it recorded)."""
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
