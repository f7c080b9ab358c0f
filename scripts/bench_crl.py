#!/usr/bin/env python3
"""CRL publication at scale: 1,000,000 revoked certificates.

For each database (SQLite file; PostgreSQL if reachable) it loads 1,000,000 revoked holder
certificates of the SM2 issuing CA (each with its CRL entry pre-encoded, as a revocation writes it),
then measures, each in a fresh process so peak memory is its own:

  ours, full       full SM2-signed CRL: database read + build + sign + atomic write to disk
  before, full     the same with the code this replaced, as of commit 375bb6f (--before REV; the
                   row-by-row entry read, and the number check that read the whole old file),
                   exported with ``git archive`` and run interleaved with "ours, full" (--repeat
                   times each), each run in a fresh process of its own; the two must read the same
                   entry bytes
  ours, delta      delta CRL after 1,000 new revocations on top of a published full CRL
  ours, shard      one shard CRL of ~20,000 entries (50 shards)

and in the same run, over the same 1,000,000 entries:

  openssl ca -gencrl   an index.txt the script writes, SM2 CA key, distid 1234567812345678
  cryptography         CertificateRevocationListBuilder given the whole list (ECDSA P-256: it
                       cannot sign SM2)

Usage: scripts/bench_crl.py [--count 1000000] [--repeat 2] [--before REV|none] [--postgres URL] [--skip-postgres]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# A child process measuring another tree's CRL code (see --before) imports that tree's registry.
sys.path.insert(0, os.environ.get("BENCH_CRL_SRC") or str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _benchlib  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

from registry.config import Settings  # noqa: E402
from registry.db.migrate import upgrade  # noqa: E402
from registry.db.models import Authority  # noqa: E402
from registry.pki import crl  # noqa: E402
from registry.services import authorities, crl_publish  # noqa: E402
from registry.services.context import Actor, ServiceContext  # noqa: E402

ADMIN = Actor.system("bench")
SHARDS = 50
NOW = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)


def settings_for(url: str, instance: Path) -> Settings:
    return Settings.from_env(
        {
            "REGISTRY_DATABASE_URL": url,
            "REGISTRY_INSTANCE_PATH": str(instance),
            "REGISTRY_KEK": "33" * 32,
            "REGISTRY_BASE_URL": "http://bench.test",
            "REGISTRY_CRL_SHARDS": str(SHARDS),
            "REGISTRY_CRL_VALIDITY_HOURS": "24",
        }
    )


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def in_child(fn, *args):  # type: ignore[no-untyped-def]
    """Run fn(*args) -> seconds in a forked process; returns (seconds, peak RSS MB of that process)."""
    ctx = mp.get_context("fork")
    q = ctx.Queue()

    def target() -> None:
        try:
            q.put((fn(*args), peak_mb(), None))
        except BaseException as exc:  # noqa: BLE001
            q.put((None, None, repr(exc)))

    p = ctx.Process(target=target)
    p.start()
    seconds, mb, err = q.get()
    p.join()
    if err:
        raise SystemExit(f"benchmark step failed: {err}")
    return seconds, mb


def load(url: str, instance: Path, count: int) -> tuple[int, list[int]]:
    """Hierarchy plus ``count`` revoked holder certificates of sm2-issuing; returns (issuer id, serials)."""
    upgrade(url)
    ctx = ServiceContext.create(settings_for(url, instance))
    authorities.ensure_hierarchies(ctx, ADMIN)
    with ctx.reader() as s:
        issuer_id = s.scalar(select(Authority.id).where(Authority.name == "sm2-issuing"))
    t0 = time.perf_counter()
    serials = [int.from_bytes(os.urandom(16), "big") >> 1 | (1 << 126) for _ in range(count)]
    not_after = NOW + dt.timedelta(days=700)
    revoked_at = NOW - dt.timedelta(days=1)
    entries = [crl.encode_entry(sn, revoked_at, crl.CrlReason.KEY_COMPROMISE) for sn in serials]
    naive = lambda d: d.replace(tzinfo=None)  # noqa: E731
    if url.startswith("sqlite"):
        import sqlite3

        con = sqlite3.connect(url.split("///", 1)[1])
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("BEGIN")
        base = con.execute("SELECT coalesce(max(id), 0) FROM certificates").fetchone()[0]
        con.executemany(
            "INSERT INTO certificates (id, issuer_id, serial, kind, subject, algorithm, shard, not_before, not_after, "
            "der, key_fingerprint, status, created_at) VALUES (?, ?, ?, 'holder', 'bench', 'sm2', ?, ?, ?, x'', '', "
            "'revoked', ?)",
            (
                (
                    base + i + 1,
                    issuer_id,
                    format(sn, "x"),
                    sn % SHARDS,
                    str(naive(NOW)),
                    str(naive(not_after)),
                    str(naive(NOW)),
                )
                for i, sn in enumerate(serials)
            ),
        )
        con.executemany(
            "INSERT INTO revocations (certificate_id, issuer_id, shard, reason, revoked_at, not_after, entry_der) "
            "VALUES (?, ?, ?, 1, ?, ?, ?)",
            (
                (base + i + 1, issuer_id, sn % SHARDS, str(naive(revoked_at)), str(naive(not_after)), e)
                for i, (sn, e) in enumerate(zip(serials, entries, strict=True))
            ),
        )
        con.commit()
        con.close()
    else:
        import psycopg

        with psycopg.connect(url) as con, con.cursor() as cur:
            cur.execute("SELECT coalesce(max(id), 0) FROM certificates")
            base = cur.fetchone()[0]
            with cur.copy(
                "COPY certificates (id, issuer_id, serial, kind, subject, algorithm, shard, not_before, "
                "not_after, der, key_fingerprint, status, created_at) FROM STDIN"
            ) as cp:
                for i, sn in enumerate(serials):
                    cp.write_row(
                        (
                            base + i + 1,
                            issuer_id,
                            format(sn, "x"),
                            "holder",
                            "bench",
                            "sm2",
                            sn % SHARDS,
                            naive(NOW),
                            naive(not_after),
                            b"",
                            "",
                            "revoked",
                            naive(NOW),
                        )
                    )
            cur.execute("SELECT setval(pg_get_serial_sequence('certificates', 'id'), %s)", (base + count,))
            with cur.copy(
                "COPY revocations (certificate_id, issuer_id, shard, reason, revoked_at, not_after, "
                "entry_der) FROM STDIN"
            ) as cp:
                for i, (sn, e) in enumerate(zip(serials, entries, strict=True)):
                    cp.write_row((base + i + 1, issuer_id, sn % SHARDS, 1, naive(revoked_at), naive(not_after), e))
            cur.execute("ANALYZE revocations")
    print(f"  loaded {count:,} revocations in {time.perf_counter() - t0:.1f} s", flush=True)
    ctx.engine.dispose()
    return issuer_id, serials


# -- the full CRL, ours and before: each run in a fresh process importing its own tree's registry --


def export_tree(rev: str, dest: Path) -> Path | None:
    """``registry/`` as of ``rev`` (git archive: read-only), or None when it cannot be had."""
    try:
        blob = subprocess.run(
            ["git", "-C", str(ROOT), "archive", rev, "registry"], check=True, capture_output=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"before: commit {rev} not available ({type(exc).__name__}); measuring ours only")
        return None
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def _tree_crl_functions():  # type: ignore[no-untyped-def]
    """(snapshot, read entries, write atomically) of the tree this process imported: today's
    names, or those of a tree from before the CRL code was split (all in services/crl_publish.py)."""
    try:
        from registry.db import crl_entries
        from registry.services.crls import files

        return crl_entries.snapshot, crl_entries.entries, files.write_atomically
    except ImportError:
        old = crl_publish
        return old._snapshot, old._entries, old.write_atomically


def full_crl(url: str, instance: str, issuer_id: int, variant: str) -> float:
    """The full CRL with the tree this process imported: entries read, built, signed, written over
    the previous file (whose number is checked). The entries' SHA-256 goes to a file so the parent
    can check both trees read the same bytes."""
    import hashlib

    snapshot, read, write_atomically = _tree_crl_functions()
    ctx = ServiceContext.create(settings_for(url, Path(instance)))
    with ctx.reader() as s:
        auth = authorities.load(ctx, s, "sm2-issuing")
    out = Path(instance) / "publish" / "bench-full.crl"
    number = time.time_ns()  # runs follow each other within the second
    t0 = time.perf_counter()
    with ctx.reader() as s:
        snapshot(s)
        entries, n = read(s.connection(), issuer_id, None, NOW)
    t_hash = time.perf_counter()
    digest = hashlib.sha256(entries).hexdigest()  # not part of publishing: its time is taken out
    hashing = time.perf_counter() - t_hash
    data = crl.build_crl(
        signer=auth.signer,
        issuer_name_der=auth.certificate.subject_der,
        authority_key_id=auth.key_id,
        number=number,
        this_update=NOW,
        next_update=NOW + dt.timedelta(hours=24),
        entries=entries,
        freshest_url="http://bench.test/crl/sm2-issuing-delta.crl",
    )
    del entries
    write_atomically(out, data, number)
    seconds = time.perf_counter() - t0 - hashing
    if crl.parse_crl(data).entry_count != n:
        raise SystemExit(f"{variant}: the CRL does not hold the {n} entries read")
    Path(instance, f"entries-{variant}.sha256").write_text(f"{digest} {n}")
    return seconds


def full_in_fresh_process(src: Path, variant: str, url: str, instance: Path, issuer_id: int) -> tuple[float, float]:
    """:func:`full_crl` in a new interpreter importing ``src``'s registry; (seconds, its peak RSS MB)."""
    env = {**os.environ, "BENCH_CRL_SRC": str(src)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", url, str(instance), str(issuer_id), variant]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"benchmark child failed ({variant}, {src}):\n{done.stdout}{done.stderr}")
    seconds, mb = json.loads(done.stdout.splitlines()[-1])
    return seconds, mb


def child(argv: list[str]) -> None:
    url, instance, issuer_id, variant = argv
    seconds = full_crl(url, instance, int(issuer_id), variant)
    print(json.dumps([seconds, peak_mb()]))


def ours_publish_then_delta(url: str, instance: str, issuer_id: int, extra: int) -> float:
    """Publish everything once (the base), add ``extra`` revocations, then time the delta CRL."""
    from sqlalchemy import insert

    from registry.db import crl_entries
    from registry.db.models import Certificate, Revocation, RevocationEvent
    from registry.domain.states import CertificateStatus
    from registry.pki.keys import Algorithm
    from registry.services.crls import files

    ctx = ServiceContext.create(settings_for(url, Path(instance)))
    crl_publish.publish(ctx, ADMIN, ["sm2-issuing"])
    at = dt.datetime.now(dt.UTC)
    with ctx.transaction() as s:
        conn = s.connection()
        for _ in range(extra):
            sn = int.from_bytes(os.urandom(16), "big") >> 1 | (1 << 126)
            cid = conn.execute(
                insert(Certificate)
                .values(
                    issuer_id=issuer_id,
                    serial=format(sn, "x"),
                    kind="holder",
                    subject="bench",
                    algorithm=Algorithm.SM2,
                    shard=sn % SHARDS,
                    not_before=NOW,
                    not_after=NOW + dt.timedelta(days=700),
                    der=b"",
                    key_fingerprint="",
                    status=CertificateStatus.REVOKED,
                    created_at=NOW,
                )
                .returning(Certificate.id)
            ).scalar_one()
            e = crl.encode_entry(sn, at, crl.CrlReason.KEY_COMPROMISE)
            conn.execute(
                insert(Revocation).values(
                    certificate_id=cid,
                    issuer_id=issuer_id,
                    shard=sn % SHARDS,
                    reason=1,
                    revoked_at=at,
                    not_after=NOW + dt.timedelta(days=700),
                    entry_der=e,
                )
            )
            conn.execute(
                insert(RevocationEvent).values(
                    issuer_id=issuer_id,
                    certificate_id=cid,
                    shard=sn % SHARDS,
                    kind="listed",
                    occurred_at=at,
                    not_after=NOW + dt.timedelta(days=700),
                    entry_der=e,
                )
            )
    with ctx.reader() as s:
        auth = authorities.load(ctx, s, "sm2-issuing")
        base = s.execute(
            select(text("number, watermark"))
            .select_from(text("published_crls"))
            .where(text("issuer_id = :i AND kind = 'full'"))
            .order_by(text("number DESC"))
            .limit(1),
            {"i": issuer_id},
        ).first()
    t0 = time.perf_counter()
    with ctx.reader() as s:
        crl_entries.snapshot(s)
        conn = s.connection()
        from sqlalchemy import func

        top = conn.execute(
            select(func.max(RevocationEvent.id)).where(RevocationEvent.issuer_id == issuer_id)
        ).scalar_one()
        entries, n = crl_entries.delta(conn, issuer_id, base.watermark, top, None)
    data = crl.build_crl(
        signer=auth.signer,
        issuer_name_der=auth.certificate.subject_der,
        authority_key_id=auth.key_id,
        number=base.number + 10_000,
        this_update=at,
        next_update=at + dt.timedelta(hours=24),
        entries=entries,
        delta_base=base.number,
    )
    files.write_atomically(Path(instance) / "publish" / "bench-delta.crl", data, base.number + 10_000)
    seconds = time.perf_counter() - t0
    assert n == extra, (n, extra)
    return seconds


def ours_shard(url: str, instance: str, issuer_id: int) -> float:
    from registry.db import crl_entries
    from registry.services.crls import files

    ctx = ServiceContext.create(settings_for(url, Path(instance)))
    with ctx.reader() as s:
        auth = authorities.load(ctx, s, "sm2-issuing")
    t0 = time.perf_counter()
    with ctx.reader() as s:
        entries, n = crl_entries.entries(s.connection(), issuer_id, 7, NOW)
    data = crl.build_crl(
        signer=auth.signer,
        issuer_name_der=auth.certificate.subject_der,
        authority_key_id=auth.key_id,
        number=int(time.time()),
        this_update=NOW,
        next_update=NOW + dt.timedelta(hours=24),
        entries=entries,
        idp_url="http://bench.test/crl/sm2-issuing/shard-7.crl",
    )
    files.write_atomically(Path(instance) / "publish" / "bench-shard.crl", data, int(time.time()))
    seconds = time.perf_counter() - t0
    print(f"  (shard 7 holds {n:,} entries)")
    return seconds


def openssl_gencrl(serials: list[int], workdir: str) -> float:
    w = Path(workdir)
    run = lambda *a: subprocess.run(["openssl", *a], cwd=w, check=True, capture_output=True)  # noqa: E731
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
        "/CN=bench SM2 CA",
        "-days",
        "3650",
        "-out",
        "ca.pem",
    )
    exp = (NOW + dt.timedelta(days=700)).strftime("%y%m%d%H%M%SZ")
    rev = (NOW - dt.timedelta(days=1)).strftime("%y%m%d%H%M%SZ")
    with open(w / "index.txt", "w") as fh:
        for sn in serials:
            fh.write(f"R\t{exp}\t{rev},keyCompromise\t{sn:X}\tunknown\t/CN=h{sn % 100000}\n")
    (w / "index.txt.attr").write_text("unique_subject = no\n")
    (w / "crlnumber").write_text("01\n")
    (w / "ca.cnf").write_text(f"""[ ca ]
default_ca = bench
[ bench ]
database = {w}/index.txt
crlnumber = {w}/crlnumber
certificate = {w}/ca.pem
private_key = {w}/ca.key
default_md = sm3
default_crl_days = 1
crl_extensions = crl_ext
[ crl_ext ]
authorityKeyIdentifier = keyid:always
""")
    t0 = time.perf_counter()
    run("ca", "-config", "ca.cnf", "-gencrl", "-sigopt", "distid:1234567812345678", "-out", "crl.pem")
    return time.perf_counter() - t0


