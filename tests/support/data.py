"""What every test module may share: the frozen time, the administrator actor, the demo licences'
USCCs, the test KEK and settings, and where the third-party vectors and PostgreSQL are."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from registry.config import Settings
from registry.services.context import Actor

NOW = dt.datetime(2026, 11, 23, 8, 0, 0, tzinfo=dt.UTC)
PG_URL = os.environ.get("REGISTRY_TEST_POSTGRES_URL", "").strip()
TEST_KEK = "11" * 32
ADMIN = Actor.system("test-admin")

BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])

# Third-party vectors: ../shared/vectors/ofdrw beside the repository (REGISTRY_TEST_VECTORS overrides).
VECTORS = Path(
    os.environ.get("REGISTRY_TEST_VECTORS")
    or Path(__file__).resolve().parents[2].parent / "shared" / "vectors" / "ofdrw"
)


def vector(name: str) -> bytes:
    """The bytes of a third-party vector file."""
    return (VECTORS / name).read_bytes()


SHENZHEN_USCC = "91440300MA5F12342Q"  # demo licence, active
CANCELLED_USCC = "91440300000000000E"  # demo licence, cancelled
OTHER_USCC = "91440300MA5GK7B25F"  # demo licence, active, another enterprise (Futian)
UNKNOWN_USCC = "91350100M000100Y43"  # valid code, no licence on record


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
