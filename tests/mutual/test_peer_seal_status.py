"""The status of a Beijing seal asked in Shenzhen (issue 13, §2.3): answered from Beijing's status
API, each certificate decided by Beijing's CRL as we hold it (revoked there is revoked whatever
Beijing's JSON says); Beijing down, suspended, its list expired or its CRL stale give ``unknown``
with the reason, never ``active`` and never a 500; an esID of no admitted peer is a 404."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from registry.domain.errors import NotFound
from registry.domain.esid import make_esid
from registry.domain.seal_types import SealType
from registry.services import crl_publish, peers, revocation
from registry.services.context import FrozenClock, ServiceContext
from registry.services.status import seal_status
from registry.web import create_app
from tests.support import seals as support_seals
from tests.support.data import ADMIN
from tests.support.regions import Region, region

from .conftest import AMOS
from .test_peer_lists import admit


@pytest.fixture
def beijing(ctx: ServiceContext, region_database: str, tmp_path: Path) -> Iterator[Region]:
    assert isinstance(ctx.clock, FrozenClock)
    with region(tmp_path, region_database, ctx.clock, enterprises=True) as bj:
        yield bj


def publish_and_refresh(ctx: ServiceContext, bj: Region) -> None:
    """Beijing publishes its CRLs a minute later; Shenzhen refreshes its peers (lists and CRLs)."""
    ctx.clock.advance(minutes=1)
    crl_publish.publish(bj.ctx, ADMIN)
    peers.refresh(ctx, ADMIN)


def admitted_seal(ctx: ServiceContext, bj: Region, alg: str = "sm2") -> str:
    """A contract seal issued in Beijing, Beijing admitted here with its CRLs fresh: its esID."""
    es_id = support_seals.issue(bj.ctx, "contract", algorithm=alg).es_id
    admit(ctx, bj)
    publish_and_refresh(ctx, bj)
    return es_id


def codes(answer: dict[str, Any]) -> list[str]:
    return [r["code"] for r in answer["reasons"]]


def english(answer: dict[str, Any]) -> str:
    return " ".join(r["en"] for r in answer["reasons"])


def client(ctx: ServiceContext) -> Any:
    return create_app({"TESTING": True}, ctx=ctx).test_client()


@pytest.mark.parametrize("alg", ["sm2", "ecdsa"])
def test_a_beijing_seal_is_answered_in_shenzhen_from_beijings_data(
    ctx: ServiceContext, beijing: Region, alg: str
) -> None:
    es_id = support_seals.issue(beijing.ctx, "contract", algorithm=alg).es_id
    with pytest.raises(NotFound):  # Beijing not admitted yet: a code like any other we do not know
        seal_status(ctx, es_id)
    admit(ctx, beijing)
    publish_and_refresh(ctx, beijing)
    beijing.faults.hits.clear()
    answer = seal_status(ctx, es_id)
    assert answer["status"] == "active", answer["reasons"]
    assert answer["source"] == "peer" and answer["es_id"] == es_id and answer["reasons"] == []
    assert answer["authority"]["area_code"] == "110000"
    assert answer["authority"]["name_zh"] == "北京市市场监督管理局"
    assert answer["list"]["sequence"] == 1 and len(answer["list"]["sha256"]) == 64
    assert answer["status_url"] == f"{beijing.url}/api/v1/seals/{es_id}"
    assert beijing.faults.hits.get(f"/api/v1/seals/{es_id}") == 1  # asked Beijing, once
    own = seal_status(beijing.ctx, es_id)  # what Beijing says of its own seal
    assert answer["peer_said"]["status"] == "active" and answer["peer_said"]["holder"] == own["holder"]
    assert answer["name"] == own["name"] and answer["type"] == own["type"]
    [cert] = answer["crl_says"]
    assert cert["serial"] == own["certificates"][0]["serial"] and cert["status"] == "good"
    assert cert["issuer_service"] == f"{alg}-issuing"
    assert cert["crl"]["url"].startswith(f"{beijing.url}/crl/") and cert["crl"]["number"] >= 1
    # our own seals say where they come from, every other field as before
    ours = seal_status(ctx, support_seals.issue(ctx, "contract", algorithm=alg).es_id)
    assert ours["source"] == "own" and ours["authority"]["area_code"] == "440300"
    assert {"created_at", "holder", "certificates", "valid_start", "checked_at"} <= set(ours)
    # and the API says the same
    r = client(ctx).get(f"/api/v1/seals/{es_id}")
    assert r.status_code == 200 and r.get_json()["source"] == "peer" and r.get_json()["status"] == "active"


def test_after_beijing_revokes_and_shenzhen_refreshes_the_seal_is_revoked_with_beijings_time_and_reason(
    ctx: ServiceContext, beijing: Region
) -> None:
    es_id = admitted_seal(ctx, beijing)
    ctx.clock.advance(minutes=5)
    revoked_at = ctx.clock.now()
    revocation.revoke_seal(beijing.ctx, ADMIN, es_id, "keyCompromise")
    # Beijing says revoked, the CRL we hold does not yet: not revoked on its word alone, never active
    before = seal_status(ctx, es_id)
    assert before["status"] == "unknown" and codes(before) == ["peer_status.peer_says_revoked"]
    assert before["peer_said"]["status"] == "revoked"
    publish_and_refresh(ctx, beijing)
    answer = seal_status(ctx, es_id)
    assert answer["status"] == "revoked", answer["reasons"]
    assert answer["revoked_at"] == revoked_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert answer["revocation_reason"] == "keyCompromise"
    [cert] = answer["crl_says"]
    assert cert["status"] == "revoked" and cert["crl"]["url"].startswith(f"{beijing.url}/crl/")
    # a Beijing (or someone between us) that claims the seal is active changes nothing: the CRL decides
    lie = {**answer["peer_said"], "status": "active", "revoked_at": None, "revocation_reason": None}
    beijing.faults.answers[f"/api/v1/seals/{es_id}"] = (
        200,
        {"Content-Type": "application/json"},
        json.dumps(lie).encode(),
    )
    lied = seal_status(ctx, es_id)
    assert lied["status"] == "revoked" and lied["peer_said"]["status"] == "active"
    assert lied["revoked_at"] == answer["revoked_at"]


def test_a_seal_suspended_in_beijing_is_suspended_once_its_crl_says_so(ctx: ServiceContext, beijing: Region) -> None:
    es_id = admitted_seal(ctx, beijing)
    revocation.suspend_seal(beijing.ctx, ADMIN, es_id, "挂失核实中")
    publish_and_refresh(ctx, beijing)
    answer = seal_status(ctx, es_id)
    assert answer["status"] == "suspended", answer["reasons"]
    assert answer["crl_says"][0]["status"] == "hold" and answer["suspended_at"] is not None


@pytest.mark.parametrize(
    "fault, code, words",
    [
        ("down", "peer_status.unreachable", "HTTP 503"),
        ("not-json", "peer_status.not_json", "not acceptable JSON"),
        ("duplicate-key", "peer_status.not_json", "'status' is given twice"),
        ("other-host", "peer_status.unreachable", "redirected to another host"),
        ("other-seal", "peer_status.other_seal", "about another seal"),
        ("too-large", "peer_status.unreachable", "larger than the limit"),
    ],
)
def test_when_beijing_cannot_be_believed_the_status_is_unknown_with_the_reason(
    ctx: ServiceContext, beijing: Region, fault: str, code: str, words: str
) -> None:
    es_id = admitted_seal(ctx, beijing)
    path = f"/api/v1/seals/{es_id}"
    good = json.dumps(seal_status(beijing.ctx, es_id))
    if fault == "down":
        beijing.faults.down = True
    elif fault == "not-json":
        beijing.faults.answers[path] = (200, {"Content-Type": "text/html"}, b"<html>maintenance</html>")
    elif fault == "duplicate-key":
        body = good[:-1] + ', "status": "active"}'
        beijing.faults.answers[path] = (200, {"Content-Type": "application/json"}, body.encode())
    elif fault == "other-host":
        beijing.faults.answers[path] = (302, {"Location": f"http://localhost:1/api/v1/seals/{es_id}"}, b"")
    elif fault == "other-seal":
        other = make_esid("110000", SealType.CONTRACT, 2026)
        beijing.faults.answers[path] = (200, {}, good.replace(es_id, other).encode())
    elif fault == "too-large":
        beijing.faults.answers[path] = (200, {}, b" " * (300 * 1024) + good.encode())
    answer = seal_status(ctx, es_id)
    assert answer["status"] == "unknown" and answer["source"] == "peer"
    assert codes(answer) == [code] and words in english(answer), answer["reasons"]
    assert answer["authority"]["name_zh"] == "北京市市场监督管理局"
    assert all(r["zh"] and r["zh"] != r["en"] for r in answer["reasons"])
    # over HTTP: an answer, not a 500; the page says why, in both languages
    c = client(ctx)
    r = c.get(f"/api/v1/seals/{es_id}")
    assert r.status_code == 200 and r.get_json()["status"] == "unknown"
    page = c.get(f"/seals/{es_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "无法确定 unknown" in html
    assert str(escape(answer["reasons"][0]["zh"])) in html and "由 北京市市场监督管理局（110000）提供" in html


def test_a_suspended_or_withdrawn_peer_gives_unknown_and_is_not_asked(ctx: ServiceContext, beijing: Region) -> None:
    es_id = admitted_seal(ctx, beijing)
    peers.change_state(ctx, AMOS, "beijing", "suspend", "公函：暂停互认")
    beijing.faults.hits.clear()
    answer = seal_status(ctx, es_id)
    assert answer["status"] == "unknown" and codes(answer) == ["peer_status.suspended"]
    assert "was suspended here" in english(answer) and "公函：暂停互认" in english(answer)
    assert "暂停对北京市市场监督管理局（110000）的认可" in answer["reasons"][0]["zh"]
    assert answer["authority"]["state"] == "suspended"
    assert f"/api/v1/seals/{es_id}" not in beijing.faults.hits
    peers.change_state(ctx, AMOS, "beijing", "withdraw", "协议终止")
    answer = seal_status(ctx, es_id)
    assert answer["status"] == "unknown" and codes(answer) == ["peer_status.withdrawn"]


def test_a_stale_crl_no_crl_yet_and_an_expired_list_give_unknown(ctx: ServiceContext, beijing: Region) -> None:
    es_id = support_seals.issue(beijing.ctx, "contract").es_id
    admit(ctx, beijing)
    answer = seal_status(ctx, es_id)  # Beijing published no CRL yet: none held
    assert answer["status"] == "unknown" and "peer_status.no_crl" in codes(answer), answer["reasons"]
    publish_and_refresh(ctx, beijing)
    assert seal_status(ctx, es_id)["status"] == "active"
    ctx.clock.advance(hours=25)  # Beijing's CRLs pass their nextUpdate (24 h), no newer one fetched
    answer = seal_status(ctx, es_id)
    assert answer["status"] == "unknown" and "peer_status.crl_stale" in codes(answer)
    assert "past its nextUpdate" in english(answer) and "请稍后再试" in answer["reasons"][0]["zh"]
    crl_publish.publish(beijing.ctx, ADMIN)
    peers.refresh(ctx, ADMIN)
    assert seal_status(ctx, es_id)["status"] == "active"
    ctx.clock.advance(days=7)  # Beijing's list (7 days) expires with no newer one
    answer = seal_status(ctx, es_id)
    assert answer["status"] == "unknown" and codes(answer) == ["peer_status.list_expired"]
    assert "trust list #1 of peer beijing (110000) expired" in english(answer)


def test_an_esid_of_no_admitted_peer_is_not_found(ctx: ServiceContext, beijing: Region) -> None:
    admitted_seal(ctx, beijing)
    c = client(ctx)
    beijing.faults.hits.clear()
    for area in ("320100", "440300"):  # Nanjing: no peer; Shenzhen: ours, never asked of a peer
        code = make_esid(area, SealType.CONTRACT, 2026)
        with pytest.raises(NotFound):
            seal_status(ctx, code)
        assert c.get(f"/api/v1/seals/{code}").status_code == 404
        assert c.get(f"/seals/{code}").status_code == 404
    assert not any(p.startswith("/api/v1/seals/") for p in beijing.faults.hits)
    # a Beijing esID that Beijing does not know: Beijing answers 404, we say unknown (we cannot tell)
    unknown = make_esid("110000", SealType.CONTRACT, 2026)
    answer = seal_status(ctx, unknown)
    assert answer["status"] == "unknown" and "HTTP 404" in english(answer)


def test_the_seal_page_says_which_authority_answers(ctx: ServiceContext, beijing: Region) -> None:
    es_id = admitted_seal(ctx, beijing)
    c = client(ctx)
    r = c.get(f"/seals/{es_id}")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "由 北京市市场监督管理局（110000）提供" in html
    assert "Answered by Beijing Administration for Market Regulation (110000)" in html
    assert "信任列表第 1 版" in html and 'data-source="peer"' in html
    assert "有效 active" in html and f"{beijing.url}/api/v1/seals/{es_id}" in html
    holder = seal_status(beijing.ctx, es_id)["holder"]
    assert holder["enterprise"] in html
    as_json = c.get(f"/seals/{es_id}", headers={"Accept": "application/json"})
    assert as_json.status_code == 200 and as_json.get_json()["enterprise"] == holder["enterprise"]
    ours = support_seals.issue(ctx, "contract").es_id
    own = c.get(f"/seals/{ours}").get_data(as_text=True)
    assert "由 深圳市市场监督管理局（440300）提供" in own and 'data-source="own"' in own
