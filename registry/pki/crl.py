"""X.509 v2 certificate revocation lists (RFC 5280 §5), built for scale (design.md §5).

Building
    Every revocation is encoded once, when it happens, with :func:`encode_entry`, and the DER is
    stored. Publishing a CRL is then header + the stored entries concatenated + one signature:
    :func:`build_crl` takes the entries as one bytes-like blob (or an iterable of chunks), computes
    the ``revokedCertificates`` length from the total, and never creates a Python object per entry.
    The entries are trusted to be :func:`encode_entry` output; they are not re-parsed.

Parsing
    :func:`parse_crl` decodes the CRL envelope and extensions and walks only the *headers* of the
    revoked entries (to count them and check that they tile ``revokedCertificates`` exactly).
    Each entry's contents are decoded lazily by :meth:`ParsedCrl.entries`, which raises
    :class:`CrlError` for a malformed entry. Every failure, in either place, is a :class:`CrlError`.

Signatures are always over the TBSCertList bytes as received. SM2 uses SM3 with the GM/T 0009
default ID ``1234567812345678``; OpenSSL 3.0 cannot verify such a CRL with ``openssl crl`` or
``openssl verify`` (design.md §9), so the tests check SM2 CRLs with ``openssl dgst`` over the TBS.

This module is pure: no clock (times are parameters), no database, no I/O.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
import mmap
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..messages import M
from . import der, oids
from .keys import (
    KeyFormatError,
    PublicKey,
    Signer,
    algorithm_for_signature_oid,
    signature_algorithm_identifier,
)
from .x509 import (
    _distribution_points,
    _general_name_uri,
    authority_key_identifier,
    extension,
)

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
]

PEM_LABEL = "X509 CRL"
_MAX_NUMBER = 1 << 159  # RFC 5280 §5.2.3: CRLNumber at most 20 octets (a non-negative INTEGER)
_CERTIFICATE_ISSUER = "2.5.29.29"  # §5.3.3, only in indirect CRLs


class CrlError(ValueError):
    """Bad arguments to a CRL builder, or input that is not a well-formed CRL; the message says which."""


class CrlReason(enum.IntEnum):
    """CRLReason (RFC 5280 §5.3.1). Value 7 is unused."""

    UNSPECIFIED = 0
    KEY_COMPROMISE = 1
    CA_COMPROMISE = 2
    AFFILIATION_CHANGED = 3
    SUPERSEDED = 4
    CESSATION_OF_OPERATION = 5
    CERTIFICATE_HOLD = 6
    REMOVE_FROM_CRL = 8
    PRIVILEGE_WITHDRAWN = 9
    AA_COMPROMISE = 10

    @property
    def rfc_name(self) -> str:
        """The ASN.1 name in RFC 5280 §5.3.1, e.g. ``keyCompromise``."""
        return _RFC_NAMES[self]

    def label(self, lang: str = "zh") -> str:
        """What the reason means for a seal, in Chinese or English (the RFC name is ``rfc_name``)."""
        zh, en = _LABELS[self]
        return zh if lang == "zh" else en

    @classmethod
    def parse(cls, text: str | int | CrlReason) -> CrlReason:
        """Accept an RFC name (case-insensitive; ``keyCompromise``, ``key-compromise``,
        ``KEY_COMPROMISE``) or a numeric code (``1`` or ``"1"``). Raises :class:`CrlError` listing the
        choices otherwise."""
        if isinstance(text, cls):
            return text
        if isinstance(text, int) and not isinstance(text, bool):
            try:
                return cls(text)
            except ValueError:
                raise CrlError(f"unknown CRL reason code {text}; choose one of {_choices()}") from None
        if isinstance(text, str):
            key = re.sub(r"[\s_-]", "", text).lower()
            if key.isdigit():
                return cls.parse(int(key))
            for reason, name in _RFC_NAMES.items():
                if key == name.lower():
                    return reason
        raise CrlError(f"unknown CRL reason {text!r}; choose one of {_choices()}")


_RFC_NAMES = {
    CrlReason.UNSPECIFIED: "unspecified",
    CrlReason.KEY_COMPROMISE: "keyCompromise",
    CrlReason.CA_COMPROMISE: "cACompromise",
    CrlReason.AFFILIATION_CHANGED: "affiliationChanged",
    CrlReason.SUPERSEDED: "superseded",
    CrlReason.CESSATION_OF_OPERATION: "cessationOfOperation",
    CrlReason.CERTIFICATE_HOLD: "certificateHold",
    CrlReason.REMOVE_FROM_CRL: "removeFromCRL",
    CrlReason.PRIVILEGE_WITHDRAWN: "privilegeWithdrawn",
    CrlReason.AA_COMPROMISE: "aACompromise",
}


# How this registry uses each reason (design.md §3; README "Seal revocation reasons").
_LABELS = {
    CrlReason.UNSPECIFIED: ("未说明原因", "Unspecified"),
    CrlReason.KEY_COMPROMISE: ("挂失（密钥遗失或泄露）", "Loss or key compromise"),
    CrlReason.CA_COMPROMISE: ("CA 密钥泄露", "CA key compromise"),
    CrlReason.AFFILIATION_CHANGED: ("登记事项变更", "Licence details changed"),
    CrlReason.SUPERSEDED: ("已重新制作（被取代）", "Superseded by a new seal"),
    CrlReason.CESSATION_OF_OPERATION: ("注销或吊销（停止使用）", "Cancelled (no longer used)"),
    CrlReason.CERTIFICATE_HOLD: ("停用（暂停）", "Suspended (on hold)"),
    CrlReason.REMOVE_FROM_CRL: ("恢复使用（移出 CRL）", "Resumed (removed from the CRL)"),
    CrlReason.PRIVILEGE_WITHDRAWN: ("撤销资格", "Privilege withdrawn"),
    CrlReason.AA_COMPROMISE: ("属性机构密钥泄露", "Attribute authority compromise"),
}


def _choices() -> str:
    return ", ".join(f"{r.rfc_name} ({r.value})" for r in CrlReason)


# ----------------------------------------------------------------------------------------------
# Building


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


def _entries_view(entries: object) -> memoryview | bytearray:
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


# ----------------------------------------------------------------------------------------------
# Parsing


@dataclass(frozen=True, slots=True)
class CrlEntry:
    serial: int
    revoked_at: dt.datetime
    reason: CrlReason | None = None
    invalidity_date: dt.datetime | None = None


@dataclass(frozen=True)
class ParsedCrl:
    """A decoded CertificateList. ``tbs`` and ``der`` are the bytes as received (signatures are
    checked over them, never over a re-encoding). ``number``/``delta_base`` are None when the
    extension is absent; ``idp_urls`` are the URIs in the issuingDistributionPoint's fullName (other
    IDP fields are accepted but not exposed); ``entry_count`` comes from a header-only walk."""

    der: bytes = field(repr=False)  # may be tens of MB: kept out of repr
    tbs: bytes = field(repr=False)
    signature_algorithm: str
    signature: bytes = field(repr=False)
    issuer_der: bytes
    this_update: dt.datetime
    next_update: dt.datetime | None
    number: int | None
    delta_base: int | None
    idp_urls: tuple[str, ...]
    idp_critical: bool
    freshest_urls: tuple[str, ...]
    authority_key_id: bytes | None
    entry_count: int
    _entries_span: tuple[int, int] = field(default=(0, 0), repr=False, compare=False)

    @property
    def is_delta(self) -> bool:
        return self.delta_base is not None

    def entries(self) -> Iterator[CrlEntry]:
        """Decode the revoked certificates in order. Lazily: a malformed entry raises
        :class:`CrlError` when reached. An unknown critical entry extension (e.g. certificateIssuer
        of an indirect CRL, §5.3.3) is refused: this parser cannot honour it."""
        pos, end = self._entries_span
        data = self.der
        index = 0
        while pos < end:
            _tag, hl, ln = _hdr(data, pos, end, f"revoked entry {index}")
            with _context(f"revoked entry {index} at offset {pos}"):
                entry = _decode_entry(data, pos, pos + hl + ln)
            yield entry
            pos += hl + ln
            index += 1

    def verify_signature(self, issuer_key: PublicKey) -> bool:
        """True if ``issuer_key`` made this CRL's signature over ``tbs`` (SM2 with the GM/T 0009 ID).
        Never raises for a bad signature or an algorithm mismatch: returns False."""
        try:
            alg = algorithm_for_signature_oid(self.signature_algorithm)
        except KeyFormatError:
            return False
        return alg is issuer_key.algorithm and issuer_key.verify(self.tbs, self.signature)


def _hdr(data: bytes, pos: int, end: int, what: str) -> tuple[int, int, int]:
    """(identifier octet, header length, content length) of the DER element at ``pos``; strict:
    low tag numbers only, definite minimal lengths, content within ``end``."""
    if pos >= end:
        raise CrlError(f"{what}: unexpected end of data at offset {pos}")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise CrlError(f"{what}: unexpected high-number tag at offset {pos}")
    if pos + 1 >= end:
        raise CrlError(f"{what}: truncated length at offset {pos}")
    lb = data[pos + 1]
    if lb < 0x80:
        hl, ln = 2, lb
    else:
        k = lb & 0x7F
        if k == 0:
            raise CrlError(f"{what}: indefinite length at offset {pos} is not DER")
        if k > 4:
            raise CrlError(f"{what}: length of {k} octets at offset {pos} (more than 4 GiB?)")
        if pos + 2 + k > end:
            raise CrlError(f"{what}: truncated length at offset {pos}")
        ln = int.from_bytes(data[pos + 2 : pos + 2 + k], "big")
        if ln < 0x80 or data[pos + 2] == 0:
            raise CrlError(f"{what}: non-minimal length at offset {pos} is not DER")
        hl = 2 + k
    if pos + hl + ln > end:
        raise CrlError(
            f"{what}: element at offset {pos} claims {ln} bytes but only {max(0, end - pos - hl)} remain (truncated?)"
        )
    return tag, hl, ln


_TIME_TAGS = (der.UTC_TIME, der.GENERALIZED_TIME)


def _node(data: bytes, pos: int, hl: int, ln: int) -> der.Node:
    """A der.Node for an element already delimited by :func:`_hdr`, keeping its absolute offset so
    that decoder messages point into the whole CRL."""
    tag = data[pos]
    return der.Node(tag >> 6, bool(tag & 0x20), tag & 0x1F, data[pos : pos + hl + ln], hl, pos)


def _tag_name(tag: int) -> str:
    return der.Node(tag >> 6, bool(tag & 0x20), tag & 0x1F, b"", 0, 0).describe()


def parse_crl(data: bytes | bytearray | memoryview | str) -> ParsedCrl:
    """Decode a CRL given as DER or PEM (``-----BEGIN X509 CRL-----``).

    Checks the CertificateList envelope, that the inner and outer signature algorithms are equal
    (§5.1.1.2), the version (v1 or v2; extensions only in v2), the times, and the CRL extensions;
    refuses unknown critical CRL extensions (§5.2). Revoked entries are only counted here (header
    walk, no per-entry objects); :meth:`ParsedCrl.entries` decodes them. Raises only
    :class:`CrlError`, whose message says what is wrong and where. The signature is not checked:
    call :meth:`ParsedCrl.verify_signature`.
    """
    if isinstance(data, str):
        try:
            data = data.encode("ascii")
        except UnicodeEncodeError:
            raise CrlError("CRL text is not ASCII PEM") from None
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CrlError(f"CRL must be bytes, not {type(data).__name__}")
    raw = bytes(data)
    if not raw:
        raise CrlError("CRL is empty")
    if re.match(rb"\s*-----BEGIN ", raw):
        raw = _pem_body(raw)
        if not raw:
            raise CrlError("PEM X509 CRL block is empty")
    try:
        return _parse_der(raw)
    except CrlError:
        raise
    except (der.DERError, ValueError, IndexError, TypeError, OverflowError) as exc:
        raise CrlError(f"malformed CRL: {exc}") from None


def _pem_body(text: bytes) -> bytes:
    """The DER inside the first ``X509 CRL`` PEM block (RFC 7468 §5). Linear-time: a 60 MB PEM
    decodes in well under a second (no regex over the body, no per-line objects)."""
    m = re.match(rb"\s*-----BEGIN ([A-Z0-9 ]+)-----", text)
    label = m.group(1).decode() if m else "?"
    begin, end = f"-----BEGIN {PEM_LABEL}-----".encode(), f"-----END {PEM_LABEL}-----".encode()
    start = text.find(begin)
    if start < 0:
        hint = " (a certificate, not a CRL)" if label in ("CERTIFICATE", "TRUSTED CERTIFICATE") else ""
        raise CrlError(f"PEM block is {label}{hint}; expected {PEM_LABEL}")
    stop = text.find(end, start)
    if stop < 0:
        raise CrlError(f"PEM {PEM_LABEL} block has no END line (truncated?)")
    body = text[start + len(begin) : stop].translate(None, b" \t\r\n")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise CrlError(f"PEM {PEM_LABEL} block is not valid base64") from None


def _parse_der(raw: bytes) -> ParsedCrl:
    end = len(raw)
    # CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue } (§5.1.1)
    if raw[0] != 0x30:
        raise CrlError(f"not a CRL: starts with {_tag_name(raw[0])} (0x{raw[0]:02x}), expected SEQUENCE")
    _tag, hl, ln = _hdr(raw, 0, end, "CertificateList")
    if hl + ln != end:
        raise CrlError(f"{end - hl - ln} trailing bytes after the CRL at offset {hl + ln}")
    pos = hl
    tag, t_hl, t_ln = _hdr(raw, pos, end, "tbsCertList")
    if tag != 0x30:
        raise CrlError(f"tbsCertList at offset {pos}: expected SEQUENCE, found {_tag_name(tag)}")
    tbs_start, tbs_end = pos, pos + t_hl + t_ln
    pos = tbs_end
    tag, a_hl, a_ln = _hdr(raw, pos, end, "signatureAlgorithm")
    if tag != 0x30:
        raise CrlError(f"signatureAlgorithm at offset {pos}: expected SEQUENCE, found {_tag_name(tag)}")
    alg_node = _node(raw, pos, a_hl, a_ln)
    outer_alg = alg_node.raw
    pos += a_hl + a_ln
    tag, s_hl, s_ln = _hdr(raw, pos, end, "signatureValue")
    if tag != der.BIT_STRING:
        raise CrlError(f"signatureValue at offset {pos}: expected BIT STRING, found {_tag_name(tag)}")
    with _context("signatureValue"):
        signature = _node(raw, pos, s_hl, s_ln).as_bit_string()
    if pos + s_hl + s_ln != end:
        raise CrlError(f"unexpected element after the signature at offset {pos + s_hl + s_ln}")
    with _context("signatureAlgorithm"):
        alg_parts = alg_node.children()
        if not alg_parts:
            raise CrlError("empty AlgorithmIdentifier")
        sig_oid = alg_parts[0].as_oid()

    # TBSCertList ::= SEQUENCE { version Version OPTIONAL, signature, issuer, thisUpdate,
    #   nextUpdate OPTIONAL, revokedCertificates OPTIONAL, crlExtensions [0] EXPLICIT OPTIONAL } (§5.1.2)
    p, tend = tbs_start + t_hl, tbs_end

    def element(what: str) -> tuple[int, int, int]:
        return _hdr(raw, p, tend, what)

    tag, hl, ln = element("TBSCertList version")
    version = 1
    if tag == 0xA0:
        raise CrlError("this is an X.509 certificate, not a CRL (its to-be-signed part starts with [0] version)")
    if tag == der.INTEGER:
        c = p + hl
        if ln != 1 or raw[c] != 1:  # Version ::= INTEGER { v1(0), v2(1) }; v1 is the absent field
            shown = str(raw[c] + 1) if ln == 1 and raw[c] < 0x80 else f"INTEGER 0x{raw[c : c + min(ln, 8)].hex()}"
            raise CrlError(
                f"unsupported CRL version {shown} at offset {p} (v2 is encoded as 1, v1 by omission, RFC 5280 §5.1.2.1)"
            )
        version = 2
        p += hl + ln
        tag, hl, ln = element("TBSCertList signature")
    if tag != 0x30:
        raise CrlError(f"TBSCertList signature at offset {p}: expected AlgorithmIdentifier, found {_tag_name(tag)}")
    if raw[p : p + hl + ln] != outer_alg:
        raise CrlError(
            f"the TBSCertList signature algorithm at offset {p} differs from the outer "
            "signatureAlgorithm (RFC 5280 §5.1.1.2)"
        )
    p += hl + ln
    tag, hl, ln = element("issuer")
    if tag != 0x30:
        raise CrlError(f"issuer at offset {p}: expected Name (SEQUENCE), found {_tag_name(tag)}")
    issuer_der = raw[p : p + hl + ln]
    p += hl + ln
    tag, hl, ln = element("thisUpdate")
    if tag not in _TIME_TAGS:
        raise CrlError(
            f"thisUpdate at offset {p}: expected a Time, found {_tag_name(tag)}"
            + (" (an X.509 certificate's validity? this is not a CRL)" if tag == 0x30 else "")
        )
    with _context("thisUpdate"):
        this_update = _node(raw, p, hl, ln).as_time()
    p += hl + ln
    next_update = None
    entries_span = (0, 0)
    count = 0
    ext_node: der.Node | None = None
    if p < tend:
        tag, hl, ln = element("nextUpdate")
        if tag in _TIME_TAGS:
            with _context("nextUpdate"):
                next_update = _node(raw, p, hl, ln).as_time()
            p += hl + ln
    if p < tend:
        tag, hl, ln = element("revokedCertificates")
        if tag == 0x30:
            entries_span = (p + hl, p + hl + ln)
            count = _count_entries(raw, *entries_span)
            p += hl + ln
    if p < tend:
        tag, hl, ln = element("crlExtensions")
        if tag != 0xA0:
            raise CrlError(f"unexpected {_tag_name(tag)} at offset {p} in TBSCertList")
        if version != 2:
            raise CrlError("a v1 CRL cannot carry extensions (RFC 5280 §5.1.2.1)")
        ext_node = _node(raw, p, hl, ln)
        p += hl + ln
    if p != tend:
        raise CrlError(f"unexpected {_tag_name(raw[p])} at offset {p} after the CRL extensions")
    if next_update is not None and next_update < this_update:
        raise CrlError(f"nextUpdate {next_update.isoformat()} is before thisUpdate {this_update.isoformat()}")

    fields = _crl_extensions(ext_node)
    return ParsedCrl(
        der=raw,
        tbs=raw[tbs_start:tbs_end],
        signature_algorithm=sig_oid,
        signature=signature,
        issuer_der=issuer_der,
        this_update=this_update,
        next_update=next_update,
        entry_count=count,
        _entries_span=entries_span,
        **fields,
    )


def _count_entries(raw: bytes, pos: int, end: int) -> int:
    """Walk the revokedCertificates headers only: each must be a SEQUENCE and together they must
    fill the field exactly. Entries are < 128 bytes in practice, so the short-form case is inlined."""
    count = 0
    while pos < end:
        if raw[pos] != 0x30:
            raise CrlError(f"revoked entry {count} at offset {pos}: expected SEQUENCE, found {_tag_name(raw[pos])}")
        if pos + 1 < end and raw[pos + 1] < 0x80:
            pos += 2 + raw[pos + 1]
        else:
            _tag, hl, ln = _hdr(raw, pos, end, f"revoked entry {count}")
            pos += hl + ln
        count += 1
    if pos != end:
        raise CrlError(f"revoked entry {count - 1} runs past the end of revokedCertificates at offset {end}")
    return count


@contextmanager
def _context(what: str) -> Iterator[None]:
    """Turn a decoder error inside ``what`` into a CrlError that names it."""
    try:
        yield
    except CrlError as exc:
        raise CrlError(f"{what}: {exc}") from None
    except (der.DERError, ValueError, IndexError) as exc:
        raise CrlError(f"{what}: {exc}") from None


def _extensions(node: der.Node, what: str) -> dict[str, tuple[bool, der.Node]]:
    """Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension (RFC 5280 §4.1)
    → {oid: (critical, extnValue OCTET STRING node)}."""
    out: dict[str, tuple[bool, der.Node]] = {}
    node.expect(16, what)
    for ext in node.children():
        with _context(f"{what}: Extension at offset {ext.offset}"):
            ext.expect(16)
            parts = ext.children()
            if len(parts) not in (2, 3):
                raise CrlError(f"has {len(parts)} fields, expected extnID, critical, extnValue")
            ext_oid = parts[0].as_oid()
            critical = parts[1].as_bool() if len(parts) == 3 else False
            parts[-1].expect(der.OCTET_STRING, f"extnValue of {ext_oid}").as_bytes()
            if ext_oid in out:
                raise CrlError(f"extension {ext_oid} appears twice")
        out[ext_oid] = (critical, parts[-1])
    return out


def _wrapped(octets: der.Node) -> der.Node:
    """The one element an extnValue OCTET STRING holds, with offsets absolute in the CRL."""
    content = octets.content
    tag, hl, ln = _hdr(content, 0, len(content), "extnValue")
    if hl + ln != len(content):
        raise CrlError(f"{len(content) - hl - ln} trailing bytes in extnValue at offset {octets.offset}")
    return der.Node(tag >> 6, bool(tag & 0x20), tag & 0x1F, content, hl, octets.offset + octets.header_len)


def _uris(general_names: der.Node) -> list[str]:
    urls = []
    for gn in general_names.children():
        if gn.tag_byte == 0x86:  # uniformResourceIdentifier [6] IA5String
            if not gn.content.isascii():
                raise CrlError(f"URI at offset {gn.offset} is not an IA5String (non-ASCII bytes)")
            urls.append(gn.content.decode("ascii"))
    return urls


def _dp_full_name_uris(dp_name: der.Node) -> list[str]:
    """DistributionPointName ::= CHOICE { fullName [0] GeneralNames, nameRelativeToCRLIssuer [1] }."""
    return [u for choice in dp_name.children() if choice.tag_byte == 0xA0 for u in _uris(choice)]


_KNOWN_CRL_EXTS = {
    oids.AUTHORITY_KEY_IDENTIFIER: "authorityKeyIdentifier",
    oids.CRL_NUMBER: "cRLNumber",
    oids.DELTA_CRL_INDICATOR: "deltaCRLIndicator",
    oids.ISSUING_DISTRIBUTION_POINT: "issuingDistributionPoint",
    oids.FRESHEST_CRL: "freshestCRL",
}


def _crl_extensions(node: der.Node | None) -> dict[str, object]:
    fields: dict[str, object] = {
        "number": None,
        "delta_base": None,
        "idp_urls": (),
        "idp_critical": False,
        "freshest_urls": (),
        "authority_key_id": None,
    }
    if node is None:
        return fields
    inner = node.children()
    if len(inner) != 1:
        raise CrlError("crlExtensions [0] must hold exactly one Extensions SEQUENCE")
    exts = _extensions(inner[0], "crlExtensions")
    for ext_oid, (critical, _value) in exts.items():
        if critical and ext_oid not in _KNOWN_CRL_EXTS:
            raise CrlError(f"CRL has an unsupported critical extension {ext_oid}; it must not be used (RFC 5280 §5.2)")
    for ext_oid, name in _KNOWN_CRL_EXTS.items():
        if ext_oid not in exts:
            continue
        critical, octets = exts[ext_oid]
        with _context(f"{name} extension"):
            value = _wrapped(octets)
            if ext_oid == oids.AUTHORITY_KEY_IDENTIFIER:
                # §5.2.1 SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING OPTIONAL, ... }
                for part in value.expect(16).children():
                    if part.tag_byte == 0x80:
                        fields["authority_key_id"] = part.content
            elif ext_oid == oids.CRL_NUMBER:  # §5.2.3 CRLNumber ::= INTEGER (0..MAX)
                fields["number"] = _non_negative(value)
            elif ext_oid == oids.DELTA_CRL_INDICATOR:  # §5.2.4 BaseCRLNumber ::= CRLNumber
                fields["delta_base"] = _non_negative(value)
            elif ext_oid == oids.ISSUING_DISTRIBUTION_POINT:  # §5.2.5
                urls: list[str] = []
                for part in value.expect(16).children():
                    if part.tag_byte == 0xA0:
                        urls += _dp_full_name_uris(part)
                    elif part.cls != der.CLASS_CONTEXT or part.number > 5:
                        raise CrlError(f"unexpected {part.describe()} at offset {part.offset}")
                fields["idp_urls"], fields["idp_critical"] = tuple(urls), critical
            else:  # §5.2.6 FreshestCRL ::= CRLDistributionPoints
                urls = []
                for dp in value.expect(16).children():
                    for part in dp.expect(16, "DistributionPoint").children():
                        if part.tag_byte == 0xA0:
                            urls += _dp_full_name_uris(part)
                fields["freshest_urls"] = tuple(urls)
    return fields


def _non_negative(value: der.Node) -> int:
    n = value.expect(der.INTEGER).as_int()
    if n < 0:
        raise CrlError(f"{n} is negative")
    return n


# Entry extensions compared by their encoded extnID (§5.3): no OID string per entry.
_OID_REASON = der.oid(oids.CRL_REASON)
_OID_INVALIDITY = der.oid(oids.INVALIDITY_DATE)
_OID_CERTIFICATE_ISSUER = der.oid(_CERTIFICATE_ISSUER)


def _decode_entry(data: bytes, pos: int, stop: int) -> CrlEntry:
    """Decode one revokedCertificates element occupying ``data[pos:stop]`` (§5.1.2.6)::

        SEQUENCE { userCertificate INTEGER, revocationDate Time, crlEntryExtensions Extensions OPTIONAL }

    Hand-rolled over offsets (about ten times faster than generic nodes) with absolute offsets in
    every message."""
    _tag, hl, ln = _hdr(data, pos, stop, "entry")
    p, stop = pos + hl, pos + hl + ln
    tag, h, n = _hdr(data, p, stop, "userCertificate")
    if tag != der.INTEGER or n == 0:
        raise CrlError(
            f"userCertificate at offset {p}: expected INTEGER, found {_tag_name(tag)}"
            + (" (empty)" if tag == der.INTEGER else "")
        )
    serial = int.from_bytes(data[p + h : p + h + n], "big", signed=True)
    p += h + n
    tag, h, n = _hdr(data, p, stop, "revocationDate")
    revoked_at = _time(data, p, h, n, "revocationDate")
    p += h + n
    reason = invalidity = None
    if p < stop:
        tag, h, n = _hdr(data, p, stop, "crlEntryExtensions")
        if tag != 0x30 or n == 0:
            raise CrlError(f"crlEntryExtensions at offset {p}: expected a non-empty SEQUENCE, found {_tag_name(tag)}")
        q, qend = p + h, p + h + n
        seen: set[bytes] = set()
        while q < qend:
            ext_id, critical, vpos, vend, q = _extension_at(data, q, qend)
            if ext_id in seen:
                raise CrlError(f"entry extension {_oid_text(ext_id)} appears twice")
            seen.add(ext_id)
            if ext_id == _OID_REASON:  # §5.3.1 CRLReason ::= ENUMERATED
                tag, h, n = _hdr(data, vpos, vend, "reasonCode")
                if tag != der.ENUMERATED or n == 0 or vpos + h + n != vend:
                    raise CrlError(f"reasonCode at offset {vpos}: expected one ENUMERATED, found {_tag_name(tag)}")
                code = int.from_bytes(data[vpos + h : vend], "big", signed=True)
                try:
                    reason = CrlReason(code)
                except ValueError:
                    raise CrlError(f"reasonCode at offset {vpos}: unknown reason code {code}") from None
            elif ext_id == _OID_INVALIDITY:  # §5.3.2 InvalidityDate ::= GeneralizedTime
                tag, h, n = _hdr(data, vpos, vend, "invalidityDate")
                if tag != der.GENERALIZED_TIME or vpos + h + n != vend:
                    raise CrlError(
                        f"invalidityDate at offset {vpos}: expected one GeneralizedTime, found {_tag_name(tag)}"
                    )
                invalidity = _time(data, vpos, h, n, "invalidityDate")
            elif critical:
                what = (
                    "certificateIssuer (indirect CRLs are not supported)"
                    if ext_id == _OID_CERTIFICATE_ISSUER
                    else _oid_text(ext_id)
                )
                raise CrlError(f"unsupported critical entry extension {what}")
        p = qend
    if p != stop:
        raise CrlError(f"unexpected {_tag_name(data[p])} at offset {p} in the entry")
    return CrlEntry(serial, revoked_at, reason, invalidity)


def _extension_at(data: bytes, q: int, end: int) -> tuple[bytes, bool, int, int, int]:
    """Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
    at ``q`` → (encoded extnID, critical, value start, value end, next offset)."""
    tag, h, n = _hdr(data, q, end, "Extension")
    if tag != 0x30:
        raise CrlError(f"Extension at offset {q}: expected SEQUENCE, found {_tag_name(tag)}")
    r, rend = q + h, q + h + n
    tag, h, n = _hdr(data, r, rend, "extnID")
    if tag != der.OID or n == 0:
        raise CrlError(f"extnID at offset {r}: expected OBJECT IDENTIFIER, found {_tag_name(tag)}")
    ext_id = data[r : r + h + n]
    r += h + n
    critical = False
    tag, h, n = _hdr(data, r, rend, "extnValue")
    if tag == der.BOOLEAN:
        if n != 1:
            raise CrlError(f"critical flag at offset {r} is not a one-octet BOOLEAN")
        critical = data[r + h] != 0
        r += h + n
        tag, h, n = _hdr(data, r, rend, "extnValue")
    if tag != der.OCTET_STRING:
        raise CrlError(f"extnValue at offset {r}: expected OCTET STRING, found {_tag_name(tag)}")
    if r + h + n != rend:
        raise CrlError(f"unexpected {_tag_name(data[r + h + n])} at offset {r + h + n} in an Extension")
    return ext_id, critical, r + h, rend, rend


def _oid_text(encoded: bytes) -> str:
    try:
        return der.parse(encoded).as_oid()
    except der.DERError:
        return f"OID 0x{encoded.hex()}"


def _time(data: bytes, p: int, h: int, n: int, what: str) -> dt.datetime:
    """UTCTime ``YYMMDDHHMMSSZ`` / GeneralizedTime ``YYYYMMDDHHMMSSZ`` (RFC 5280 §4.1.2.5) without
    strptime; any other shape goes to the tolerant :meth:`der.Node.as_time`."""
    tag = data[p]
    c = data[p + h : p + h + n]
    if tag == der.UTC_TIME and n == 13 and c[12] == 0x5A and c[:12].isdigit():
        yy = int(c[0:2])
        year, rest = yy + (1900 if yy >= 50 else 2000), c[2:12]  # §4.1.2.5.1: YY >= 50 is 19YY
    elif tag == der.GENERALIZED_TIME and n == 15 and c[14] == 0x5A and c[:14].isdigit():
        year, rest = int(c[0:4]), c[4:14]
    else:
        with _context(what):
            return _node(data, p, h, n).as_time()
    try:
        return dt.datetime(
            year, int(rest[0:2]), int(rest[2:4]), int(rest[4:6]), int(rest[6:8]), int(rest[8:10]), tzinfo=dt.UTC
        )
    except ValueError:
        raise CrlError(f"{what} at offset {p}: impossible time {c.decode('ascii')!r}") from None


def peek(data: bytes | bytearray | memoryview | mmap.mmap) -> tuple[int | None, dt.datetime, dt.datetime | None]:
    """(cRLNumber, thisUpdate, nextUpdate) of a DER CRL without decoding or counting its entries:
    cheap enough for every HTTP request and every publish (a 1,000,000-entry CRL is ~49 MB). Only
    the element headers of the TBSCertList are walked and only its small fields copied, so ``data``
    may be an mmap of the file: the pages of the entries are then never read."""
    try:
        end = len(data)
        tag, hl, ln = _hdr(data, 0, end, "CertificateList")
        if tag != 0x30 or hl + ln != end:
            raise CrlError("not a DER CertificateList (one SEQUENCE, nothing after it)")
        tag, t_hl, t_ln = _hdr(data, hl, end, "tbsCertList")
        if tag != 0x30:
            raise CrlError(f"tbsCertList: expected SEQUENCE, found {_tag_name(tag)}")
        times: list[dt.datetime] = []
        number: int | None = None
        p, tend = hl + t_hl, hl + t_hl + t_ln
        while p < tend:
            tag, e_hl, e_ln = _hdr(data, p, tend, "TBSCertList")
            if tag in _TIME_TAGS:  # RFC 5280 §5.1.2.4–5: thisUpdate, then nextUpdate
                times.append(_node(bytes(data[p : p + e_hl + e_ln]), 0, e_hl, e_ln).as_time())
            elif tag == 0xA0:  # crlExtensions [0] EXPLICIT
                for ext in der.parse(bytes(data[p : p + e_hl + e_ln])).children()[0].children():
                    fields = ext.children()
                    if fields[0].as_oid() == oids.CRL_NUMBER:
                        number = der.parse(fields[-1].as_bytes()).as_int()
            p += e_hl + e_ln
    except (der.DERError, IndexError, ValueError) as exc:
        raise CrlError(f"not a readable CRL: {exc}") from None
    if not times:
        raise CrlError("CRL has no thisUpdate")
    return number, times[0], (times[1] if len(times) > 1 else None)
