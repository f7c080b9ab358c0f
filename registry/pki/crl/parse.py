"""Parsing CRLs (RFC 5280 §5): :func:`parse_crl` decodes the envelope and the CRL extensions and
walks only the headers of the revoked entries, which :meth:`ParsedCrl.entries` decodes lazily;
:func:`peek` reads the number and times of a CRL file without touching its entries."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import mmap
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypedDict

from .. import der, oids
from ..keys import KeyFormatError, PublicKey, algorithm_for_signature_oid
from .build import PEM_LABEL
from .reasons import CrlError, CrlReason

_CERTIFICATE_ISSUER = "2.5.29.29"  # §5.3.3, only in indirect CRLs


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

    @property
    def entries_span(self) -> tuple[int, int]:
        """Where ``revokedCertificates``' elements lie in :attr:`der` (start, end)."""
        return self._entries_span

    def verify_signature(self, issuer_key: PublicKey) -> bool:
        """True if ``issuer_key`` made this CRL's signature over ``tbs`` (SM2 with the GM/T 0009 ID).
        Never raises for a bad signature or an algorithm mismatch: returns False."""
        try:
            alg = algorithm_for_signature_oid(self.signature_algorithm)
        except KeyFormatError:
            return False
        return alg is issuer_key.algorithm and issuer_key.verify(self.tbs, self.signature)


def decode_entry(entry_der: bytes) -> CrlEntry:
    """One entry stored by :func:`.pages.keyed_entries`, decoded (reason, dates)."""
    try:
        return _decode_entry(entry_der, 0, len(entry_der))
    except CrlError:
        raise
    except (der.DERError, ValueError, IndexError, TypeError, OverflowError) as exc:
        raise CrlError(f"malformed CRL entry: {exc}") from None


def _hdr(data: bytes | bytearray | memoryview | mmap.mmap, pos: int, end: int, what: str) -> tuple[int, int, int]:
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


class _CrlExtensionFields(TypedDict):
    """The fields of :class:`ParsedCrl` that the CRL extensions give."""

    number: int | None
    delta_base: int | None
    idp_urls: tuple[str, ...]
    idp_critical: bool
    freshest_urls: tuple[str, ...]
    authority_key_id: bytes | None


def _crl_extensions(node: der.Node | None) -> _CrlExtensionFields:
    fields: _CrlExtensionFields = {
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
