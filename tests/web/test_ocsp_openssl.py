"""The OCSP responder against OpenSSL 3.0's client, over a real server (`registry serve`, gunicorn,
two workers) on a free loopback port.

ECDSA hierarchy: `openssl ocsp -issuer ISSUING.pem -cert CERT.pem -url ... -CAfile ROOT.pem` reports
good for a live certificate, revoked with time and reason for a revoked one, and `Response verify
OK`, both on the pre-signed path (`-no_nonce`) and on the live path (a nonce, echoed).

SM2 hierarchy: OpenSSL 3.0 cannot verify an SM2 signature made with the GM/T 0009 user ID on an OCSP
response, so `openssl ocsp -noverify` reads the status and `openssl dgst -sm3 -sigopt distid:...`
checks the signature over the tbsResponseData that `openssl asn1parse -strparse` extracts
(design.md §9)."""

from __future__ import annotations

import datetime as dt
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
from registry.pki import der
from registry.pki import ocsp as pki_ocsp
from registry.services import authorities, licences, ocsp, revocation, users
from registry.services.context import ServiceContext
from registry.services.demo import DEMO_CSV
from tests.support.data import ADMIN, TEST_KEK
from tests.support.net import free_port
from tests.support.pki import ossl, top_level
from tests.support.seals import issue_with_algorithm

DISTID = "distid:1234567812345678"


@dataclass
class Live:
    ctx: ServiceContext
    url: str
    dir: Path

    def pem(self, name: str, data: bytes) -> Path:
        path = self.dir / name
        path.write_text(der.der_to_pem(data, "CERTIFICATE"))
        return path

    def authority(self, name: str) -> Path:
        with self.ctx.reader() as s:
            return self.pem(f"{name}.pem", authorities.chain(self.ctx, s, name)[0].der)


