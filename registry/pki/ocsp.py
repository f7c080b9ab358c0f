"""OCSP (RFC 6960) requests and responses, with the RFC 5019 lightweight profile in mind.

Requests
    :func:`parse_request` decodes an ``OCSPRequest`` (DER): the CertIDs of its ``requestList``
    (hash algorithm SHA-1, SHA-256 or SM3), an optional nonce (``id-pkix-ocsp-nonce``, echoed
    verbatim) and nothing else that matters: a request signature is accepted and ignored (we answer
    anyone). Anything else raises :class:`OcspError` naming what is wrong; the responder answers
    ``malformedRequest``.

Responses
    :func:`single_response` encodes one ``SingleResponse`` (good / revoked with time and reason /
    unknown); :func:`build_response` wraps SingleResponses into a signed ``BasicOCSPResponse``
    (responderID byKey, producedAt, optional nonce and certs) inside a successful ``OCSPResponse``;
    :func:`error_response` is the unsigned ``OCSPResponse`` for the error statuses.
    :func:`parse_response` decodes a response (for tests and tools) without trusting it.

Signatures are over the ``tbsResponseData`` bytes as encoded. SM2 signs with SM3 and the GM/T 0009
default ID ``1234567812345678`` (through the :class:`~registry.pki.keys.Signer`), which OpenSSL 3.0
cannot check with ``openssl ocsp``: check it with ``openssl dgst -sm3 -sigopt distid:...`` over the
TBS (design.md §9).

This module is pure: no clock (times are parameters), no database, no I/O.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes

from . import der, oids
from .crl import CrlReason
from .keys import Signer, signature_algorithm_identifier

__all__ = [
    "CertId",
    "HashAlgorithm",
    "OcspError",
    "OcspRequest",
    "ParsedResponse",
    "ResponseStatus",
    "SingleStatus",
    "build_response",
    "cert_id",
    "error_response",
    "parse_request",
    "parse_response",
    "single_response",
]

OCSP_BASIC = "1.3.6.1.5.5.7.48.1.1"  # id-pkix-ocsp-basic (RFC 6960 §4.2.1)
OCSP_NONCE = "1.3.6.1.5.5.7.48.1.2"  # id-pkix-ocsp-nonce (RFC 6960 §4.4.1, RFC 8954)
SHA1 = "1.3.14.3.2.26"
MAX_REQUESTS = 16  # CertIDs in one request (RFC 5019 clients send one)
MAX_NONCE = 128  # octets of the nonce extension value we are willing to echo


class OcspError(ValueError):
    """Input that is not a well-formed OCSP request/response, or a bad builder argument."""


class ResponseStatus(enum.IntEnum):
    """OCSPResponseStatus (RFC 6960 §4.2.1); 4 is not used."""

    SUCCESSFUL = 0
    MALFORMED_REQUEST = 1
    INTERNAL_ERROR = 2
    TRY_LATER = 3
    SIG_REQUIRED = 5
    UNAUTHORIZED = 6


class HashAlgorithm(str, enum.Enum):
    """Hash algorithms accepted in a CertID."""

    SHA1 = "sha1"
    SHA256 = "sha256"
    SM3 = "sm3"

    @property
    def oid(self) -> str:
        return _HASH_OIDS[self]

    def digest(self, data: bytes) -> bytes:
        if self is HashAlgorithm.SM3:
            h = hashes.Hash(hashes.SM3())
            h.update(data)
            return h.finalize()
        return hashlib.new(self.value, data).digest()

    @property
    def size(self) -> int:
        return 20 if self is HashAlgorithm.SHA1 else 32


_HASH_OIDS = {HashAlgorithm.SHA1: SHA1, HashAlgorithm.SHA256: oids.SHA256, HashAlgorithm.SM3: oids.SM3}
_BY_OID = {v: k for k, v in _HASH_OIDS.items()}


@dataclass(frozen=True)
class CertId:
    """CertID (RFC 6960 §4.1.1). ``der`` is the encoding as received (echoed in the response)."""

    hash_algorithm: HashAlgorithm
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    serial: int
    der: bytes


@dataclass(frozen=True)
class OcspRequest:
    cert_ids: tuple[CertId, ...]
    nonce: bytes | None = None  # the nonce Extension's extnValue contents, verbatim
    nonce_extension: bytes | None = None  # the whole nonce Extension DER, echoed in the response


def cert_id(hash_algorithm: HashAlgorithm, issuer_name_der: bytes, issuer_key_point: bytes, serial: int) -> CertId:
    """The CertID of certificate ``serial`` issued by the CA whose subject Name DER and public key
    (the subjectPublicKey BIT STRING value, i.e. the EC point) are given. The hash AlgorithmIdentifier
    carries NULL parameters, as OpenSSL writes it (matching compares the OID only)."""
    if type(serial) is not int or serial <= 0 or serial.bit_length() > 159:
        raise OcspError("certificate serial number must be positive and at most 20 octets")
    name_hash = hash_algorithm.digest(issuer_name_der)
    key_hash = hash_algorithm.digest(issuer_key_point)
    enc = der.seq(
        der.seq(der.oid(hash_algorithm.oid), der.null()),
        der.octet_string(name_hash),
        der.octet_string(key_hash),
        der.integer(serial),
    )
    return CertId(hash_algorithm, name_hash, key_hash, serial, enc)


# ----------------------------------------------------------------------------------------------
# Requests


def _fail(what: str, exc: Exception | None = None) -> OcspError:
    return OcspError(f"{what}: {exc}" if exc is not None else what)


def _parse_cert_id(node: der.Node) -> CertId:
    try:
        node.expect(16, "CertID")
        parts = node.children()
        if len(parts) != 4:
            raise OcspError(f"CertID at offset {node.offset} has {len(parts)} fields, expected 4")
        alg_parts = parts[0].expect(16, "hashAlgorithm").children()
        if not alg_parts or len(alg_parts) > 2:
            raise OcspError(f"hashAlgorithm at offset {parts[0].offset} is not an AlgorithmIdentifier")
        alg_oid = alg_parts[0].as_oid()
        if len(alg_parts) == 2 and alg_parts[1].raw != b"\x05\x00":
            raise OcspError(f"hashAlgorithm {alg_oid} has parameters other than NULL")
        alg = _BY_OID.get(alg_oid)
        if alg is None:
            raise OcspError(f"unsupported CertID hash algorithm {alg_oid} (use SHA-1, SHA-256 or SM3)")
        name_hash = parts[1].expect(der.OCTET_STRING, "issuerNameHash").as_bytes()
        key_hash = parts[2].expect(der.OCTET_STRING, "issuerKeyHash").as_bytes()
        if len(name_hash) != alg.size or len(key_hash) != alg.size:
            raise OcspError(f"issuer hashes must be {alg.size} octets for {alg.value}")
        serial_node = parts[3].expect(der.INTEGER, "serialNumber")
        content = serial_node.content
        if len(content) > 1 and (content[0] == 0 and content[1] < 0x80 or content[0] == 0xFF and content[1] >= 0x80):
            raise OcspError(f"serialNumber at offset {serial_node.offset} is not minimally encoded")
        if len(content) > 21:
            raise OcspError(f"serialNumber at offset {serial_node.offset} is longer than 20 octets")
        serial = serial_node.as_int()
    except der.DERError as exc:
        raise _fail("CertID", exc) from None
    return CertId(alg, name_hash, key_hash, serial, node.raw)


def _parse_extensions(node: der.Node, what: str) -> dict[str, der.Node]:
    """Extensions SEQUENCE → {oid: whole Extension node}; duplicates are refused."""
    out: dict[str, der.Node] = {}
    try:
        for ext in node.expect(16, what).children():
            parts = ext.expect(16, "Extension").children()
            if len(parts) not in (2, 3):
                raise OcspError(f"Extension at offset {ext.offset} has {len(parts)} fields")
            ext_oid = parts[0].as_oid()
            if len(parts) == 3:
                parts[1].as_bool()
            parts[-1].expect(der.OCTET_STRING, f"extnValue of {ext_oid}").as_bytes()
            if ext_oid in out:
                raise OcspError(f"extension {ext_oid} appears twice in {what}")
            out[ext_oid] = ext
    except der.DERError as exc:
        raise _fail(what, exc) from None
    return out


def _is_critical(ext: der.Node) -> bool:
    parts = ext.children()
    return len(parts) == 3 and parts[1].as_bool()


def parse_request(data: bytes) -> OcspRequest:
    """Decode a DER ``OCSPRequest`` (RFC 6960 §4.1.1). Raises :class:`OcspError` for anything that
    is not one: truncated or trailing bytes, wrong tags, an empty or too long requestList, an
    unsupported hash algorithm, an unknown critical extension, an oversized nonce."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise OcspError("request must be bytes")
    if not data:
        raise OcspError("empty request")
    try:
        top = der.parse(bytes(data))
        if not top.is_universal(16):
            raise OcspError(f"OCSPRequest: expected SEQUENCE, found {top.describe()}")
        outer = top.children()
        if not 1 <= len(outer) <= 2:
            raise OcspError(f"OCSPRequest has {len(outer)} fields, expected tbsRequest and an optional signature")
        if len(outer) == 2 and not (outer[1].is_context(0) and outer[1].constructed):
            raise OcspError(f"unexpected {outer[1].describe()} after tbsRequest")
        tbs = outer[0]
        if not tbs.is_universal(16):
            raise OcspError(f"tbsRequest: expected SEQUENCE, found {tbs.describe()}")
        parts = tbs.children()
        i = 0
        if i < len(parts) and parts[i].is_context(0):
            inner = parts[i].children()
            if len(inner) != 1 or inner[0].as_int() != 0:
                raise OcspError("only OCSP request version v1 (0) is supported")
            i += 1
        if i < len(parts) and parts[i].is_context(1):  # requestorName [1] EXPLICIT GeneralName: ignored
            i += 1
        if i >= len(parts) or not parts[i].is_universal(16):
            raise OcspError("tbsRequest has no requestList")
        requests = parts[i].children()
        i += 1
        if not requests:
            raise OcspError("requestList is empty")
        if len(requests) > MAX_REQUESTS:
            raise OcspError(f"requestList has {len(requests)} entries; at most {MAX_REQUESTS} are answered")
        ids = []
        for req in requests:
            fields = req.expect(16, "Request").children()
            if not 1 <= len(fields) <= 2:
                raise OcspError(f"Request at offset {req.offset} has {len(fields)} fields")
            if len(fields) == 2:
                if not fields[1].is_context(0):
                    raise OcspError(f"unexpected {fields[1].describe()} in Request at offset {req.offset}")
                inner = fields[1].children()
                if len(inner) != 1:
                    raise OcspError("singleRequestExtensions [0] must hold one Extensions SEQUENCE")
                for ext_oid, ext in _parse_extensions(inner[0], "singleRequestExtensions").items():
                    if _is_critical(ext):
                        raise OcspError(f"unsupported critical single request extension {ext_oid}")
            ids.append(_parse_cert_id(fields[0]))
        nonce = nonce_ext = None
        if i < len(parts) and parts[i].is_context(2):
            inner = parts[i].children()
            if len(inner) != 1:
                raise OcspError("requestExtensions [2] must hold one Extensions SEQUENCE")
            exts = _parse_extensions(inner[0], "requestExtensions")
            for ext_oid, ext in exts.items():
                if ext_oid == OCSP_NONCE:
                    nonce = ext.children()[-1].content
                    if not nonce or len(nonce) > MAX_NONCE:
                        raise OcspError(f"nonce of {len(nonce)} octets (1 to {MAX_NONCE} accepted)")
                    nonce_ext = ext.raw
                elif _is_critical(ext):
                    raise OcspError(f"unsupported critical request extension {ext_oid}")
            i += 1
        if i != len(parts):
            raise OcspError(f"unexpected {parts[i].describe()} at offset {parts[i].offset} in tbsRequest")
    except der.DERError as exc:
        raise _fail("malformed OCSP request", exc) from None
    except (IndexError, ValueError) as exc:  # an as_*() on a truncated element
        if isinstance(exc, OcspError):
            raise
        raise _fail("malformed OCSP request", exc) from None
    return OcspRequest(tuple(ids), nonce, nonce_ext)


