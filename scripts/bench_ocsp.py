#!/usr/bin/env python3
"""OCSP responses per second: our responder under the production server (gunicorn, 2 workers) next
to `openssl ocsp` run as a responder over the same certificates, in the same run, on loopback.

Setup: a fresh database (SQLite file; PostgreSQL too with --postgres) with both hierarchies and
--certs ECDSA holder certificates issued through the service layer (so each has its pre-signed
response), a tenth of them revoked. OpenSSL gets an index.txt of the same certificates (V / R lines
with revocation time and reason) and the ECDSA issuing CA's certificate and key as its signer.

Load: ApacheBench (`ab`, Debian's apache2-utils, installed through scripts/install-system-deps.sh),
one C process, HTTP/1.0, one connection per request (`openssl ocsp` closes every connection
anyway), POSTing the same DER request (one CertID, SHA-1, no nonce: the RFC 5019 profile) to both
servers, which answer `good` for it. The client shares the two cores with the servers: its CPU time
is reported next to each figure. `ab` counts a response whose length differs from the first as
"failed" (OpenSSL signs each response anew, and ECDSA signatures vary in length): those are
reported apart from real failures (connect, receive, exceptions, non-2xx).

Usage: scripts/bench_ocsp.py [--requests 20000] [--concurrency 8] [--certs 1000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import _benchlib  # noqa: E402

ADMIN_NAME = "bench"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(url: str, body: bytes, proc: subprocess.Popen[bytes], what: str) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode}")
        try:
            req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/ocsp-request"})
            with urllib.request.urlopen(req, timeout=2) as resp:
                if resp.read()[:1] == b"\x30":
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer at {url}")


def _ensure_ab() -> str:
    if shutil.which("ab") is None:
        subprocess.run([str(ROOT / "scripts" / "install-system-deps.sh"), "apache2-utils"], check=True)
    ab = shutil.which("ab")
    if ab is None:
        raise SystemExit("ab (apache2-utils) is not installed and could not be installed")
    return ab


def _ab(ab: str, url: str, request: Path, n: int, c: int) -> dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    out = subprocess.run(
        [ab, "-q", "-r", "-n", str(n), "-c", str(c), "-p", str(request), "-T", "application/ocsp-request", url],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"ab against {url} failed: {out.stderr.strip()[-500:]}")
    out = out.stdout
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

    def num(pattern: str) -> float:
        m = re.search(pattern, out)
        return float(m.group(1)) if m else 0.0

    return {
        "rps": num(r"Requests per second:\s+([\d.]+)"),
        "complete": num(r"Complete requests:\s+(\d+)"),
        "connect": num(r"Connect: (\d+)"),
        "receive": num(r"Receive: (\d+)"),
        "length": num(r"Length: (\d+)"),
        "exceptions": num(r"Exceptions: (\d+)"),
        "non2xx": num(r"Non-2xx responses:\s+(\d+)"),
        "client_cpu": cpu / wall if wall else 0.0,
    }


def _setup(url: str, workdir: Path, certs: int) -> tuple[dict[str, str], Path, Path]:
    """Database with hierarchies and ``certs`` ECDSA holder certificates; files for openssl; returns
    the server environment, openssl's index.txt and the DER request for a live certificate."""
    from registry.config import Settings
    from registry.db.migrate import upgrade
    from registry.domain.roles import Role
    from registry.pki import der, x509
    from registry.pki import ocsp as pki_ocsp
    from registry.pki.keys import Algorithm, PrivateKey
    from registry.services import authorities, licences, revocation, seals, users
    from registry.services.context import Actor, ServiceContext
    from registry.services.demo import DEMO_CSV

    env = {
        "REGISTRY_DATABASE_URL": url,
        "REGISTRY_INSTANCE_PATH": str(workdir / "instance"),
        "REGISTRY_KEK": "44" * 32,
        "REGISTRY_SECRET_KEY": "bench",
        "REGISTRY_BASE_URL": "http://127.0.0.1",
    }
    upgrade(url)
    ctx = ServiceContext.create(Settings.from_env(env))
    admin = Actor.system(ADMIN_NAME)
    authorities.ensure_hierarchies(ctx, admin)
    users.add_user(ctx, admin, "olivia", [Role.OPERATOR])
    users.add_user(ctx, admin, "rita", [Role.REVIEWER])
    licences.import_licences(ctx, admin, DEMO_CSV.encode(), "demo.csv")
    pub = PrivateKey.generate(Algorithm.ECDSA).public_key.pem().encode()
    req = seals.IssueRequest(
        uscc="91440300MA5F12342Q",
        seal_type="finance",
        key=seals.KeyMaterial(public_key_pem=pub),
        operator="olivia",
        approver="rita",
        algorithm="ecdsa",
    )
    issued: list[seals.IssueResult] = []
    while len(issued) < certs:
        issued += seals.issue_seals(ctx, admin, [req] * min(100, certs - len(issued)))
    revoked = {r.es_id for r in issued[::10][1:]}
    for es_id in revoked:
        revocation.revoke_seal(ctx, admin, es_id, "keyCompromise")
    with ctx.reader() as s:
        issuing = authorities.load(ctx, s, "ecdsa-issuing")
        root = authorities.chain(ctx, s, "ecdsa-issuing")[-1]
    (workdir / "issuing.pem").write_text(issuing.certificate.pem())
    (workdir / "issuing.key").write_text(issuing.signer.pem())
    (workdir / "root.pem").write_text(root.pem())
    lines = []
    for r in issued:
        cert = x509.Certificate.from_der(r.certificate_der)
        expiry = cert.not_after.strftime("%y%m%d%H%M%SZ")
        serial = format(cert.serial, "X")
        subject = "/CN=holder"
        if r.es_id in revoked:
            lines.append(
                f"R\t{expiry}\t{dt.datetime.now(dt.UTC):%y%m%d%H%M%SZ},keyCompromise\t{serial}\tunknown\t{subject}"
            )
        else:
            lines.append(f"V\t{expiry}\t\t{serial}\tunknown\t{subject}")
    index = workdir / "index.txt"
    index.write_text("\n".join(lines) + "\n")
    (workdir / "index.txt.attr").write_text("unique_subject = no\n")
    live_cert = x509.Certificate.from_der(issued[0].certificate_der)
    cid = pki_ocsp.cert_id(
        pki_ocsp.HashAlgorithm.SHA1,
        issuing.certificate.subject_der,
        issuing.certificate.public_key.point,
        live_cert.serial,
    )
    request = workdir / "request.der"
    request.write_bytes(pki_ocsp.build_request([cid]))
    (workdir / "holder.pem").write_text(der.der_to_pem(issued[0].certificate_der, "CERTIFICATE"))
    ctx.engine.dispose()
    return env, index, request


