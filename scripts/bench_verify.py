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
               libcrypto (OpenSSL, what the verifier uses) and through gmalglib (the fallback)

Each SES signature needs two SM2 verifications (the signer's over TBS_Sign, the seal maker's over
SES_SealInfo); certificate-chain signatures are cached per process (certificates don't change),
revocation status is not.

OCSP: scripts/bench_ocsp.py (gunicorn with 2 workers against ``openssl ocsp`` as a responder over
the same certificates), run from here unless --skip-ocsp.

Usage: scripts/bench_verify.py [--signatures 3000] [--seals 60] [--postgres URL] [--skip-postgres] [--skip-ocsp]
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _benchlib  # noqa: E402

from registry.config import Settings  # noqa: E402
from registry.db.migrate import upgrade  # noqa: E402
from registry.pki import _libcrypto, ses  # noqa: E402
from registry.pki import verify as pv  # noqa: E402
from registry.pki.keys import Algorithm, PrivateKey, SM2_DEFAULT_UID, sm2_digest  # noqa: E402
from registry.pki.uscc import orgcode_check_char, uscc_check_char  # noqa: E402
from registry.pki.x509 import Certificate  # noqa: E402
from registry.domain.roles import Role  # noqa: E402
from registry.services import authorities, licences, seals, users, verify  # noqa: E402
from registry.services.context import Actor, ServiceContext  # noqa: E402

ADMIN = Actor.system("bench")


def uscc(i: int) -> str:
    body = f"W{i:07d}"
    first17 = "91440300" + body + orgcode_check_char(body)
    return first17 + uscc_check_char(first17)


def prepare(url: str, instance: Path, n_seals: int, n_sigs: int) -> tuple[ServiceContext, list[tuple[bytes, bytes]]]:
    settings = Settings.from_env({"REGISTRY_INSTANCE_PATH": str(instance), "REGISTRY_DATABASE_URL": url,
                                  "REGISTRY_KEK": "22" * 32, "REGISTRY_SECRET_KEY": "bench"})
    upgrade(url)
    ctx = ServiceContext.create(settings)
    authorities.ensure_hierarchies(ctx, ADMIN)
    users.add_user(ctx, ADMIN, "op", [Role.OPERATOR])
    users.add_user(ctx, ADMIN, "rev", [Role.REVIEWER])
    rows = ["uscc,name,legal_representative,entity_type,address,registered_on,status"]
    rows += [f"{uscc(i)},验证基准企业{i}有限公司,张{i},有限责任公司,深圳市,2020-01-01,active" for i in range(n_seals)]
    licences.import_licences(ctx, ADMIN, "\n".join(rows).encode(), "bench.csv")
    issued = []
    for start in range(0, n_seals, 500):  # issue_seals takes at most 500 per batch
        issued += seals.issue_seals(ctx, ADMIN, [seals.IssueRequest(
            uscc=uscc(i), seal_type="contract", key=seals.KeyMaterial(generate=True), operator="op", approver="rev")
            for i in range(start, min(n_seals, start + 500))])
    now = ctx.clock.now() + dt.timedelta(seconds=1)
    pairs = []
    for j in range(n_sigs):
        r = issued[j % len(issued)]
        assert r.private_key_pem is not None
        doc = os.urandom(4096)
        sig = ses.make_signature(seal=r.seal_der, signer_cert=r.certificate_der,
                                 signer=PrivateKey.from_pem(r.private_key_pem),
                                 data_hash=ses.document_digest(Algorithm.SM2.signature_oid, doc),
                                 property_info=f"file=doc{j}.bin;size=4096", signing_time=now)
        pairs.append((sig, doc))
    return ctx, pairs


def _seal_signature_cache_clear() -> None:
    pv._seal_signature_verdict.cache_clear()


def rate(n: int, fn) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn()
    return n / (time.perf_counter() - t0)


def best_of(runs: int, n: int, fn) -> tuple[float, list[float]]:  # type: ignore[no-untyped-def]
    rates = [rate(n, fn) for _ in range(runs)]
    return max(rates), rates


def service_rate(ctx: ServiceContext, pairs: list[tuple[bytes, bytes]]) -> tuple[float, list[float]]:
    at = ctx.clock.now() + dt.timedelta(seconds=5)

    def run() -> None:
        _seal_signature_cache_clear()  # every timed run starts with no seal signature verified
        for sig, doc in pairs:
            report = verify.verify_file(ctx, sig, document=doc, at=at)
            if report.verdict != "valid":
                raise SystemExit(f"benchmark signature not valid: {report.to_json()}")

    run()  # warm: trust store, certificate-chain cache, SQL statement cache
    return best_of(3, len(pairs), run)


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


def pure_rate(ctx: ServiceContext, pairs: list[tuple[bytes, bytes]]) -> tuple[float, list[float]]:
    trust = MemoryTrust(verify.trust_store(ctx))
    at = ctx.clock.now() + dt.timedelta(seconds=5)

    def run() -> None:
        _seal_signature_cache_clear()
        for sig, doc in pairs:
            if pv.verify_signature(sig, at, trust, document=doc).verdict != "valid":
                raise SystemExit("benchmark signature not valid (pure)")

    run()
    return best_of(3, len(pairs), run)


def sm2_rates(n: int = 3000) -> dict[str, float]:
    from gmalglib.sm2 import SM2

    key = PrivateKey.generate(Algorithm.SM2)
    data = os.urandom(2000)
    sig = key.sign(data)
    pub = key.public_key
    out = {}
    fast = _libcrypto.sm2_verifier(pub.point)
    if fast is not None:
        def lib() -> None:
            z = pub._verifier.get_entity_info()  # type: ignore[attr-defined]
            for _ in range(n):
                assert fast(sm2_digest(z, data), sig)
        out["libcrypto (OpenSSL 3)"] = best_of(3, n, lib)[0]
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
    ap.add_argument("--postgres", default=os.environ.get("REGISTRY_TEST_POSTGRES_URL")
                    or "postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--skip-postgres", action="store_true")
    ap.add_argument("--skip-ocsp", action="store_true")
    ap.add_argument("--ocsp-requests", type=int, default=20000)
    args = ap.parse_args()

    print(f"bench_verify: {args.signatures} distinct SES signatures over distinct 4 KB documents; "
          f"{os.cpu_count()} cores; SM2 verify backend: {_libcrypto.backend_name()}")
    print(f"  'each its own seal': {args.signatures} seals, so every signature costs two SM2 verifications;")
    print(f"  'shared seals': {args.seals} seals (a bank sees the same seals again and again; a seal's maker "
          "signature is then verified once per process)")
    lines = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-verify-"))
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
                    _seal_signature_cache_clear()
                    ctx, pairs = prepare(url, tmp / f"{label}-{scenario}", n_seals, args.signatures)
                    best, runs = service_rate(ctx, pairs)
                    lines.append((f"service + {label}, {scenario}", best, runs))
                    if base is None:
                        _seal_signature_cache_clear()
                        best, runs = pure_rate(ctx, pairs)
                        lines.append((f"pure (no database), {scenario}", best, runs))
                    ctx.engine.dispose()
                finally:
                    if drop:
                        drop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\n{'SES signatures verified':<48} {'per second':>12}   runs")
    for what, best, runs in lines:
        print(f"{what:<48} {best:>12,.0f}   {', '.join(f'{r:,.0f}' for r in runs)}"
              f"   (median {statistics.median(runs):,.0f})")
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
    main()
