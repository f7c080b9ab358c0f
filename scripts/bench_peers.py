#!/usr/bin/env python3
"""Ingesting a peer's 1,000,000-entry SM2 CRL (mutual-recognition issue; target ≤ 5 s).

A "Beijing" registry (SQLite, in a temporary directory) with its hierarchies and trust list; its
SM2 root signs a CRL of 1,000,000 entries (made once and cached in .cache/bench-peers/, with the
root's key, since encoding them takes a while); a plain HTTP server on loopback serves its
publish directory. "Shenzhen" (SQLite file; PostgreSQL too if reachable) admits Beijing through
the real services (proposal, second person), then the measured step, through the real code:

  ours, ingest     fetch the CRL from the local server, parse, verify the SM2 signature against
                   the CA the list names, check its number, store it and its 1,000,000 entries
                   (PostgreSQL COPY, SQLite executemany), in one transaction
  ours, lookup     one (issuer, serial) lookup in the stored entries (mean of 10,000)

and in the same run, over the same file:

  openssl crl -noout -text   OpenSSL reading and printing every entry

and, on each database, the second target (within 10 % of our own):

  own signatures   --signatures distinct SES signatures (each its own seal) of Shenzhen's own,
                   verified through the service path (registry.services.verify.verify_file)
  peer signatures  the same number made in Beijing, verified in Shenzhen through the same path
                   (the peer's list in force, its CRLs from the database, who vouched)

Usage: scripts/bench_peers.py [--count 1000000] [--signatures 3000] [--postgres URL] [--skip-postgres]
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import hashlib
import http.server
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from _benchlib import pg_database  # noqa: E402
from sqlalchemy import select  # noqa: E402

from registry.config import Settings  # noqa: E402
from registry.db.migrate import upgrade  # noqa: E402
from registry.db.models import Authority  # noqa: E402
from registry.domain.roles import Role  # noqa: E402
from registry.pki import crl, x509  # noqa: E402
from registry.pki.keys import PrivateKey, decrypt_private_key  # noqa: E402
from registry.services import authorities, crl_publish, peers, trust_lists  # noqa: E402
from registry.services.context import Actor, ServiceContext  # noqa: E402
from registry.services.core.tx import reading  # noqa: E402
from registry.services.peers.crls import lookup, refresh_crls  # noqa: E402

KEK = "22" * 32
ADMIN = Actor.system("bench")
ADA = Actor("ada", roles=frozenset({Role.ADMIN}))
RITA = Actor("rita", roles=frozenset({Role.REVIEWER}))
CACHE = ROOT / ".cache" / "bench-peers"


def settings(instance: Path, url: str, base: str, area: str, name: str) -> Settings:
    return Settings.from_env(
        {
            "REGISTRY_INSTANCE_PATH": str(instance),
            "REGISTRY_DATABASE_URL": url,
            "REGISTRY_KEK": KEK,
            "REGISTRY_SECRET_KEY": "bench",
            "REGISTRY_BASE_URL": base,
            "REGISTRY_AREA_CODE": area,
            "REGISTRY_AUTHORITY_NAME": name,
            "REGISTRY_CRL_SHARDS": "1",
        }
    )


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def translate_path(self, path: str) -> str:
        # /trust/... → publish/trust/..., /crl/... → publish/...
        served = Path(self.directory)
        path = path.split("?", 1)[0]
        if path.startswith("/crl/"):
            return str(served / path[len("/crl/") :])
        return str(served / path.lstrip("/"))


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def big_crl(count: int, root_key: PrivateKey, root_cert: x509.Certificate) -> tuple[bytes, list[int]]:
    """A CRL of ``count`` entries signed by the root (entries cached: encoding them is slow)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    entries_file, serials_file = CACHE / f"entries-{count}.der", CACHE / f"serials-{count}.txt"
    if not entries_file.exists():
        t = time.perf_counter()
        rng = random.Random(20261204)
        serials = sorted({(1 << 119) | rng.getrandbits(118) for _ in range(count + count // 100)})[:count]
        rng.shuffle(serials)
        when = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
        with open(entries_file, "wb") as fh:
            for sn in serials:
                fh.write(crl.encode_entry(sn, when, crl.CrlReason.KEY_COMPROMISE))
        serials_file.write_text("\n".join(format(s, "x") for s in serials))
        print(f"(made {count:,} entries once in {time.perf_counter() - t:.1f} s, cached in {CACHE})")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    data = crl.build_crl(
        signer=root_key,
        issuer_name_der=root_cert.subject_der,
        authority_key_id=root_cert.subject_key_id or root_key.public_key.key_identifier(),
        number=1_000_000,
        this_update=now,
        next_update=now + dt.timedelta(hours=24),
        entries=entries_file.read_bytes(),
    )
    return data, [int(s, 16) for s in serials_file.read_text().split()]


def beijing(
    workdir: Path, count: int, n_signatures: int
) -> tuple[tuple[ServiceContext, Path, list[int], str], list[tuple[bytes, bytes]]]:
    publish = workdir / "bj" / "publish"
    publish.mkdir(parents=True)
    server, base = serve(publish)
    db = workdir / "bj.db"
    upgrade(f"sqlite:///{db}")
    ctx = ServiceContext.create(
        settings(workdir / "bj", f"sqlite:///{db}", base, "110000", "北京市市场监督管理局"), create_keys=True
    )
    authorities.ensure_hierarchies(ctx, ADMIN)
    trust_lists.publish(ctx, ADMIN)
    pairs = signatures(ctx, n_signatures, "bj") if n_signatures else []
    crl_publish.publish(ctx, ADMIN)  # Beijing's CRLs, issued after the signatures (so they speak for them)
    with ctx.reader() as s:
        root = s.scalar(select(Authority).where(Authority.name == "sm2-root"))
        assert root is not None
        key = decrypt_private_key(root.key_blob, ctx.require_keyring().keys)
        cert = x509.Certificate.from_der(root.certificate_der)
    data, serials = big_crl(count, key, cert)
    (publish / "sm2-root.crl").write_bytes(data)  # the root's CRL, now with a million entries
    return (ctx, publish / "sm2-root.crl", serials, base), pairs


def shenzhen(url: str, workdir: Path, bj_base: str, bj_ctx: ServiceContext) -> ServiceContext:
    upgrade(url)
    ctx = ServiceContext.create(
        settings(workdir / "sz", url, "http://sz.bench", "440300", "深圳市市场监督管理局"), create_keys=True
    )
    authorities.ensure_hierarchies(ctx, ADMIN)
    pins = [h for _alg, h in trust_lists.fingerprints(bj_ctx)]
    peers.propose(ctx, ADA, "beijing", f"{bj_base}/trust/list.jws", "110000", pins)
    peers.approve(ctx, RITA, "beijing")
    return ctx


def signatures(ctx: ServiceContext, n: int, prefix: str) -> list[tuple[bytes, bytes]]:
    """``n`` distinct seals of this registry and one SES signature each (bench_verify's), signed
    once they are issued, so that CRLs published after this speak for them."""
    from bench_verify import issue_and_sign  # noqa: PLC0415 - the verifier benchmark's signatures

    return issue_and_sign(ctx, n, n, dt.timedelta(0), prefix)


def rate(ctx: ServiceContext, pairs: list[tuple[bytes, bytes]]) -> float:
    """Signatures per second through the service path (warm-up pass, then the best of two)."""
    from bench_verify import service_pass  # noqa: PLC0415

    run = service_pass(ctx, pairs, dt.datetime.now(dt.UTC))
    run()
    best = 0.0
    for _ in range(2):
        t = time.perf_counter()
        run()
        best = max(best, len(pairs) / (time.perf_counter() - t))
    return best


def measure(
    label: str,
    url: str,
    workdir: Path,
    bj: tuple[ServiceContext, Path, list[int], str],
    peer_pairs: list[tuple[bytes, bytes]],
) -> None:
    bj_ctx, crl_path, serials, base = bj
    ctx = shenzhen(url, workdir, base, bj_ctx)
    target = f"{base}/crl/sm2-root.crl"
    t = time.perf_counter()
    [result] = refresh_crls(ctx, ADMIN, "beijing", only=target)
    ingest = time.perf_counter() - t
    assert result.outcome == "stored" and result.entries == len(serials), result
    with bj_ctx.reader() as s:  # the listed root's certificate: the key the entries are stored under
        root = s.scalar(select(Authority).where(Authority.name == "sm2-root"))
        assert root is not None
        issuer = hashlib.sha256(root.certificate_der).hexdigest()
    probes = random.Random(1).sample(serials, min(10_000, len(serials)))
    with reading(ctx, ADMIN) as tx:
        t = time.perf_counter()
        for sn in probes:
            assert lookup(tx, issuer, sn) is not None
        per = (time.perf_counter() - t) / len(probes)
    print(
        f"{label:10} ours, ingest   {ingest:7.2f} s   ({len(serials):,} entries, {crl_path.stat().st_size / 1e6:.0f} MB; target ≤ 5 s)"
    )
    print(f"{label:10} peer lookup    {per * 1e6:7.1f} µs per (issuer, serial), in {len(serials):,} entries")
    if peer_pairs:
        for listed in refresh_crls(ctx, ADMIN, "beijing"):  # every other CRL Beijing's list names
            assert listed.outcome in ("stored", "unchanged", "not-modified"), listed
        own_pairs = signatures(ctx, len(peer_pairs), "sz")
        own_lookup = own_status_lookup(ctx)
        print(
            f"{label:10} own lookup     {own_lookup * 1e6:7.1f} µs per (issuer, serial) of our own certificates "
            "(the verifier's status statement, same layer)"
        )
        own = rate(ctx, own_pairs)
        peer = rate(ctx, peer_pairs)
        print(f"{label:10} own signatures  {own:7.0f} /s   ({len(own_pairs):,} distinct, each its own seal)")
        print(f"{label:10} peer signatures {peer:7.0f} /s   ({peer / own:.0%} of own; target ≥ 90 %)")
    ctx.engine.dispose()


def own_status_lookup(ctx: ServiceContext) -> float:
    """Mean time of the verifier's status statement for one of our own certificates (issuer id,
    serial) through the same layer as the peer lookup (a plain statement on the transaction's
    connection, the row decoded): what "no more than one of our own" is measured against."""
    from sqlalchemy import text  # noqa: PLC0415

    from registry.db.models import Certificate  # noqa: PLC0415
    from registry.services import verify  # noqa: PLC0415

    sql = text(verify._STATUS_SQL + "c.issuer_id = :issuer AND c.serial = :serial")  # noqa: SLF001
    with reading(ctx, ADMIN) as tx:
        pairs = tx.session.execute(select(Certificate.issuer_id, Certificate.serial)).all()
        probes = random.Random(2).choices(pairs, k=10_000)
        t = time.perf_counter()
        for issuer_id, serial in probes:
            row = tx.conn.execute(sql, {"issuer": issuer_id, "serial": serial}).first()
            assert row is not None
            verify._db_status(row[3], row[4], row[5])  # noqa: SLF001
        return (time.perf_counter() - t) / len(probes)


def openssl_text(path: Path) -> float | None:
    exe = shutil.which("openssl")
    if exe is None:
        print("openssl not found: its figure is not measured")
        return None
    t = time.perf_counter()
    subprocess.run(
        [exe, "crl", "-inform", "DER", "-in", str(path), "-noout", "-text"], check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--signatures", type=int, default=3000)
    ap.add_argument(
        "--postgres",
        default=os.environ.get("REGISTRY_TEST_POSTGRES_URL") or "postgresql://postgres@127.0.0.1:5432/test",
    )
    ap.add_argument("--skip-postgres", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp:
        workdir = Path(tmp)
        bj, peer_pairs = beijing(workdir, args.count, args.signatures)
        print(f"peer CRL: {args.count:,} entries, SM2, {bj[1].stat().st_size / 1e6:.0f} MB, served on loopback")
        measure("SQLite", f"sqlite:///{workdir / 'sz.db'}", workdir / "sqlite", bj, peer_pairs)
        if not args.skip_postgres:
            made = pg_database(args.postgres)
            if made is not None:
                url, drop = made
                try:
                    measure("PostgreSQL", url, workdir / "pg", bj, peer_pairs)
                finally:
                    drop()
        seconds = openssl_text(bj[1])
        if seconds is not None:
            print(f"{'same file':10} openssl crl -noout -text {seconds:7.2f} s")
        bj[0].engine.dispose()


if __name__ == "__main__":
    main()
