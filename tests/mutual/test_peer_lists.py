"""Admitting Beijing in Shenzhen under dual control and refreshing its trust list, against
Beijing's real app over HTTP; the list faults of mutual-recognition.md §2.5 (#2 peer down, #9
rollover, #10 missed versions, #11 forged lists, #16 first start) at the list level."""

from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import func, select

from registry.db.models import AuditEvent
from registry.db.trust_models import Peer, PeerKey, PeerList
from registry.domain.errors import Conflict, DomainError, InvalidTransition, PermissionDenied, ValidationError
from registry.services import peers, trust_lists
from registry.services.context import ServiceContext
from registry.services.peers import PeerError
from tests.support.data import ADMIN
from tests.support.regions import Region

from .conftest import ADA, AMOS, OLIVIA, RITA


def admit(ctx: ServiceContext, bj: Region) -> None:
    peers.propose(ctx, ADA, "beijing", bj.list_url, "110000", bj.fingerprints())
    peers.approve(ctx, RITA, "beijing")


def audit_actions(ctx: ServiceContext, prefix: str = "peer.") -> list[str]:
    with ctx.reader() as s:
        return list(
            s.scalars(select(AuditEvent.action).where(AuditEvent.action.like(f"{prefix}%")).order_by(AuditEvent.seq))
        )


def db_counts(ctx: ServiceContext) -> tuple[int, int, int]:
    with ctx.reader() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (Peer, PeerKey, PeerList))  # type: ignore[return-value]


# -- admission ---------------------------------------------------------------------------------


def test_a_proposal_shows_what_would_be_trusted_and_a_second_person_admits_it(
    ctx: ServiceContext, beijing: Region
) -> None:
    proposal = peers.propose(ctx, ADA, "beijing", beijing.list_url, "110000", beijing.fingerprints())
    assert (proposal.operator_zh, proposal.area_code, proposal.sequence) == ("北京市市场监督管理局", "110000", 1)
    assert len(proposal.signed_by) == 2 and proposal.anchors == 2
    roles = sorted((s.id, s.role) for s in proposal.services)
    assert ("sm2-seal-maker", "seal-maker") in roles and len(roles) == 6
    maker = next(s for s in proposal.services if s.id == "sm2-seal-maker")
    assert maker.constraints["es_id_prefix"] == "110000"
    # the CRLs the list names are reachable (Beijing published none yet: a 404 is reported, not hidden)
    assert proposal.crls and all(c.url.startswith(beijing.url) for c in proposal.crls)
    assert peers.show_peer(ctx, ADA, "beijing").state == "proposed"
    with pytest.raises(PermissionDenied):
        peers.approve(ctx, ADA, "beijing")  # the proposer cannot approve (dual control)
    with pytest.raises(PermissionDenied):
        peers.approve(ctx, OLIVIA, "beijing")
    peer = peers.approve(ctx, RITA, "beijing")
    assert peer.state == "active" and peer.approved_by == "rita"
    view = peers.show_peer(ctx, ADMIN, "beijing")
    assert view.sequence == 1 and view.operator_zh == "北京市市场监督管理局" and view.alerts == ()
    assert {k for k, _ in view.keys} == {f"sha256:{h}" for h in beijing.fingerprints()}
    assert audit_actions(ctx) == ["peer.proposed", "peer.approved"]
    with ctx.reader() as s:
        proposed = s.scalar(select(AuditEvent).where(AuditEvent.action == "peer.proposed"))
        assert proposed is not None
        assert proposed.details["sequence"] == 1 and proposed.details["sha256"] == view.sha256
    with pytest.raises(InvalidTransition):
        peers.approve(ctx, AMOS, "beijing")