def build_request(ids: list[CertId], nonce: bytes | None = None) -> bytes:
    """An unsigned OCSPRequest (for tests and tools). ``nonce`` is wrapped in an OCTET STRING in
    the extension value (RFC 8954)."""
    tbs_parts = [der.seq(*(der.seq(c.der) for c in ids))]
    if nonce is not None:
        ext = der.seq(der.oid(OCSP_NONCE), der.octet_string(der.octet_string(nonce)))
        tbs_parts.append(der.explicit(2, der.seq(ext)))
    return der.seq(der.seq(*tbs_parts))


# ----------------------------------------------------------------------------------------------
# Responses

_RESPONSE_TYPE = der.oid(OCSP_BASIC)
_ERRORS: dict[ResponseStatus, bytes] = {
    s: der.seq(der.enumerated(int(s))) for s in ResponseStatus if s is not ResponseStatus.SUCCESSFUL
}


def error_response(status: ResponseStatus) -> bytes:
    """``OCSPResponse`` with an error status and no responseBytes (RFC 6960 §2.3), e.g.
    ``30 03 0a 01 01`` for malformedRequest."""
    if status is ResponseStatus.SUCCESSFUL:
        raise OcspError("a successful response needs responseBytes: use build_response")
    return _ERRORS[ResponseStatus(status)]


def _gt(when: dt.datetime, what: str) -> bytes:
    if not isinstance(when, dt.datetime) or when.tzinfo is None or when.utcoffset() is None:
        raise OcspError(f"{what} must be a timezone-aware datetime")
    utc = when.astimezone(dt.UTC).replace(microsecond=0)
    if not 1950 <= utc.year <= 9999:
        raise OcspError(f"{what} {utc.isoformat()} is outside 1950-9999")
    return b"\x18\x0f" + utc.strftime("%Y%m%d%H%M%SZ").encode()  # GeneralizedTime, whole seconds


def single_response(
    cid: CertId | bytes,
    status: str,
    this_update: dt.datetime,
    next_update: dt.datetime | None = None,
    *,
    revoked_at: dt.datetime | None = None,
    reason: CrlReason | None = None,
    invalidity_date: dt.datetime | None = None,
) -> bytes:
    """One SingleResponse (RFC 6960 §4.2.1). ``status`` is ``good``, ``revoked`` or ``unknown``;
    a revoked one needs ``revoked_at`` and may carry ``reason`` (omitted when UNSPECIFIED, as on our
    CRLs; certificateHold for a suspension) and ``invalidity_date`` (a CRL entry extension,
    §4.4 allows it as a singleExtension)."""
    cid_der = cid.der if isinstance(cid, CertId) else bytes(cid)
    if status == "good":
        cert_status = b"\x80\x00"  # good [0] IMPLICIT NULL
    elif status == "unknown":
        cert_status = b"\x82\x00"  # unknown [2] IMPLICIT UnknownInfo (NULL)
    elif status == "revoked":
        if revoked_at is None:
            raise OcspError("a revoked status needs its revocation time")
        info = _gt(revoked_at, "revocation time")
        if reason is not None:
            reason = CrlReason.parse(reason)
            if reason is not CrlReason.UNSPECIFIED:
                if reason is CrlReason.REMOVE_FROM_CRL:
                    raise OcspError("removeFromCRL is not a revocation reason")
                info += der.explicit(0, der.enumerated(int(reason)))
        cert_status = der.implicit(1, info, constructed=True)  # revoked [1] IMPLICIT RevokedInfo
    else:
        raise OcspError(f"unknown certificate status {status!r}: use good, revoked or unknown")
    body = cid_der + cert_status + _gt(this_update, "thisUpdate")
    if next_update is not None:
        if next_update <= this_update:
            raise OcspError("nextUpdate must be later than thisUpdate")
        body += der.explicit(0, _gt(next_update, "nextUpdate"))
    if invalidity_date is not None and status == "revoked":
        body += der.explicit(
            1,
            der.seq(der.seq(der.oid(oids.INVALIDITY_DATE), der.octet_string(_gt(invalidity_date, "invalidity date")))),
        )
    return der.seq(body)


def responder_key_hash(public_key_point: bytes) -> bytes:
    """ResponderID byKey: SHA-1 of the responder's subjectPublicKey BIT STRING value (§4.2.1)."""
    return hashlib.sha1(public_key_point).digest()


def build_response(
    *,
    signer: Signer,
    produced_at: dt.datetime,
    responses: list[bytes],
    nonce_extension: bytes | None = None,
    certs: list[bytes] | None = None,
) -> bytes:
    """A successful ``OCSPResponse`` holding a signed ``BasicOCSPResponse`` (§4.2.1).

    ``responses``: :func:`single_response` encodings. ``nonce_extension``: the request's nonce
    Extension, echoed verbatim in responseExtensions. ``certs``: DER certificates to carry (not needed
    when the CA that issued the certificate signs, as here)."""
    if not responses:
        raise OcspError("a response needs at least one SingleResponse")
    tbs_body = (
        der.explicit(2, der.octet_string(responder_key_hash(signer.public_key.point)))  # byKey [2]
        + _gt(produced_at, "producedAt")
        + der.seq(*responses)
    )
    if nonce_extension is not None:
        tbs_body += der.explicit(1, der.seq(nonce_extension))
    tbs = der.seq(tbs_body)
    basic = [tbs, signature_algorithm_identifier(signer.algorithm), der.bit_string(signer.sign(tbs))]
    if certs:
        basic.append(der.explicit(0, der.seq(*certs)))
    return der.seq(der.enumerated(0), der.explicit(0, der.seq(_RESPONSE_TYPE, der.octet_string(der.seq(*basic)))))


# ----------------------------------------------------------------------------------------------
# Parsing responses (tests and tools; nothing here is trusted)


@dataclass(frozen=True)
class SingleStatus:
    cert_id: CertId
    status: str  # good | revoked | unknown
    this_update: dt.datetime
    next_update: dt.datetime | None
    revoked_at: dt.datetime | None = None
    reason: CrlReason | None = None
    invalidity_date: dt.datetime | None = None


@dataclass(frozen=True)
class ParsedResponse:
    status: ResponseStatus
    tbs: bytes = b""
    signature_algorithm: str | None = None
    signature: bytes = b""
    responder_key_hash: bytes | None = None
    responder_name_der: bytes | None = None
    produced_at: dt.datetime | None = None
    responses: tuple[SingleStatus, ...] = ()
    nonce: bytes | None = None
    certs: tuple[bytes, ...] = field(default=())


def parse_response(data: bytes) -> ParsedResponse:
    """Decode an ``OCSPResponse``; raises :class:`OcspError` for anything malformed. The signature
    is not checked here (``PublicKey.verify(parsed.tbs, parsed.signature)`` does that)."""
    try:
        top = der.parse(bytes(data))
        parts = top.expect(16, "OCSPResponse").children()
        status = ResponseStatus(parts[0].expect(der.ENUMERATED, "responseStatus").as_int())
        if status is not ResponseStatus.SUCCESSFUL:
            if len(parts) != 1:
                raise OcspError("an error response carries no responseBytes")
            return ParsedResponse(status)
        rb = parts[1].children()[0].expect(16, "ResponseBytes").children()
        if rb[0].as_oid() != OCSP_BASIC:
            raise OcspError(f"unsupported response type {rb[0].as_oid()}")
        basic = der.parse(rb[1].expect(der.OCTET_STRING, "response").as_bytes()).expect(16).children()
        tbs_node, alg_node, sig_node = basic[:3]
        certs = tuple(c.raw for c in basic[3].children()[0].children()) if len(basic) > 3 else ()
        fields = tbs_node.expect(16, "tbsResponseData").children()
        i = 0
        if fields[0].is_context(0):
            i = 1
        rid = fields[i]
        key_hash = name_der = None
        if rid.is_context(2):
            key_hash = rid.children()[0].as_bytes()
        elif rid.is_context(1):
            name_der = rid.children()[0].raw
        else:
            raise OcspError(f"responderID: unexpected {rid.describe()}")
        produced = fields[i + 1].as_time()
        singles = []
        for sr in fields[i + 2].expect(16, "responses").children():
            sp = sr.children()
            cid = _parse_cert_id(sp[0])
            cs = sp[1]
            revoked_at = reason = invalidity = None
            if cs.tag_byte == 0x80:
                st = "good"
            elif cs.tag_byte == 0x82:
                st = "unknown"
            elif cs.tag_byte == 0xA1:
                st = "revoked"
                ri = cs.children()
                revoked_at = ri[0].as_time()
                if len(ri) > 1:
                    reason = CrlReason(ri[1].children()[0].as_int())
            else:
                raise OcspError(f"certStatus: unexpected {cs.describe()}")
            this_u = sp[2].as_time()
            next_u = None
            for extra in sp[3:]:
                if extra.is_context(0):
                    next_u = extra.children()[0].as_time()
                elif extra.is_context(1):
                    for ext in extra.children()[0].children():
                        ep = ext.children()
                        if ep[0].as_oid() == oids.INVALIDITY_DATE:
                            invalidity = der.parse(ep[-1].as_bytes()).as_time()
            singles.append(SingleStatus(cid, st, this_u, next_u, revoked_at, reason, invalidity))
        nonce = None
        for extra in fields[i + 3 :]:
            if extra.is_context(1):
                for ext in extra.children()[0].children():
                    ep = ext.children()
                    if ep[0].as_oid() == OCSP_NONCE:
                        nonce = ep[-1].as_bytes()
        return ParsedResponse(
            status,
            tbs_node.raw,
            alg_node.children()[0].as_oid(),
            sig_node.as_bit_string(),
            key_hash,
            name_der,
            produced,
            tuple(singles),
            nonce,
            certs,
        )
    except OcspError:
        raise
    except (der.DERError, IndexError, ValueError) as exc:
        raise _fail("malformed OCSP response", exc) from None