@pytest.fixture
def live(tmp_path: Path, database_url: str) -> Iterator[Live]:
    """A database with the hierarchies and demo licences (real clock: the server's), served by
    `registry serve` with two gunicorn workers."""
    port = free_port()
    env = {
        "REGISTRY_INSTANCE_PATH": str(tmp_path / "instance"),
        "REGISTRY_DATABASE_URL": database_url,
        "REGISTRY_KEK": TEST_KEK,
        "REGISTRY_SECRET_KEY": "test-secret",
        "REGISTRY_BASE_URL": f"http://127.0.0.1:{port}",
        "REGISTRY_CRL_SHARDS": "8",
    }
    ctx = ServiceContext.create(Settings.from_env(env))
    authorities.ensure_hierarchies(ctx, ADMIN)
    users.add_user(ctx, ADMIN, "olivia", [Role.OPERATOR])
    users.add_user(ctx, ADMIN, "rita", [Role.REVIEWER])
    licences.import_licences(ctx, ADMIN, DEMO_CSV.encode(), "demo.csv")
    exe = Path(sys.executable).parent / "registry"
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port), "--workers", "2", "--no-publisher"],
        env={**env, "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for _ in range(300):  # bounded wait for the workers to boot
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ocsp", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None:
                    break
                time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()[0]
        work = tmp_path / "files"
        work.mkdir()
        yield Live(ctx, f"http://127.0.0.1:{port}/ocsp", work)
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
        ctx.engine.dispose()


def _ask(openssl: str, live: Live, issuer: Path, cert: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return ossl(openssl, "ocsp", "-issuer", issuer, "-cert", cert, "-url", live.url, *extra)


def _status_line(out: str, cert: Path) -> str:
    return next(line for line in out.splitlines() if line.startswith(f"{cert}:")).split(":", 1)[1].strip()


@pytest.mark.openssl
def test_openssl_ocsp_gets_good_then_revoked_with_time_and_reason_for_an_ecdsa_certificate(
    openssl: str, live: Live
) -> None:
    res = issue_with_algorithm(live.ctx, "ecdsa")
    cert = live.pem("holder.pem", res.certificate_der)
    issuing, root = live.authority("ecdsa-issuing"), live.authority("ecdsa-root")

    pre = _ask(openssl, live, issuing, cert, "-CAfile", root, "-no_nonce", "-resp_text")
    assert _status_line(pre.stdout, cert) == "good"
    assert "Response verify OK" in pre.stderr
    assert "OCSP Nonce" not in pre.stdout

    nonce = _ask(openssl, live, issuing, cert, "-CAfile", root, "-resp_text")  # a nonce: signed live
    assert _status_line(nonce.stdout, cert) == "good" and "Response verify OK" in nonce.stderr
    assert "OCSP Nonce" in nonce.stdout and "WARNING: no nonce" not in nonce.stdout + nonce.stderr

    revoked = revocation.revoke_seal(live.ctx, ADMIN, res.es_id, "keyCompromise")
    for extra in (("-no_nonce",), ()):
        out = _ask(openssl, live, issuing, cert, "-CAfile", root, *extra)
        assert _status_line(out.stdout, cert) == "revoked", out.stdout
        assert "Response verify OK" in out.stderr
        assert "Reason: keyCompromise" in out.stdout
        when = re.search(r"Revocation Time: (.+)", out.stdout)
        assert when is not None
        assert (
            dt.datetime.strptime(when.group(1).strip(), "%b %d %H:%M:%S %Y GMT").replace(tzinfo=dt.UTC)
            == revoked.revoked_at
        )


@pytest.mark.openssl
def test_openssl_ocsp_answers_for_the_ecdsa_issuing_ca_certificate_signed_by_the_root(openssl: str, live: Live) -> None:
    issuing, root = live.authority("ecdsa-issuing"), live.authority("ecdsa-root")
    out = _ask(openssl, live, root, issuing, "-CAfile", root, "-no_nonce")
    assert _status_line(out.stdout, issuing) == "good" and "Response verify OK" in out.stderr
    revocation.revoke_authority(live.ctx, ADMIN, "ecdsa-seal-maker", "cACompromise")
    maker = live.authority("ecdsa-seal-maker")
    out = _ask(openssl, live, root, maker, "-CAfile", root)
    assert _status_line(out.stdout, maker) == "revoked" and "Reason: cACompromise" in out.stdout
    assert "Response verify OK" in out.stderr


@pytest.mark.openssl
def test_openssl_ocsp_rejects_a_response_signed_by_the_wrong_ca(openssl: str, live: Live) -> None:
    """The check can fail: asking about an ECDSA holder certificate while naming the root as its
    issuer is unauthorized (a different CertID issuer) and openssl reports an error."""
    res = issue_with_algorithm(live.ctx, "ecdsa")
    cert = live.pem("holder.pem", res.certificate_der)
    root = live.authority("ecdsa-root")
    out = ossl(
        openssl, "ocsp", "-issuer", root, "-cert", cert, "-url", live.url, "-CAfile", root, "-no_nonce", check=False
    )
    assert "unauthorized" in (out.stdout + out.stderr).lower()


def _sm2_signature_check(openssl: str, live: Live, response: Path, issuer: Path) -> None:
    rows = top_level(openssl, response)
    (octets,) = [off for off, depth, kind in rows if depth == 3 and kind.startswith("OCTET STRING")]
    basic = live.dir / "basic.der"
    ossl(openssl, "asn1parse", "-inform", "DER", "-in", response, "-strparse", octets, "-noout", "-out", basic)
    rows = top_level(openssl, basic)
    tbs_offset = next(off for off, depth, kind in rows if depth == 1 and kind == "SEQUENCE")
    (sig_offset,) = [off for off, depth, kind in rows if depth == 1 and kind == "BIT STRING"]
    tbs, sig, pub = live.dir / "tbs.der", live.dir / "sig.der", live.dir / "issuer_pub.pem"
    ossl(openssl, "asn1parse", "-inform", "DER", "-in", basic, "-strparse", tbs_offset, "-noout", "-out", tbs)
    ossl(openssl, "asn1parse", "-inform", "DER", "-in", basic, "-strparse", sig_offset, "-noout", "-out", sig)
    pub.write_text(ossl(openssl, "x509", "-in", issuer, "-pubkey", "-noout").stdout)
    ok = ossl(openssl, "dgst", "-sm3", "-verify", pub, "-sigopt", DISTID, "-signature", sig, tbs)
    assert "Verified OK" in ok.stdout
    # the GM/T 0009 ID is part of the signature: OpenSSL's default (empty) ID does not verify it
    assert ossl(openssl, "dgst", "-sm3", "-verify", pub, "-signature", sig, tbs, check=False).returncode == 1
    parsed = pki_ocsp.parse_response(response.read_bytes())
    assert tbs.read_bytes() == parsed.tbs and sig.read_bytes() == parsed.signature


@pytest.mark.openssl
def test_sm2_responses_read_by_openssl_and_their_signature_checked_with_openssl_dgst(openssl: str, live: Live) -> None:
    res = issue_with_algorithm(live.ctx, "sm2")
    cert = live.pem("holder.pem", res.certificate_der)
    issuing = live.authority("sm2-issuing")
    good = live.dir / "good.der"
    _ask(openssl, live, issuing, cert, "-no_nonce", "-noverify", "-respout", good)
    text = ossl(openssl, "ocsp", "-respin", good, "-resp_text", "-noverify").stdout
    assert "Cert Status: good" in text and "Response Status: successful" in text
    _sm2_signature_check(openssl, live, good, issuing)

    revocation.suspend_seal(live.ctx, ADMIN, res.es_id)
    held = live.dir / "held.der"
    out = _ask(openssl, live, issuing, cert, "-noverify", "-respout", held)  # with a nonce: signed live
    assert _status_line(out.stdout, cert) == "revoked" and "Reason: certificateHold" in out.stdout
    text = ossl(openssl, "ocsp", "-respin", held, "-resp_text", "-noverify").stdout
    assert "Cert Status: revoked" in text and "OCSP Nonce" in text
    _sm2_signature_check(openssl, live, held, issuing)

    revocation.resume_seal(live.ctx, ADMIN, res.es_id)
    out = _ask(openssl, live, issuing, cert, "-noverify", "-no_nonce")
    assert _status_line(out.stdout, cert) == "good"


def test_stored_responses_are_what_the_server_sends(live: Live) -> None:
    """The pre-signed path really is pre-signed: the bytes on the wire are the stored ones."""
    res = issue_with_algorithm(live.ctx, "ecdsa")
    from sqlalchemy import select

    from registry.db.models import OcspResponse
    from registry.pki import x509

    serial = format(x509.Certificate.from_der(res.certificate_der).serial, "x")
    with live.ctx.reader() as s:
        stored = s.scalar(select(OcspResponse.response_der).where(OcspResponse.serial == serial))
    with live.ctx.reader() as s:
        issuer = authorities.chain(live.ctx, s, "ecdsa-issuing")[0]
    cid = pki_ocsp.cert_id(pki_ocsp.HashAlgorithm.SHA1, issuer.subject_der, issuer.public_key.point, int(serial, 16))
    req = urllib.request.Request(
        live.url, data=pki_ocsp.build_request([cid]), headers={"Content-Type": "application/ocsp-request"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.read() == stored and resp.headers["Content-Type"] == "application/ocsp-response"
    assert ocsp.PRESIGNED_HASH is pki_ocsp.HashAlgorithm.SHA1