def test_one_pinned_key_is_enough_and_a_wrong_pin_is_refused_with_nothing_recorded(
    ctx: ServiceContext, beijing: Region
) -> None:
    sm2 = dict(trust_lists.fingerprints(beijing.ctx))["SM2-SM3"]
    before = db_counts(ctx)
    with pytest.raises(PeerError) as e:
        peers.propose(ctx, ADA, "beijing", beijing.list_url, "110000", ["ab" * 32])
    assert e.value.kind == "untrusted-signer" and "not signed by any of the fingerprints given" in str(e.value)
    assert db_counts(ctx) == before and audit_actions(ctx) == []
    grouped = " ".join(sm2[i : i + 4] for i in range(0, 64, 4)).upper()  # as read over the phone
    proposal = peers.propose(ctx, ADA, "beijing", beijing.list_url, "110000", [grouped])
    assert proposal.signed_by == (f"sha256:{sm2}",)


@pytest.mark.parametrize(
    ("kwargs", "kind", "text"),
    [
        ({"name": "Bei Jing"}, ValidationError, "lowercase letters"),
        ({"area_code": "1100"}, ValidationError, "6-digit"),
        ({"area_code": "440300"}, ValidationError, "our own area code"),
        ({"fingerprints": []}, ValidationError, "at least one"),
        ({"fingerprints": ["xyz"]}, DomainError, "64 hexadecimal digits"),
        ({"url": "ftp://example.test/list.jws"}, ValidationError, "not an http or https URL"),
    ],
)
def test_bad_proposals_are_refused_naming_the_problem(
    ctx: ServiceContext, beijing: Region, kwargs: dict[str, object], kind: type[Exception], text: str
) -> None:
    args: dict[str, object] = {
        "name": "beijing",
        "url": beijing.list_url,
        "area_code": "110000",
        "fingerprints": beijing.fingerprints(),
    }
    args.update(kwargs)
    with pytest.raises(kind) as e:
        peers.propose(ctx, ADA, **args)  # type: ignore[arg-type]
    assert text in str(e.value)
    assert db_counts(ctx) == (0, 0, 0)


def test_the_area_code_must_be_the_lists_own(ctx: ServiceContext, beijing: Region) -> None:
    with pytest.raises(PeerError) as e:
        peers.propose(ctx, ADA, "beijing", beijing.list_url, "310000", beijing.fingerprints())
    assert e.value.kind == "area-code-changed" and "is for area 110000, not 310000" in str(e.value)


def test_a_second_proposal_of_the_same_peer_or_list_is_refused(ctx: ServiceContext, beijing: Region) -> None:
    admit(ctx, beijing)
    with pytest.raises(Conflict):
        peers.propose(ctx, ADA, "beijing", beijing.list_url, "110000", beijing.fingerprints())
    with pytest.raises(Conflict) as e:
        peers.propose(ctx, ADA, "beijing2", beijing.list_url, "110000", beijing.fingerprints())
    assert "already" in str(e.value)


def test_suspend_resume_withdraw_are_audited_with_the_list_and_need_a_reason(
    ctx: ServiceContext, beijing: Region
) -> None:
    admit(ctx, beijing)
    with pytest.raises(ValidationError):
        peers.change_state(ctx, AMOS, "beijing", "suspend", "  ")
    with pytest.raises(PermissionDenied):
        peers.change_state(ctx, RITA, "beijing", "suspend", "letter of 3 Dec")
    assert peers.change_state(ctx, AMOS, "beijing", "suspend", "letter of 3 Dec").state == "suspended"
    with pytest.raises(InvalidTransition):
        peers.change_state(ctx, AMOS, "beijing", "suspend", "again")
    assert peers.change_state(ctx, AMOS, "beijing", "resume", "cleared").state == "active"
    assert peers.change_state(ctx, AMOS, "beijing", "withdraw", "agreement ended").state == "withdrawn"
    assert peers.refresh(ctx, ADMIN) == []  # a withdrawn peer is no longer fetched
    assert audit_actions(ctx)[-3:] == ["peer.suspended", "peer.resumed", "peer.withdrawn"]
    view = peers.show_peer(ctx, ADMIN, "beijing")
    assert view.state_reason == "agreement ended" and view.sequence == 1  # its lists kept
    # a withdrawn peer may be proposed again (a fresh start)
    peers.propose(ctx, ADA, "beijing", beijing.list_url, "110000", beijing.fingerprints())
    assert peers.show_peer(ctx, ADMIN, "beijing").state == "proposed"