_CONSTANT_APP = """
BODY = b"0" * {size}


def app(environ, start_response):
    environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "application/ocsp-response"), ("Content-Length", str(len(BODY)))])
    return [BODY]
"""


def _ocsp_app(env: dict[str, str]):  # type: ignore[no-untyped-def]
    from registry.config import Settings
    from registry.services.context import ServiceContext
    from registry.web.ocsp import OcspApp

    return OcspApp(None, ServiceContext.create(Settings.from_env(env)))


def _environ(body: bytes) -> dict[str, object]:
    import io

    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/ocsp",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }


def _answer_bytes(env: dict[str, str], body: bytes) -> bytes:
    app = _ocsp_app(env)
    out = b"".join(app(_environ(body), lambda *a: None))
    app.ctx.engine.dispose()
    return out


def _in_process(env: dict[str, str], body: bytes, n: int = 5000) -> float:
    """Microseconds per answer of the WSGI handler called directly (no server, no sockets)."""
    app = _ocsp_app(env)
    environs = [_environ(body) for _ in range(n)]
    for e in environs[:200]:
        b"".join(app(dict(e, **{"wsgi.input": __import__("io").BytesIO(body)}), lambda *a: None))
    t0 = time.perf_counter()
    for e in environs:
        b"".join(app(e, lambda *a: None))
    per = (time.perf_counter() - t0) / n * 1e6
    app.ctx.engine.dispose()
    return per


