"""Building CRLs for scale (design.md §5): every revocation is encoded once, when it happens, with
:func:`encode_entry`; publishing is a header, the stored entries concatenated and one signature
(:func:`build_crl`), with no Python object per entry."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterable
from urllib.parse import urlsplit

from ...messages import M
from .. import der, oids
from ..keys import Signer, signature_algorithm_identifier
from ..x509 import _distribution_points, _general_name_uri, authority_key_identifier, extension
from .reasons import CrlError, CrlReason

PEM_LABEL = "X509 CRL"
_MAX_NUMBER = 1 << 159  # RFC 5280 §5.2.3: CRLNumber at most 20 octets (a non-negative INTEGER)


def _header(tag: int, length: int) -> bytes:
    """Identifier and definite, minimal length octets (X.690 §8.1.3, §10.1)."""
    if length < 0x80:
        return bytes((tag, length))
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(body))) + body


def _time_arg(when: object, what: str) -> dt.datetime:
    if not isinstance(when, dt.datetime):
        raise CrlError(f"{what} must be a datetime, not {type(when).__name__}")
    if when.tzinfo is None or when.utcoffset() is None:
        raise CrlError(f"{what} must be timezone-aware (got naive {when.isoformat()})")
    utc = when.astimezone(dt.UTC).replace(microsecond=0)  # DER times carry whole seconds here
    if not 1950 <= utc.year <= 9999:
        raise CrlError(f"{what} {utc.isoformat()} is outside 1950-9999")
    return utc


_REASON_EXT: dict[CrlReason, bytes] = {}


def _reason_extension(reason: CrlReason) -> bytes:
    # §5.3.1 reasonCode: non-critical, CRLReason ::= ENUMERATED
    ext = _REASON_EXT.get(reason)
    if ext is None:
        ext = _REASON_EXT[reason] = extension(oids.CRL_REASON, der.enumerated(int(reason)))
    return ext


def encode_entry(
    serial: int, revoked_at: dt.datetime, reason: CrlReason | None = None, invalidity_date: dt.datetime | None = None
) -> bytes:
    """One element of ``revokedCertificates`` (RFC 5280 §5.1.2.6), DER::

        SEQUENCE { userCertificate CertificateSerialNumber, revocationDate Time,
                   crlEntryExtensions Extensions OPTIONAL }

    ``revocationDate`` is UTCTime for 1950–2049 and GeneralizedTime otherwise (§5.1.2.6 → §4.1.2.5).
    A reasonCode extension (§5.3.1, non-critical) is added only when ``reason`` is given and is not
    ``UNSPECIFIED`` (the RFC says the code SHOULD then be absent); ``REMOVE_FROM_CRL`` belongs in
    delta CRLs only, which is the caller's business. ``invalidity_date`` adds the non-critical
    invalidityDate extension (§5.3.2, always GeneralizedTime). Times are whole seconds (any
    microseconds are dropped). Raises :class:`CrlError` for a serial that is not positive or is
    longer than 20 octets (§4.1.2.2), naive times, or an unknown reason.
    """
    if type(serial) is not int:  # bool is not a serial either
        raise CrlError(f"serial must be an int, not {type(serial).__name__}")
    if serial <= 0 or serial.bit_length() > 159:
        raise CrlError("certificate serial number must be positive and at most 20 octets (RFC 5280 §4.1.2.2)")
    body = der.integer(serial) + _time_der(_time_arg(revoked_at, "revocation time"))
    ext = b""
    if reason is not None:
        reason = CrlReason.parse(reason)
        if reason is not CrlReason.UNSPECIFIED:
            ext = _reason_extension(reason)
    if invalidity_date is not None:
        # §5.3.2 InvalidityDate ::= GeneralizedTime, non-critical
        ext += extension(
            oids.INVALIDITY_DATE, _time_der(_time_arg(invalidity_date, "invalidity date"), generalized=True)
        )
    if ext:
        body += _header(0x30, len(ext)) + ext  # Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension
    return _header(0x30, len(body)) + body


def _time_der(utc: dt.datetime, generalized: bool = False) -> bytes:
    """Time for a UTC datetime in whole seconds; the same encoding as :func:`der.x509_time`
    (UTCTime 1950–2049, else GeneralizedTime, RFC 5280 §4.1.2.5) without re-normalising."""
    if not generalized and utc.year < 2050:
        return b"\x17\x0d" + utc.strftime("%y%m%d%H%M%SZ").encode()
    return b"\x18\x0f" + utc.strftime("%Y%m%d%H%M%SZ").encode()


def _url_arg(url: object, what: str) -> str:
    if not isinstance(url, str):
        raise CrlError(f"{what} must be a str URL")
    if not url.isascii() or not url.isprintable() or any(c.isspace() for c in url):
        raise CrlError(f"{what} {url!r} must be printable ASCII without spaces (IA5String URI)")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise CrlError(f"{what} {url!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CrlError(f"{what} {url!r} must be an absolute http:// or https:// URL")
    return url


def _entries_view(entries: object) -> bytes | bytearray | memoryview:
    """The entries as one contiguous bytes-like object, copying only when given chunks."""
    if isinstance(entries, (bytes, bytearray)):
        return entries
    if isinstance(entries, memoryview):
        if not entries.c_contiguous:
            raise CrlError("entries memoryview must be contiguous")
        return entries.cast("B") if entries.format != "B" or entries.ndim != 1 else entries
    if isinstance(entries, str) or not isinstance(entries, Iterable):
        raise CrlError(
            "entries must be bytes-like (concatenated encode_entry() output) or an iterable "
            f"of bytes chunks, not {type(entries).__name__}"
        )
    # Gathered with += rather than b"".join: join allocates an 80-byte Py_buffer per chunk (80 MB for
    # one chunk per entry), and a generator's chunks can be freed as they are consumed.
    blob = bytearray()
    for i, chunk in enumerate(entries):
        try:
            blob += chunk  # buffer protocol only: a str or a list of ints is refused
        except TypeError:
            raise CrlError(f"entries chunk {i} is {type(chunk).__name__}, not bytes") from None
    return blob


def build_crl(
    *,
    signer: Signer,
    issuer_name_der: bytes,
    authority_key_id: bytes,
    number: int,
    this_update: dt.datetime,
    next_update: dt.datetime,
    entries: bytes | bytearray | memoryview | Iterable[bytes],
    delta_base: int | None = None,
    idp_url: str | None = None,
    freshest_url: str | None = None,
) -> bytes:
    """Build and sign a v2 CertificateList (RFC 5280 §5.1); returns its DER.

    * ``issuer_name_der``: the issuing CA certificate's subject Name, DER, exactly as in that
      certificate (§5.1.2.3; relying parties match it byte for byte).
    * ``authority_key_id``: the CA's subject key identifier → authorityKeyIdentifier (§5.2.1).
    * ``number``: cRLNumber (§5.2.3), 0 ≤ number < 2**159, strictly increasing per issuer across
      full and delta CRLs (the caller's job).
    * ``this_update`` < ``next_update`` (§5.1.2.4–5), timezone-aware; UTCTime through 2049.
    * ``entries``: concatenated :func:`encode_entry` DER, as one bytes-like blob or an iterable of
      chunks (each any number of whole entries). Not re-parsed. Empty → revokedCertificates absent
      (§5.1.2.6).
    * ``delta_base``: makes this a delta CRL with a critical deltaCRLIndicator (§5.2.4);
      0 ≤ delta_base < number. A delta CRL cannot carry ``freshest_url`` (§5.2.6).
    * ``idp_url``: critical issuingDistributionPoint whose distributionPoint fullName is this URI
      (§5.2.5) — the partition (shard) CRL named in the certificates' CRL distribution points.
    * ``freshest_url``: non-critical Freshest CRL extension pointing at the delta CRL (§5.2.6).

    Memory: one copy of the entries into the TBS and one into the result (the signer needs the TBS
    as ``bytes``); chunks given as an iterable cost one more copy while they are gathered.
    Raises :class:`CrlError` on any invalid argument.
    """
    # -- arguments --------------------------------------------------------------------------------
    if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number < _MAX_NUMBER:
        raise CrlError("CRL number must be an integer with 0 <= number < 2**159 (at most 20 octets, RFC 5280 §5.2.3)")
    if delta_base is not None:
        if not isinstance(delta_base, int) or isinstance(delta_base, bool) or not 0 <= delta_base < number:
            raise CrlError(
                f"delta CRL base number must be an integer with 0 <= base < the CRL number "
                f"{number} (RFC 5280 §5.2.4), got {delta_base!r}"
            )
        if freshest_url is not None:
            raise CrlError("a delta CRL must not carry a Freshest CRL extension (RFC 5280 §5.2.6)")
    this_u = _time_arg(this_update, "thisUpdate")
    next_u = _time_arg(next_update, "nextUpdate")
    if next_u <= this_u:
        raise CrlError(
            f"nextUpdate {next_u.isoformat()} must be later than thisUpdate {this_u.isoformat()} (RFC 5280 §5.1.2.5)"
        )
    if not isinstance(issuer_name_der, (bytes, bytearray, memoryview)):
        raise CrlError("issuer_name_der must be the DER of the issuer's Name")
    issuer = bytes(issuer_name_der)
    try:
        if not der.parse(issuer).is_universal(16):
            raise der.DERError(M("crl.sequence", "not a SEQUENCE", "不是 SEQUENCE"))
    except der.DERError as exc:
        raise CrlError(f"issuer_name_der is not a DER Name (RDNSequence): {exc}") from None
    if not isinstance(authority_key_id, (bytes, bytearray)) or not authority_key_id:
        raise CrlError("authority_key_id must be the issuing CA's non-empty key identifier bytes")
    idp = _url_arg(idp_url, "issuing distribution point URL") if idp_url is not None else None
    freshest = _url_arg(freshest_url, "freshest CRL URL") if freshest_url is not None else None
    try:
        algid = signature_algorithm_identifier(signer.algorithm)
    except AttributeError:
        raise CrlError("signer must provide .algorithm, .public_key and .sign()") from None

    # -- crlExtensions [0] EXPLICIT Extensions (§5.1.2.7, §5.2) -----------------------------------
    exts = [
        authority_key_identifier(bytes(authority_key_id)),  # §5.2.1, non-critical
        extension(oids.CRL_NUMBER, der.integer(number)),
    ]  # §5.2.3, non-critical
    if delta_base is not None:  # §5.2.4, MUST be critical
        exts.append(extension(oids.DELTA_CRL_INDICATOR, der.integer(delta_base), critical=True))
    if idp is not None:
        # §5.2.5 IssuingDistributionPoint ::= SEQUENCE { distributionPoint [0] DistributionPointName
        # OPTIONAL, ... }; DistributionPointName is a CHOICE, so [0] is explicit around fullName [0].
        # Same shape as one DistributionPoint in the certificates' cRLDistributionPoints, which is
        # what relying parties compare (idp_check_dp in OpenSSL). Critical per §5.2.5.
        exts.append(
            extension(
                oids.ISSUING_DISTRIBUTION_POINT,
                der.seq(der.explicit(0, der.implicit(0, _general_name_uri(idp), constructed=True))),
                critical=True,
            )
        )
    if freshest is not None:  # §5.2.6, non-critical
        exts.append(extension(oids.FRESHEST_CRL, _distribution_points([freshest])))
    tail = der.explicit(0, der.seq(*exts))

    # -- TBSCertList (§5.1.2): one copy of the entries ---------------------------------------------
    head = b"".join(
        (
            b"\x02\x01\x01",  # version v2 (§5.1.2.1: required with extensions)
            algid,  # signature: MUST equal the outer one (§5.1.2.2)
            issuer,
            _time_der(this_u),
            _time_der(next_u),
        )
    )
    body = _entries_view(entries)
    n = len(body) if not isinstance(body, memoryview) else body.nbytes
    if n and body[0] != 0x30:
        raise CrlError("entries must be concatenated revokedCertificates SEQUENCEs from encode_entry()")
    rev_header = _header(0x30, n) if n else b""  # §5.1.2.6: absent, not empty, when nothing is revoked
    tbs = b"".join((_header(0x30, len(head) + len(rev_header) + n + len(tail)), head, rev_header, body, tail))
    del body

    # -- CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue } (§5.1.1) ------
    signature = der.bit_string(signer.sign(tbs))
    return b"".join((_header(0x30, len(tbs) + len(algid) + len(signature)), tbs, algid, signature))


def crl_pem(der_bytes: bytes) -> str:
    """PEM with the ``X509 CRL`` label (RFC 7468 §5), 64-character lines."""
    b64 = base64.b64encode(der_bytes)
    body = b"\n".join([b64[i : i + 64] for i in range(0, len(b64), 64)])
    return f"-----BEGIN {PEM_LABEL}-----\n{body.decode('ascii')}\n-----END {PEM_LABEL}-----\n"
