"""Issue 11 item 25: the database, its WAL/SHM and the instance directory are the registry's alone."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from click.testing import CliRunner

from registry.cli import main


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_creates_the_database_0600_and_the_instance_0700(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    env = {
        "REGISTRY_INSTANCE_PATH": str(instance),
        "REGISTRY_DATABASE_URL": "",
        "REGISTRY_BASE_URL": "http://registry.test",
        "REGISTRY_KEK": "",
    }
    old = os.umask(0o022)
    try:
        r = CliRunner().invoke(main, ["init"], env=env, catch_exceptions=False)
    finally:
        os.umask(old)
    assert r.exit_code == 0, r.output
    db = instance / "registry.db"
    assert mode(instance) == 0o700
    assert mode(db) == 0o600
    for suffix in ("-wal", "-shm"):
        side = db.with_name(db.name + suffix)
        if side.exists():
            assert mode(side) == 0o600, suffix
    for crl in (instance / "publish").glob("*.crl"):
        assert mode(crl) == 0o644  # public documents


def test_an_engine_creates_the_sqlite_file_0600_under_any_umask(tmp_path: Path) -> None:
    from sqlalchemy import text

    from registry.db.session import make_engine

    old = os.umask(0o022)
    try:
        engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'x.db'}")
        with engine.begin() as conn:
            conn.execute(text("create table t (x int)"))
            conn.execute(text("insert into t values (1)"))
            db = tmp_path / "data" / "x.db"
            assert mode(db) == 0o600 and mode(db.parent) == 0o700
            assert mode(db.with_name("x.db-wal")) == 0o600
        engine.dispose()
    finally:
        os.umask(old)


def test_init_tightens_an_older_instance(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    instance.chmod(0o755)
    db = instance / "registry.db"
    db.touch()
    db.chmod(0o644)
    env = {
        "REGISTRY_INSTANCE_PATH": str(instance),
        "REGISTRY_DATABASE_URL": "",
        "REGISTRY_BASE_URL": "http://registry.test",
        "REGISTRY_KEK": "",
    }
    r = CliRunner().invoke(main, ["init"], env=env, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert mode(instance) == 0o700 and mode(db) == 0o600 and "permissions of" in r.output
