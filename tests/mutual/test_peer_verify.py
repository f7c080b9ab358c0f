"""Verifying Beijing's seals and SES signatures in Shenzhen (§2.3, §2.4): valid when Beijing is
admitted and its list and CRLs are fresh, naming Beijing as the vouching authority; revoked once
its CRL says so (a signature made before stays valid); indeterminate when its list or CRL is stale,
a CRL is older than the signing time, or we suspended it — never valid, never invalid for that."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.services import crl_publish, peers, revocation, seals
from registry.services.context import FrozenClock, ServiceContext
from registry.services.verify import verify_file
from tests.support import seals as support_seals
from tests.support.data import ADMIN
from tests.support.regions import Region, region

from .conftest import AMOS
from .test_peer_lists import admit

DOC = "京深两地采购合同 No. 2026-BJ-7：双方远程签约。".encode()


@pytest.fixture
def beijing(ctx: ServiceContext, region_database: str, tmp_path: Path) -> Iterator[Region]:
    assert isinstance(ctx.clock, FrozenClock)
    with region(tmp_path, region_database, ctx.clock, enterprises=True) as bj:
        yield bj


def issue_and_sign(bj: Region, alg: str) -> tuple[seals.IssueResult, bytes]:
    """A contract seal issued in Beijing, and a signature with it over DOC."""
    r = support_seals.issue(bj.ctx, "contract", algorithm=alg)
    return r, support_seals.sign(bj.ctx, r, DOC, "合同.txt")


def publish_and_refresh(ctx: ServiceContext, bj: Region) -> None:
    """Beijing publishes its CRLs a minute later; Shenzhen refreshes."""
    ctx.clock.advance(minutes=1)
    crl_publish.publish(bj.ctx, ADMIN)
    peers.refresh(ctx, ADMIN)


def item(ctx: ServiceContext, data: bytes, document: bytes | None = None):  # type: ignore[no-untyped-def]
    report = verify_file(ctx, data, document=document)
    assert len(report.items) == 1
    return report.items[0]


def undecided_text(it) -> str:  # type: ignore[no-untyped-def]
    return " ".join(m[1] for c in it.checks for m in (c.reasons if c.ok is None else []))


@pytest.mark.parametrize("alg", ["sm2", "ecdsa"])
def test_a_beijing_signature_is_valid_in_shenzhen_and_says_who_vouched(
    ctx: ServiceContext, beijing: Region, alg: str
) -> None:
    r, sig = issue_and_sign(beijing, alg)
    before = item(ctx, sig, DOC)
    assert before.verdict == "invalid"  # not admitted: an untrusted root
    admit(ctx, beijing)
    publish_and_refresh(ctx, beijing)
    it = item(ctx, sig, DOC)
    assert it.verdict == "valid", [(c.id, c.reasons) for c in it.checks if c.ok is not True]
    vouched = it.to_json()["vouched_by"]
    assert vouched["seal"]["authority"] == "110000" and vouched["seal"]["basis"] == "peer"
    assert vouched["seal"]["name_zh"] == "北京市市场监督管理局"
    assert vouched["seal"]["service"] == f"{'sm2' if alg == 'sm2' else 'ecdsa'}-seal-maker"
    assert vouched["seal"]["list"]["sequence"] == 1 and len(vouched["seal"]["list"]["sha256"]) == 64
    assert vouched["seal"]["revocation"]["source"].startswith(f"CRL {beijing.url}/crl/")
    assert vouched["signer"]["basis"] == "peer" and vouched["signer"]["service"].endswith("-issuing")
    seal_alone = item(ctx, r.seal_der)
    assert seal_alone.verdict == "valid" and seal_alone.to_json()["vouched_by"]["seal"]["authority"] == "110000"
    # our own seals say so too
    from tests.support.seals import issue_with_algorithm

    ours = issue_with_algorithm(ctx, alg)
    assert item(ctx, ours.seal_der).to_json()["vouched_by"]["seal"] == {
        "authority": "440300",
        "name_zh": "深圳市市场监督管理局",
        "basis": "own",
    }


def test_beijing_revokes_and_after_one_refresh_shenzhen_says_so(ctx: ServiceContext, beijing: Region) -> None:
    r, sig = issue_and_sign(beijing, "sm2")
    admit(ctx, beijing)
    publish_and_refresh(ctx, beijing)
    assert item(ctx, sig, DOC).verdict == "valid"
    ctx.clock.advance(minutes=5)
    revoked_at = ctx.clock.now()
    revocation.revoke_seal(beijing.ctx, ADMIN, r.es_id, "keyCompromise")
    publish_and_refresh(ctx, beijing)
    # the signature was made before the revocation: it stays valid (GM/T 0031 §6.2.3 d)
    it = item(ctx, sig, DOC)
    assert it.verdict == "valid"
    notes = " ".join(m[1] for c in it.checks for m in c.notes)
    assert "after the signing time" in notes and "keyCompromise" in notes
    # the seal itself, judged now, is revoked with Beijing's time and reason
    seal_now = item(ctx, r.seal_der)
    assert seal_now.verdict == "invalid"
    failed = " ".join(m[1] for c in seal_now.checks if c.ok is False for m in c.reasons)
    assert "revoked (keyCompromise)" in failed and revoked_at.strftime("%Y-%m-%d %H:%M") in failed


def test_stale_crl_expired_list_and_suspension_are_indeterminate(ctx: ServiceContext, beijing: Region) -> None:
    _r, sig = issue_and_sign(beijing, "sm2")
    admit(ctx, beijing)
    publish_and_refresh(ctx, beijing)
    assert item(ctx, sig, DOC).verdict == "valid"
    # Beijing's CRLs pass their nextUpdate (24 h) with no newer one: try later
    ctx.clock.advance(hours=25)
    it = item(ctx, sig, DOC)
    assert it.verdict == "indeterminate" and "past its nextUpdate" in undecided_text(it)
    # a fresh CRL again, then Beijing's list expires (7 days) with no newer one
    crl_publish.publish(beijing.ctx, ADMIN)
    peers.refresh(ctx, ADMIN)
    assert item(ctx, sig, DOC).verdict == "valid"
    ctx.clock.advance(days=7)
    crl_publish.publish(beijing.ctx, ADMIN)
    it = item(ctx, sig, DOC)
    assert it.verdict == "indeterminate" and "trust list #1 of peer beijing (110000) expired" in undecided_text(it)


def test_a_suspended_peer_vouches_for_nothing_and_a_crl_older_than_the_signature_cannot_speak(
    ctx: ServiceContext, beijing: Region
) -> None:
    admit(ctx, beijing)
    crl_publish.publish(beijing.ctx, ADMIN)
    peers.refresh(ctx, ADMIN)
    ctx.clock.advance(minutes=1)
    _r, sig = issue_and_sign(beijing, "sm2")  # signed after the CRLs we hold were issued
    it = item(ctx, sig, DOC)
    assert it.verdict == "indeterminate" and "before" in undecided_text(it) and "cannot speak" in undecided_text(it)
    publish_and_refresh(ctx, beijing)
    assert item(ctx, sig, DOC).verdict == "valid"
    peers.change_state(ctx, AMOS, "beijing", "suspend", "公函：暂停互认")
    it = item(ctx, sig, DOC)
    assert it.verdict == "indeterminate" and "was suspended here" in undecided_text(it)


def test_the_verify_page_says_who_vouched_in_words(ctx: ServiceContext, beijing: Region) -> None:
    from registry.web import create_app

    _r, sig = issue_and_sign(beijing, "sm2")
    admit(ctx, beijing)
    publish_and_refresh(ctx, beijing)
    client = create_app({"TESTING": True}, ctx=ctx).test_client()
    import io

    r = client.post(
        "/verify",
        data={"file": (io.BytesIO(sig), "contract.sig"), "document": (io.BytesIO(DOC), "合同.txt")},
        content_type="multipart/form-data",
    )
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert html.count("由 北京市市场监督管理局（110000）认可，信任列表第 1 版") == 2  # the seal and the signer
    assert 'data-part="seal"' in html and 'data-part="signer"' in html


def _remade(bj: Region, seal_der: bytes, es_id: str) -> bytes:
    """Beijing's maker signing a seal whose esID is ``es_id`` (what a peer overstepping its scope
    would produce): the issued seal's content with another esID, re-signed by the maker key."""
    from sqlalchemy import select

    from registry.db.models import Authority
    from registry.pki import ses
    from registry.pki.keys import decrypt_private_key

    seal = ses.parse_seal(seal_der)
    info = ses.encode_seal_info(es_id=es_id, vid=seal.vid, prop=seal.property, picture=seal.picture)
    with bj.ctx.reader() as s:
        maker = s.scalar(select(Authority).where(Authority.name == "sm2-seal-maker"))
        assert maker is not None
        key = decrypt_private_key(maker.key_blob, bj.ctx.require_keyring().keys)
    return ses.make_seal(info, seal.maker_cert, key)


