"""JWS documents checked by code nobody here wrote: node's ``jose`` package (installed once into
``.cache/node-jose``) for ES256, ``openssl dgst -sm3 -verify -sigopt distid:1234567812345678`` over
the JWS signing input for SM2-SM3 (its r || s value converted to DER)."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from registry.pki import jws
from registry.pki.keys import sig_to_der
from tests.support.pki import ossl

JOSE_VERSION = "6.2.17"
_VERIFY_MJS = """
import { readFileSync } from 'node:fs';
import * as jose from 'jose';
const doc = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const key = await jose.importSPKI(readFileSync(process.argv[3], 'utf8'), 'ES256');
try {
  const r = await jose.generalVerify(doc, key, { algorithms: ['ES256'] });
  process.stdout.write(JSON.stringify({ ok: true, payload: Buffer.from(r.payload).toString('base64'),
                                        header: r.protectedHeader }));
} catch (e) {
  process.stdout.write(JSON.stringify({ ok: false, error: String(e.code || e) }));
}
"""


def spki_pem(spki_der: bytes) -> str:
    body = base64.encodebytes(spki_der).decode("ascii").replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"


def node_jose_dir() -> Path:
    """A directory with node's ``jose`` installed (.cache/node-jose, made once) and a verifier
    script; skips the test without node (fails on CI, where node must be there)."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        if os.environ.get("CI"):
            pytest.fail("node and npm are needed to check the JWS with node's jose package")
        pytest.skip("node/npm not installed: the ES256 check by node's jose package is not run")
    where = Path(__file__).resolve().parents[2] / ".cache" / "node-jose"
    where.mkdir(parents=True, exist_ok=True)
    installed = where / "node_modules" / "jose" / "package.json"
    with open(where / ".lock", "w") as lock:  # pytest-xdist workers install once, one at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not installed.exists() or json.loads(installed.read_text())["version"] != JOSE_VERSION:
            (where / "package.json").write_text('{"private": true}\n')
            proc = subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", f"jose@{JOSE_VERSION}"],
                cwd=where,
                capture_output=True,
                text=True,
                timeout=300,
            )
            if proc.returncode != 0:
                raise AssertionError(f"npm install jose@{JOSE_VERSION} failed:\n{proc.stdout}\n{proc.stderr}")
        (where / "verify.mjs").write_text(_VERIFY_MJS)
    return where


def jose_verify(where: Path, document: bytes, public_pem: str, tmp_path: Path) -> dict[str, object]:
    """node's ``jose.generalVerify`` of ``document`` under the P-256 key ``public_pem``:
    ``{"ok": true, "payload": base64, "header": {...}}`` or ``{"ok": false, "error": code}``."""
    (tmp_path / "list.jws").write_bytes(document)
    (tmp_path / "key.pem").write_text(public_pem)
    proc = subprocess.run(
        ["node", str(where / "verify.mjs"), str(tmp_path / "list.jws"), str(tmp_path / "key.pem")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def openssl_sm2_verifies(openssl: str, document: bytes, public_pem: str, tmp_path: Path) -> bool:
    """``openssl dgst -sm3 -verify`` over the JWS signing input of the SM2-SM3 signature, its
    r || s value converted to DER, under ``public_pem`` with the GM/T 0009 default ID."""
    parsed = json.loads(document)
    entry = next(s for s in parsed["signatures"] if json.loads(_unb64(s["protected"]))["alg"] == "SM2-SM3")
    (tmp_path / "input").write_bytes(jws.signing_input(entry["protected"], parsed["payload"]))
    (tmp_path / "sig.der").write_bytes(sig_to_der(_unb64(entry["signature"])))
    (tmp_path / "pub.pem").write_text(public_pem)
    proc = ossl(
        openssl,
        "dgst",
        "-sm3",
        "-verify",
        tmp_path / "pub.pem",
        "-sigopt",
        "distid:1234567812345678",
        "-signature",
        tmp_path / "sig.der",
        tmp_path / "input",
        check=False,
    )
    return proc.returncode == 0 and "Verified OK" in proc.stdout
