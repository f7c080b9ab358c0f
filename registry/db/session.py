"""Engine and session factory for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, Engine, FromClause, Table, create_engine, event, func, select, text
from sqlalchemy.orm import Session, sessionmaker


def prepare_sqlite_file(path: Path) -> None:
    """Create the database's directory (0700) and the empty database file (0600) before SQLite does,
    so no other local user can read it: SQLite creates the ``-wal`` and ``-shm`` files with the
    database file's permissions. An existing file is left as it is (``registry init`` tightens it)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def make_engine(url: str, **kw: object) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1].split("?", 1)[0]
        if path and path != ":memory:" and not path.startswith("file:"):
            prepare_sqlite_file(Path(path))
        engine = create_engine(url, connect_args={"timeout": 30}, **kw)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: object) -> None:
            # WAL lets readers work during a write; foreign keys are off by default in SQLite.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        # pysqlite's own transaction handling is unreliable; emit BEGIN ourselves. A session made
        # by make_session_factory(write=True) starts with BEGIN IMMEDIATE, so it takes the write lock
        # at the start and concurrent writers queue on busy_timeout instead of failing with
        # "database is locked" when two deferred readers both try to upgrade.
        @event.listens_for(engine, "connect")
        def _no_autobegin(dbapi_conn: Any, _record: object) -> None:
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            options = conn.get_execution_options()
            if options.get("isolation_level") == "AUTOCOMMIT":
                return  # single-statement reads (the verifier): no transaction
            immediate = options.get("sqlite_immediate")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    kw.setdefault("pool_pre_ping", True)
    kw.setdefault("pool_size", 10)
    kw.setdefault("max_overflow", 20)
    return create_engine(url, **kw)


def make_session_factory(engine: Engine, *, write: bool = True) -> sessionmaker[Session]:
    """Sessions for services (``write=True``: SQLite takes the write lock at BEGIN) or for
    read-only views. PostgreSQL ignores the option."""
    bind = engine.execution_options(sqlite_immediate=True) if write else engine
    return sessionmaker(bind=bind, expire_on_commit=False)


def allocate_ids(conn: Connection, from_clause: FromClause, n: int) -> list[int]:
    """Reserve ``n`` primary keys of ``table`` inside the current write transaction, so a batch can
    be inserted with a plain executemany (a short statement the driver caches) instead of one huge
    INSERT ... RETURNING.

    PostgreSQL draws from the column's sequence (ids are unique, maybe not contiguous). SQLite has no
    sequence, but a write transaction there holds the database's single write lock (BEGIN IMMEDIATE),
    so max(id)+1 … max(id)+n cannot be taken by anyone else before commit.

    ``from_clause`` is a table (a mapped class's ``__table__``, which SQLAlchemy types as any FROM).
    """
    table = cast(Table, from_clause)
    if n <= 0:
        return []
    if conn.dialect.name == "postgresql":
        rows = conn.execute(
            text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
            {"t": table.name, "n": n},
        )
        return [r[0] for r in rows]
    if conn.dialect.name == "sqlite":
        top = conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
        return list(range(top + 1, top + n + 1))
    raise NotImplementedError(f"allocate_ids: unsupported database {conn.dialect.name}")


def rowcount(result: object) -> int:
    """The number of rows an UPDATE or DELETE touched (0 for a result that counts none)."""
    return int(result.rowcount or 0) if isinstance(result, CursorResult) else 0