# -- refreshing --------------------------------------------------------------------------------


def test_refresh_takes_the_next_list_and_a_304_when_nothing_changed(ctx: ServiceContext, beijing: Region) -> None:
    admit(ctx, beijing)
    [first] = peers.refresh(ctx, ADMIN)
    assert first.outcome in ("unchanged", "not-modified") and first.sequence == 1
    ctx.clock.advance(minutes=5)
    beijing.publish()
    [second] = peers.refresh(ctx, ADMIN)
    assert (second.outcome, second.sequence) == ("accepted", 2)
    [third] = peers.refresh(ctx, ADMIN)
    assert third.outcome == "not-modified" and beijing.faults.hits["/trust/list.jws"] >= 3
    assert audit_actions(ctx)[-1] == "peer.list_accepted"
    view = peers.show_peer(ctx, ADMIN, "beijing")
    assert view.sequence == 2 and view.last_error is None and view.last_success_at == ctx.clock.now()


def test_missed_versions_are_walked_through_lists_n(ctx: ServiceContext, beijing: Region) -> None:
    admit(ctx, beijing)
    for _ in range(3):
        ctx.clock.advance(minutes=1)
        beijing.publish()
    [r] = peers.refresh(ctx, ADMIN)
    assert (r.outcome, r.sequence) == ("accepted", 4)
    with ctx.reader() as s:
        assert sorted(s.scalars(select(PeerList.sequence))) == [1, 2, 3, 4]
    assert beijing.faults.hits.get("/trust/lists/2.jws") == 1 and beijing.faults.hits.get("/trust/lists/3.jws") == 1


def test_a_missing_link_keeps_the_last_list_and_records_why(ctx: ServiceContext, beijing: Region) -> None:
    admit(ctx, beijing)
    for _ in range(2):
        ctx.clock.advance(minutes=1)
        beijing.publish()
    beijing.faults.answers["/trust/lists/2.jws"] = (404, {}, b"gone")
    [r] = peers.refresh(ctx, ADMIN)
    assert r.outcome == "failed" and r.code == "broken-chain" and "cannot be reached from list 1" in str(r.message)
    view = peers.show_peer(ctx, ADMIN, "beijing")
    assert view.sequence == 1 and view.last_error_code == "broken-chain" and "fetch-failing" in view.alerts


def test_a_planned_key_rollover_is_followed_and_audited(ctx: ServiceContext, beijing: Region) -> None:
    admit(ctx, beijing)
    old = set(beijing.fingerprints())
    announced = trust_lists.announce_next_keys(beijing.ctx, ADMIN, not_before=ctx.clock.now())
    ctx.clock.advance(minutes=1)
    beijing.publish()  # list 2: signed by the current keys, announcing the next ones
    [r] = peers.refresh(ctx, ADMIN)
    assert (r.outcome, r.sequence) == ("accepted", 2)
    ctx.clock.advance(minutes=1)
    trust_lists.roll_over(beijing.ctx, ADMIN)  # the next keys become current, the old ones retired
    beijing.publish()  # list 3: signed by the new keys only
    assert set(beijing.fingerprints()) == {k.fingerprint for k in announced} and not old & set(beijing.fingerprints())
    [r] = peers.refresh(ctx, ADMIN)
    assert (r.outcome, r.sequence) == ("accepted", 3)
    assert audit_actions(ctx).count("peer.key_rolled_over") == 2
    with ctx.reader() as s:
        sources = {kid: src for kid, src in s.execute(select(PeerKey.kid, PeerKey.source))}
    assert {k.kid for k in announced} <= {k for k, src in sources.items() if src == "rollover"}


