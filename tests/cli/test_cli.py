"""The ``registry`` command end to end (design.md §8), with OpenSSL as the independent check."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from registry.pki import der, ses, x509
from registry.pki.keys import Algorithm, PrivateKey
from tests.support.cli import GOOD_CSV, Cli, ctx_of, last_line
from tests.support.data import CANCELLED_USCC, SHENZHEN_USCC, TEST_KEK
from tests.support.net import free_port, wait_for_http


def test_init_is_idempotent_and_prints_the_admin_password_once(cli: Cli, tmp_path: Path) -> None:
    first = cli("init")
    assert "one-time password:" in first.stdout
    assert first.stdout.count(" created ") == 6
    assert (tmp_path / "instance" / "kek.json").stat().st_mode & 0o777 == 0o600
    second = cli("init")
    assert "one-time password" not in second.stdout
    assert second.stdout.count(" exists ") == 6 and "admin account exists" in second.stdout


def test_init_demo_loads_licences_and_staff(cli: Cli) -> None:
    out = cli("init", "--demo").stdout
    assert "demo licences: created 5" in out and "demo user reviewer (reviewer)" in out
    assert "demo licences: created 0, updated 0, unchanged 5" in cli("init", "--demo").stdout


def test_user_add_prints_username_last(ready: Cli) -> None:
    r = ready("user", "add", "Alice", "--role", "auditor")
    assert last_line(r) == "alice" and "one-time password:" in r.stdout


def test_licence_import_reports_bad_rows_with_line_numbers_and_keeps_good_rows(cli: Cli, tmp_path: Path) -> None:
    cli("init")
    f = tmp_path / "lic.csv"
    f.write_text(GOOD_CSV, encoding="utf-8")
    r = cli("licence", "import", str(f))
    assert "created 3, updated 0, unchanged 0, rejected 2" in r.stdout
    errors = r.stderr.strip().splitlines()
    assert len(errors) == 2
    assert "line 3:" in errors[0] and "check character" in errors[0]
    assert "line 6:" in errors[1] and "registered_on" in errors[1]
    # re-import with a changed address updates in place, never duplicates
    f.write_text(GOOD_CSV.replace("深圳市福田区", "深圳市福田区新地址"), encoding="utf-8")
    r = cli("licence", "import", str(f))
    assert "created 0, updated 1, unchanged 2, rejected 2" in r.stdout


def test_licence_import_accepts_json_lines(cli: Cli, tmp_path: Path) -> None:
    cli("init")
    f = tmp_path / "lic.jsonl"
    rows = [
        dict(
            uscc=SHENZHEN_USCC,
            name="深圳市前海示范科技有限公司",
            legal_representative="张三",
            entity_type="有限责任公司",
            address="",
            registered_on="2019-05-20",
            status="active",
        ),
        {"uscc": "bad"},
    ]
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n{oops\n", encoding="utf-8")
    r = cli("licence", "import", str(f))
    assert "created 1" in r.stdout and "rejected 2" in r.stdout
    assert "line 2:" in r.stderr and "line 3:" in r.stderr and "not valid JSON" in r.stderr


def test_licence_file_with_wrong_header_is_refused_whole(cli: Cli, tmp_path: Path, fingerprint) -> None:  # type: ignore[no-untyped-def]
    cli("init")
    f = tmp_path / "lic.csv"
    f.write_text("uscc,name\n91440300MA5F12342Q,x\n", encoding="utf-8")
    before = fingerprint(ctx_of(cli))
    r = cli("licence", "import", str(f), ok=False)
    assert r.exit_code == 2 and "missing column(s) legal_representative" in r.stderr
    assert fingerprint(ctx_of(cli)) == before


def _openssl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)


def _split_pem(path: Path) -> list[str]:
    text = path.read_text()
    return [b + "-----END CERTIFICATE-----\n" for b in text.split("-----END CERTIFICATE-----\n") if b.strip()]


def test_sm2_seal_export_verifies_with_openssl(ready: Cli, tmp_path: Path, openssl: str) -> None:
    out = tmp_path / "out"
    r = ready(
        "seal",
        "issue",
        "--uscc",
        SHENZHEN_USCC,
        "--type",
        "finance",
        "--generate-key",
        "--break-glass",
        "counter test",
        "--out",
        str(out),
    )
    es_id = last_line(r)
    assert len(es_id) == 25 and es_id.startswith("44030002")
    assert {p.name for p in out.iterdir()} == {"seal.esl", "cert.pem", "chain.pem", "maker-chain.pem", "holder.key"}
    assert (out / "holder.key").stat().st_mode & 0o777 == 0o600

    # 1. the holder chain, one link at a time (OpenSSL 3.0 applies the SM2 ID to the last link only)
    issuing, root = _split_pem(out / "chain.pem")
    (tmp_path / "issuing.pem").write_text(issuing)
    (tmp_path / "root.pem").write_text(root)
    distid = ["-vfyopt", "distid:1234567812345678"]
    for cert, ca in ((out / "cert.pem", "issuing.pem"), (tmp_path / "issuing.pem", "root.pem")):
        v = _openssl("verify", *distid, "-partial_chain", "-CAfile", ca, str(cert), cwd=tmp_path)
        assert v.returncode == 0 and ": OK" in v.stdout, v.stderr
    assert (
        _openssl("verify", "-partial_chain", "-CAfile", "issuing.pem", str(out / "cert.pem"), cwd=tmp_path).returncode
        != 0
    )  # without the GM/T 0009 ID it must fail

    # 2. signedValue over SES_SealInfo, with the seal-maker certificate's key
    seal_der = (out / "seal.esl").read_bytes()
    top = der.parse(seal_der)
    seal_info = top.children()[0]
    (tmp_path / "info.der").write_bytes(seal_info.raw)
    # OpenSSL's own view of element 0 is byte-identical to what we signed
    ap = _openssl(
        "asn1parse",
        "-inform",
        "DER",
        "-in",
        str(out / "seal.esl"),
        "-strparse",
        str(top.header_len),
        "-noout",
        "-out",
        "info_openssl.der",
        cwd=tmp_path,
    )
    assert ap.returncode == 0, ap.stderr
    assert (tmp_path / "info_openssl.der").read_bytes() == seal_info.raw
    parsed = ses.parse_seal(seal_der)
    (tmp_path / "sig.der").write_bytes(parsed.signature)
    maker_pem = _split_pem(out / "maker-chain.pem")[0]
    (tmp_path / "maker.pem").write_text(maker_pem)
    pub = _openssl("x509", "-in", "maker.pem", "-pubkey", "-noout", cwd=tmp_path)
    (tmp_path / "maker_pub.pem").write_text(pub.stdout)
    d = _openssl(
        "dgst",
        "-sm3",
        "-verify",
        "maker_pub.pem",
        "-sigopt",
        "distid:1234567812345678",
        "-signature",
        "sig.der",
        "info_openssl.der",
        cwd=tmp_path,
    )
    assert d.stdout.strip() == "Verified OK", d.stderr
    assert parsed.maker_cert == der.pem_to_der(maker_pem)

    # 3. the certList holds exactly the exported holder certificate
    holder_der = subprocess.run(
        ["openssl", "x509", "-in", str(out / "cert.pem"), "-outform", "DER"], capture_output=True, check=True
    ).stdout
    assert parsed.property.certificates == (holder_der,)
    # and the exported private key belongs to it (OpenSSL's reading of both)
    k = _openssl("pkey", "-in", str(out / "holder.key"), "-pubout", cwd=tmp_path)
    c = _openssl("x509", "-in", str(out / "cert.pem"), "-pubkey", "-noout", cwd=tmp_path)
    assert k.stdout == c.stdout and k.returncode == 0


def test_ecdsa_seal_chain_verifies_with_plain_openssl(ready: Cli, tmp_path: Path, openssl: str) -> None:
    key = PrivateKey.generate(Algorithm.ECDSA)
    (tmp_path / "pub.pem").write_text(key.public_key.pem())
    out = tmp_path / "out"
    ready(
        "seal",
        "issue",
        "--uscc",
        SHENZHEN_USCC,
        "--type",
        "04",
        "--public-key",
        str(tmp_path / "pub.pem"),
        "--break-glass",
        "counter test",
        "--out",
        str(out),
    )
    issuing, root = _split_pem(out / "chain.pem")
    (tmp_path / "issuing.pem").write_text(issuing)
    (tmp_path / "root.pem").write_text(root)
    v = _openssl("verify", "-CAfile", "root.pem", "-untrusted", "issuing.pem", str(out / "cert.pem"), cwd=tmp_path)
    assert v.returncode == 0 and v.stdout.strip().endswith(": OK"), v.stderr
    parsed = ses.parse_seal((out / "seal.esl").read_bytes())
    assert ses.verify_seal_signature(parsed)


def test_openssl_made_sm2_csr_is_accepted(ready: Cli, tmp_path: Path, openssl: str) -> None:
    assert (
        _openssl(
            "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2", "-out", "k.pem", cwd=tmp_path
        ).returncode
        == 0
    )
    req = _openssl(
        "req",
        "-new",
        "-key",
        "k.pem",
        "-sm3",
        "-sigopt",
        "distid:1234567812345678",
        "-subj",
        f"/C=CN/CN=holder/organizationIdentifier={SHENZHEN_USCC}",
        "-out",
        "req.pem",
        cwd=tmp_path,
    )
    assert req.returncode == 0, req.stderr
    r = ready(
        "seal",
        "issue",
        "--uscc",
        SHENZHEN_USCC,
        "--type",
        "contract",
        "--csr",
        str(tmp_path / "req.pem"),
        "--break-glass",
        "counter test",
    )
    es_id = last_line(r)
    info = json.loads(ready("seal", "show", es_id, "--json").stdout)
    assert info["es_id"] == es_id and info["status"] == "active" and info["algorithm"] == "sm2"
    assert info["type"] == "04" and info["uscc"] == SHENZHEN_USCC
    spki = subprocess.run(
        ["openssl", "pkey", "-in", "k.pem", "-pubout", "-outform", "DER"], cwd=tmp_path, capture_output=True, check=True
    ).stdout
    ready("seal", "export", es_id, "--out", str(tmp_path / "exp"))
    assert x509.Certificate.load((tmp_path / "exp" / "cert.pem").read_bytes()).spki == spki


def test_keygen_makes_a_key_and_csr_that_issue_accepts(ready: Cli, tmp_path: Path) -> None:
    r = ready(
        "keygen",
        "--algorithm",
        "ecdsa",
        "--uscc",
        SHENZHEN_USCC,
        "--key-out",
        str(tmp_path / "k.pem"),
        "--csr-out",
        str(tmp_path / "r.csr"),
    )
    assert last_line(r) == str(tmp_path / "r.csr")
    r = ready(
        "seal",
        "issue",
        "--uscc",
        SHENZHEN_USCC,
        "--type",
        "official",
        "--csr",
        str(tmp_path / "r.csr"),
        "--break-glass",
        "counter test",
    )
    export = tmp_path / "exp"
    ready("seal", "export", last_line(r), "--out", str(export))
    cert = x509.Certificate.load((export / "cert.pem").read_bytes())
    assert cert.public_key == PrivateKey.from_pem((tmp_path / "k.pem").read_text()).public_key


def _bad_csr(tmp_path: Path) -> Path:
    from registry.pki.csr import build_csr

    pem = build_csr(PrivateKey.generate(Algorithm.SM2), x509.Name.build(CN="x"))
    raw = bytearray(der.pem_to_der(pem))
    raw[-3] ^= 0xFF
    p = tmp_path / "bad.csr"
    p.write_bytes(bytes(raw))
    return p


def _p384_csr(tmp_path: Path) -> Path:
    from cryptography import x509 as cx
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP384R1())
    csr = (
        cx.CertificateSigningRequestBuilder()
        .subject_name(cx.Name([cx.NameAttribute(NameOID.COMMON_NAME, "holder")]))
        .sign(key, hashes.SHA256())
    )
    p = tmp_path / "p384.csr"
    p.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    return p


def _p384(tmp_path: Path) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    p = tmp_path / "p384.pem"
    p.write_bytes(
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return p


BAD = {
    "wrong check character": (["--uscc", "91440300MA5F12342R"], "check character"),
    "unknown seal type": (["--type", "stamp"], "unknown seal type"),
    "licence not active": (["--uscc", CANCELLED_USCC], "cancelled"),
    "approver lacks the reviewer role": (["--operator", "otto", "--approver", "olivia"], "may not application approve"),
    "same person reviews and approves": (["--operator", "otto", "--approver", "otto"], "dual control"),
    "wrong-curve csr": (["--csr", "{p384_csr}"], "unsupported curve secp384r1"),
    "png that is not a png": (["--image", "{tmp}/fake.png"], "PNG"),
    "malformed csr": (["--csr", "{tmp}/garbage.csr"], "certificate request"),
    "csr failing proof of possession": (["--csr", "{bad_csr}"], "proof of possession"),
    "wrong-curve key": (["--public-key", "{p384}"], "unsupported curve"),
    "missing csr file": (["--csr", "{tmp}/nope.csr"], "no such file"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_issue_input_is_one_line_exit_2_and_writes_nothing(
    ready: Cli, tmp_path: Path, fingerprint, case: str
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "fake.png").write_bytes(b"\xff\xd8\xff\xe0JFIF" + b"\x00" * 64)
    (tmp_path / "garbage.csr").write_bytes(b"this is not a request")
    extra, words = BAD[case]
    ready("user", "add", "otto", "--role", "operator", "--role", "reviewer")
    subst = {
        "tmp": str(tmp_path),
        "bad_csr": str(_bad_csr(tmp_path)),
        "p384": str(_p384(tmp_path)),
        "p384_csr": str(_p384_csr(tmp_path)),
    }
    extra = [e.format(**subst) for e in extra]
    args = {"--uscc": SHENZHEN_USCC, "--type": "finance"}
    if not any(e in ("--operator", "--approver") for e in extra):
        args["--break-glass"] = "counter test"  # input checks; dual control: tests/security/test_cli_dual_control.py
    else:
        args.update({"--operator": "olivia", "--approver": "rita"})
    for i in range(0, len(extra), 2):
        args[extra[i]] = extra[i + 1]
    argv = ["seal", "issue"]
    for k, v in args.items():
        argv += [k, v]
    if not any(k in args for k in ("--csr", "--public-key")):
        argv += ["--generate-key", "--out", str(tmp_path / "out")]
    before = fingerprint(ctx_of(ready))
    r = ready(*argv, ok=False)
    assert r.exit_code == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("registry: error: ") and words in lines[0], r.stderr
    assert r.stdout == ""
    assert fingerprint(ctx_of(ready)) == before
    assert not (tmp_path / "out").exists()


def test_show_unknown_or_mistyped_seal_code(ready: Cli) -> None:
    r = ready("seal", "show", "440300022026AAAAAAAAAAAAA", ok=False)
    assert r.exit_code == 2 and ("check character" in r.stderr or "no seal" in r.stderr)
    r = ready("seal", "show", "hello", ok=False)
    assert r.exit_code == 2 and "not a seal code" in r.stderr


def test_export_refuses_to_overwrite(ready: Cli, tmp_path: Path) -> None:
    r = ready(
        "seal",
        "issue",
        "--uscc",
        SHENZHEN_USCC,
        "--type",
        "official",
        "--generate-key",
        "--break-glass",
        "counter test",
        "--out",
        str(tmp_path / "o"),
    )
    r2 = ready("seal", "export", last_line(r), "--out", str(tmp_path / "o"), ok=False)
    assert r2.exit_code == 2 and "refusing to overwrite" in r2.stderr


def test_console_script_is_installed_and_reports_errors_on_stderr(tmp_path: Path) -> None:
    import sys

    exe = Path(sys.executable).parent / "registry"
    r = subprocess.run(
        [str(exe), "seal", "show", "nope"],
        capture_output=True,
        text=True,
        env={"REGISTRY_INSTANCE_PATH": str(tmp_path), "PATH": "/usr/bin:/bin", "REGISTRY_KEK": TEST_KEK},
    )
    assert r.returncode == 2 and r.stderr.startswith("registry: error:") and r.stdout == ""


@pytest.mark.slow
def test_serve_runs_the_portal_with_gunicorn(tmp_path: Path) -> None:
    import sys
    import urllib.request

    exe = Path(sys.executable).parent / "registry"
    env = {"REGISTRY_INSTANCE_PATH": str(tmp_path / "instance"), "PATH": "/usr/bin:/bin"}
    subprocess.run([str(exe), "init"], env=env, check=True, capture_output=True)
    port = free_port()
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        body = wait_for_http(f"http://127.0.0.1:{port}/", proc)  # until the workers have booted
        assert "电子印章登记系统" in body and "/ca/sm2-root.cer" in body
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ca/ecdsa-root.cer", timeout=30) as resp:
            assert resp.headers["Content-Type"] == "application/pkix-cert"
            assert resp.read()[:1] == b"\x30"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=60)
    assert "gunicorn" in out and "Booting worker" in out


# -- revocation and CRLs ------------------------------------------------------------------------------


def _issue_cli(ready: Cli, seal_type: str = "finance") -> str:
    pem = (
        Path(ready.env["REGISTRY_INSTANCE_PATH"]).parent
        / f"pub-{seal_type}-{PrivateKey.generate(Algorithm.SM2).public_key.fingerprint()[:8]}.pem"
    )
    pem.write_text(PrivateKey.generate(Algorithm.SM2).public_key.pem())
    r = ready(
        "seal",
        "issue",
        "--uscc",
        SHENZHEN_USCC,
        "--type",
        seal_type,
        "--public-key",
        str(pem),
        "--break-glass",
        "counter test",
    )
    return last_line(r)


def test_revoke_suspend_resume_renew_from_the_command_line(ready: Cli) -> None:
    a, b, c = _issue_cli(ready), _issue_cli(ready, "contract"), _issue_cli(ready, "official")
    r = ready("seal", "revoke", a, "--reason", "keyCompromise")
    assert last_line(r) == a and "(keyCompromise)" in r.stdout
    assert json.loads(ready("seal", "show", a, "--json").stdout)["status"] == "revoked"
    ready("seal", "suspend", b)
    assert json.loads(ready("seal", "show", b, "--json").stdout)["status"] == "suspended"
    ready("seal", "resume", b)
    assert json.loads(ready("seal", "show", b, "--json").stdout)["status"] == "active"
    new = last_line(ready("seal", "renew", c))
    assert new != c and json.loads(ready("seal", "show", c, "--json").stdout)["status"] == "revoked"
    out = ready("crl", "publish").stdout
    assert "sm2-issuing.crl" in out and "sm2-issuing-delta.crl" in out and "number" in out


@pytest.mark.parametrize(
    "argv,words",
    [
        (["seal", "revoke", "{a}", "--reason", "lost"], "unknown or unsuitable revocation reason 'lost'"),
        (["seal", "revoke", "{a}", "--reason", "keyCompromise", "--invalidity-date", "yesterday"], "ISO 8601"),
        (["seal", "resume", "{a}"], "only a suspended seal can be resumed"),
        (["seal", "revoke", "440300022026AAAAAAAAAAAAA", "--reason", "keyCompromise"], "seal code"),
        (["licence", "set-status", "91440300MA5F12342R", "cancelled"], "check character"),
        (["crl", "publish", "--issuer", "sm2-seal-maker"], "no CRL issuer named 'sm2-seal-maker'"),
        (["ca", "revoke", "sm2-root", "--reason", "keyCompromise"], "root CA"),
    ],
)
def test_bad_revocation_input_is_one_line_exit_2_and_writes_nothing(ready: Cli, fingerprint, argv, words) -> None:  # type: ignore[no-untyped-def]
    a = _issue_cli(ready)
    before = fingerprint(ctx_of(ready))
    r = ready(*[x.format(a=a) for x in argv], ok=False)
    assert r.exit_code == 2 and r.stdout == "", r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], r.stderr
    assert fingerprint(ctx_of(ready)) == before


def test_licence_set_status_revokes_the_seals_and_says_which(ready: Cli) -> None:
    a, b = _issue_cli(ready), _issue_cli(ready, "contract")
    r = ready("licence", "set-status", SHENZHEN_USCC, "active", "--name", "深圳市前海新名科技有限公司")
    assert f"revoked {a}" in r.stdout and f"revoked {b}" in r.stdout and last_line(r) == SHENZHEN_USCC
    r = ready("licence", "set-status", SHENZHEN_USCC, "active", "--name", "深圳市前海新名科技有限公司")
    assert "nothing changed" in r.stdout


def test_renew_with_a_generated_key_writes_it_next_to_the_new_seal(ready: Cli, tmp_path: Path) -> None:
    old = _issue_cli(ready, "contract")
    out = tmp_path / "renewed"
    r = ready("seal", "renew", old, "--generate-key", "--out", str(out))
    new = last_line(r)
    assert new != old and "holder.key" in r.stdout
    cert = x509.Certificate.load((out / "cert.pem").read_bytes())
    assert cert.public_key == PrivateKey.from_pem((out / "holder.key").read_text()).public_key
    assert (out / "holder.key").stat().st_mode & 0o777 == 0o600
    refused = ready("seal", "renew", old, "--generate-key", "--out", str(tmp_path / "again"), ok=False)
    assert refused.exit_code == 2 and "revoked" in refused.stderr and not (tmp_path / "again").exists()
