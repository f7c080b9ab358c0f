"""Bulk inserts on the connection of a transaction: PostgreSQL ``COPY ... (FORMAT BINARY)``
through psycopg's copy support (no statement with a parameter per row: PostgreSQL refuses more
than 65,535), SQLite ``executemany`` in chunks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Table

__all__ = ["copy_rows"]

_CHUNK = 20_000


def copy_rows(conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> int:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table``; returns how many."""
    if conn.dialect.name == "postgresql":
        return _copy_pg(conn, table, columns, rows)
    # SQLite: the DBAPI cursor's executemany over plain tuples (no per-row parameter processing)
    cols = ", ".join(f'"{c}"' for c in columns)
    sql = f'INSERT INTO "{table.name}" ({cols}) VALUES ({", ".join("?" for _ in columns)})'
    raw = conn.connection.driver_connection
    assert raw is not None
    total = 0
    it = iter(rows)
    cur = raw.cursor()
    try:
        while chunk := list(islice(it, _CHUNK)):
            cur.executemany(sql, chunk)
            total += len(chunk)
    finally:
        cur.close()
    return total


def _copy_pg(conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> int:
    types = []
    for name in columns:
        sa_type = table.c[name].type
        python = sa_type.python_type
        types.append({int: "int8" if "Big" in type(sa_type).__name__ else "int4", str: "text", bytes: "bytea"}[python])
    raw = conn.connection.driver_connection
    assert raw is not None
    cols = ", ".join(f'"{c}"' for c in columns)
    total = 0
    with raw.cursor() as cur, cur.copy(f'COPY "{table.name}" ({cols}) FROM STDIN (FORMAT BINARY)') as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)
            total += 1
    return total
