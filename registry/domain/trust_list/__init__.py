"""The trust list a registry publishes (mutual-recognition.md §2.1) and the rule by which a peer's
newly fetched list replaces the last one accepted (§2.2). Pure: no clock, no I/O.

**The payload** (``list.json``, signed as a JWS by :mod:`registry.pki.jws`), format
``cn-seal-trust-list/1``, field names after ETSI TS 119 602::

    {"format": "cn-seal-trust-list/1",
     "scheme": {"operator": {"area_code": "440300", "name_zh": ..., "name_en": ...},
                "sequence": 57, "issued_at": "2026-11-20T08:00:00Z", "next_update": "2026-11-27T08:00:00Z",
                "previous": {"sequence": 56, "sha256": ..., "url": ...},        # absent in list 1
                "signing_keys": [{"kid": "sha256:...", "alg": "ES256" | "SM2-SM3", "spki": base64 DER,
                                  "status": "current" | "next" | "retired" | "compromised",
                                  "not_before": ...?}],
                "distribution_points": [url, ...], "policy_url": url?},
     "services": [{"id": "sz-sm2-root", "role": "root" | "issuing-ca" | "seal-maker" | "ocsp-responder"
                          | "list-signer", "alg": "SM2" | "P-256", "issuer": id?, "cert": base64 DER,
                   "sha256": hex of the certificate, "status": "granted" | "suspended" | "withdrawn",
                   "status_since": time, "history": [{"status": ..., "since": time}],
                   "crl": [{"url": ..., "shards": n?, "max_age_hours": h}], "ocsp": [{"url": ...}],
                   "constraints": {"es_id_prefix": digits?, "seal_types": ["01", ...]?,
                                   "policy_oids": ["1.2.3"]?}?}],
     "status_api": {"url": ".../{esID}", "signed": bool?}?}

* Times are RFC 3339 in UTC with a ``Z`` and whole seconds (``2026-11-20T08:00:00Z``), nothing else.
* :func:`to_json` writes keys sorted, two-space indented, UTF-8 without ``\\u`` escapes, with a final
  newline, and leaves out absent optional fields. Those bytes are what is signed and served; a
  reader checks the signature over the exact bytes and never re-serialises, so no
  canonicalisation is needed (the order is only for people diffing two versions). It refuses to
  write what :func:`parse` would refuse.
* :func:`parse` checks everything it can without a clock or the network, and names the field in
  every refusal (``services[2].crl[0].url``): types, unknown fields (a new field is a new format
  version), enumerations, times, the 6-digit area code, ``previous.sequence = sequence - 1``, each
  signing key's ``kid`` is the SHA-256 of its SPKI and ``alg`` its curve, at least one current
  key, each certificate parses and hashes to its ``sha256`` with a key of its ``alg``, unique
  service ids, every ``issuer`` is a root or issuing CA of this list whose subject is the
  certificate's issuer (a root is self-issued), a seal maker is scoped by ``es_id_prefix``, the
  history ends with the current status, and a sharded CRL URL has its ``{0..n-1}``.

**Acceptance** (:func:`decide`): a newly fetched list, whose JWS verified, replaces the last accepted
one only if it is signed by a key that is pinned, or announced as ``next`` by the last accepted list
(a rollover: :attr:`Decision.rolled_over` names the keys the caller now pins, an audited step), and
that is ``current`` in the new list; a key the last list calls retired or compromised, or the new
one calls compromised, does not count. Then its area code is the peer's, its sequence is higher (the
same sequence with the same bytes is "unchanged"; with other bytes it is equivocation, which
suspends the peer), its issue time is not earlier, the very next list names the last one as its
``previous`` (by SHA-256), and it has not expired. Otherwise the last list is kept, with the reason.
:func:`walk` applies the rule through missed versions (``lists/<n>``) to the newest one.
"""

from __future__ import annotations

from .accept import Decision, Outcome, Refusal, SignedList, decide, walk
from .encode import to_json
from .fields import format_time
from .model import (
    FORMAT,
    MAX_SIZE,
    SERVICE_ALGS,
    Constraints,
    CrlPoint,
    HistoryEntry,
    KeyStatus,
    OcspPoint,
    Operator,
    Previous,
    Scheme,
    Service,
    ServiceRole,
    ServiceStatus,
    SigningKey,
    StatusApi,
    TrustList,
    TrustListError,
)
from .parse import parse

__all__ = [
    "FORMAT",
    "MAX_SIZE",
    "KeyStatus",
    "ServiceRole",
    "ServiceStatus",
    "SERVICE_ALGS",
    "TrustListError",
    "Operator",
    "Previous",
    "SigningKey",
    "Scheme",
    "HistoryEntry",
    "CrlPoint",
    "OcspPoint",
    "Constraints",
    "Service",
    "StatusApi",
    "TrustList",
    "to_json",
    "parse",
    "format_time",
    "SignedList",
    "Outcome",
    "Refusal",
    "Decision",
    "decide",
    "walk",
]
