#!/usr/bin/env python3
"""Issuance throughput: holder certificate + GB/T 38540 SESeal, both SM2-signed, committed.

For each database (SQLite file; PostgreSQL if reachable) it issues --count seals to --count/4
enterprises through the same service the CLI and portal call (issue_seals), in three shapes:

  per-seal    one transaction per seal (the counter path), 1 process
  set-of-4    one transaction per enterprise's standard set of four, 1 process and --processes
  batch-100   one transaction per 100 seals (bulk issuance for newly registered enterprises),
              --processes workers (default: cores + 1)

In the same run it measures two peers on the same machine: the ``cryptography`` CertificateBuilder
signing ECDSA P-256 certificates (certificate only: no seal, no database), and ``openssl x509 -req``
signing SM2 certificates one process per certificate, as a shell-scripted RA would.

Inputs are prepared before timing: the holders' public keys (made on the enterprise side) and one
uploaded seal picture (validated once per process; validating a new upload costs ~1 ms and drawing
the default picture ~150 ms, both done when an application is submitted, not at issuance).

Usage: scripts/bench_issue.py [--count 10000] [--processes 2] [--postgres URL] [--skip-postgres]
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _benchlib  # noqa: E402
from sqlalchemy import create_engine, func, select  # noqa: E402

from registry.config import Settings  # noqa: E402
from registry.db.migrate import upgrade  # noqa: E402
from registry.db.models import Seal  # noqa: E402
from registry.domain.roles import Role  # noqa: E402
from registry.pki import picture  # noqa: E402
from registry.pki.keys import Algorithm, PrivateKey  # noqa: E402
from registry.pki.uscc import orgcode_check_char, uscc_check_char  # noqa: E402
from registry.services import authorities, licences, seals, users  # noqa: E402
from registry.services.context import Actor, ServiceContext  # noqa: E402

ADMIN = Actor.system("bench")
TYPES = ["01", "02", "04", "05"]


def uscc(i: int) -> str:
    body = f"B{i:07d}"
    first17 = "91440300" + body + orgcode_check_char(body)
    return first17 + uscc_check_char(first17)


def settings_for(url: str, instance: Path) -> Settings:
    return Settings.from_env(
        {
            "REGISTRY_DATABASE_URL": url,
            "REGISTRY_INSTANCE_PATH": str(instance),
            "REGISTRY_KEK": "22" * 32,
            "REGISTRY_BASE_URL": "http://bench.test",
        }
    )


def prepare(url: str, instance: Path, enterprises: int) -> None:
    upgrade(url)
    ctx = ServiceContext.create(settings_for(url, instance))
    authorities.ensure_hierarchies(ctx, ADMIN)
    users.add_user(ctx, ADMIN, "olivia", [Role.OPERATOR])
    users.add_user(ctx, ADMIN, "rita", [Role.REVIEWER])
    lines = ["uscc,name,legal_representative,entity_type,address,registered_on,status"]
    lines += [
        f"{uscc(i)},深圳市基准测试第{i}号科技有限公司,张{i % 100},有限责任公司,深圳市南山区,2020-01-01,active"
        for i in range(enterprises)
    ]
    licences.import_licences(ctx, ADMIN, "\n".join(lines).encode(), "bench.csv")
    ctx.engine.dispose()


def worker(
    url: str,
    instance: str,
    first: int,
    last: int,
    per_tx: int,
    png: bytes,
    keys: list[bytes],
    start: mp.Event,
    out: mp.Queue,
) -> None:  # type: ignore[type-arg]
    ctx = ServiceContext.create(settings_for(url, Path(instance)))
    reqs = [
        seals.IssueRequest(
            uscc=uscc(i // 4),
            seal_type=TYPES[i % 4],
            picture_png=png,
            key=seals.KeyMaterial(public_key_pem=keys[i - first]),
            operator="olivia",
            approver="rita",
            channel="counter",
        )
        for i in range(first, last)
    ]
    seals.issue_seals(ctx, ADMIN, [])  # warm imports
    start.wait()
    t0 = time.perf_counter()
    for j in range(0, len(reqs), per_tx):
        seals.issue_seals(ctx, ADMIN, reqs[j : j + per_tx])
    out.put((last - first, time.perf_counter() - t0))
    ctx.engine.dispose()


def run_shape(
    url: str, instance: Path, first: int, count: int, per_tx: int, procs: int, png: bytes, keys: list[bytes]
) -> float:
    ctxm = mp.get_context("fork")
    start, out = ctxm.Event(), ctxm.Queue()
    share = count // procs
    ps = []
    for k in range(procs):
        a = first + k * share
        b = first + count if k == procs - 1 else a + share
        p = ctxm.Process(
            target=worker, args=(url, str(instance), a, b, per_tx, png, keys[a - first : b - first], start, out)
        )
        p.start()
        ps.append(p)
    time.sleep(1.0)
    t0 = time.perf_counter()
    start.set()
    done = [out.get() for _ in ps]
    wall = time.perf_counter() - t0
    for p in ps:
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"worker failed with exit code {p.exitcode}")
    assert sum(n for n, _ in done) == count
    return count / wall


def _cpu_idle(since: tuple[int, int] | None = None):  # type: ignore[no-untyped-def]
    """Whole-machine idle share from /proc/stat since ``since`` (or a new mark)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    mark = (fields[3] + fields[4], sum(fields))
    if since is None:
        return mark
    return (mark[0] - since[0]) / max(1, mark[1] - since[1])


