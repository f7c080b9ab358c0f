"""Shared by the benchmark scripts: a throw-away PostgreSQL database."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import create_engine, text


def pg_database(base_url: str, prefix: str = "registry_bench") -> tuple[str, Callable[[], None]] | None:
    """Create a fresh database next to ``base_url``; returns (its URL, a function that drops it), or
    None (with a message) if the server is not usable."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    try:
        admin = create_engine(
            base_url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        print(f"PostgreSQL at {base_url} not usable ({type(exc).__name__}); skipping it")
        return None

    def drop() -> None:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base_url.rpartition("/")[0] + "/" + name, drop
