"""Building PKCS#10 certification requests (RFC 2986) for the enterprise-side ``registry keygen``."""

from __future__ import annotations

from . import der
from .keys import PrivateKey, signature_algorithm_identifier
from .x509 import Name


def build_csr(key: PrivateKey, subject: Name) -> str:
    """A PEM CSR signed by ``key`` (SM2: SM3 with the GM/T 0009 user ID)."""
    info = der.seq(der.integer(0), subject.der(), key.public_key.spki(), der.implicit(0, b"", constructed=True))
    csr = der.seq(info, signature_algorithm_identifier(key.algorithm), der.bit_string(key.sign(info)))
    return der.der_to_pem(csr, "CERTIFICATE REQUEST")
