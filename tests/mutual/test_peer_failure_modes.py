"""The failure modes of mutual-recognition.md §2.5 that the other files under tests/mutual/ do not
cover, each against Beijing's real app over HTTP (and a third region, Tianjin, for #4):

* #7  Beijing withdraws its seal maker or its issuing CA from time T (``registry ca revoke``:
  the certificate goes on the root's CRL and the service is ``withdrawn`` since T in Beijing's
  next list). A seal or signature whose own time is after T is ``invalid``; one whose own time
  is before T is ``indeterminate``, because that time is self-declared and cannot show it was
  made before the withdrawal (the SES verifier reads no trusted timestamp yet, so there is no
  "before T with a timestamp: valid" case to test).
* #12 (second half) Beijing's issuing CA is not in Beijing's list, though the certificate itself
  is at hand: ``indeterminate`` ("not disclosed").
* #13 A CRL signed by another CA at Beijing's listed URL is refused, the CRL held is kept and
  the verdict does not change; a holder certificate whose CDP points elsewhere: the CDP is never
  fetched, the listed CRL's revocation wins.
* Two peers listing the same certificate: neither vouches for it (``indeterminate``), and the
  verdict says why.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from registry.db.models import Authority
from registry.pki import crl, ses
from registry.pki.keys import Algorithm, PrivateKey, decrypt_private_key
from registry.pki.x509 import Certificate
from registry.services import peers, revocation, trust_lists
from registry.services.context import FrozenClock, ServiceContext
from registry.services.peers.lists import TRUST_STORE_KEY
from registry.services.verify import trust_store
from tests.support import seals as support_seals
from tests.support.data import ADMIN
from tests.support.regions import TIANJIN, Region, region, second_database

from .conftest import ADA, RITA
from .test_peer_lists import admit
from .test_peer_verify import DOC, issue_and_sign, item, publish_and_refresh, undecided_text


@pytest.fixture
def beijing(ctx: ServiceContext, region_database: str, tmp_path: Path) -> Iterator[Region]:
    assert isinstance(ctx.clock, FrozenClock)
    with region(tmp_path, region_database, ctx.clock, enterprises=True) as bj:
        yield bj


def failed_text(it: Any) -> str:
    return " ".join(m[1] for c in it.checks if c.ok is False for m in c.reasons)


def _key(bj: Region, name: str) -> PrivateKey:
    with bj.ctx.reader() as s:
        auth = s.scalar(select(Authority).where(Authority.name == name))
        assert auth is not None
        return decrypt_private_key(auth.key_blob, bj.ctx.require_keyring().keys)


def _authority_cert(bj: Region, name: str) -> Certificate:
    with bj.ctx.reader() as s:
        auth = s.scalar(select(Authority).where(Authority.name == name))
        assert auth is not None
        return Certificate.from_der(auth.certificate_der)


def _made_at(bj: Region, seal_der: bytes, when: dt.datetime) -> bytes:
    """The seal's content with another creation time, signed again by Beijing's SM2 maker key (a
    seal the maker made at ``when``: after its withdrawal, only a kept or stolen key can)."""
    seal = ses.parse_seal(seal_der)
    prop = dataclasses.replace(seal.property, create_date=when)
    info = ses.encode_seal_info(es_id=seal.es_id, vid=seal.vid, prop=prop, picture=seal.picture)
    return ses.make_seal(info, seal.maker_cert, _key(bj, "sm2-seal-maker"))


def _signed_now(ctx: ServiceContext, r: Any) -> bytes:
    """A signature over DOC with the seal ``r`` and its key at the clock's time, made with the SES
    primitives (Beijing's signing service refuses to make one it would not find valid)."""
    from registry.services.signing import property_info_for

    key = PrivateKey.from_pem(r.private_key_pem)
    return ses.make_signature(
        seal=r.seal_der,
        signer_cert=r.certificate_der,
        signer=key,
        data_hash=ses.document_digest(key.algorithm.signature_oid, DOC),
        property_info=property_info_for("合同.txt", len(DOC)),
        signing_time=ctx.clock.now(),
    )


# -- #7 the peer withdraws its maker or its issuing CA ---------------------------------------


def withdraw(ctx: ServiceContext, bj: Region, name: str) -> dt.datetime:
    """Beijing revokes ``name`` (``registry ca revoke``) and publishes its list and CRLs; Shenzhen
    refreshes. Returns T, the time of the withdrawal."""
    ctx.clock.advance(minutes=5)
    when = ctx.clock.now()
    revocation.revoke_authority(bj.ctx, ADMIN, name, "cessationOfOperation")
    listed = bj.publish()  # the list says what changed at once
    [svc] = [s for s in listed.trust_list.services if s.id == name]
    assert svc.status.value == "withdrawn" and svc.status_since == when.replace(microsecond=0)
    publish_and_refresh(ctx, bj)
    return when


def test_a_withdrawn_maker_vouches_for_no_seal_and_a_self_declared_earlier_time_cannot_save_one(
    ctx: ServiceContext, beijing: Region
) -> None:
    r, sig_before = issue_and_sign(beijing, "sm2")
    admit(ctx, beijing)
    publish_and_refresh(ctx, beijing)
    assert item(ctx, r.seal_der).verdict == "valid" and item(ctx, sig_before, DOC).verdict == "valid"
    t = withdraw(ctx, beijing, "sm2-seal-maker")
    stamp = t.strftime("%Y-%m-%dT%H:%M:%SZ")
    # made before T by its own (self-declared) creation time: nothing proves it existed before
    # the withdrawal, so the peer's word for it is gone — indeterminate, not valid
    seal_before = item(ctx, r.seal_der)
    assert seal_before.verdict == "indeterminate", [(c.id, c.reasons) for c in seal_before.checks]
    text = undecided_text(seal_before)
    assert f"the service sm2-seal-maker of peer beijing (110000) was withdrawn at {stamp}" in text
    assert "self-declared" in text and "no trusted timestamp" in text
    assert seal_before.check("maker_certificate").ok is None
    # the CRL also says the maker was revoked at T, after the seal was made: only a note
    notes = " ".join(m[1] for c in seal_before.checks for m in c.notes)
    assert "after the signing time" in notes and "cessationOfOperation" in notes
    # a signature made before T with it: the same, through its seal
    assert item(ctx, sig_before, DOC).verdict == "indeterminate"
    # a signature made after T with that seal: its seal still claims to be from before T
    ctx.clock.advance(minutes=1)
    sig_after = support_seals.sign(beijing.ctx, r, DOC, "合同.txt")
    publish_and_refresh(ctx, beijing)
    after = item(ctx, sig_after, DOC)
    assert after.verdict == "indeterminate" and after.check("signer_certificate").ok is True
    # a seal whose own creation time is after T: the file itself says the maker made it when
    # Beijing no longer vouched for it, and no proof of an earlier time can contradict its own
    # claim — invalid, like a certificate revoked before the signing time
    late = item(ctx, _made_at(beijing, r.seal_der, ctx.clock.now()))
    assert late.verdict == "invalid"
    failed = failed_text(late)
    assert "the service sm2-seal-maker of peer beijing (110000) was withdrawn at" in failed
    assert "was revoked (cessationOfOperation)" in failed  # the root's CRL says so as well
    # the other hierarchy's maker is untouched
    ecdsa, _sig = issue_and_sign(beijing, "ecdsa")
    publish_and_refresh(ctx, beijing)
    assert item(ctx, ecdsa.seal_der).verdict == "valid"


def test_a_withdrawn_issuing_ca_invalidates_later_signatures_and_leaves_earlier_ones_undecided(
    ctx: ServiceContext, beijing: Region
) -> None:
    r, sig_before = issue_and_sign(beijing, "sm2")
    admit(ctx, beijing)
    publish_and_refresh(ctx, beijing)
    assert item(ctx, sig_before, DOC).verdict == "valid"
    t = withdraw(ctx, beijing, "sm2-issuing")
    stamp = t.strftime("%Y-%m-%dT%H:%M:%SZ")
    before = item(ctx, sig_before, DOC)
    assert before.verdict == "indeterminate", [(c.id, c.reasons) for c in before.checks]
    assert before.check("signer_certificate").ok is None and before.check("maker_certificate").ok is True
    text = undecided_text(before)
    assert f"the service sm2-issuing of peer beijing (110000) was withdrawn at {stamp}" in text
    assert "self-declared" in text
    ctx.clock.advance(minutes=1)
    sig_after = _signed_now(ctx, r)
    publish_and_refresh(ctx, beijing)
    after = item(ctx, sig_after, DOC)
    assert after.verdict == "invalid"
    assert after.check("signer_certificate").ok is False
    assert "the service sm2-issuing of peer beijing (110000) was withdrawn at" in failed_text(after)


# -- #12 an issuing CA the peer's list does not disclose --------------------------------------


def test_an_issuing_ca_missing_from_the_peers_list_is_not_disclosed(ctx: ServiceContext, beijing: Region) -> None:
    r, sig = issue_and_sign(beijing, "sm2")

    def without_issuing(doc: dict[str, Any]) -> None:
        doc["services"] = [s for s in doc["services"] if s["id"] != "sm2-issuing"]

    # Beijing's own keys sign a list #1 that leaves its SM2 issuing CA out
    beijing.serve_list(beijing.resigned(without_issuing))
    admit(ctx, beijing)
    assert "sm2-issuing" not in {s.id for s in peers.show_peer(ctx, ADMIN, "beijing").services}
    publish_and_refresh(ctx, beijing)
    # the seal's maker and root are listed; the signer's issuing CA is nowhere we trust
    assert item(ctx, r.seal_der).check("maker_certificate").ok is True
    unknown = item(ctx, sig, DOC)
    assert unknown.verdict == "invalid" and "unknown issuer" in failed_text(unknown)
    # a relying party has the intermediate (trust/intermediates): the chain reaches Beijing's
    # root, but Beijing did not disclose that CA in its list
    folder = ctx.settings.trust_dir / "intermediates"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bj-sm2-issuing.der").write_bytes(_authority_cert(beijing, "sm2-issuing").der)
    ctx.forget(TRUST_STORE_KEY)
    it = item(ctx, sig, DOC)
    assert it.verdict == "indeterminate", [(c.id, c.reasons) for c in it.checks]
    signer = it.check("signer_certificate")
    assert signer.ok is None
    assert "is not disclosed in the list of peer beijing (110000)" in undecided_text(it)
    assert it.check("maker_certificate").ok is True


# -- #13 CRL substitution ----------------------------------------------------------------------


def _forged_crl(issuer: Certificate, now: dt.datetime) -> bytes:
    """An empty, fresh, high-numbered CRL naming ``issuer`` as its issuer, signed by another key."""
    forger = PrivateKey.generate(Algorithm.SM2)
    return crl.build_crl(
        signer=forger,
        issuer_name_der=issuer.subject_der,
        authority_key_id=forger.public_key.key_identifier(),
        number=10**6,
        this_update=now,
        next_update=now + dt.timedelta(days=1),
        entries=b"",
    )


def test_a_crl_signed_by_another_ca_at_the_listed_url_changes_nothing(ctx: ServiceContext, beijing: Region) -> None:
    r, _sig = issue_and_sign(beijing, "sm2")
    admit(ctx, beijing)
    publish_and_refresh(ctx, beijing)
    revocation.revoke_seal(beijing.ctx, ADMIN, r.es_id, "keyCompromise")
    publish_and_refresh(ctx, beijing)
    held = item(ctx, r.seal_der)
    assert held.verdict == "invalid" and "revoked (keyCompromise)" in failed_text(held)
    # every URL Beijing's list names for its SM2 issuing CA now serves an empty CRL with that
    # CA's name on it, signed by someone else's key
    forged = _forged_crl(_authority_cert(beijing, "sm2-issuing"), ctx.clock.now())
    urls = [c.url for c in peers.refresh(ctx, ADMIN)[0].crls if "/crl/sm2-issuing" in c.url]
    assert len(urls) == 4  # full, delta, 2 shards
    for url in urls:
        beijing.faults.answers[url.removeprefix(beijing.url)] = (200, {"Content-Type": "application/pkix-crl"}, forged)
    ctx.clock.advance(minutes=1)
    [result] = peers.refresh(ctx, ADMIN)
    refused = [c for c in result.crls if c.url in urls]
    assert [c.outcome for c in refused] == ["refused"] * 4
    assert all("is not signed by sm2-issuing, the CA the list names for it" in str(c.message) for c in refused)
    rows = {c.url: c for c in peers.peer_crls(ctx, ADMIN, "beijing")}
    assert all(rows[u].last_error and rows[u].number != 10**6 for u in urls)  # the CRLs held stay, with the error
    after = item(ctx, r.seal_der)

    def outcome(it):  # type: ignore[no-untyped-def]
        return [(c["id"], c["result"]) for c in it.to_json()["checks"]], it.to_json().get("vouched_by")

    assert after.verdict == "invalid" and outcome(after) == outcome(held)


def test_a_certificates_own_cdp_is_never_fetched_and_the_listed_crl_wins(ctx: ServiceContext, beijing: Region) -> None:
    # a Beijing seal whose holder certificate names CRLs on another server (here: another path of
    # the fault injector, so that every request to it is counted)
    elsewhere = f"{beijing.url}/elsewhere"
    other = ServiceContext.create(
        dataclasses.replace(beijing.ctx.settings, crl_base_url=elsewhere), clock=ctx.clock, engine=beijing.ctx.engine
    )
    r = support_seals.issue(other, "contract", algorithm="sm2")
    cdp = Certificate.from_der(r.certificate_der).crl_urls
    assert cdp and all(u.startswith(elsewhere + "/") for u in cdp)
    admit(ctx, beijing)
    ctx.clock.advance(minutes=1)
    revocation.revoke_seal(beijing.ctx, ADMIN, r.es_id, "keyCompromise")
    # the CDP's server answers an empty, fresh CRL signed by Beijing's real issuing CA key: a
    # verifier following the CDP would think the certificate was never revoked
    issuing = _authority_cert(beijing, "sm2-issuing")
    now = ctx.clock.now() + dt.timedelta(minutes=2)
    empty = crl.build_crl(
        signer=_key(beijing, "sm2-issuing"),
        issuer_name_der=issuing.subject_der,
        authority_key_id=issuing.subject_key_id or b"",
        number=10**6,
        this_update=now,
        next_update=now + dt.timedelta(days=1),
        entries=b"",
    )
    for url in cdp:
        beijing.faults.answers[url.removeprefix(beijing.url)] = (200, {"Content-Type": "application/pkix-crl"}, empty)
    publish_and_refresh(ctx, beijing)
    ctx.clock.advance(minutes=1)
    it = item(ctx, r.seal_der)
    assert it.verdict == "invalid"
    failed = failed_text(it)
    assert "revoked (keyCompromise)" in failed and f"CRL {beijing.url}/crl/sm2-issuing" in failed
    assert not any(p.startswith("/elsewhere") for p in beijing.faults.hits), beijing.faults.hits


# -- two peers listing one certificate -----------------------------------------------------------


@pytest.fixture
def tianjin(request: pytest.FixtureRequest, ctx: ServiceContext, database_url: str, tmp_path: Path) -> Iterator[Region]:
    """A third region (120000) with its own database of the same kind."""
    assert isinstance(ctx.clock, FrozenClock)
    where = tmp_path / "tianjin"
    where.mkdir()
    databases = second_database(
        database_url,
        where,
        lambda: request.getfixturevalue("sqlite_template"),
        lambda: request.getfixturevalue("pg_template"),
    )
    url = next(databases)
    try:
        with region(where, url, ctx.clock, TIANJIN) as tj:
            yield tj
    finally:
        databases.close()


@pytest.mark.parametrize("name", ["tianjin", "a-tianjin"])  # read after Beijing's list, and before it
def test_a_certificate_two_peers_list_is_trusted_for_neither(
    ctx: ServiceContext, beijing: Region, tianjin: Region, name: str
) -> None:
    r, sig = issue_and_sign(beijing, "sm2")
    admit(ctx, beijing)
    publish_and_refresh(ctx, beijing)
    assert item(ctx, r.seal_der).verdict == "valid"
    # Tianjin's list (signed by Tianjin's own keys) names Beijing's SM2 root as one of its roots
    published = trust_lists.current(beijing.ctx)
    assert published is not None
    bj_root = next(s for s in json.loads(published.payload)["services"] if s["id"] == "sm2-root")

    def with_beijing_root(doc: dict[str, Any]) -> None:
        doc["services"].append({**bj_root, "id": "beijing-sm2-root"})

    tianjin.serve_list(tianjin.resigned(with_beijing_root))
    peers.propose(ctx, ADA, name, tianjin.list_url, "120000", tianjin.fingerprints())
    peers.approve(ctx, RITA, name)
    it = item(ctx, r.seal_der)
    assert it.verdict == "indeterminate", [(c.id, c.reasons) for c in it.checks]
    first, second = sorted(["beijing", name])
    why = f"is listed by both {first} and {second}: trusted for neither"
    assert why in undecided_text(it)
    assert item(ctx, sig, DOC).verdict == "indeterminate"
    assert any(why in p for p in trust_store(ctx).problems)
    # Beijing's other hierarchy, which only Beijing lists, is untouched
    ecdsa, _sig = issue_and_sign(beijing, "ecdsa")
    publish_and_refresh(ctx, beijing)
    assert item(ctx, ecdsa.seal_der).verdict == "valid"
    # what a relying party sees: the API's verdict names both peers, and says who listed it
    import io

    from registry.web import create_app

    client = create_app({"TESTING": True}, ctx=ctx).test_client()
    answer = client.post(
        "/api/v1/verify", data={"file": (io.BytesIO(r.seal_der), "seal.esl")}, content_type="multipart/form-data"
    )
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["verdict"] == "indeterminate" and why in json.dumps(body, ensure_ascii=False)
    assert body["seal"]["vouched_by"]["seal"]["listed_by"] == [first, second]


# -- gaps the other files leave: #2 verdicts while down, #6 after, #8 verdicts, #10 rollover missed --


def test_a_peer_that_is_down_still_vouches_while_fresh_and_a_list_with_no_anchor_is_flagged(
    ctx: ServiceContext, beijing: Region
) -> None:
    r, sig = issue_and_sign(beijing, "sm2")
    admit(ctx, beijing)
    publish_and_refresh(ctx, beijing)
    beijing.faults.down = True
    ctx.clock.advance(hours=1)
    [result] = peers.refresh(ctx, ADMIN)
    assert result.outcome == "failed" and {c.outcome for c in result.crls} == {"failed"}
    assert item(ctx, sig, DOC).verdict == "valid"  # its list and CRLs are still fresh
    assert "fetch-failing" in peers.show_peer(ctx, ADMIN, "beijing").alerts
    # back, with a list #2 (signed by its keys) that names no service at all: taken, but flagged,
    # and nothing of Beijing's is valid any more
    beijing.faults.clear()
    ctx.clock.advance(minutes=1)
    beijing.publish()

    def no_services(doc: dict[str, Any]) -> None:
        doc["services"] = []

    beijing.serve_list(beijing.resigned(no_services, sequence=2))
    [result] = peers.refresh(ctx, ADMIN)
    assert (result.outcome, result.sequence) == ("accepted", 2)
    assert "no-anchors" in peers.show_peer(ctx, ADMIN, "beijing").alerts
    assert item(ctx, r.seal_der).verdict != "valid"


def test_a_signature_made_after_the_peer_revoked_its_certificate_is_invalid(
    ctx: ServiceContext, beijing: Region
) -> None:
    r, before = issue_and_sign(beijing, "sm2")
    admit(ctx, beijing)
    publish_and_refresh(ctx, beijing)
    ctx.clock.advance(minutes=1)
    revocation.revoke_seal(beijing.ctx, ADMIN, r.es_id, "keyCompromise")
    ctx.clock.advance(minutes=1)
    after = _signed_now(ctx, r)  # the holder key used after the revocation
    publish_and_refresh(ctx, beijing)
    assert item(ctx, before, DOC).verdict == "valid"
    it = item(ctx, after, DOC)
    assert it.verdict == "invalid" and it.check("signer_certificate").ok is False
    assert "revoked (keyCompromise)" in failed_text(it)


def test_a_peer_withdrawn_here_vouches_for_nothing_with_our_reason(ctx: ServiceContext, beijing: Region) -> None:
    from .conftest import AMOS
    from .test_peer_lists import audit_actions

    _r, sig = issue_and_sign(beijing, "sm2")
    admit(ctx, beijing)
    publish_and_refresh(ctx, beijing)
    assert item(ctx, sig, DOC).verdict == "valid"
    peers.change_state(ctx, AMOS, "beijing", "withdraw", "互认协议终止")
    it = item(ctx, sig, DOC)
    assert it.verdict == "indeterminate"
    assert "peer beijing (110000) was withdrawn here at" in undecided_text(it) and "互认协议终止" in undecided_text(it)
    assert audit_actions(ctx)[-1] == "peer.withdrawn"


def test_a_rollover_missed_while_offline_is_walked_through(ctx: ServiceContext, beijing: Region) -> None:
    from .test_peer_lists import audit_actions

    _r, sig = issue_and_sign(beijing, "sm2")
    admit(ctx, beijing)
    trust_lists.announce_next_keys(beijing.ctx, ADMIN, not_before=ctx.clock.now())
    ctx.clock.advance(minutes=1)
    beijing.publish()  # #2 announces the next keys
    ctx.clock.advance(minutes=1)
    trust_lists.roll_over(beijing.ctx, ADMIN)
    beijing.publish()  # #3 signed by the new keys only
    ctx.clock.advance(minutes=1)
    beijing.publish()  # #4
    [r] = peers.refresh(ctx, ADMIN)  # Shenzhen saw none of them
    assert (r.outcome, r.sequence) == ("accepted", 4)
    assert beijing.faults.hits.get("/trust/lists/2.jws") == 1 and beijing.faults.hits.get("/trust/lists/3.jws") == 1
    assert "peer.key_rolled_over" in audit_actions(ctx)
    publish_and_refresh(ctx, beijing)
    assert item(ctx, sig, DOC).verdict == "valid"
