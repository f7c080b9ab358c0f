"""Helpers shared by the PKI test modules."""
from __future__ import annotations

import subprocess

from hypothesis import HealthCheck, settings

# No example database: this suite must not write files outside tmp_path.
PROPERTY = settings(database=None, deadline=None, max_examples=300,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def ossl(openssl: str, *args: object, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the OpenSSL binary; fail with its output unless ``check`` is off (60 s guard against a hang)."""
    proc = subprocess.run([openssl, *map(str, args)], check=False, capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"openssl {' '.join(map(str, args))} exited {proc.returncode}:\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc
