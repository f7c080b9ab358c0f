"""Issue 11 item 23: parallel CRL publishers take turns; none deletes another's file in progress."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import select

from registry.db.models import PublishedCrl
from registry.pki import crl
from registry.services import crl_publish
from registry.services.context import ServiceContext
from registry.services.crls import files as crl_files
from tests.support.cli import publisher_env
from tests.support.data import ADMIN


def test_a_second_publish_waits_and_keeps_the_first_ones_temp_file(ctx: ServiceContext, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    crl_publish.publish(ctx, ADMIN)
    paused, release, b_waiting = threading.Event(), threading.Event(), threading.Event()
    a_thread: list[int] = []
    real_peek = crl_files.crl_number_of_file
    real_sleep = crl_files.time.sleep

    def peek(path: Path):  # type: ignore[no-untyped-def]
        # called after the temp file is written, before the rename: hold A there once
        if threading.get_ident() == a_thread[0] and not paused.is_set():
            paused.set()
            assert release.wait(60)
        return real_peek(path)

    def sleep(seconds: float) -> None:
        if threading.get_ident() != a_thread[0]:
            b_waiting.set()
        real_sleep(seconds)

    monkeypatch.setattr(crl_files, "crl_number_of_file", peek)
    monkeypatch.setattr(crl_files.time, "sleep", sleep)
    results: dict[str, object] = {}

    def run(name: str) -> None:
        if name == "a":
            a_thread.append(threading.get_ident())
        try:
            results[name] = crl_publish.publish(ctx, ADMIN)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertions
            results[name] = exc

    a = threading.Thread(target=run, args=("a",))
    a.start()
    assert paused.wait(60)
    temps = list(ctx.settings.publish_dir.rglob(".*.tmp"))
    assert len(temps) == 1
    b = threading.Thread(target=run, args=("b",))
    b.start()
    # B either waits for A's lock (fixed) or runs on and removes A's temp file (the bug)
    while not b_waiting.is_set() and b.is_alive():
        real_sleep(0.01)
    assert temps[0].exists(), "the second publisher deleted the first one's file in progress"
    release.set()
    a.join()
    b.join()
    assert isinstance(results["a"], list), results["a"]
    assert isinstance(results["b"], list), results["b"]
    first = {p.path: p.number for p in results["a"]}  # type: ignore[union-attr]
    second = {p.path: p.number for p in results["b"]}  # type: ignore[union-attr]
    assert all(second[p] > first[p] for p in first)
    assert not list(ctx.settings.publish_dir.rglob(".*.tmp"))


def test_only_dead_or_stale_temp_files_are_removed(tmp_path: Path) -> None:
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        d = tmp_path / "publish"
        (d / "sm2-issuing").mkdir(parents=True)
        mine = d / f".sm2-root.crl.{live.pid}.1.tmp"
        gone = d / "sm2-issuing" / f".shard-1.crl.{dead.pid}.2.tmp"
        old = d / f".ecdsa-root.crl.{live.pid}.3.tmp"
        for f in (mine, gone, old):
            f.write_bytes(b"x")
        os.utime(old, (time.time() - 2 * crl_publish.STALE_TEMP_SECONDS,) * 2)
        assert crl_publish.clean_stale_temp_files(d) == 2
        assert mine.exists() and not gone.exists() and not old.exists()
    finally:
        live.kill()
        live.wait()


def test_two_publisher_processes_both_succeed(ctx: ServiceContext) -> None:
    crl_publish.publish(ctx, ADMIN)
    exe = Path(sys.executable).parent / "registry"
    env = publisher_env(ctx)
    procs = [
        subprocess.Popen(
            [str(exe), "crl", "publish", "--all-shards"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    with ctx.reader() as s:
        rows = s.execute(select(PublishedCrl.path, PublishedCrl.number).order_by(PublishedCrl.id)).all()
    last: dict[str, int] = {}
    for path, number in rows:
        assert number > last.get(path, -1)
        last[path] = number
    for path, number in last.items():
        assert crl.parse_crl((ctx.settings.publish_dir / path).read_bytes()).number == number


def test_publish_now_in_parallel_never_fails(ctx: ServiceContext) -> None:
    from registry.domain.roles import Role
    from registry.web import create_app
    from tests.support.staff import client_as, publish_now

    app = create_app({"TESTING": True}, ctx=ctx)
    clients = [client_as(app, ctx, f"adm{i}", Role.ADMIN) for i in range(4)]
    codes: list[int] = []
    threads = [threading.Thread(target=lambda c=c: codes.append(publish_now(c).status_code)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200] * 4