def cryptography_builder(serials: list[int]) -> float:
    from cryptography import x509 as cx
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    at = NOW - dt.timedelta(days=1)
    t0 = time.perf_counter()
    revoked = [
        cx.RevokedCertificateBuilder()
        .serial_number(sn)
        .revocation_date(at)
        .add_extension(cx.CRLReason(cx.ReasonFlags.key_compromise), critical=False)
        .build()
        for sn in serials
    ]
    builder = cx.CertificateRevocationListBuilder(
        issuer_name=cx.Name([cx.NameAttribute(NameOID.COMMON_NAME, "bench CA")]),
        last_update=NOW,
        next_update=NOW + dt.timedelta(days=1),
        revoked_certificates=revoked,
    )
    data = builder.sign(key, hashes.SHA256()).public_bytes(
        __import__("cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]).Encoding.DER
    )
    seconds = time.perf_counter() - t0
    assert len(data) > len(serials) * 30
    return seconds


def pg_database(base_url: str):  # type: ignore[no-untyped-def]
    return _benchlib.pg_database(base_url, "registry_crlbench")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument(
        "--postgres", default=os.environ.get("REGISTRY_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    )
    ap.add_argument("--repeat", type=int, default=2, help="runs of the full CRL, after and before interleaved")
    ap.add_argument("--skip-postgres", action="store_true")
    ap.add_argument(
        "--before",
        default="375bb6f",
        help="commit whose CRL code is measured next to ours (375bb6f: the one before the aggregated read), or none",
    )
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores; {args.count:,} revoked certificates; {SHARDS} shards")
    tmp = Path(tempfile.mkdtemp(prefix="bench-crl-"))
    rows: list[tuple[str, str, list[tuple[float, float]]]] = []
    trees = {"after": ROOT}
    if args.before.lower() != "none":
        before = export_tree(args.before, tmp / "before")
        if before is not None:
            trees["before"] = before
    backends = [("SQLite", f"sqlite:///{tmp / 'bench.db'}", None)]
    if not args.skip_postgres:
        pg = pg_database(args.postgres)
        if pg:
            backends.append(("PostgreSQL", pg[0], pg[1]))
    serials: list[int] = []
    try:
        for label, url, _drop in backends:
            inst = tmp / label
            inst.mkdir()
            issuer_id, serials = load(url, inst, args.count)
            runs: dict[str, list[tuple[float, float]]] = {variant: [] for variant in trees}
            for _ in range(args.repeat):  # interleaved, so the machine's mood falls on both alike
                for variant, src in trees.items():
                    s, mb = full_in_fresh_process(src, variant, url, inst, issuer_id)
                    runs[variant].append((s, mb))
                    print(f"  {label}: full ({variant}) {s:.2f} s, {mb:.0f} MB", flush=True)
            same = {(inst / f"entries-{v}.sha256").read_text() for v in runs}
            if len(same) != 1:
                raise SystemExit(f"{label}: the two reads gave different entries: {same}")
            rows.append((label, f"ours: full SM2 CRL, {args.count:,} entries, DB → signed file", runs["after"]))
            if "before" in runs:
                rows.append((label, "before (row-by-row read, whole old file read): the same full CRL", runs["before"]))
            s, mb = in_child(ours_shard, url, str(inst), issuer_id)
            rows.append((label, "ours: one shard CRL (~20,000 entries)", [(s, mb)]))
            s, mb = in_child(ours_publish_then_delta, url, str(inst), issuer_id, 1000)
            rows.append((label, "ours: delta CRL after 1,000 new revocations", [(s, mb)]))
            print(f"  {label}: shard and delta done", flush=True)
        work = tmp / "openssl"
        work.mkdir()
        s, _python_mb = in_child(openssl_gencrl_measured, serials, str(work))
        mb = float((work / "rss").read_text())  # the openssl process itself
        rows.append(("—", f"openssl ca -gencrl, {args.count:,} entries (index.txt)", [(s, mb)]))
        s, mb = in_child(cryptography_builder, serials)
        rows.append(("—", f"cryptography CRL builder, {args.count:,} entries (ECDSA)", [(s, mb)]))
    finally:
        for _label, _url, drop in backends:
            if drop:
                drop()
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print("| database | what | seconds | peak RSS MB |")
    print("|---|---|---|---|")
    for label, what, runs_ in rows:  # several runs: min – max seconds, the highest peak
        lo, hi = min(r[0] for r in runs_), max(r[0] for r in runs_)
        secs = f"{lo:.3f}" if len(runs_) == 1 else f"{lo:.3f} – {hi:.3f}"
        print(f"| {label} | {what} | {secs} | {max(r[1] for r in runs_):.0f} |")
    print("\ntargets: full CRL ≤ 1.5 s and ≤ 400 MB; delta < 50 ms")


def openssl_gencrl_measured(serials: list[int], workdir: str) -> float:
    """openssl runs as a grandchild: report its own peak RSS, not this process's."""
    import resource

    seconds = openssl_gencrl(serials, workdir)
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    Path(workdir, "rss").write_text(str(child_mb))
    return seconds


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2:])
    else:
        main()
