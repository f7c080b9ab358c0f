#!/usr/bin/env python3
"""Verifier throughput: SES signatures verified per second in one process, and OCSP responses per second.

SES signatures (target: at least 1,000/s in one process on a 2-core machine). --signatures distinct
GB/T 38540 v4 signatures over distinct 4 KB documents, made with --seals distinct seals of this
registry, are verified through the same service the CLI, the API and the public page call
(``registry.services.verify.verify_file``: parse, signer signature, certList, seal-maker signature,
chains to our roots, revocation status from the database, seal record, document digest), on SQLite
and on PostgreSQL if reachable. Every verdict must be "valid" or the run fails. In the same run:

  pure         the same checks with an in-memory trust source (no database): the cryptographic floor
  sm2 verify   one raw SM2 verification (SM3 with Z, then the curve check) through the system
               libcrypto (OpenSSL, what the verifier uses: EVP_PKEY_verify for a new key, the
               key's own table of multiples once it is in steady use) and through gmalglib (the
               fallback)

Each SES signature needs two SM2 verifications (the signer's over TBS_Sign, the seal maker's over
SES_SealInfo); certificate-chain signatures are cached per process (certificates don't change),
revocation status is not. The seal maker's key is in steady use from the start; in 'each its own
seal' every signer key is new to the process (used twice: warm-up and timed pass), in 'shared
seals' each is used 50 times a pass.

before: the same measurements with the verifier as of commit 6a026eb (--before REV; the code this
change replaced: node-by-node SES decoding, the seal decoded twice, strptime, gmalglib SM3 for the
document, EVP_PKEY_verify for every SM2 verification, a pooled SQLAlchemy connection per
verification), exported with ``git archive`` and run
interleaved with ours, each measurement in a fresh process of its own (warm-up pass, then one timed
pass; --repeat rounds), over the same signatures and database. --callgrind N also counts the
instructions per verification (valgrind --tool=callgrind, first N signatures, SQLite; the difference
between two passes and one, so start-up and warm-up cancel out): repeatable where timings are not.

OCSP: scripts/bench_ocsp.py (gunicorn with 2 workers against ``openssl ocsp`` as a responder over
the same certificates), run from here unless --skip-ocsp.

Usage: scripts/bench_verify.py [--signatures 3000] [--seals 60] [--repeat 3] [--before REV|none]
                               [--callgrind N] [--postgres URL] [--skip-postgres] [--skip-ocsp]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import pickle
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# A child process measuring another tree's verifier (see --before) imports that tree's registry.
sys.path.insert(0, os.environ.get("BENCH_VERIFY_SRC") or str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _benchlib  # noqa: E402

from registry.config import Settings  # noqa: E402
from registry.db.migrate import upgrade  # noqa: E402
from registry.domain.roles import Role  # noqa: E402
from registry.pki import _libcrypto, ses  # noqa: E402
from registry.pki import verify as pv  # noqa: E402
from registry.pki.keys import SM2_DEFAULT_UID, Algorithm, PrivateKey, sm2_digest  # noqa: E402
from registry.pki.uscc import orgcode_check_char, uscc_check_char  # noqa: E402
from registry.pki.x509 import Certificate  # noqa: E402
from registry.services import authorities, licences, seals, users, verify  # noqa: E402
from registry.services.context import Actor, ServiceContext  # noqa: E402

ADMIN = Actor.system("bench")


def uscc(i: int) -> str:
    body = f"W{i:07d}"
    first17 = "91440300" + body + orgcode_check_char(body)
    return first17 + uscc_check_char(first17)


def prepare(url: str, instance: Path, n_seals: int, n_sigs: int) -> tuple[ServiceContext, list[tuple[bytes, bytes]]]:
    settings = Settings.from_env(
        {
            "REGISTRY_INSTANCE_PATH": str(instance),
            "REGISTRY_DATABASE_URL": url,
            "REGISTRY_KEK": "22" * 32,
            "REGISTRY_SECRET_KEY": "bench",
        }
    )
    upgrade(url)
    ctx = ServiceContext.create(settings)
    authorities.ensure_hierarchies(ctx, ADMIN)
    return ctx, issue_and_sign(ctx, n_seals, n_sigs, dt.timedelta(seconds=1))


def issue_and_sign(
    ctx: ServiceContext, n_seals: int, n_sigs: int, after: dt.timedelta, prefix: str = ""
) -> list[tuple[bytes, bytes]]:
    """``n_seals`` distinct seals of this registry (licences, two staff, batches of 500) and
    ``n_sigs`` SES signatures made with them over distinct 4 KB documents, signed ``after`` the
    clock's time once the seals are issued."""
    users.add_user(ctx, ADMIN, f"{prefix}op", [Role.OPERATOR])
    users.add_user(ctx, ADMIN, f"{prefix}rev", [Role.REVIEWER])
    rows = ["uscc,name,legal_representative,entity_type,address,registered_on,status"]
    rows += [f"{uscc(i)},验证基准企业{i}有限公司,张{i},有限责任公司,深圳市,2020-01-01,active" for i in range(n_seals)]
    licences.import_licences(ctx, ADMIN, "\n".join(rows).encode(), "bench.csv")
    issued = []
    for start in range(0, n_seals, 500):  # issue_seals takes at most 500 per batch
        issued += seals.issue_seals(
            ctx,
            ADMIN,
            [
                seals.IssueRequest(
                    uscc=uscc(i),
                    seal_type="contract",
                    key=seals.KeyMaterial(generate=True),
                    operator=f"{prefix}op",
                    approver=f"{prefix}rev",
                )
                for i in range(start, min(n_seals, start + 500))
            ],
        )
    signing_time = ctx.clock.now() + after
    pairs = []
    for j in range(n_sigs):
        r = issued[j % len(issued)]
        assert r.private_key_pem is not None
        doc = os.urandom(4096)
        sig = ses.make_signature(
            seal=r.seal_der,
            signer_cert=r.certificate_der,
            signer=PrivateKey.from_pem(r.private_key_pem),
            data_hash=ses.document_digest(Algorithm.SM2.signature_oid, doc),
            property_info=f"file=doc{j}.bin;size=4096",
            signing_time=signing_time,
        )
        pairs.append((sig, doc))
    return pairs


