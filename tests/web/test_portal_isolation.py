"""Isolation between enterprises, over every portal URL.

The URLs are not listed by hand: every rule of the portal blueprint that takes an id (an
application, a seal, a person) is tried, with every method it accepts, by enterprise B's legal
representative with enterprise A's ids, and must answer 404, with nothing changed in the database.
A new portal URL with an argument this test does not know fails here until it is added, so the
isolation rule cannot be forgotten for it. The same walk is done by an authorised person of A to
whom none of these objects was granted.
"""

from __future__ import annotations

from itertools import product

import pytest
from sqlalchemy import select
from werkzeug.routing.converters import AnyConverter

from registry.db.models import Enterprise, SealApplication
from registry.services import enterprise_people
from registry.services.context import ServiceContext
from registry.services.portal_access import Principal
from tests.support.data import OTHER_USCC, SHENZHEN_USCC
from tests.support.portal import csr, csrf, person_sign_in, sign_in
from tests.support.seals import issue_es_id as issue

pytestmark = pytest.mark.demo_issuer  # the app fixture sets up the demo e-licence issuer first

# Arguments that name an object of one enterprise, and which of A's objects to put there.
OWNED_ARGS = {"app_id", "es_id", "pid", "notice_id"}
# Rules whose arguments are not objects of an enterprise (a seal type for the picture preview):
# listed with the reason, so that nothing is skipped silently.
NOT_OWNED = {
    "portal.static": "the portal's own script and styles",
    "portal.apply_preview": "the picture preview of a seal type, drawn from the signed-in enterprise's data",
}


def portal_urls(flask_app, ids: dict[str, object]) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    """(endpoint, method, url) for every portal rule with an owned argument, every method, every
    value of its fixed-choice arguments."""
    out = []
    for rule in flask_app.url_map.iter_rules():
        if not rule.endpoint.startswith("portal.") or not rule.arguments:
            continue
        if rule.endpoint in NOT_OWNED:
            continue
        unknown = (
            set(rule.arguments) - OWNED_ARGS - {n for n, c in rule._converters.items() if isinstance(c, AnyConverter)}
        )
        assert not unknown, f"{rule.rule}: unknown argument(s) {unknown}: add them to this isolation test"
        fixed = {n: sorted(c.items) for n, c in rule._converters.items() if isinstance(c, AnyConverter)}
        for combo in product(*fixed.values()) if fixed else [()]:
            values = {**{a: ids[a] for a in rule.arguments if a in OWNED_ARGS}, **dict(zip(fixed, combo, strict=True))}
            with flask_app.test_request_context():
                from flask import url_for

                url = url_for(rule.endpoint, **values)
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                out.append((rule.endpoint, method, url))
    return out


@pytest.fixture
def a_objects(ctx: ServiceContext) -> dict[str, object]:
    """Enterprise A's seal, application and authorised person."""
    from registry.services import applications, seals

    es_id = issue(ctx)
    with ctx.reader() as s:
        ent = s.scalars(select(Enterprise).where(Enterprise.uscc == SHENZHEN_USCC)).one()
        boss = Principal(ent.id, ent.uscc, ent.name, ent.legal_representative)
    app_id = applications.submit(
        ctx,
        boss.actor,
        uscc=SHENZHEN_USCC,
        seal_type="contract",
        key=seals.KeyMaterial(csr=csr(SHENZHEN_USCC)),
        channel="portal",
    )
    pid, password = enterprise_people.create_person(ctx, boss, "li.lei", "李雷")
    from registry.db.models import Notification
    from registry.services import notify

    notify.collect(ctx)
    with ctx.reader() as s:
        notice_id = s.scalar(
            select(Notification.id).where(Notification.enterprise_id == ent.id, Notification.kind == "seal_issued")
        )
    assert notice_id is not None
    return {"es_id": es_id, "app_id": app_id, "pid": pid, "password": password, "notice_id": notice_id}


def _walk(client, flask_app, ids: dict[str, object], fingerprint, ctx: ServiceContext) -> list[str]:  # type: ignore[no-untyped-def]
    token = csrf(client.get("/portal/").get_data(as_text=True))
    before = fingerprint(ctx)
    wrong = []
    urls = portal_urls(flask_app, ids)
    for endpoint, method, url in urls:
        r = client.open(
            url,
            method=method,
            data={"csrf_token": token, "confirm": str(ids["es_id"]), "seal": str(ids["es_id"]), "authority": "manage"},
        )
        if r.status_code != 404:
            wrong.append(f"{method} {url} ({endpoint}): {r.status_code}")
    assert fingerprint(ctx) == before, "a refused request changed the database"
    # the walk covered the kinds of objects the portal has
    endpoints = {e for e, _m, _u in urls}
    assert {
        "portal.application",
        "portal.withdraw",
        "portal.person",
        "portal.person_grant",
        "portal.notice",
    } <= endpoints
    assert any("/seals/" in u for _e, _m, u in urls) and len(urls) >= 20
    return wrong


def test_another_enterprise_gets_404_for_every_portal_url_with_our_ids(
    app,
    ctx: ServiceContext,
    a_objects,  # type: ignore[no-untyped-def]
    fingerprint,
) -> None:
    mallory = app.test_client()
    sign_in(mallory, ctx, OTHER_USCC)
    assert _walk(mallory, app, a_objects, fingerprint, ctx) == []


def test_a_person_without_authority_gets_404_for_our_seals_and_403_for_the_rest(
    app,
    ctx: ServiceContext,  # type: ignore[no-untyped-def]
    a_objects,
    fingerprint,
) -> None:
    c, _secret = person_sign_in(app, ctx, "li.lei", str(a_objects["password"]))
    token = csrf(c.get("/portal/").get_data(as_text=True))
    before = fingerprint(ctx)
    for _endpoint, method, url in portal_urls(app, a_objects):
        r = c.open(url, method=method, data={"csrf_token": token, "confirm": str(a_objects["es_id"])})
        if "/seals/" in url:
            assert r.status_code == 404, f"{method} {url}: {r.status_code}"  # not granted: not there
        else:
            assert r.status_code in (403, 404), f"{method} {url}: {r.status_code}"  # the legal representative's
    assert fingerprint(ctx) == before
    with ctx.reader() as s:
        assert s.get(SealApplication, a_objects["app_id"]).state.value == "submitted"  # type: ignore[union-attr]
