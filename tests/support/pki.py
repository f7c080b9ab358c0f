"""Helpers for the tests that check artifacts with OpenSSL, the hypothesis settings of the property tests,
and certificate requests (CSRs) of fresh keys."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from hypothesis import HealthCheck, settings

from registry.pki import x509
from registry.pki.csr import build_csr
from registry.pki.keys import Algorithm, PrivateKey

# No example database: this suite must not write files outside tmp_path.
PROPERTY = settings(
    database=None,
    deadline=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def ossl(openssl: str, *args: object, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the OpenSSL binary; fail with its output unless ``check`` is off (60 s guard against a hang)."""
    proc = subprocess.run([openssl, *map(str, args)], check=False, capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"openssl {' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def top_level(openssl: str, der_path: Path) -> list[tuple[int, int, str]]:
    """(offset, depth, type) of each element `openssl asn1parse` lists."""
    rows = []
    for line in ossl(openssl, "asn1parse", "-inform", "DER", "-in", der_path).stdout.splitlines():
        m = re.match(r"\s*(\d+):d=(\d+)\s+hl=\s*\d+\s+l=\s*\d+\s+(?:prim|cons):\s+(.+?)\s*(?::|$)", line)
        if m:
            rows.append((int(m.group(1)), int(m.group(2)), m.group(3).strip()))
    return rows


def csr_for(uscc: str, alg: Algorithm = Algorithm.SM2, *, common_name: str = "印章") -> tuple[PrivateKey, bytes]:
    """A fresh key and a PEM CSR naming the enterprise (C=CN, the common name, organizationIdentifier=uscc)."""
    key = PrivateKey.generate(alg)
    return key, build_csr(key, x509.Name.build(C="CN", CN=common_name, organizationIdentifier=uscc)).encode()