@pytest.mark.parametrize(
    "fault",
    ["bad-signature", "unpinned-key", "replay", "duplicate-keys", "redirect", "too-large", "status-500", "garbage"],
)
def test_forged_or_broken_lists_are_refused_and_the_last_good_one_kept(
    ctx: ServiceContext, beijing: Region, fault: str
) -> None:
    admit(ctx, beijing)
    ctx.clock.advance(minutes=1)
    beijing.publish()
    assert peers.refresh(ctx, ADMIN)[0].sequence == 2
    ctx.clock.advance(minutes=1)
    good = beijing.publish()  # list 3, which the faults below stand in for
    list2 = good.jws
    doc = json.loads(list2)
    if fault == "bad-signature":
        sig = doc["signatures"][0]["signature"]
        doc["signatures"] = [
            {**s, "signature": ("A" if sig[0] != "A" else "B") + s["signature"][1:]} for s in doc["signatures"]
        ]
        body = json.dumps(doc).encode()
    elif fault == "unpinned-key":
        from registry.pki import jws
        from registry.pki.keys import Algorithm, PrivateKey

        # the list names the forger's key as its signing key, and is signed by it
        forger = PrivateKey.generate(Algorithm.ECDSA)
        payload = json.loads(base64.urlsafe_b64decode(doc["payload"] + "=="))
        payload["scheme"]["signing_keys"] = [
            {
                "kid": jws.kid_for(forger.public_key),
                "alg": "ES256",
                "spki": base64.b64encode(forger.public_key.spki()).decode(),
                "status": "current",
            }
        ]
        data = (json.dumps(payload, sort_keys=True, ensure_ascii=False, indent=2) + "\n").encode()
        body = jws.sign(data, [forger])
    elif fault == "replay":
        body = trust_lists.version(beijing.ctx, 1).jws
    elif fault == "duplicate-keys":
        body = list2.replace(b'{"payload":', b'{"payload":"x","payload":', 1)
    elif fault == "too-large":
        body = b" " * (9 * 1024 * 1024)
    elif fault == "garbage":
        body = b"\x00\x01 not json"
    if fault == "redirect":
        beijing.faults.answers["/trust/list.jws"] = (302, {"Location": "http://127.0.0.2:9/list.jws"}, b"")
    elif fault == "status-500":
        beijing.faults.answers["/trust/list.jws"] = (500, {}, b"oops")
    else:
        beijing.faults.answers["/trust/list.jws"] = (200, {"Content-Type": "application/jose+json"}, body)
    [r] = peers.refresh(ctx, ADMIN)
    assert r.outcome in ("failed", "refused"), r
    view = peers.show_peer(ctx, ADMIN, "beijing")
    assert view.sequence == 2 and view.state == "active" and view.last_error_code == r.code
    assert view.last_error and view.last_success_at is not None and view.last_error_at == ctx.clock.now()
    expected = {
        "bad-signature": "signature",
        "unpinned-key": "untrusted-signer",
        "replay": "replay",
        "duplicate-keys": "malformed",
        "redirect": "redirect",
        "too-large": "too_large",
        "status-500": "status",
        "garbage": "malformed",
    }[fault]
    assert r.code == expected, r
    # the fault gone, the good list 3 is taken
    beijing.faults.clear()
    [r] = peers.refresh(ctx, ADMIN)
    assert (r.outcome, r.sequence) == ("accepted", 3)


def test_equivocation_suspends_the_peer(ctx: ServiceContext, beijing: Region) -> None:
    admit(ctx, beijing)
    # a second list numbered 1 with other bytes, properly signed by Beijing's keys
    ctx.clock.advance(seconds=1)
    other = _resigned(beijing, sequence=1)
    beijing.faults.answers["/trust/list.jws"] = (200, {}, other)
    [r] = peers.refresh(ctx, ADMIN)
    assert (r.outcome, r.code) == ("suspended", "equivocation")
    view = peers.show_peer(ctx, ADMIN, "beijing")
    assert view.state == "suspended" and view.state_by == "system:peer-refresher" and "equivocation" in view.alerts
    assert "两面说法" in (view.state_reason or "")
    assert "peer.equivocation" in audit_actions(ctx)


