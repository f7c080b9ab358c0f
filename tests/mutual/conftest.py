"""Fixtures of the mutual-recognition tests: Shenzhen is ``ctx`` (tests/conftest.py, area 440300),
Beijing a second registry served over HTTP on loopback (tests/support/regions.py) on the same
frozen clock; the staff who admit peers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.domain.roles import Role
from registry.services.context import Actor, FrozenClock, ServiceContext
from tests.support.regions import Region, region, second_database

ADA = Actor("ada", roles=frozenset({Role.ADMIN}))  # proposes
AMOS = Actor("amos", roles=frozenset({Role.ADMIN}))  # another admin
RITA = Actor("rita", roles=frozenset({Role.REVIEWER}))  # approves
OLIVIA = Actor("olivia", roles=frozenset({Role.OPERATOR}))  # may do neither


@pytest.fixture
def region_database(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[str]:
    yield from second_database(
        database_url,
        tmp_path,
        lambda: request.getfixturevalue("sqlite_template"),
        lambda: request.getfixturevalue("pg_template"),
    )


@pytest.fixture
def beijing(ctx: ServiceContext, region_database: str, tmp_path: Path) -> Iterator[Region]:
    assert isinstance(ctx.clock, FrozenClock)
    with region(tmp_path, region_database, ctx.clock) as bj:
        yield bj
