"""Peers' CRLs (§2.3): only the URLs the peer's list names, only signed by the listed CA, never a
lower number; stored once, looked up by (issuer, serial); faults keep what is held."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from registry.db.models import Authority
from registry.db.trust_models import PeerCrl, PeerRevocationPage
from registry.pki import crl
from registry.services import crl_publish, peers, revocation
from registry.services.context import ServiceContext
from registry.services.core.tx import reading
from registry.services.peers.crls import lookup
from tests.support.data import ADMIN
from tests.support.regions import Region

from .test_peer_lists import admit


def maker(bj: Region, name: str = "sm2-seal-maker") -> tuple[str, int]:
    """(SHA-256 of the root's certificate, the maker certificate's serial) in Beijing."""
    import hashlib

    with bj.ctx.reader() as s:
        auth = s.scalar(select(Authority).where(Authority.name == name))
        assert auth is not None and auth.parent is not None
        return hashlib.sha256(auth.parent.certificate_der).hexdigest(), int(auth.serial, 16)


def test_listed_crls_are_stored_and_a_revocation_reaches_us_with_its_time_and_reason(
    ctx: ServiceContext, beijing: Region
) -> None:
    crl_publish.publish(beijing.ctx, ADMIN)
    admit(ctx, beijing)
    [r] = peers.refresh(ctx, ADMIN)
    stored = [c for c in r.crls if c.outcome == "stored"]
    # both hierarchies: root full + delta, issuing full + delta + 2 shards each
    assert len(stored) == 2 * (2 + 2 + 2), r.crls
    issuer, serial = maker(beijing)
    with reading(ctx, ADMIN) as tx:
        assert lookup(tx, issuer, serial) is None
    ctx.clock.advance(minutes=1)
    revoked_at = ctx.clock.now()
    revocation.revoke_authority(beijing.ctx, ADMIN, "sm2-seal-maker", "keyCompromise")
    crl_publish.publish(beijing.ctx, ADMIN)
    ctx.clock.advance(minutes=1)
    [r] = peers.refresh(ctx, ADMIN)
    assert {c.url.rsplit("/", 1)[-1] for c in r.crls if c.outcome == "stored"} >= {"sm2-root.crl", "sm2-root-delta.crl"}
    with reading(ctx, ADMIN) as tx:
        found = lookup(tx, issuer, serial)
    assert found is not None
    assert found.entry.revoked_at == revoked_at and found.entry.reason is crl.CrlReason.KEY_COMPROMISE
    assert found.crl_url.startswith(beijing.url)
    # a second refresh: nothing re-fetched in full (conditional GET) and nothing duplicated
    with ctx.reader() as s:
        before = s.scalar(select(func.count()).select_from(PeerRevocationPage))
    [r] = peers.refresh(ctx, ADMIN)
    assert {c.outcome for c in r.crls} == {"not-modified"}
    with ctx.reader() as s:
        assert s.scalar(select(func.count()).select_from(PeerRevocationPage)) == before


@pytest.mark.parametrize("fault", ["other-ca", "lower-number", "garbage", "status-500"])
def test_a_bad_crl_is_refused_and_the_one_held_kept(ctx: ServiceContext, beijing: Region, fault: str) -> None:
    import hashlib

    crl_publish.publish(beijing.ctx, ADMIN)
    first = (beijing.ctx.settings.publish_dir / "sm2-root.crl").read_bytes()
    admit(ctx, beijing)
    ctx.clock.advance(minutes=1)
    revocation.revoke_authority(beijing.ctx, ADMIN, "sm2-seal-maker", "keyCompromise")
    crl_publish.publish(beijing.ctx, ADMIN)
    held = (beijing.ctx.settings.publish_dir / "sm2-root.crl").read_bytes()
    peers.refresh(ctx, ADMIN)  # we hold the second full CRL, with the maker on it
    path = "/crl/sm2-root.crl"
    if fault == "other-ca":  # the ECDSA root's CRL put at the SM2 root's URL
        body = (beijing.ctx.settings.publish_dir / "ecdsa-root.crl").read_bytes()
    elif fault == "lower-number":  # the first CRL served again (a replay)
        body = first
    elif fault == "garbage":
        body = b"0\x82garbage"
    if fault == "status-500":
        beijing.faults.answers[path] = (500, {}, b"oops")
    else:
        beijing.faults.answers[path] = (200, {"Content-Type": "application/pkix-crl"}, body)
    [r] = peers.refresh(ctx, ADMIN)
    [bad] = [c for c in r.crls if c.url.endswith(path)]
    assert bad.outcome == ("failed" if fault == "status-500" else "refused"), bad
    expected = {
        "other-ca": "is not signed by sm2-root",
        "lower-number": "has CRL number 1, lower than the 3 held",
        "garbage": "is not a CRL",
        "status-500": "HTTP 500",
    }[fault]
    assert expected in str(bad.message)
    with ctx.reader() as s:
        row = s.scalar(select(PeerCrl).where(PeerCrl.url.endswith(path)))
        assert row is not None and row.sha256 == hashlib.sha256(held).hexdigest() and row.entries == 1
        assert row.last_error and expected in row.last_error
    issuer, serial = maker(beijing)
    with reading(ctx, ADMIN) as tx:
        found = lookup(tx, issuer, serial)
    assert found is not None and found.entry.reason is crl.CrlReason.KEY_COMPROMISE  # what we held stays
    beijing.faults.clear()
    peers.refresh(ctx, ADMIN)
    with ctx.reader() as s:
        row = s.scalar(select(PeerCrl).where(PeerCrl.url.endswith(path)))
        assert row is not None and row.last_error is None