def peer_cryptography(n: int) -> float:
    from cryptography import x509 as cx
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    ca = ec.generate_private_key(ec.SECP256R1())
    issuer = cx.Name([cx.NameAttribute(NameOID.COMMON_NAME, "peer CA")])
    pubs = [ec.generate_private_key(ec.SECP256R1()).public_key() for _ in range(n)]
    now = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    for pub in pubs:
        (
            cx.CertificateBuilder()
            .subject_name(cx.Name([cx.NameAttribute(NameOID.COMMON_NAME, "holder")]))
            .issuer_name(issuer)
            .public_key(pub)
            .serial_number(cx.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=730))
            .add_extension(cx.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
            .add_extension(cx.SubjectKeyIdentifier.from_public_key(pub), critical=False)
            .sign(ca, hashes.SHA256())
        )
    return n / (time.perf_counter() - t0)


def peer_openssl(n: int, workdir: Path) -> float | None:
    exe = shutil.which("openssl")
    if exe is None:
        return None
    run = lambda *a: subprocess.run([exe, *a], cwd=workdir, check=True, capture_output=True)  # noqa: E731
    run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2", "-out", "ca.key")
    run(
        "req",
        "-new",
        "-x509",
        "-key",
        "ca.key",
        "-sm3",
        "-sigopt",
        "distid:1234567812345678",
        "-subj",
        "/CN=peer SM2 CA",
        "-days",
        "3650",
        "-out",
        "ca.pem",
    )
    run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2", "-out", "h.key")
    run(
        "req",
        "-new",
        "-key",
        "h.key",
        "-sm3",
        "-sigopt",
        "distid:1234567812345678",
        "-subj",
        "/CN=holder",
        "-out",
        "h.csr",
    )
    t0 = time.perf_counter()
    for i in range(n):
        run(
            "x509",
            "-req",
            "-in",
            "h.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-sm3",
            "-sigopt",
            "distid:1234567812345678",
            "-vfyopt",
            "distid:1234567812345678",
            "-set_serial",
            str(1000 + i),
            "-days",
            "730",
            "-out",
            f"c{i % 4}.pem",
        )
    return n / (time.perf_counter() - t0)


def pg_database(base_url: str):  # type: ignore[no-untyped-def]
    return _benchlib.pg_database(base_url, "registry_bench")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=10_000)
    # One more worker than cores: each worker waits on the database during its write phase.
    ap.add_argument("--processes", type=int, default=(os.cpu_count() or 2) + 1)
    ap.add_argument(
        "--postgres", default=os.environ.get("REGISTRY_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    )
    ap.add_argument("--skip-postgres", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated shape names to run (default: all)")
    args = ap.parse_args()
    count = args.count - args.count % 4
    shapes = [
        ("per-seal", 1, 1),
        ("set-of-4", 4, 1),
        (f"set-of-4 ×{args.processes} proc", 4, args.processes),
        (f"batch-100 ×{args.processes} proc", 100, args.processes),
    ]
    if args.only:
        wanted = {w.strip() for w in args.only.split(",")}
        shapes = [s for s in shapes if s[0].split(" ")[0] in wanted]
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; {count} seals per shape")
    font = picture.find_cjk_font(None)
    png = picture.render_seal("深圳市基准测试科技有限公司", "合同专用章", shape="round", font_path=font)
    print(f"picture: {len(png)} bytes PNG (40 mm, 472 px)")
    t0 = time.perf_counter()
    keys = [PrivateKey.generate(Algorithm.SM2).public_key.pem().encode() for _ in range(count * len(shapes))]
    print(f"prepared {len(keys)} holder public keys in {time.perf_counter() - t0:.1f} s (not timed below)")

    results: list[tuple[str, str, float]] = []
    backends: list[tuple[str, str, callable | None]] = []  # type: ignore[valid-type]
    tmp = Path(tempfile.mkdtemp(prefix="bench-issue-"))
    backends.append(("SQLite", f"sqlite:///{tmp / 'bench.db'}", None))
    if not args.skip_postgres:
        pg = pg_database(args.postgres)
        if pg:
            backends.append(("PostgreSQL", pg[0], pg[1]))
    try:
        for label, url, _drop in backends:
            prepare(url, tmp, count * len(shapes) // 4)
            first = 0
            for shape, per_tx, procs in shapes:
                idle0 = _cpu_idle()
                rate = run_shape(url, tmp, first, count, per_tx, procs, png, keys[first : first + count])
                idle = _cpu_idle(idle0)
                results.append((label, shape, rate))
                print(f"  {label:10} {shape:22} {rate:8.0f} seals/s   (machine CPU idle {idle:.0%})", flush=True)
                first += count
            engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
            with engine.connect() as c:
                n = c.execute(select(func.count(Seal.id))).scalar_one()
            engine.dispose()
            assert n == first, f"expected {first} seals in the database, found {n}"
    finally:
        for _label, _url, drop in backends:
            if drop:
                drop()
        shutil.rmtree(tmp, ignore_errors=True)

    peer_c = peer_cryptography(2000)
    peer_dir = Path(tempfile.mkdtemp(prefix="bench-openssl-"))
    peer_o = peer_openssl(200, peer_dir)
    shutil.rmtree(peer_dir, ignore_errors=True)
    print()
    print("| database | shape | seals/s (cert + SESeal, signed, committed) |")
    print("|---|---|---|")
    for label, shape, rate in results:
        print(f"| {label} | {shape} | {rate:,.0f} |")
    print()
    print("| peer, same machine, same run | what it does | per second |")
    print("|---|---|---|")
    print(f"| cryptography CertificateBuilder | ECDSA P-256 certificate only, no seal, no database | {peer_c:,.0f} |")
    if peer_o:
        print(f"| openssl x509 -req per certificate | SM2 certificate only, one process each | {peer_o:,.0f} |")
    print("\ntarget: 1,000 seals/s on a 2-core machine")


if __name__ == "__main__":
    main()
