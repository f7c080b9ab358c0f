"""``registry sign`` and ``registry verify`` end to end, with OpenSSL checking what sign made."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from registry.pki import der, ses, x509
from tests.support.cli import Cli, last_line
from tests.support.data import SHENZHEN_USCC, VECTORS


def _issue(ready: Cli, out: Path, alg: str = "sm2") -> str:
    return last_line(
        ready(
            "seal",
            "issue",
            "--uscc",
            SHENZHEN_USCC,
            "--type",
            "contract",
            "--generate-key",
            "--algorithm",
            alg,
            "--break-glass",
            "counter test",
            "--out",
            str(out),
        )
    )


def test_sign_then_verify_round_trip_and_exit_codes(ready: Cli, tmp_path: Path) -> None:
    es_id = _issue(ready, tmp_path / "seal")
    doc = tmp_path / "借款合同.pdf"
    doc.write_bytes(b"%PDF-1.7 a contract")
    sig = tmp_path / "contract.ses"
    res = ready(
        "sign",
        "--seal",
        str(tmp_path / "seal" / "seal.esl"),
        "--key",
        str(tmp_path / "seal" / "holder.key"),
        "--cert",
        str(tmp_path / "seal" / "cert.pem"),
        str(doc),
        "--out",
        str(sig),
    )
    assert last_line(res) == str(sig) and es_id in res.stdout
    parsed = ses.parse_signature(sig.read_bytes())
    assert parsed.property_info == "file=%E5%80%9F%E6%AC%BE%E5%90%88%E5%90%8C.pdf;size=19"

    res = ready("verify", str(sig), "--document", str(doc), ok=False)
    assert res.exit_code == 0, res.stdout
    verdict = json.loads(res.stdout)
    assert verdict["verdict"] == "valid" and verdict["signatures"][0]["seal"]["es_id"] == es_id

    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(b"%PDF-1.7 a contract!")
    res = ready("verify", str(sig), "--document", str(tampered), ok=False)
    assert res.exit_code == 1 and json.loads(res.stdout)["verdict"] == "invalid"

    res = ready("verify", str(sig), ok=False)  # no document: undecided, not valid
    assert res.exit_code == 1 and json.loads(res.stdout)["verdict"] == "indeterminate"

    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"hello")
    res = ready("verify", str(junk), ok=False)
    assert res.exit_code == 2 and res.stdout == ""
    assert res.stderr.startswith("registry: error: not an electronic seal") and res.stderr.count("\n") == 1
    res = ready("verify", str(tmp_path / "missing.esl"), ok=False)
    assert res.exit_code == 2 and "no such file" in res.stderr

    # the seal is revoked: the old signature stays valid, the helper refuses and writes nothing.
    # Times are whole seconds and a revocation in the signing second counts as before it, so wait.
    time.sleep(1.1)
    ready("seal", "revoke", es_id, "--reason", "keyCompromise")
    assert ready("verify", str(sig), "--document", str(doc), ok=False).exit_code == 0
    again = tmp_path / "again.ses"
    res = ready(
        "sign",
        "--seal",
        str(tmp_path / "seal" / "seal.esl"),
        "--key",
        str(tmp_path / "seal" / "holder.key"),
        "--cert",
        str(tmp_path / "seal" / "cert.pem"),
        str(doc),
        "--out",
        str(again),
        ok=False,
    )
    assert res.exit_code == 2 and "refusing to sign" in res.stderr and "revoked" in res.stderr
    assert not again.exists() and not list(tmp_path.glob(".again.ses*"))
    # and a seal on its own is now invalid
    assert ready("verify", str(tmp_path / "seal" / "seal.esl"), ok=False).exit_code == 1


def test_sign_refuses_to_overwrite(ready: Cli, tmp_path: Path) -> None:
    _issue(ready, tmp_path / "seal")
    doc = tmp_path / "d.txt"
    doc.write_text("x")
    out = tmp_path / "exists.ses"
    out.write_bytes(b"keep")
    res = ready(
        "sign",
        "--seal",
        str(tmp_path / "seal" / "seal.esl"),
        "--key",
        str(tmp_path / "seal" / "holder.key"),
        "--cert",
        str(tmp_path / "seal" / "cert.pem"),
        str(doc),
        "--out",
        str(out),
        ok=False,
    )
    assert res.exit_code == 2 and "already exists" in res.stderr and out.read_bytes() == b"keep"


def test_signature_made_by_sign_verifies_with_openssl(ready: Cli, tmp_path: Path, openssl: str) -> None:
    """Independent check: OpenSSL verifies the SM2 signature over TBS_Sign with the GM/T 0009 ID, and
    its SM3 of the document is the dataHash."""
    _issue(ready, tmp_path / "seal")
    doc = tmp_path / "doc.txt"
    doc.write_text("合同正文 " * 100, encoding="utf-8")
    sig_path = tmp_path / "doc.ses"
    ready(
        "sign",
        "--seal",
        str(tmp_path / "seal" / "seal.esl"),
        "--key",
        str(tmp_path / "seal" / "holder.key"),
        "--cert",
        str(tmp_path / "seal" / "cert.pem"),
        str(doc),
        "--out",
        str(sig_path),
    )
    top = der.parse(sig_path.read_bytes()).children()
    (tmp_path / "tbs.der").write_bytes(top[0].raw)
    (tmp_path / "sig.der").write_bytes(top[3].as_bit_string())
    cert = x509.Certificate.from_der(top[1].as_bytes())
    (tmp_path / "pub.pem").write_text(cert.public_key.pem())
    run = subprocess.run(
        [
            openssl,
            "dgst",
            "-sm3",
            "-verify",
            "pub.pem",
            "-sigopt",
            "distid:1234567812345678",
            "-signature",
            "sig.der",
            "tbs.der",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0 and "Verified OK" in run.stdout, run.stdout + run.stderr
    digest = subprocess.run([openssl, "dgst", "-sm3", "-binary", str(doc)], capture_output=True, check=True).stdout
    assert ses.parse_signature(sig_path.read_bytes()).data_hash == digest
    # and the signed bytes really are the TBS: one changed byte fails in OpenSSL too
    tbs = bytearray(top[0].raw)
    tbs[-3] ^= 1
    (tmp_path / "tbs.der").write_bytes(bytes(tbs))
    run = subprocess.run(
        [
            openssl,
            "dgst",
            "-sm3",
            "-verify",
            "pub.pem",
            "-sigopt",
            "distid:1234567812345678",
            "-signature",
            "sig.der",
            "tbs.der",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0


def test_verify_ofd_vector_from_the_command_line(ready: Cli) -> None:
    path = VECTORS / "V4RideRight.ofd"
    if not path.exists():
        return
    res = ready("verify", str(path), ok=False)
    assert res.exit_code == 1
    body = json.loads(res.stdout)
    checks = {c["id"]: c for c in body["signatures"][0]["checks"]}
    assert checks["signer_signature"]["result"] == "pass" and checks["document_parts"]["result"] == "pass"
    assert "expired" in " ".join(checks["signer_certificate"]["notes_en"])
    assert checks["signer_certificate"]["name_zh"] == "签章人证书"
