"""Another region's registry for the mutual-recognition tests: a second database, a ServiceContext
for area 110000 (北京市市场监督管理局) on the same frozen clock, and the real app served over HTTP on
a loopback port, with a fault injector in front of it (a path answered with other bytes, a
status, a redirect, a delay).

In-process, so that a test can move both regions' clocks together and inject faults; the tests
under tests/mutual/test_live_registries.py run two real ``registry serve`` instead."""

from __future__ import annotations

import json
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text
from werkzeug.serving import make_server

from registry.config import Settings
from registry.db.trust_models import ListSigningKey
from registry.domain.roles import Role
from registry.pki import jws
from registry.pki.keys import decrypt_private_key
from registry.services import authorities, licences, trust_lists, users
from registry.services.context import FrozenClock, ServiceContext
from registry.services.demo import DEMO_CSV
from registry.web import create_app
from tests.support.data import ADMIN, PG_URL, TEST_KEK

BEIJING = {
    "area_code": "110000",
    "name_zh": "北京市市场监督管理局",
    "name_en": "Beijing Administration for Market Regulation",
}

TIANJIN = {
    "area_code": "120000",
    "name_zh": "天津市市场监督管理局",
    "name_en": "Tianjin Administration for Market Regulation",
}

Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Faults:
    """What the fault injector answers instead of the app, by path (``/trust/list.jws``)."""

    answers: dict[str, Answer | Callable[[], Answer]] = field(default_factory=dict)
    delays: dict[str, float] = field(default_factory=dict)
    down: bool = False
    hits: dict[str, int] = field(default_factory=dict)

    def clear(self) -> None:
        self.answers.clear()
        self.delays.clear()
        self.down = False


class _Injector:
    def __init__(self, app: Any, faults: Faults) -> None:
        self.app, self.faults = app, faults

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        f = self.faults
        f.hits[path] = f.hits.get(path, 0) + 1
        if f.down:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"down"]
        if path in f.delays:
            time.sleep(f.delays[path])
        if path in f.answers:
            answer = f.answers[path]
            status, headers, body = answer() if callable(answer) else answer
            start_response(f"{status} X", list({"Content-Length": str(len(body)), **headers}.items()))
            return [body]
        return self.app(environ, start_response)


def second_database(
    like: str, tmp_path: Path, sqlite_template: Callable[[], Path], pg_template: Callable[[], str]
) -> Iterator[str]:
    """Another migrated database of the same kind as ``like`` (the region's own)."""
    if like.startswith("sqlite"):
        path = tmp_path / "region.db"
        shutil.copyfile(sqlite_template(), path)
        yield f"sqlite:///{path}"
        return
    name = f"registry_r_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template()}"'))
    base, _, _ = PG_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Region:
    ctx: ServiceContext
    url: str  # http://127.0.0.1:PORT
    faults: Faults

    @property
    def list_url(self) -> str:
        return f"{self.url}/trust/list.jws"

    def fingerprints(self) -> list[str]:
        return [h for _alg, h in trust_lists.fingerprints(self.ctx)]

    def publish(self) -> trust_lists.PublishedList:
        return trust_lists.publish(self.ctx, ADMIN)

    def resigned(self, change: Callable[[dict[str, Any]], None], *, sequence: int | None = None) -> bytes:
        """The region's list ``sequence`` (its newest by default) with its payload changed by
        ``change`` (a function editing the parsed JSON in place), signed by the region's current
        list-signing keys: what this peer would serve if it published that content (a list that
        omits a service, names another region's certificate, ...), without going through its
        list builder."""
        published = trust_lists.current(self.ctx) if sequence is None else trust_lists.version(self.ctx, sequence)
        assert published is not None, "the region has published no list"
        doc = json.loads(published.payload)
        change(doc)
        data = (json.dumps(doc, sort_keys=True, ensure_ascii=False, indent=2) + "\n").encode()
        with self.ctx.reader() as s:
            blobs = list(s.scalars(select(ListSigningKey.key_blob).where(ListSigningKey.status == "current")))
        keys = self.ctx.require_keyring().keys
        return jws.sign(data, [decrypt_private_key(b, keys) for b in blobs])

    def serve_list(self, document: bytes) -> None:
        """The fault injector answers ``/trust/list.jws`` with ``document`` from now on."""
        self.faults.answers["/trust/list.jws"] = (200, {"Content-Type": "application/jose+json"}, document)


@contextmanager
def region(
    tmp_path: Path,
    database_url: str,
    clock: FrozenClock,
    area: dict[str, str] = BEIJING,
    *,
    enterprises: bool = False,
) -> Iterator[Region]:
    """The region's registry: hierarchies, list-signing keys and its first trust list, served;
    with ``enterprises``, also the demo licences and two staff (olivia operator, rita reviewer),
    so that it can issue seals."""
    faults = Faults()
    holder: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return holder["app"](environ, start_response)

    server = make_server("127.0.0.1", 0, _Injector(app, faults), threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    settings = Settings.from_env(
        {
            "REGISTRY_INSTANCE_PATH": str(tmp_path / f"instance-{area['area_code']}"),
            "REGISTRY_DATABASE_URL": database_url,
            "REGISTRY_KEK": TEST_KEK,
            "REGISTRY_SECRET_KEY": "region-secret",
            "REGISTRY_BASE_URL": url,
            "REGISTRY_AREA_CODE": area["area_code"],
            "REGISTRY_AUTHORITY_NAME": area["name_zh"],
            "REGISTRY_AUTHORITY_NAME_EN": area["name_en"],
            "REGISTRY_CRL_SHARDS": "2",
            "REGISTRY_ARGON2_TIME_COST": "1",
            "REGISTRY_ARGON2_MEMORY_KIB": "8",
            "REGISTRY_ARGON2_PARALLELISM": "1",
        }
    )
    ctx = ServiceContext.create(settings, clock=clock)
    authorities.ensure_hierarchies(ctx, ADMIN)
    trust_lists.publish(ctx, ADMIN)
    if enterprises:
        licences.import_licences(ctx, ADMIN, DEMO_CSV.encode(), "demo.csv")
        users.add_user(ctx, ADMIN, "olivia", [Role.OPERATOR])
        users.add_user(ctx, ADMIN, "rita", [Role.REVIEWER])
    holder["app"] = create_app({"TESTING": True}, ctx=ctx)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Region(ctx, url, faults)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        ctx.engine.dispose()


__all__ = ["BEIJING", "TIANJIN", "Faults", "Region", "region", "second_database"]