def _bench_one(label: str, url: str, args: argparse.Namespace, ab: str) -> list[str]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-ocsp-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        env, index, request = _setup(url, workdir, args.certs)
        body = request.read_bytes()
        per_answer = _in_process(env, body)
        (workdir / "constant_app.py").write_text(_CONSTANT_APP.format(size=len(_answer_bytes(env, body))))
        ours_port, openssl_port, ceiling_port = _free_port(), _free_port(), _free_port()
        gunicorn = Path(sys.executable).parent / "gunicorn"
        procs.append(
            subprocess.Popen(
                [str(gunicorn), "--workers", "2", "--bind", f"127.0.0.1:{ours_port}", "registry.wsgi:app"],
                env={**os.environ, **env},
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        procs.append(
            subprocess.Popen(
                [
                    OPENSSL,
                    "ocsp",
                    "-index",
                    str(index),
                    "-port",
                    str(openssl_port),
                    "-rsigner",
                    str(workdir / "issuing.pem"),
                    "-rkey",
                    str(workdir / "issuing.key"),
                    "-CA",
                    str(workdir / "issuing.pem"),
                    "-nmin",
                    "60",
                ],
                stdout=subprocess.DEVNULL,
                stderr=open(workdir / "openssl.log", "wb"),  # noqa: SIM115 - open for the server's life
            )
        )
        procs.append(
            subprocess.Popen(  # the same server answering a constant body: its own ceiling
                [
                    str(gunicorn),
                    "--workers",
                    "2",
                    "--bind",
                    f"127.0.0.1:{ceiling_port}",
                    "--chdir",
                    str(workdir),
                    "constant_app:app",
                ],
                env={**os.environ, **env},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        ours_url, openssl_url = f"http://127.0.0.1:{ours_port}/ocsp", f"http://127.0.0.1:{openssl_port}/"
        ceiling_url = f"http://127.0.0.1:{ceiling_port}/"
        _wait(ours_url, body, procs[0], "gunicorn")
        _wait(ceiling_url, body, procs[2], "gunicorn (constant body)")
        try:
            _wait(openssl_url, body, procs[1], "openssl ocsp")
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}: {(workdir / 'openssl.log').read_text()[-2000:]}") from None
        for u in (ours_url, openssl_url):  # warm-up
            _ab(ab, u, request, min(2000, args.requests), args.concurrency)
        results = {}
        for _round in range(args.rounds):  # interleaved, so machine noise hits both alike
            for name, u in (("ours", ours_url), ("openssl", openssl_url), ("ceiling", ceiling_url)):
                r = _ab(ab, u, request, args.requests, args.concurrency)
                best = results.get(name)
                if best is None or r["rps"] > best["rps"]:
                    results[name] = r
        lines = []
        for name, what in (
            ("ours", "registry (gunicorn, 2 sync workers, pre-signed responses)"),
            ("openssl", "openssl ocsp -index ... -port (signs every response)"),
        ):
            r = results[name]
            errors = int(r["connect"] + r["receive"] + r["exceptions"] + r["non2xx"])
            lines.append(
                f"{label:10} {what:58} {r['rps']:9,.0f} responses/s  "
                f"({int(r['complete']):,} requests, c={args.concurrency}, errors {errors}, "
                f"length-varied {int(r['length'])}, client CPU {r['client_cpu']:.0%} of a core)"
            )
        lines.append(
            f"{label:10} {'gunicorn, 2 sync workers, a constant body (no OCSP at all)':58} "
            f"{results['ceiling']['rps']:9,.0f} responses/s  (the server's own ceiling here)"
        )
        lines.append(
            f"{label:10} {'in process, no HTTP: one answer (parse, SELECT, headers)':58} "
            f"{1e6 / per_answer:9,.0f} answers/s per core ({per_answer:.0f} µs each)"
        )
        ratio = results["ours"]["rps"] / results["openssl"]["rps"] if results["openssl"]["rps"] else float("nan")
        lines.append(
            f"{label:10} ratio ours/openssl: {ratio:.2f}x (target 3x; best of {args.rounds} interleaved "
            f"rounds each; load generator: ab, one connection per request)"
        )
        return lines
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(workdir, ignore_errors=True)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=20000, help="requests per measurement")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the best of each is reported")
    p.add_argument("--certs", type=int, default=1000, help="ECDSA holder certificates (a tenth revoked)")
    p.add_argument(
        "--postgres",
        default=os.environ.get("REGISTRY_BENCH_POSTGRES_URL", ""),
        help="also run against a throw-away database next to this PostgreSQL URL",
    )
    p.add_argument("--skip-sqlite", action="store_true")
    return p


def run(args: argparse.Namespace | list[str] | None = None) -> list[str]:
    """Run the benchmark; returns the result lines (also used by scripts/bench_verify.py)."""
    if not isinstance(args, argparse.Namespace):
        args = parser().parse_args(args or [])
    defaults = vars(parser().parse_args([]))
    for key, value in defaults.items():  # a caller's namespace may lack our options
        if not hasattr(args, key):
            setattr(args, key, value)
    ab = _ensure_ab()
    lines = [f"OCSP: {os.cpu_count()} cores, {args.certs} certificates, {args.requests} requests per measurement"]
    if not args.skip_sqlite:
        lines += _bench_one("SQLite", f"sqlite:///{tempfile.mkdtemp(prefix='bench-ocsp-db-')}/registry.db", args, ab)
    if args.postgres:
        made = _benchlib.pg_database(args.postgres, "registry_bench_ocsp")
        if made is not None:
            url, drop = made
            try:
                lines += _bench_one("PostgreSQL", url, args, ab)
            finally:
                drop()
    return lines


def main() -> None:
    for line in run(sys.argv[1:]):
        print(line, flush=True)


if __name__ == "__main__":
    main()
