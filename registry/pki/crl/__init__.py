"""X.509 v2 certificate revocation lists (RFC 5280 §5), built for scale (design.md §5).

Building (:mod:`.build`)
    Every revocation is encoded once, when it happens, with :func:`encode_entry`, and the DER is
    stored. Publishing a CRL is then header + the stored entries concatenated + one signature:
    :func:`build_crl` takes the entries as one bytes-like blob (or an iterable of chunks), computes
    the ``revokedCertificates`` length from the total, and never creates a Python object per entry.
    The entries are trusted to be :func:`encode_entry` output; they are not re-parsed.

Parsing (:mod:`.parse`)
    :func:`parse_crl` decodes the CRL envelope and extensions and walks only the *headers* of the
    revoked entries (to count them and check that they tile ``revokedCertificates`` exactly).
    Each entry's contents are decoded lazily by :meth:`ParsedCrl.entries`, which raises
    :class:`CrlError` for a malformed entry. Every failure, in either place, is a :class:`CrlError`.

Signatures are always over the TBSCertList bytes as received. SM2 uses SM3 with the GM/T 0009
default ID ``1234567812345678``; OpenSSL 3.0 cannot verify such a CRL with ``openssl crl`` or
``openssl verify`` (design.md §9), so the tests check SM2 CRLs with ``openssl dgst`` over the TBS.

This package is pure: no clock (times are parameters), no database, no I/O.
"""

from __future__ import annotations

from .build import PEM_LABEL, build_crl, crl_pem, encode_entry
from .parse import CrlEntry, ParsedCrl, decode_entry, parse_crl, peek
from .reasons import CrlError, CrlReason

__all__ = [
    "PEM_LABEL",
    "CrlEntry",
    "CrlError",
    "CrlReason",
    "ParsedCrl",
    "build_crl",
    "crl_pem",
    "encode_entry",
    "parse_crl",
    "decode_entry",
    "peek",
]