def _seal_signature_cache_clear() -> None:
    """Every timed pass starts with no seal verified or decoded (works on either tree's code)."""
    checks = getattr(pv, "checks", pv)  # a package since the split, a module before
    if hasattr(checks, "_seal_verdicts"):
        checks._seal_verdicts.clear()
        getattr(ses, "decode", ses)._parsed_seals.clear()  # a package since the split, a module before
    else:  # before: an lru_cache over the seal's bytes
        pv._seal_signature_verdict.cache_clear()


def rate(n: int, fn) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn()
    return n / (time.perf_counter() - t0)


def best_of(runs: int, n: int, fn) -> tuple[float, list[float]]:  # type: ignore[no-untyped-def]
    rates = [rate(n, fn) for _ in range(runs)]
    return max(rates), rates


def service_pass(ctx: ServiceContext, pairs: list[tuple[bytes, bytes]], at: dt.datetime):  # type: ignore[no-untyped-def]
    def run() -> None:
        _seal_signature_cache_clear()
        for sig, doc in pairs:
            report = verify.verify_file(ctx, sig, document=doc, at=at)
            if report.verdict != "valid":
                raise SystemExit(f"benchmark signature not valid: {report.to_json()}")

    return run


class MemoryTrust:
    """Our anchors and intermediates, every certificate good: the verifier without a database."""

    def __init__(self, store: verify.TrustStore) -> None:
        self.store = store

    def issuers(self, cert: Certificate) -> list[Certificate]:
        return self.store.by_subject(cert.issuer)

    def is_anchor(self, cert: Certificate) -> bool:
        return cert.der in self.store.anchors

    def status(self, cert: Certificate, issuer: Certificate) -> pv.Status:
        return pv.Status("good")

    def seal_record(self, seal: ses.Seal) -> pv.SealRecord | None:
        return None


def pure_pass(ctx: ServiceContext, pairs: list[tuple[bytes, bytes]], at: dt.datetime):  # type: ignore[no-untyped-def]
    trust = MemoryTrust(verify.trust_store(ctx))

    def run() -> None:
        _seal_signature_cache_clear()
        for sig, doc in pairs:
            if pv.verify_signature(sig, at, trust, document=doc).verdict != "valid":
                raise SystemExit("benchmark signature not valid (pure)")

    return run


