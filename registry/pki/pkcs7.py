"""PKCS#7 certs-only bundles (``.p7b``): the holder certificate and its chain in one file."""

from __future__ import annotations

from . import der

_SIGNED_DATA = "1.2.840.113549.1.7.2"
_DATA = "1.2.840.113549.1.7.1"


def certs_only(certificates: list[bytes]) -> bytes:
    """A degenerate PKCS#7 SignedData carrying only certificates (RFC 2315 §9.1, the ``.p7b`` that
    Windows and Java import): version 1, no digest algorithms, empty content, no signers."""
    signed_data = der.seq(
        der.integer(1),
        der.set_of(),
        der.seq(der.oid(_DATA)),
        der.implicit(0, b"".join(sorted(certificates)), constructed=True),
        der.set_of(),
    )
    return der.seq(der.oid(_SIGNED_DATA), der.explicit(0, signed_data))
