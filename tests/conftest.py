"""Shared fixtures.

Database tests use the ``ctx`` fixture, which is parametrized over the backends: always SQLite,
and PostgreSQL too when ``REGISTRY_TEST_POSTGRES_URL`` names a server database we may create
databases next to (e.g. ``postgresql://postgres@127.0.0.1:5432/test``). In CI (``CI`` set) a
missing PostgreSQL URL is an error, not a skip. Every test gets a fresh, migrated database.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy import create_engine, text

from registry.db.migrate import upgrade
from registry.db.models import Base
from registry.domain.roles import Role
from registry.services import authorities, elicence, licences, users
from registry.services.context import FrozenClock, ServiceContext
from registry.services.demo import DEMO_CSV
from registry.web import create_app
from tests.support.audit import make_history
from tests.support.cli import GOOD_CSV, Cli
from tests.support.data import ADMIN, BACKENDS, NOW, PG_URL, VECTORS, make_settings
from tests.support.mail import Inbox
from tests.support.net import free_port


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("CI") and not PG_URL:
        raise pytest.UsageError(
            "CI is set but REGISTRY_TEST_POSTGRES_URL is not: the database tests must run against PostgreSQL too"
        )
    if os.environ.get("CI") and not (VECTORS / "UserV4.esl").exists():
        raise pytest.UsageError(f"CI is set but the ofdrw vectors are not at {VECTORS}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test on a database ``db`` (``-m "not db"`` runs the pure ones), and every
    property test (hypothesis: the fuzzers and round trips, hundreds of examples each) ``slow``
    (``scripts/test.sh --quick`` leaves the slow ones out)."""
    for item in items:
        if {"database_url", "empty_database"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            item.add_marker(pytest.mark.slow)


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


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, not migrated (the migrations' own tests start from it)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"registry_empty_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield _pg_admin_url(name)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


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
# Built on ctx: the web app, the demo e-licence issuer, an audit history


@pytest.fixture
def app(request: pytest.FixtureRequest, ctx: ServiceContext) -> Flask:
    """The Flask app on ``ctx`` (TESTING). For tests marked ``demo_issuer`` (the portal's: a module
    sets ``pytestmark``) the demo e-licence issuer is set up first, as the e-licence sign-in needs."""
    if request.node.get_closest_marker("demo_issuer") is not None:
        elicence.ensure_demo_issuer(ctx)
    return create_app({"TESTING": True}, ctx=ctx)


@pytest.fixture
def issuer(ctx: ServiceContext) -> ServiceContext:
    """``ctx`` with the demo e-licence issuer (its key file private to the owner)."""
    assert elicence.ensure_demo_issuer(ctx) is True
    assert elicence.ensure_demo_issuer(ctx) is False  # idempotent
    assert oct(ctx.settings.elicence_key.stat().st_mode & 0o777) == "0o600"
    return ctx


@pytest.fixture
def history(ctx: ServiceContext) -> ServiceContext:
    """``ctx`` with more audit history: seals issued and revoked, staff added, licences changed."""
    make_history(ctx)
    return ctx


# ------------------------------------------------------------------------------------------------
# The command line and the mail server


@pytest.fixture
def cli(tmp_path: Path, database_url: str) -> Cli:
    """The ``registry`` command on a fresh database, not initialised (no KEK in the environment)."""
    env = {
        "REGISTRY_INSTANCE_PATH": str(tmp_path / "instance"),
        "REGISTRY_DATABASE_URL": database_url,
        "REGISTRY_BASE_URL": "http://registry.test",
        "REGISTRY_KEK": "",
    }
    return Cli(env)


@pytest.fixture
def ready(cli: Cli, tmp_path: Path) -> Cli:
    """``cli`` after ``init``, two staff (olivia operator, rita reviewer) and a licence import."""
    cli("init")
    cli("user", "add", "olivia", "--role", "operator")
    cli("user", "add", "rita", "--role", "reviewer")
    (tmp_path / "lic.csv").write_text(GOOD_CSV, encoding="utf-8")
    cli("licence", "import", str(tmp_path / "lic.csv"))
    return cli


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    """An SMTP server on a free port of 127.0.0.1 for the test's length."""
    box = Inbox(free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()


# ------------------------------------------------------------------------------------------------
# OpenSSL


@pytest.fixture(scope="session")
def openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("openssl is not installed; scripts/install-system-deps.sh installs it")
        pytest.skip("openssl is not installed")
    return path
