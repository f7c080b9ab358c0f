"""Electronic-seal data formats: GM/T 0031-2014, GB/T 38540-2020 (v4) and GM/T 0031-2025 (v5).

* **Model** (:mod:`.model`): :class:`Seal`, :class:`SesSignature` and their parts.
* **Encoding** (:mod:`.encode`, :mod:`.signing`) produces GB/T 38540-2020 v4 ``SESeal`` objects — the
  only generation this registry issues. :func:`encode_seal_info` builds ``SES_SealInfo``;
  :func:`make_seal` signs exactly those bytes with the 制章者 (seal maker) key and wraps them in
  ``SESeal``; :func:`make_signature` builds an ``SES_Signature`` over a document digest.
* **Decoding** (:mod:`.decode`: :func:`parse_seal`, :func:`parse_signature`) reads all three
  generations, detects the generation by structure first (element counts, as ofdrw's
  ``VersionParser`` does) and only then by the header version, and accepts both tag variants seen in
  the wild for ``timeStamp`` and ``extDatas`` (``[0] EXPLICIT`` as ofdrw writes, untagged as
  Chingliu/OfdSharp do).
* **Verification** (:mod:`.verification`: :func:`verify_seal_signature`,
  :func:`verify_signature_value`) checks the cryptographic signature only, over the bytes *as
  received* (``signed_bytes``, sliced from the input), never a re-encoding. Certificate validity,
  chains and revocation are the caller's business (they need a clock and a trust store; this
  package has neither).

Every decoding failure is a :class:`SesError` (a ``ValueError``) naming the element and the byte
offset; no other exception type escapes the public functions for malformed input.

This package is pure: no I/O, no clock, no database.
"""

from __future__ import annotations

from .decode import parse_seal, parse_signature
from .encode import encode_seal_info
from .model import (
    CERT_LIST_CERTIFICATES,
    CERT_LIST_DIGESTS,
    MAX_ES_ID_LENGTH,
    MAX_VID_LENGTH,
    PICTURE_TYPES,
    CertDigest,
    CertListItem,
    ExtData,
    Generation,
    Seal,
    SealPicture,
    SealProperty,
    SesError,
    SesSignature,
    cert_digest,
)
from .signing import document_digest, make_seal, make_signature
from .verification import verify_seal_signature, verify_signature_value

__all__ = [
    "SesError",
    "Generation",
    "CERT_LIST_CERTIFICATES",
    "CERT_LIST_DIGESTS",
    "PICTURE_TYPES",
    "MAX_ES_ID_LENGTH",
    "MAX_VID_LENGTH",
    "CertDigest",
    "CertListItem",
    "SealProperty",
    "SealPicture",
    "ExtData",
    "Seal",
    "SesSignature",
    "encode_seal_info",
    "make_seal",
    "parse_seal",
    "parse_signature",
    "verify_seal_signature",
    "verify_signature_value",
    "cert_digest",
    "make_signature",
    "document_digest",
]
