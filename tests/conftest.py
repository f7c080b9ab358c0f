"""Shared fixtures.

Database tests use the ``ctx`` fixture, which is parametrized over the backends: always SQLite,
and PostgreSQL too when ``REGISTRY_TEST_POSTGRES_URL`` names a server database we may create
databases next to (e.g. ``postgresql://postgres@127.0.0.1:5432/test``). In CI (``CI`` set) a
missing PostgreSQL URL is an error, not a skip. Every test gets a fresh, migrated database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from registry.config import Settings
from registry.db.migrate import upgrade
from registry.db.models import Base
from registry.domain.roles import Role
from registry.services import authorities, licences, users
from registry.services.context import Actor, FrozenClock, ServiceContext
from registry.services.demo import DEMO_CSV

NOW = dt.datetime(2026, 11, 23, 8, 0, 0, tzinfo=dt.UTC)
PG_URL = os.environ.get("REGISTRY_TEST_POSTGRES_URL", "").strip()
TEST_KEK = "11" * 32
ADMIN = Actor.system("test-admin")

BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])

# Third-party vectors: ../shared/vectors/ofdrw beside the repository (REGISTRY_TEST_VECTORS overrides).
VECTORS = Path(
    os.environ.get("REGISTRY_TEST_VECTORS")
    or Path(__file__).resolve().parents[1].parent / "shared" / "vectors" / "ofdrw"
)


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("CI") and not PG_URL:
        raise pytest.UsageError(
            "CI is set but REGISTRY_TEST_POSTGRES_URL is not: the database tests must run against PostgreSQL too"
        )
    if os.environ.get("CI") and not (VECTORS / "UserV4.esl").exists():
        raise pytest.UsageError(f"CI is set but the ofdrw vectors are not at {VECTORS}")


def pytest_report_header(config: pytest.Config) -> str:
    return (
        "database backends: "
        + ", ".join(BACKENDS)
        + ("" if PG_URL else "  (set REGISTRY_TEST_POSTGRES_URL to add PostgreSQL)")
    )


# ------------------------------------------------------------------------------------------------
# Databases


def _pg_admin_url(db: str) -> str:
    base, _, _ = PG_URL.rpartition("/")
    return f"{base}/{db}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated template database; each test copies it with CREATE DATABASE ... TEMPLATE."""
    name = f"registry_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    upgrade(_pg_admin_url(name))
    from sqlalchemy import pool  # noqa: F401

    yield name
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "registry.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"registry_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield _pg_admin_url(name)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def make_settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings.from_env(
        {
            "REGISTRY_INSTANCE_PATH": str(tmp_path / "instance"),
            "REGISTRY_DATABASE_URL": database_url,
            "REGISTRY_KEK": TEST_KEK,
            "REGISTRY_SECRET_KEY": "test-secret",
            "REGISTRY_BASE_URL": "http://registry.test",
            "REGISTRY_CRL_SHARDS": "8",
            # cheap argon2id for test accounts (production: 3 passes over 64 MiB, 4 lanes)
            "REGISTRY_ARGON2_TIME_COST": "1",
            "REGISTRY_ARGON2_MEMORY_KIB": "8",
            "REGISTRY_ARGON2_PARALLELISM": "1",
        }
    )


@pytest.fixture
def bare_ctx(tmp_path: Path, database_url: str) -> Iterator[ServiceContext]:
    """A migrated, empty database with keys configured and a frozen clock."""
    ctx = ServiceContext.create(make_settings(tmp_path, database_url), clock=FrozenClock(NOW))
    yield ctx
    ctx.engine.dispose()


@pytest.fixture
def ctx(bare_ctx: ServiceContext) -> ServiceContext:
    """The hierarchies, staff (olivia operator, rita reviewer, otto operator+reviewer) and the
    demo licences."""
    authorities.ensure_hierarchies(bare_ctx, ADMIN)
    users.add_user(bare_ctx, ADMIN, "olivia", [Role.OPERATOR])
    users.add_user(bare_ctx, ADMIN, "rita", [Role.REVIEWER])
    users.add_user(bare_ctx, ADMIN, "otto", [Role.OPERATOR, Role.REVIEWER])
    users.add_user(bare_ctx, ADMIN, "aud", [Role.AUDITOR])
    licences.import_licences(bare_ctx, ADMIN, DEMO_CSV.encode(), "demo.csv")
    return bare_ctx


# A page view of a signed-in browser moves its session's last-seen time: not a change of record.
SESSION_TABLES = frozenset({"web_sessions"})


def db_fingerprint(ctx: ServiceContext) -> dict[str, str]:
    """Per table: row count and a hash of every row, to prove a refused request changed nothing
    (the browser-session table aside: see SESSION_TABLES)."""
    out = {}
    with ctx.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in SESSION_TABLES:
                continue
            rows = conn.execute(table.select().order_by(*table.primary_key.columns)).all()
            h = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()
            out[table.name] = f"{len(rows)}:{h[:16]}"
    return out


@pytest.fixture
def fingerprint():  # type: ignore[no-untyped-def]
    return db_fingerprint


# ------------------------------------------------------------------------------------------------
# OpenSSL


@pytest.fixture(scope="session")
def openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("openssl is not installed; scripts/setup-test-deps.sh installs it")
        pytest.skip("openssl is not installed")
    return path


SHENZHEN_USCC = "91440300MA5F12342Q"  # demo licence, active
CANCELLED_USCC = "91440300000000000E"  # demo licence, cancelled
UNKNOWN_USCC = "91350100M000100Y43"  # valid code, no licence on record
