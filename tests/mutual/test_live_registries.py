"""Two real registries on loopback, each ``registry serve``d on its own port with its own
database and instance directory: Shenzhen (440300) and Beijing (110000) admit each other by
fingerprint under dual control at the console; a seal and an SES signature made in each verify
as valid in the other, by the CLI and by the API, naming the vouching authority, for both
hierarchies; a revocation in Beijing reaches Shenzhen with one refresh.

Marked slow (two gunicorn servers and their publishers per database)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from registry.config import Settings
from registry.domain.roles import Role
from registry.services.context import ServiceContext
from tests.support.cli import Cli
from tests.support.data import SHENZHEN_USCC
from tests.support.net import free_port, wait_for_http
from tests.support.regions import second_database
from tests.support.staff import COUNTER_PASSWORD, enrolled, next_code

pytestmark = pytest.mark.slow

EXE = Path(sys.executable).parent / "registry"
DOC = "京深合同 No. 2026-LIVE：双方在各自地区签章。".encode()


@dataclass
class Live:
    name: str
    area: str
    env: dict[str, str]
    url: str
    proc: subprocess.Popen[str]
    secrets: dict[str, str]

    def cli(self, *args: str, ok: bool = True, **extra: str):  # type: ignore[no-untyped-def]
        return Cli(dict(self.env, **extra))(*args, ok=ok)

    def as_person(self, who: str, env: str) -> dict[str, str]:
        return {f"REGISTRY_{env}_PASSWORD": COUNTER_PASSWORD, f"REGISTRY_{env}_CODE": next_code(self.secrets[who])}

    def fingerprints(self) -> list[str]:
        return [line.split()[1] for line in self.cli("trust-list", "show", "--fingerprints").stdout.splitlines()]


def _start(tmp: Path, name: str, area: str, zh: str, database_url: str) -> Live:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "REGISTRY_INSTANCE_PATH": str(tmp / name),
        "REGISTRY_DATABASE_URL": database_url,
        "REGISTRY_BASE_URL": url,
        "REGISTRY_AREA_CODE": area,
        "REGISTRY_AUTHORITY_NAME": zh,
        "REGISTRY_AUTHORITY_NAME_EN": f"{name} AMR",
        "REGISTRY_CRL_SHARDS": "2",
        "REGISTRY_CRL_PUBLISH_INTERVAL": "1",
        "REGISTRY_PEER_REFRESH_SECONDS": "3600",
        "REGISTRY_ARGON2_TIME_COST": "1",
        "REGISTRY_ARGON2_MEMORY_KIB": "8",
        "REGISTRY_ARGON2_PARALLELISM": "1",
        "REGISTRY_KEK": "",
    }
    Cli(env)("init", "--demo")
    ctx = ServiceContext.create(Settings.from_env(env))
    try:
        secrets = {n: enrolled(ctx, n, r) for n, r in (("ada", Role.ADMIN), ("rhea", Role.REVIEWER))}
    finally:
        ctx.engine.dispose()
    proc = subprocess.Popen(
        [str(EXE), "serve", "--port", str(port), "--workers", "1"],
        env={**env, "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_for_http(f"{url}/", proc)
    return Live(name, area, env, url, proc, secrets)


@pytest.fixture
def two(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[tuple[Live, Live]]:
    gen = second_database(
        database_url,
        tmp_path,
        lambda: request.getfixturevalue("sqlite_template"),
        lambda: request.getfixturevalue("pg_template"),
    )
    bj_db = next(gen)
    sz = _start(tmp_path, "shenzhen", "440300", "深圳市市场监督管理局", database_url)
    bj = _start(tmp_path, "beijing", "110000", "北京市市场监督管理局", bj_db)
    try:
        yield sz, bj
    finally:
        for live in (sz, bj):
            live.proc.terminate()
            live.proc.communicate(timeout=60)
        next(gen, None)


def admit(us: Live, them: Live, name: str) -> None:
    pins = [a for h in them.fingerprints() for a in ("--fingerprint", h)]
    us.cli(
        "peer",
        "add",
        name,
        "--trust-list",
        f"{them.url}/trust/list.jws",
        "--area-code",
        them.area,
        *pins,
        "--proposer",
        "ada",
        **us.as_person("ada", "PROPOSER"),
    )
    us.cli("peer", "approve", name, "--approver", "rhea", **us.as_person("rhea", "APPROVER"))


def issue_and_sign(live: Live, tmp: Path, alg: str, tag: str = "") -> tuple[str, Path, Path]:
    out = tmp / f"{live.name}-{alg}{tag}"
    r = live.cli(
        "seal",
        "issue",
        "--uscc",
        SHENZHEN_USCC,
        "--type",
        "contract",
        "--algorithm",
        alg,
        "--generate-key",
        "--break-glass",
        "live mutual-recognition test",
        "--out",
        str(out),
    )
    es_id = r.stdout.strip().splitlines()[-1]
    (tmp / "contract.txt").write_bytes(DOC)
    sig = out / "contract.sig"
    live.cli(
        "sign",
        "--seal",
        str(out / "seal.esl"),
        "--key",
        str(out / "holder.key"),
        "--cert",
        str(out / "cert.pem"),
        str(tmp / "contract.txt"),
        "--out",
        str(sig),
    )
    return es_id, out / "seal.esl", sig


def verify_cli(live: Live, sig: Path, doc: Path) -> dict:  # type: ignore[type-arg]
    r = live.cli("verify", str(sig), "--document", str(doc), ok=False)
    return json.loads(r.stdout)


def verify_api(live: Live, sig: Path, doc: Path) -> dict:  # type: ignore[type-arg]
    boundary = "----registry-live-test"
    body = b""
    for field, path in (("file", sig), ("document", doc)):
        body += (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{path.name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + path.read_bytes()
            + b"\r\n"
        )
    body += f"--{boundary}--\r\n".encode()
    req = urllib.request.Request(
        f"{live.url}/api/v1/verify", data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


@pytest.mark.skipif(not EXE.exists(), reason="the registry command is not installed in this venv")
def test_two_live_registries_recognise_each_other(two: tuple[Live, Live], tmp_path: Path) -> None:
    sz, bj = two
    admit(sz, bj, "beijing")
    admit(bj, sz, "shenzhen")
    doc = tmp_path / "contract.txt"
    for alg in ("sm2", "ecdsa"):
        for signer, verifier, area in ((bj, sz, "110000"), (sz, bj, "440300")):
            es_id, _seal, sig = issue_and_sign(signer, tmp_path, alg)
            assert es_id.startswith(area)
            signer.cli("crl", "publish")  # CRLs issued after the signature (so that they speak for it)
            lines = verifier.cli("peer", "refresh").stdout
            assert re.search(r" (accepted|unchanged|not-modified)", lines), lines
            for verdict in (verify_cli(verifier, sig, doc), verify_api(verifier, sig, doc)):
                [item] = verdict["signatures"]
                assert item["verdict"] == "valid", [c for c in item["checks"] if c["result"] != "pass"]
                assert item["vouched_by"]["seal"]["authority"] == area
                assert item["vouched_by"]["seal"]["basis"] == "peer"
                assert item["vouched_by"]["signer"]["authority"] == area
    # Beijing revokes its last seal: after one refresh, Shenzhen says so; the earlier signature stays valid
    es_id, seal, sig = issue_and_sign(bj, tmp_path, "sm2", "-revoked")
    bj.cli("crl", "publish")
    sz.cli("peer", "refresh")
    time.sleep(1.1)  # times are whole seconds: a revocation in the signing second would count as before it
    bj.cli("seal", "revoke", es_id, "--reason", "keyCompromise")
    bj.cli("crl", "publish")
    sz.cli("peer", "refresh", "beijing")
    assert verify_cli(sz, sig, doc)["signatures"][0]["verdict"] == "valid"
    seal_now = json.loads(sz.cli("verify", str(seal), ok=False).stdout)["seal"]
    assert seal_now["verdict"] == "invalid"
    assert any("keyCompromise" in (c["reason_en"] or "") for c in seal_now["checks"] if c["result"] == "fail")