def _resigned(bj: Region, *, sequence: int) -> bytes:
    """Beijing's own keys signing a list numbered ``sequence`` with other content (a second
    policy URL): what an equivocating (or compromised) peer would serve."""
    from registry.db.trust_models import ListSigningKey
    from registry.pki import jws
    from registry.pki.keys import decrypt_private_key

    payload = trust_lists.version(bj.ctx, sequence).payload
    doc = json.loads(payload)
    doc["scheme"]["policy_url"] = "http://127.0.0.1/other"
    data = (json.dumps(doc, sort_keys=True, ensure_ascii=False, indent=2) + "\n").encode()
    with bj.ctx.reader() as s:
        blobs = list(s.scalars(select(ListSigningKey.key_blob).where(ListSigningKey.status == "current")))
    keyring = bj.ctx.require_keyring()
    return jws.sign(data, [decrypt_private_key(b, keyring.keys) for b in blobs])


def test_a_peer_that_is_down_keeps_its_list_and_says_so(ctx: ServiceContext, beijing: Region) -> None:
    admit(ctx, beijing)
    beijing.faults.down = True
    [r] = peers.refresh(ctx, ADMIN)
    assert (r.outcome, r.code) == ("failed", "status")
    view = peers.show_peer(ctx, ADMIN, "beijing")
    assert view.sequence == 1 and "fetch-failing" in view.alerts and "list-expired" not in view.alerts
    # a refusal already recorded is audited once, not on every round
    peers.refresh(ctx, ADMIN)
    assert audit_actions(ctx).count("peer.refresh_failed") == 1
    ctx.clock.advance(days=7)
    view = peers.show_peer(ctx, ADMIN, "beijing")
    assert "list-expired" in view.alerts
    assert peers.expired_peers(ctx) == ["beijing"]


def test_first_start_offline_records_nothing(ctx: ServiceContext, beijing: Region) -> None:
    beijing.faults.down = True
    with pytest.raises(PeerError) as e:
        peers.propose(ctx, ADA, "beijing", beijing.list_url, "110000", beijing.fingerprints())
    assert e.value.kind == "status"
    assert db_counts(ctx) == (0, 0, 0)


def test_our_peers_jws_names_whom_we_recognise_and_health_flags_an_expired_peer(
    ctx: ServiceContext, beijing: Region
) -> None:
    from registry.pki import jws as jws_mod
    from registry.pki.keys import PublicKey
    from registry.web import create_app

    trust_lists.publish(ctx, ADMIN)
    admit(ctx, beijing)
    assert trust_lists.due(ctx) == "changed"  # admitting a peer changes what we publish
    published = trust_lists.publish(ctx, ADMIN)
    keys = [PublicKey.from_spki(k.spki) for k in published.trust_list.scheme.signing_keys]
    doc = json.loads(jws_mod.verify(published.peers_jws, keys).payload)
    assert doc["sequence"] == published.sequence and doc["operator"]["area_code"] == "440300"
    [entry] = doc["peers"]
    assert entry["name"] == "beijing" and entry["area_code"] == "110000" and entry["status"] == "recognised"
    assert entry["trust_list"] == beijing.list_url and sorted(entry["fingerprints"]) == sorted(beijing.fingerprints())
    client = create_app({"TESTING": True}, ctx=ctx).test_client()
    trust_lists.publish(beijing.ctx, ADMIN)
    ctx.clock.advance(days=8)
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.get_json()["peer_problems"] == ["peer beijing: its trust list has expired"]


def test_a_peer_that_does_not_answer_in_time_keeps_its_list(
    ctx: ServiceContext, beijing: Region, monkeypatch: pytest.MonkeyPatch
) -> None:
    from registry.services.peers import lists

    admit(ctx, beijing)
    monkeypatch.setattr(lists, "FETCH_TIMEOUT", 0.3)
    beijing.faults.delays["/trust/list.jws"] = 1.5
    [r] = peers.refresh(ctx, ADMIN)
    assert (r.outcome, r.code) == ("failed", "timeout") and "no answer within 0.3 s" in str(r.message)
    view = peers.show_peer(ctx, ADMIN, "beijing")
    assert view.sequence == 1 and view.state == "active" and "fetch-failing" in view.alerts