def test_a_peer_vouches_only_for_its_own_area(ctx: ServiceContext, beijing: Region) -> None:
    r, _sig = issue_and_sign(beijing, "sm2")
    admit(ctx, beijing)
    publish_and_refresh(ctx, beijing)
    assert item(ctx, r.seal_der).verdict == "valid"
    shenzhen_id = "440300" + r.es_id[6:]
    forged = _remade(beijing, r.seal_der, shenzhen_id)
    it = item(ctx, forged)
    assert it.verdict == "invalid"
    maker = it.check("maker_certificate")
    assert maker.ok is False and any("out of scope: the esID 440300" in m[1] for m in maker.reasons)


def test_a_peer_signature_is_one_statement_and_its_revocations_still_count(
    ctx: ServiceContext, beijing: Region, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CRL status of every certificate on a Beijing signature's paths (holder, issuing CA,
    seal maker) comes from one statement, like one of our own; the answers are the same as one
    statement per certificate would give: a revoked holder certificate is still found."""
    from registry.services import verify

    r, sig = issue_and_sign(beijing, "sm2")
    admit(ctx, beijing)
    publish_and_refresh(ctx, beijing)
    assert item(ctx, sig, DOC).verdict == "valid"  # builds the trust store
    statements: list[str] = []
    real = verify._Reader.__call__

    def counting(self, sql, params):  # type: ignore[no-untyped-def]
        statements.append(sql)
        return real(self, sql, params)

    monkeypatch.setattr(verify._Reader, "__call__", counting)
    assert item(ctx, sig, DOC).verdict == "valid"
    assert len(statements) == 1 and statements[0].count("peer_revocation_pages p") == 3
    assert "certificates" not in statements[0]  # our own statuses are not needed for Beijing's
    ctx.clock.advance(minutes=5)
    revocation.revoke_seal(beijing.ctx, ADMIN, r.es_id, "keyCompromise")
    publish_and_refresh(ctx, beijing)
    seal_now = item(ctx, r.seal_der)
    statements.clear()
    it = item(ctx, sig, DOC)
    assert len(statements) == 1
    notes = " ".join(m[1] for c in it.checks for m in c.notes)
    assert it.verdict == "valid" and "keyCompromise" in notes  # revoked after signing: noted
    assert seal_now.verdict == "invalid"
