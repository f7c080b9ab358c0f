"""``registry keygen``: the enterprise's own key and PKCS#10 request, checked with OpenSSL, and
accepted by the enterprise portal's application service."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from registry.cli import main
from registry.pki import x509
from registry.pki.keys import Algorithm, PrivateKey
from registry.services import application_intake
from registry.services.context import ServiceContext
from tests.support.data import SHENZHEN_USCC
from tests.support.portal import legal


def keygen(*args: str) -> Result:
    return CliRunner().invoke(
        main, ["keygen", *args], env={"REGISTRY_DATABASE_URL": "sqlite:///nowhere/at/all.db"}, catch_exceptions=False
    )


def make(tmp_path: Path, algorithm: str, **extra: str) -> tuple[Path, Path, Result]:
    key, csr = tmp_path / "holder.key", tmp_path / "holder.csr"
    args = ["--algorithm", algorithm, "--uscc", SHENZHEN_USCC, "--key-out", str(key), "--csr-out", str(csr)]
    for k, v in extra.items():
        args += [f"--{k}", v]
    return key, csr, keygen(*args)


def openssl_out(openssl: str, *args: str | Path) -> str:
    r = subprocess.run([openssl, *map(str, args)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout + r.stderr


@pytest.mark.parametrize("algorithm", ["p256", "ecdsa"])
def test_p256_request_passes_openssl_req_verify(openssl: str, tmp_path: Path, algorithm: str) -> None:
    key, csr, r = make(tmp_path, algorithm, name="深圳市前海示范科技有限公司")
    assert r.exit_code == 0, r.output
    assert r.stdout.strip().splitlines()[-1] == str(csr)  # the thing made, alone on the last line
    assert key.stat().st_mode & 0o777 == 0o600
    # OpenSSL 3.0 `req -verify` exits 0 even when the signature fails: read its verdict.
    out = openssl_out(openssl, "req", "-in", csr, "-verify", "-noout")
    assert "verify OK" in out and "failure" not in out
    subject = openssl_out(openssl, "req", "-in", csr, "-noout", "-subject", "-nameopt", "utf8,sep_comma_plus")
    assert f"organizationIdentifier={SHENZHEN_USCC}" in subject and "CN=深圳市前海示范科技有限公司" in subject
    assert "prime256v1" in openssl_out(openssl, "pkey", "-in", key, "-noout", "-text")
    # the key OpenSSL reads is the key in the request
    assert openssl_out(openssl, "pkey", "-in", key, "-pubout") == openssl_out(
        openssl, "req", "-in", csr, "-noout", "-pubkey"
    )


def test_sm2_request_verifies_in_openssl_with_the_gmt0009_id(openssl: str, tmp_path: Path) -> None:
    key, csr, r = make(tmp_path, "sm2")
    assert r.exit_code == 0, r.output
    assert "SM2" in r.stdout
    out = openssl_out(openssl, "req", "-in", csr, "-verify", "-noout", "-vfyopt", "distid:1234567812345678")
    assert "verify OK" in out
    # design.md §9: without the ID OpenSSL 3.0 checks with the empty ID, and the signature fails
    plain = subprocess.run([openssl, "req", "-in", str(csr), "-verify", "-noout"], capture_output=True, text=True)
    assert "verify OK" not in plain.stdout + plain.stderr
    assert "SM2" in openssl_out(openssl, "pkey", "-in", key, "-noout", "-text")
    assert (
        x509.CertificationRequest.load(csr.read_bytes()).public_key == PrivateKey.from_pem(key.read_text()).public_key
    )
    assert x509.CertificationRequest.load(csr.read_bytes()).public_key.algorithm is Algorithm.SM2


def test_keygen_refuses_to_overwrite_and_writes_nothing(tmp_path: Path) -> None:
    key, csr = tmp_path / "holder.key", tmp_path / "holder.csr"
    key.write_text("precious")
    r = keygen("--uscc", SHENZHEN_USCC, "--key-out", str(key), "--csr-out", str(csr))
    assert r.exit_code == 2 and "refusing to overwrite" in r.stderr
    assert key.read_text() == "precious" and not csr.exists()
    key.unlink()
    csr.write_text("old request")
    r = keygen("--uscc", SHENZHEN_USCC, "--key-out", str(key), "--csr-out", str(csr))
    assert r.exit_code == 2 and not key.exists() and csr.read_text() == "old request"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--uscc", "91440300MA5F12342X"], "USCC"),  # wrong check character
        (["--uscc", SHENZHEN_USCC, "--algorithm", "rsa"], "Invalid value"),
        (["--uscc", SHENZHEN_USCC, "--name", "名" * 65], "at most 64"),
    ],
)
def test_bad_arguments_are_one_line_errors_and_write_nothing(tmp_path: Path, args: list[str], message: str) -> None:
    r = keygen(*args, "--key-out", str(tmp_path / "k.pem"), "--csr-out", str(tmp_path / "r.csr"))
    assert r.exit_code == 2 and message in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_no_key_is_left_behind_when_the_request_cannot_be_written(tmp_path: Path) -> None:
    r = keygen(
        "--uscc",
        SHENZHEN_USCC,
        "--key-out",
        str(tmp_path / "k.pem"),
        "--csr-out",
        str(tmp_path / "missing-dir" / "r.csr"),
    )
    assert r.exit_code == 2 and r.stderr.startswith("registry: error:")
    assert list(tmp_path.iterdir()) == []
    r = keygen("--uscc", SHENZHEN_USCC, "--key-out", str(tmp_path / "same"), "--csr-out", str(tmp_path / "same"))
    assert r.exit_code == 2 and "same file" in r.stderr and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("algorithm", ["sm2", "p256"])
def test_the_portal_accepts_the_request_keygen_made(ctx: ServiceContext, tmp_path: Path, algorithm: str) -> None:
    key, csr, r = make(tmp_path, algorithm)
    assert r.exit_code == 0, r.output
    ids = application_intake.apply(ctx, legal(ctx), [application_intake.ApplyItem("03", csr.read_bytes())])
    from registry.db.models import SealApplication

    with ctx.reader() as s:
        app = s.get(SealApplication, ids[0])
        assert app is not None and app.public_key_spki == PrivateKey.from_pem(key.read_text()).public_key.spki()