def child(argv: list[str]) -> None:
    """``--child MODE URL INSTANCE PAIRS LIMIT PASSES``: warm up, then print the rate of each timed
    pass as JSON (PASSES < 0: that many untimed passes, for callgrind)."""
    mode, url, instance, pairs_file, limit, passes = argv
    settings = Settings.from_env(
        {
            "REGISTRY_INSTANCE_PATH": instance,
            "REGISTRY_DATABASE_URL": url,
            "REGISTRY_KEK": "22" * 32,
            "REGISTRY_SECRET_KEY": "bench",
        }
    )
    ctx = ServiceContext.create(settings)
    data = pickle.loads(Path(pairs_file).read_bytes())
    pairs = data["pairs"][: int(limit) or None]
    run = (service_pass if mode == "service" else pure_pass)(ctx, pairs, data["at"])
    run()  # warm: trust store, certificate and chain caches, the database connection
    n = int(passes)
    if n < 0:
        for _ in range(-n):
            run()
        return
    print(json.dumps([rate(len(pairs), run) for _ in range(n)]))


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
        tar.extractall(dest)
    return dest


def in_child(
    src: Path,
    mode: str,
    url: str,
    instance: Path,
    pairs_file: Path,
    limit: int = 0,
    passes: int = 1,
    wrap: list[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BENCH_VERIFY_SRC": str(src), "PYTHONHASHSEED": "0"}
    cmd = [
        *(wrap or []),
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        mode,
        url,
        str(instance),
        str(pairs_file),
        str(limit),
        str(passes),
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"benchmark child failed ({src.name}, {mode}):\n{done.stdout}{done.stderr}")
    return done


def interleaved(
    trees: dict[str, Path], mode: str, url: str, instance: Path, pairs_file: Path, rounds: int
) -> dict[str, list[float]]:
    """Rates of one timed pass per fresh process, ours and before alternating, so the machine's
    mood falls on both alike."""
    rates: dict[str, list[float]] = {name: [] for name in trees}
    for _ in range(rounds):
        for name, src in trees.items():
            rates[name] += json.loads(in_child(src, mode, url, instance, pairs_file).stdout)
    return rates


def instructions(src: Path, mode: str, url: str, instance: Path, pairs_file: Path, n: int) -> float:
    """Instructions per verification: callgrind over two passes minus over one, divided by n."""
    counts = []
    for passes in (1, 2):
        done = in_child(
            src,
            mode,
            url,
            instance,
            pairs_file,
            n,
            -passes,
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"],
        )
        found = re.findall(r"Collected : (\d+)", done.stderr)
        if not found:
            raise SystemExit(f"no callgrind total in: {done.stderr[-500:]}")
        counts.append(int(found[-1]))
    return (counts[1] - counts[0]) / n


def sm2_rates(n: int = 3000) -> dict[str, float]:
    from gmalglib.sm2 import SM2

    key = PrivateKey.generate(Algorithm.SM2)
    data = os.urandom(2000)
    sig = key.sign(data)
    pub = key.public_key
    out = {}
    fast = _libcrypto.sm2_verifier(pub.point)
    if fast is not None:
        z = pub._verifier.get_entity_info()  # type: ignore[attr-defined]

        def lib(verify):  # type: ignore[no-untyped-def]
            def run() -> None:
                for _ in range(n):
                    assert verify(sm2_digest(z, data), sig)

            return run

        # a key's first verifications go to EVP_PKEY_verify; a key in steady use has its own table
        out["libcrypto EVP_PKEY_verify (a new key)"] = best_of(3, n, lib(fast.__self__.verify_evp))[0]  # type: ignore[attr-defined]
        out["libcrypto, key in steady use (table)"] = best_of(3, n, lib(fast))[0]
    g = SM2(pk=pub.point, uid=SM2_DEFAULT_UID)
    from registry.pki.keys import sig_from_der

    r, s = sig_from_der(sig)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def gm() -> None:
        z = g.get_entity_info()
        for _ in range(n):
            assert g.verify_digest(sm2_digest(z, data), raw)

    out["gmalglib"] = best_of(3, n, gm)[0]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--signatures", type=int, default=3000)
    ap.add_argument("--seals", type=int, default=60)
    ap.add_argument(
        "--postgres",
        default=os.environ.get("REGISTRY_TEST_POSTGRES_URL") or "postgresql://postgres@127.0.0.1:5432/test",
    )
    ap.add_argument("--skip-postgres", action="store_true")
    ap.add_argument("--skip-ocsp", action="store_true")
    ap.add_argument("--ocsp-requests", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=3, help="timed passes of each, ours and before interleaved")
    ap.add_argument("--before", default="6a026eb", help="commit whose verifier is measured next to ours, or none")
    ap.add_argument(
        "--callgrind",
        type=int,
        default=0,
        metavar="N",
        help="also count instructions per verification over N signatures (slow)",
    )
    args = ap.parse_args()

    print(
        f"bench_verify: {args.signatures} distinct SES signatures over distinct 4 KB documents; "
        f"{os.cpu_count()} cores; SM2 verify backend: {_libcrypto.backend_name()}"
    )
    print(f"  'each its own seal': {args.signatures} seals, so every signature costs two SM2 verifications;")
    print(
        f"  'shared seals': {args.seals} seals (a bank sees the same seals again and again; a seal's maker "
        "signature is then verified once per process)"
    )
    lines = []
    counted: list[tuple[str, dict[str, float]]] = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-verify-"))
    trees = {"ours": ROOT}
    if args.before.lower() != "none":
        before = export_tree(args.before, tmp / "before")
        if before is not None:
            trees["before"] = before
    databases = [("SQLite", None)]
    if not args.skip_postgres:
        databases.append(("PostgreSQL", args.postgres))
    try:
        for label, base in databases:
            for scenario, n_seals in (("each its own seal", args.signatures), ("shared seals", args.seals)):
                drop = None
                if base is None:
                    url = f"sqlite:///{tmp / scenario / 'registry.db'}"
                else:
                    pg = _benchlib.pg_database(base, "registry_bench_verify")
                    if pg is None:
                        break
                    url, drop = pg
                try:
                    instance = tmp / f"{label}-{scenario}"
                    ctx, pairs = prepare(url, instance, n_seals, args.signatures)
                    pairs_file = tmp / f"pairs-{label}-{n_seals}.pickle"
                    pairs_file.write_bytes(
                        pickle.dumps({"pairs": pairs, "at": ctx.clock.now() + dt.timedelta(seconds=5)})
                    )
                    modes = [("service", f"service + {label}, {scenario}")]
                    if base is None:
                        modes.append(("pure", f"pure (no database), {scenario}"))
                    for mode, what in modes:
                        rates = interleaved(trees, mode, url, instance, pairs_file, args.repeat)
                        print(
                            f"  {what}: "
                            + "; ".join(
                                f"{name} {', '.join(f'{r:,.0f}' for r in runs)}" for name, runs in rates.items()
                            ),
                            flush=True,
                        )
                        for name, runs in rates.items():
                            lines.append((what if name == "ours" else f"{name}: {what}", max(runs), runs))
                        if args.callgrind and base is None:
                            counted.append(
                                (
                                    what,
                                    {
                                        name: instructions(src, mode, url, instance, pairs_file, args.callgrind)
                                        for name, src in trees.items()
                                    },
                                )
                            )
                    ctx.engine.dispose()
                finally:
                    if drop:
                        drop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\n{'SES signatures verified':<48} {'per second':>12}   runs")
    for what, best, runs in lines:
        print(
            f"{what:<48} {best:>12,.0f}   {', '.join(f'{r:,.0f}' for r in runs)}"
            f"   (median {statistics.median(runs):,.0f})"
        )
    if counted:
        names = list(trees)
        print(f"\ninstructions per verification (callgrind, first {args.callgrind} signatures):")
        print(f"  {'':<46}" + "".join(f"{n:>14}" for n in names))
        for what, per in counted:
            print(f"  {what:<46}" + "".join(f"{per[n]:>14,.0f}" for n in names))
    print("target: at least 1,000 SES signature verifications per second in one process")
    print("\nSM2 primitive (one verification: SM3 with Z, curve check), same process:")
    for name, r in sm2_rates().items():
        print(f"  {name:<38} {r:>12,.0f}/s")

    if not args.skip_ocsp:
        bench_ocsp = Path(__file__).with_name("bench_ocsp.py")
        if bench_ocsp.exists():
            import bench_ocsp as ocsp_bench  # type: ignore[import-not-found]

            print("\nOCSP")
            for line in ocsp_bench.run(ocsp_bench.parse_args(["--requests", str(args.ocsp_requests)])):
                print(line)
        else:
            print("\nOCSP: scripts/bench_ocsp.py not present")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2:])
    else:
        main()
