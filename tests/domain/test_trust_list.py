"""registry.domain.trust_list: the trust-list payload (mutual-recognition.md §2.1) and the rule by
which a newly fetched list replaces the last one accepted (§2.2)."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from registry.domain import trust_list as tl
from registry.domain.trust_list.accept import _REFUSALS
from registry.pki import jws
from registry.pki import x509 as X
from registry.pki.keys import Algorithm, PrivateKey

T0 = dt.datetime(2026, 11, 20, 8, 0, 0, tzinfo=dt.UTC)
WEEK = dt.timedelta(days=7)
BASE = "https://bj.example/trust"


def _cert(key: PrivateKey, subject: str, issuer_key: PrivateKey, issuer: str, ca: bool) -> bytes:
    tbs = X.build_tbs(
        serial=X.random_serial(),
        signature_alg=issuer_key.algorithm,
        issuer=X.Name.build(C="CN", O="Beijing", CN=issuer),
        subject=X.Name.build(C="CN", O="Beijing", CN=subject),
        not_before=T0 - WEEK,
        not_after=T0 + 520 * WEEK,
        public_key=key.public_key,
        extensions=[X.basic_constraints(ca)],
    )
    return X.sign_tbs(tbs, issuer_key)


@dataclasses.dataclass
class Keys:
    root: PrivateKey
    maker: PrivateKey
    issuing: PrivateKey
    p256_root: PrivateKey
    list_sm2: PrivateKey
    list_p256: PrivateKey
    list_next: PrivateKey


@pytest.fixture(scope="module")
def keys() -> Keys:
    sm2, p256 = Algorithm.SM2, Algorithm.ECDSA
    return Keys(*(PrivateKey.generate(a) for a in (sm2, sm2, sm2, p256, sm2, p256, sm2)))


@pytest.fixture(scope="module")
def certs(keys: Keys) -> dict[str, bytes]:
    return {
        "root": _cert(keys.root, "BJ SM2 Root", keys.root, "BJ SM2 Root", True),
        "maker": _cert(keys.maker, "BJ SM2 Seal Maker", keys.root, "BJ SM2 Root", False),
        "issuing": _cert(keys.issuing, "BJ SM2 Issuing CA", keys.root, "BJ SM2 Root", True),
        "p256_root": _cert(keys.p256_root, "BJ P-256 Root", keys.p256_root, "BJ P-256 Root", True),
    }


def signing_key(key: PrivateKey, status: tl.KeyStatus, not_before: dt.datetime | None = None) -> tl.SigningKey:
    return tl.SigningKey(
        jws.kid_for(key.public_key), jws.alg_for(key.public_key), key.public_key.spki(), status, not_before
    )


def service(sid: str, role: tl.ServiceRole, cert: bytes, alg: str = "SM2", **kw: Any) -> tl.Service:
    return tl.Service(
        id=sid,
        role=role,
        alg=alg,
        cert=cert,
        sha256=hashlib.sha256(cert).hexdigest(),
        status=tl.ServiceStatus.GRANTED,
        status_since=T0 - 52 * WEEK,
        history=(tl.HistoryEntry(tl.ServiceStatus.GRANTED, T0 - 52 * WEEK),),
        **kw,
    )


@pytest.fixture(scope="module")
def sample(keys: Keys, certs: dict[str, bytes]) -> tl.TrustList:
    return tl.TrustList(
        scheme=tl.Scheme(
            operator=tl.Operator("110000", "北京市市场监督管理局", "Beijing Administration for Market Regulation"),
            sequence=1,
            issued_at=T0,
            next_update=T0 + WEEK,
            signing_keys=(
                signing_key(keys.list_sm2, tl.KeyStatus.CURRENT),
                signing_key(keys.list_p256, tl.KeyStatus.CURRENT),
            ),
            distribution_points=(f"{BASE}/list.jws",),
        ),
        services=(
            service("bj-sm2-root", tl.ServiceRole.ROOT, certs["root"], crl=(tl.CrlPoint(f"{BASE}/crl/root.crl", 24),)),
            service(
                "bj-sm2-maker",
                tl.ServiceRole.SEAL_MAKER,
                certs["maker"],
                issuer="bj-sm2-root",
                constraints=tl.Constraints("110000", ("01", "02", "99")),
            ),
            service(
                "bj-sm2-issuing",
                tl.ServiceRole.ISSUING_CA,
                certs["issuing"],
                issuer="bj-sm2-root",
                crl=(tl.CrlPoint(f"{BASE}/crl/issuing-{{0..15}}.crl", 24, shards=16),),
                ocsp=(tl.OcspPoint("https://bj.example/ocsp"),),
                constraints=tl.Constraints(policy_oids=("1.3.6.1.4.1.61156.1.1",)),
            ),
            service("bj-p256-root", tl.ServiceRole.ROOT, certs["p256_root"], alg="P-256"),
        ),
        status_api=tl.StatusApi("https://bj.example/api/v1/seals/{esID}", signed=True),
    )


# -- writing and reading ------------------------------------------------------------------------


def test_round_trip_and_deterministic_bytes(sample: tl.TrustList) -> None:
    data = tl.to_json(sample)
    assert tl.parse(data) == sample
    assert tl.to_json(tl.parse(data)) == data
    assert data.endswith(b"}\n") and "北京市市场监督管理局".encode() in data  # UTF-8, not \u escapes
    doc = json.loads(data)
    assert list(doc) == sorted(doc) and list(doc["scheme"]) == sorted(doc["scheme"])
    assert doc["format"] == "cn-seal-trust-list/1"
    assert doc["scheme"]["issued_at"] == "2026-11-20T08:00:00Z"
    assert "previous" not in doc["scheme"] and "issuer" not in doc["services"][0]  # absent, not null
    key = doc["scheme"]["signing_keys"][0]
    assert key["kid"] == "sha256:" + hashlib.sha256(base64.b64decode(key["spki"])).hexdigest()
    assert key["alg"] == "SM2-SM3" and doc["scheme"]["signing_keys"][1]["alg"] == "ES256"


def test_shards_expand(sample: tl.TrustList) -> None:
    point = sample.services[2].crl[0]
    assert point.urls()[0] == f"{BASE}/crl/issuing-0.crl" and point.urls()[-1] == f"{BASE}/crl/issuing-15.crl"
    assert len(point.urls()) == 16
    assert sample.services[0].crl[0].urls() == (f"{BASE}/crl/root.crl",)


def test_signed_and_verified_end_to_end(sample: tl.TrustList, keys: Keys) -> None:
    payload = tl.to_json(sample)
    document = jws.sign(payload, [keys.list_sm2, keys.list_p256])
    got = tl.SignedList.from_verified(jws.verify(document, [keys.list_p256.public_key]))
    assert got.trust_list == sample and got.sha256 == hashlib.sha256(payload).hexdigest()
    assert got.verified_kids == {jws.kid_for(keys.list_p256.public_key)}


def test_to_json_refuses_what_parse_refuses(sample: tl.TrustList) -> None:
    bad = dataclasses.replace(sample, scheme=dataclasses.replace(sample.scheme, sequence=2))  # no previous
    with pytest.raises(tl.TrustListError) as e:
        tl.to_json(bad)
    assert e.value.code == "trust_list.previous_missing"
    naive = dataclasses.replace(sample, scheme=dataclasses.replace(sample.scheme, issued_at=T0.replace(tzinfo=None)))
    with pytest.raises(tl.TrustListError) as e:
        tl.to_json(naive)
    assert e.value.code == "trust_list.naive_time"


Edit = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        if value is _DELETE:
            del node[last]
        elif last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return edit


_DELETE = object()


def _swap_cert(index: int, other: int) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        s, o = doc["services"][index], doc["services"][other]
        s["cert"], s["sha256"] = o["cert"], o["sha256"]

    return edit


# (edit, code, the field the message names)
BAD: dict[str, tuple[Edit, str, str]] = {
    "format": (_set("format", "cn-seal-trust-list/2"), "trust_list.format", "format"),
    "unknown top field": (_set("equivalence", []), "trust_list.unknown_field", "equivalence"),
    "unknown nested field": (
        _set("services.1.constraints.depth", 1),
        "trust_list.unknown_field",
        "services[1].constraints.depth",
    ),
    "no scheme": (_set("scheme", _DELETE), "trust_list.missing", "scheme"),
    "area code short": (
        _set("scheme.operator.area_code", "11000"),
        "trust_list.area_code",
        "scheme.operator.area_code",
    ),
    "area code letters": (
        _set("scheme.operator.area_code", "11000X"),
        "trust_list.area_code",
        "scheme.operator.area_code",
    ),
    "name not a string": (_set("scheme.operator.name_zh", 5), "trust_list.wrong_type", "scheme.operator.name_zh"),
    "empty name": (_set("scheme.operator.name_en", " "), "trust_list.wrong_type", "scheme.operator.name_en"),
    "sequence zero": (_set("scheme.sequence", 0), "trust_list.out_of_range", "scheme.sequence"),
    "sequence bool": (_set("scheme.sequence", True), "trust_list.wrong_type", "scheme.sequence"),
    "sequence string": (_set("scheme.sequence", "1"), "trust_list.wrong_type", "scheme.sequence"),
    "time with offset": (
        _set("scheme.issued_at", "2026-11-20T16:00:00+08:00"),
        "trust_list.not_time",
        "scheme.issued_at",
    ),
    "time with fraction": (
        _set("scheme.issued_at", "2026-11-20T08:00:00.5Z"),
        "trust_list.not_time",
        "scheme.issued_at",
    ),
    "time impossible": (
        _set("scheme.next_update", "2026-02-30T08:00:00Z"),
        "trust_list.not_time",
        "scheme.next_update",
    ),
    "next update first": (
        _set("scheme.next_update", "2026-11-20T08:00:00Z"),
        "trust_list.next_update_not_after",
        "scheme.next_update",
    ),
    "previous on list 1": (
        _set("scheme.previous", {"sequence": 0, "sha256": "0" * 64, "url": f"{BASE}/lists/0.jws"}),
        "trust_list.out_of_range",
        "scheme.previous.sequence",
    ),
    "no signing keys": (_set("scheme.signing_keys", []), "trust_list.no_current_key", "scheme.signing_keys"),
    "one key next, one current": (_set("scheme.signing_keys.0.status", "next"), None, ""),  # accepted
    "key status": (
        _set("scheme.signing_keys.0.status", "revoked"),
        "trust_list.one_of",
        "scheme.signing_keys[0].status",
    ),
    "key alg": (_set("scheme.signing_keys.0.alg", "ES256"), "trust_list.key_alg", "scheme.signing_keys[0].alg"),
    "key alg unknown": (_set("scheme.signing_keys.0.alg", "SM2"), "trust_list.one_of", "scheme.signing_keys[0].alg"),
    "kid form": (_set("scheme.signing_keys.0.kid", "key-1"), "trust_list.bad_kid", "scheme.signing_keys[0].kid"),
    "kid mismatch": (
        _set("scheme.signing_keys.0.kid", "sha256:" + "0" * 64),
        "trust_list.kid_mismatch",
        "scheme.signing_keys[0].kid",
    ),
    "spki not base64": (
        _set("scheme.signing_keys.0.spki", "not base64!"),
        "trust_list.not_base64",
        "scheme.signing_keys[0].spki",
    ),
    "spki not a key": (
        _set("scheme.signing_keys.0.spki", "MAA="),
        "trust_list.bad_spki",
        "scheme.signing_keys[0].spki",
    ),
    "distribution point": (
        _set("scheme.distribution_points.0", "ftp://x"),
        "trust_list.not_url",
        "scheme.distribution_points[0]",
    ),
    "services missing": (_set("services", _DELETE), "trust_list.missing", "services"),
    "service id twice": (_set("services.1.id", "bj-sm2-root"), "trust_list.listed_twice", "services[1].id"),
    "service id form": (_set("services.1.id", "BJ Maker"), "trust_list.service_id", "services[1].id"),
    "role": (_set("services.1.role", "tsa"), "trust_list.one_of", "services[1].role"),
    "service alg": (_set("services.1.alg", "P-256"), "trust_list.cert_alg", "services[1].alg"),
    "cert not base64": (_set("services.1.cert", "AAA"), "trust_list.not_base64", "services[1].cert"),
    "cert garbage": (_set("services.1.cert", "AAAA"), "trust_list.bad_cert", "services[1].cert"),
    "cert sha256": (_set("services.1.sha256", "0" * 64), "trust_list.cert_sha256", "services[1].sha256"),
    "cert sha256 upper": (_set("services.1.sha256", "A" * 64), "trust_list.not_sha256", "services[1].sha256"),
    "status": (_set("services.1.status", "revoked"), "trust_list.one_of", "services[1].status"),
    "history not ending with status": (
        _set("services.1.status", "withdrawn"),
        "trust_list.history_last",
        "services[1].history",
    ),
    "history order": (
        _set(
            "services.1.history",
            [
                {"status": "granted", "since": "2025-11-21T08:00:00Z"},
                {"status": "granted", "since": "2025-01-01T00:00:00Z"},
            ],
        ),
        "trust_list.history_order",
        "services[1].history",
    ),
    "issuer unknown": (_set("services.1.issuer", "bj-nobody"), "trust_list.issuer_unknown", "services[1].issuer"),
    "issuer not a CA": (_set("services.2.issuer", "bj-sm2-maker"), "trust_list.issuer_not_ca", "services[2].issuer"),
    "issuer not the cert's": (
        _set("services.1.issuer", "bj-p256-root"),
        "trust_list.issuer_name",
        "services[1].issuer",
    ),
    "root with issuer": (_set("services.0.issuer", "bj-p256-root"), "trust_list.root_issuer", "services[0].issuer"),
    "root not self-issued": (_swap_cert(0, 1), "trust_list.root_not_self_issued", "services[0].cert"),
    "maker unscoped": (_set("services.1.constraints", _DELETE), "trust_list.maker_unscoped", "services[1]"),
    "es_id_prefix": (
        _set("services.1.constraints.es_id_prefix", "11000a"),
        "trust_list.es_id_prefix",
        "services[1].constraints.es_id_prefix",
    ),
    "seal type": (
        _set("services.1.constraints.seal_types.0", "1"),
        "trust_list.not_a",
        "services[1].constraints.seal_types[0]",
    ),
    "seal type twice": (
        _set("services.1.constraints.seal_types.1", "01"),
        "trust_list.listed_twice",
        "services[1].constraints.seal_types[1]",
    ),
    "policy oid": (
        _set("services.2.constraints.policy_oids.0", "1.3.06"),
        "trust_list.not_a",
        "services[2].constraints.policy_oids[0]",
    ),
    "crl max age": (
        _set("services.0.crl.0.max_age_hours", 0),
        "trust_list.out_of_range",
        "services[0].crl[0].max_age_hours",
    ),
    "crl shards without pattern": (_set("services.0.crl.0.shards", 4), "trust_list.shards", "services[0].crl[0]"),
    "crl pattern without shards": (_set("services.2.crl.0.shards", _DELETE), "trust_list.shards", "services[2].crl[0]"),
    "crl pattern wrong count": (_set("services.2.crl.0.shards", 8), "trust_list.shards", "services[2].crl[0]"),
    "ocsp url": (_set("services.2.ocsp.0.url", "bj.example/ocsp"), "trust_list.not_url", "services[2].ocsp[0].url"),
    "status api without esID": (
        _set("status_api.url", "https://bj.example/api/v1/seals/"),
        "trust_list.status_api_url",
        "status_api.url",
    ),
    "status api signed": (_set("status_api.signed", "yes"), "trust_list.wrong_type", "status_api.signed"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_parse_refuses_naming_the_field(case: str, sample: tl.TrustList) -> None:
    edit, code, where = BAD[case]
    doc = json.loads(tl.to_json(sample))
    edit(doc)
    data = json.dumps(doc, ensure_ascii=False).encode()
    if code is None:
        tl.parse(data)
        return
    with pytest.raises(tl.TrustListError) as e:
        tl.parse(data)
    assert e.value.code == code, str(e.value)
    assert where in str(e.value) and where in e.value.text("zh")
    assert e.value.text("zh") != str(e.value)


@pytest.mark.parametrize(
    "data, code",
    [
        (b"\xff", "trust_list.not_json"),
        (b"{", "trust_list.not_json"),
        (b"[]", "trust_list.wrong_type"),
        (b'{"format": "a", "format": "b"}', "trust_list.duplicate_key"),
        (b'{"a": [[[[[[[]]]]]]]}', "trust_list.too_deep"),
        (b" " * (tl.MAX_SIZE + 1), "trust_list.too_large"),
    ],
)
def test_parse_refuses_what_is_not_a_list(data: bytes, code: str) -> None:
    with pytest.raises(tl.TrustListError) as e:
        tl.parse(data)
    assert e.value.code == code


def test_spki_must_be_der(sample: tl.TrustList) -> None:
    doc = json.loads(tl.to_json(sample))
    spki = base64.b64decode(doc["scheme"]["signing_keys"][0]["spki"])
    doc["scheme"]["signing_keys"][0]["spki"] = base64.b64encode(spki + b"\x00").decode()
    with pytest.raises(tl.TrustListError) as e:
        tl.parse(json.dumps(doc).encode())
    assert e.value.code in {"trust_list.spki_not_der", "trust_list.bad_spki"}


# -- acceptance ---------------------------------------------------------------------------------


def fp(key: PrivateKey) -> str:
    return jws.spki_fingerprint(key.public_key.spki())


def kid(key: PrivateKey) -> str:
    return jws.kid_for(key.public_key)


def version(
    base: tl.TrustList,
    prev: tl.SignedList | None,
    *,
    sequence: int | None = None,
    issued_at: dt.datetime | None = None,
    keys: tuple[tl.SigningKey, ...] | None = None,
    area_code: str | None = None,
    name_en: str | None = None,
    signed_by: tuple[PrivateKey, ...],
) -> tl.SignedList:
    """A list after ``prev`` (sequence +1, previous = prev's digest, a day later, prev's signing
    keys unless given), signed and verified as a fetcher would (``verified_kids`` = the signers)."""
    seq = sequence if sequence is not None else (prev.sequence + 1 if prev else 1)
    when = issued_at or (T0 + dt.timedelta(days=seq - 1))
    previous = None
    if seq > 1:
        previous = tl.Previous(seq - 1, prev.sha256 if prev else "0" * 64, f"{BASE}/lists/{seq - 1}.jws")
    operator = dataclasses.replace(
        base.scheme.operator,
        area_code=area_code or base.scheme.operator.area_code,
        name_en=name_en or base.scheme.operator.name_en,
    )
    scheme = dataclasses.replace(
        base.scheme,
        operator=operator,
        sequence=seq,
        issued_at=when,
        next_update=when + WEEK,
        previous=previous,
        signing_keys=keys or (prev.trust_list.scheme.signing_keys if prev else base.scheme.signing_keys),
    )
    payload = tl.to_json(dataclasses.replace(base, scheme=scheme))
    verified = jws.verify(jws.sign(payload, signed_by), [k.public_key for k in signed_by])
    return tl.SignedList.from_verified(verified)


@pytest.fixture(scope="module")
def first(sample: tl.TrustList, keys: Keys) -> tl.SignedList:
    return version(sample, None, signed_by=(keys.list_sm2, keys.list_p256))


def pins(keys: Keys) -> list[str]:
    return [fp(keys.list_sm2), fp(keys.list_p256)]


NOW = T0 + dt.timedelta(hours=1)


def test_admission_accepts_a_list_signed_by_a_pinned_key(first: tl.SignedList, keys: Keys) -> None:
    d = tl.decide(None, pins(keys), first, area_code="110000", now=NOW)
    assert d.accepted and d.outcome is tl.Outcome.ACCEPT and d.refusal is None and d.message is None
    assert d.trusted_by == {kid(keys.list_sm2), kid(keys.list_p256)} and d.rolled_over == frozenset()
    # one pinned key is enough; pins may be typed in any case, grouped, or as kids
    only = tl.decide(None, [fp(keys.list_p256).upper()], first, area_code="110000", now=NOW)
    assert only.accepted and only.trusted_by == {kid(keys.list_p256)}
    assert tl.decide(None, [kid(keys.list_sm2)], first, area_code="110000", now=NOW).accepted


def test_admission_refuses_an_unpinned_key(first: tl.SignedList) -> None:
    stranger = PrivateKey.generate(Algorithm.SM2)
    d = tl.decide(None, [fp(stranger)], first, area_code="110000", now=NOW)
    assert (d.outcome, d.refusal) == (tl.Outcome.KEEP_LAST, tl.Refusal.UNTRUSTED_SIGNER)
    assert d.message is not None and d.message.code == "trust_list.refused.untrusted_signer"
    assert "1" in d.message.en and "第 1 版" in d.message.zh


def test_a_higher_sequence_is_accepted(sample: tl.TrustList, first: tl.SignedList, keys: Keys) -> None:
    second = version(sample, first, signed_by=(keys.list_sm2,))
    d = tl.decide(first, pins(keys), second, area_code="110000", now=NOW + dt.timedelta(days=1))
    assert d.accepted and d.sequence == 2


def test_the_same_list_again_is_unchanged(first: tl.SignedList, keys: Keys) -> None:
    d = tl.decide(first, pins(keys), first, area_code="110000", now=NOW)
    assert d.outcome is tl.Outcome.UNCHANGED and not d.accepted and d.refusal is None


def test_a_lower_sequence_is_a_replay(sample: tl.TrustList, first: tl.SignedList, keys: Keys) -> None:
    second = version(sample, first, signed_by=(keys.list_sm2,))
    d = tl.decide(second, pins(keys), first, area_code="110000", now=NOW)
    assert (d.refusal, d.suspends_peer) == (tl.Refusal.REPLAY, False)
    assert d.message is not None and d.message.code == "trust_list.refused.replay"


def test_the_same_sequence_with_other_bytes_is_equivocation(
    sample: tl.TrustList, first: tl.SignedList, keys: Keys
) -> None:
    other = version(sample, None, name_en="Beijing AMR", signed_by=(keys.list_sm2,))
    assert other.sequence == first.sequence and other.sha256 != first.sha256
    d = tl.decide(first, pins(keys), other, area_code="110000", now=NOW)
    assert d.refusal is tl.Refusal.EQUIVOCATION and d.suspends_peer
    assert d.message is not None and "equivocation" in d.message.en


def test_equivocation_needs_a_trusted_signature(sample: tl.TrustList, first: tl.SignedList, keys: Keys) -> None:
    """Anyone can serve other bytes; only a list signed by a trusted key can accuse the peer."""
    stranger = PrivateKey.generate(Algorithm.SM2)
    forged = version(sample, None, name_en="Beijing AMR", signed_by=(stranger,))
    d = tl.decide(first, pins(keys), forged, area_code="110000", now=NOW)
    assert d.refusal is tl.Refusal.UNTRUSTED_SIGNER and not d.suspends_peer


def test_an_earlier_issue_time_is_refused(sample: tl.TrustList, first: tl.SignedList, keys: Keys) -> None:
    second = version(sample, first, issued_at=T0 - dt.timedelta(hours=1), signed_by=(keys.list_sm2,))
    d = tl.decide(first, pins(keys), second, area_code="110000", now=NOW)
    assert d.refusal is tl.Refusal.ISSUED_EARLIER
    assert d.message is not None and "2026-11-20T07:00:00Z" in d.message.en


def test_a_changed_area_code_is_refused(sample: tl.TrustList, first: tl.SignedList, keys: Keys) -> None:
    second = version(sample, first, area_code="440300", signed_by=(keys.list_sm2,))
    d = tl.decide(first, pins(keys), second, area_code="110000", now=NOW + dt.timedelta(days=1))
    assert d.refusal is tl.Refusal.AREA_CODE_CHANGED
    # on admission, against the area code the admin entered
    d = tl.decide(None, pins(keys), first, area_code="440300", now=NOW)
    assert d.refusal is tl.Refusal.AREA_CODE_CHANGED
    assert d.message is not None and "110000" in d.message.en and "440300" in d.message.zh


def test_an_expired_list_is_refused(first: tl.SignedList, keys: Keys) -> None:
    d = tl.decide(None, pins(keys), first, area_code="110000", now=T0 + WEEK)
    assert d.refusal is tl.Refusal.EXPIRED
    assert d.message is not None and "2026-11-27T08:00:00Z" in d.message.en
    assert tl.decide(None, pins(keys), first, area_code="110000", now=T0 + WEEK - dt.timedelta(seconds=1)).accepted
    # the same list again, now expired, is reported expired, not unchanged
    assert tl.decide(first, pins(keys), first, area_code="110000", now=T0 + WEEK).refusal is tl.Refusal.EXPIRED


def test_the_next_list_must_name_the_last_as_previous(sample: tl.TrustList, first: tl.SignedList, keys: Keys) -> None:
    fork = version(sample, None, sequence=2, signed_by=(keys.list_sm2,))  # previous.sha256 = 0...0
    d = tl.decide(first, pins(keys), fork, area_code="110000", now=NOW + dt.timedelta(days=1))
    assert d.refusal is tl.Refusal.BROKEN_CHAIN


def _rollover_lists(sample: tl.TrustList, first: tl.SignedList, keys: Keys) -> tuple[tl.SignedList, tl.SignedList]:
    """List 2 (old keys) announces list_next as next; list 3 is signed by it alone, list_sm2 retired."""
    announce = version(
        sample,
        first,
        keys=(
            signing_key(keys.list_sm2, tl.KeyStatus.CURRENT),
            signing_key(keys.list_p256, tl.KeyStatus.CURRENT),
            signing_key(keys.list_next, tl.KeyStatus.NEXT, not_before=T0 + dt.timedelta(days=2)),
        ),
        signed_by=(keys.list_sm2, keys.list_p256),
    )
    rolled = version(
        sample,
        announce,
        keys=(
            signing_key(keys.list_sm2, tl.KeyStatus.RETIRED),
            signing_key(keys.list_p256, tl.KeyStatus.CURRENT),
            signing_key(keys.list_next, tl.KeyStatus.CURRENT),
        ),
        signed_by=(keys.list_next,),
    )
    return announce, rolled


def test_a_planned_rollover_accepts_the_key_announced_next(
    sample: tl.TrustList, first: tl.SignedList, keys: Keys
) -> None:
    announce, rolled = _rollover_lists(sample, first, keys)
    at = T0 + dt.timedelta(days=2, hours=1)
    assert tl.decide(first, pins(keys), announce, area_code="110000", now=at).accepted
    d = tl.decide(announce, pins(keys), rolled, area_code="110000", now=at)
    assert d.accepted and d.rolled_over == {kid(keys.list_next)} and d.trusted_by == {kid(keys.list_next)}
    # without the announcing list held, the new key is nobody's
    assert tl.decide(first, pins(keys), rolled, area_code="110000", now=at).refusal is tl.Refusal.UNTRUSTED_SIGNER


def test_an_announced_key_does_not_sign_before_its_not_before(
    sample: tl.TrustList, first: tl.SignedList, keys: Keys
) -> None:
    announce, _ = _rollover_lists(sample, first, keys)
    early = version(
        sample,
        announce,
        issued_at=T0 + dt.timedelta(days=1, hours=12),  # not_before is day 2
        keys=(signing_key(keys.list_p256, tl.KeyStatus.CURRENT), signing_key(keys.list_next, tl.KeyStatus.CURRENT)),
        signed_by=(keys.list_next,),
    )
    d = tl.decide(announce, pins(keys), early, area_code="110000", now=T0 + dt.timedelta(days=2))
    assert d.refusal is tl.Refusal.UNTRUSTED_SIGNER


def test_retired_and_compromised_keys_no_longer_count(sample: tl.TrustList, first: tl.SignedList, keys: Keys) -> None:
    announce, rolled = _rollover_lists(sample, first, keys)
    at = T0 + dt.timedelta(days=3, hours=1)
    # list 4 signed only by the key list 3 retired, though it is still pinned
    by_retired = version(
        sample,
        rolled,
        keys=(signing_key(keys.list_sm2, tl.KeyStatus.CURRENT), signing_key(keys.list_p256, tl.KeyStatus.CURRENT)),
        signed_by=(keys.list_sm2,),
    )
    assert tl.decide(rolled, pins(keys), by_retired, area_code="110000", now=at).refusal is tl.Refusal.UNTRUSTED_SIGNER
    # a list that calls its own signer compromised
    self_barred = version(
        sample,
        first,
        keys=(signing_key(keys.list_sm2, tl.KeyStatus.COMPROMISED), signing_key(keys.list_p256, tl.KeyStatus.CURRENT)),
        signed_by=(keys.list_sm2,),
    )
    d = tl.decide(first, pins(keys), self_barred, area_code="110000", now=NOW + dt.timedelta(days=1))
    assert d.refusal is tl.Refusal.UNTRUSTED_SIGNER
    # the emergency case: the P-256 key signs a list marking the SM2 key compromised
    emergency = version(
        sample,
        first,
        keys=(signing_key(keys.list_sm2, tl.KeyStatus.COMPROMISED), signing_key(keys.list_p256, tl.KeyStatus.CURRENT)),
        signed_by=(keys.list_p256,),
    )
    assert tl.decide(first, pins(keys), emergency, area_code="110000", now=NOW + dt.timedelta(days=1)).accepted


def test_a_signer_must_be_current_in_the_list_it_signs(sample: tl.TrustList, first: tl.SignedList, keys: Keys) -> None:
    unlisted = version(
        sample, first, keys=(signing_key(keys.list_p256, tl.KeyStatus.CURRENT),), signed_by=(keys.list_sm2,)
    )
    d = tl.decide(first, pins(keys), unlisted, area_code="110000", now=NOW + dt.timedelta(days=1))
    assert d.refusal is tl.Refusal.UNTRUSTED_SIGNER


def test_walk_through_missed_lists_and_a_rollover(sample: tl.TrustList, first: tl.SignedList, keys: Keys) -> None:
    announce, rolled = _rollover_lists(sample, first, keys)
    latest = version(sample, rolled, signed_by=(keys.list_next,))
    now = T0 + dt.timedelta(days=3, hours=1)  # list 2 has not expired; list 1 would have, had it mattered
    decision, held = tl.walk(first, pins(keys), [announce, rolled, latest], area_code="110000", now=now)
    assert decision.accepted and decision.sequence == 4 and held == latest
    assert decision.rolled_over == {kid(keys.list_next)}
    # the newest alone cannot be accepted: its key was announced in a list not yet seen
    decision, held = tl.walk(first, pins(keys), [latest], area_code="110000", now=now)
    assert decision.refusal is tl.Refusal.UNTRUSTED_SIGNER and held == first


def test_walk_keeps_the_last_list_when_a_link_is_missing_or_bad(
    sample: tl.TrustList, first: tl.SignedList, keys: Keys
) -> None:
    announce, rolled = _rollover_lists(sample, first, keys)
    latest = version(sample, rolled, signed_by=(keys.list_next,))
    now = T0 + dt.timedelta(days=3, hours=1)
    decision, held = tl.walk(first, pins(keys), [announce, latest], area_code="110000", now=now)
    assert decision.refusal is tl.Refusal.BROKEN_CHAIN and held == first
    stranger = PrivateKey.generate(Algorithm.SM2)
    forged = version(sample, announce, signed_by=(stranger,))
    decision, held = tl.walk(first, pins(keys), [announce, forged, latest], area_code="110000", now=now)
    assert decision.refusal is tl.Refusal.UNTRUSTED_SIGNER and decision.sequence == 3 and held == first
    # an intermediate list may have expired; the newest may not
    late = T0 + dt.timedelta(days=11)
    decision, _ = tl.walk(first, pins(keys), [announce, rolled, latest], area_code="110000", now=late)
    assert decision.refusal is tl.Refusal.EXPIRED and decision.sequence == 4


def test_every_refusal_has_its_bilingual_message() -> None:
    assert set(_REFUSALS) == set(tl.Refusal)
    for message in _REFUSALS.values():
        assert message.fields("en") == message.fields("zh")
