"""Our trust list over HTTP (/trust/...): the files as published, their caching and conditional
requests; and the admin page with the fingerprints other regions pin."""

from __future__ import annotations

import hashlib
import json
import re
from email.utils import parsedate_to_datetime

import pytest
from flask import Flask
from sqlalchemy import func, select

from registry.db.trust_models import TrustListVersion
from registry.domain.roles import Role
from registry.services import trust_lists
from registry.services.context import ServiceContext
from registry.web.trust import MAX_AGE_CURRENT
from tests.support.data import ADMIN
from tests.support.staff import client_as, csrf


def test_each_file_is_served_with_its_type_a_strong_etag_and_short_caching(app: Flask, ctx: ServiceContext) -> None:
    published = trust_lists.publish(ctx, ADMIN)
    client = app.test_client()
    expected = {
        "list.json": ("application/json", published.payload),
        "list.jws": ("application/jose+json", published.jws),
        "peers.jws": ("application/jose+json", published.peers_jws),
        "list.json.sha256": ("text/plain; charset=utf-8", f"{published.sha256}  list.json\n".encode()),
    }
    for name, (mimetype, body) in expected.items():
        r = client.get(f"/trust/{name}")
        assert r.status_code == 200, name
        assert r.headers["Content-Type"] == mimetype
        assert r.data == body
        assert r.headers["ETag"] == f'"{hashlib.sha256(body).hexdigest()}"'
        assert parsedate_to_datetime(r.headers["Last-Modified"]) == published.issued_at
        assert r.headers["Cache-Control"] == f"public, max-age={MAX_AGE_CURRENT}, no-transform"
        assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_max_age_never_outlasts_the_list(app: Flask, ctx: ServiceContext) -> None:
    trust_lists.publish(ctx, ADMIN)
    ctx.clock.advance(days=7, seconds=-100)
    assert app.test_client().get("/trust/list.jws").headers["Cache-Control"] == "public, max-age=100, no-transform"
    ctx.clock.advance(seconds=200)
    assert app.test_client().get("/trust/list.jws").headers["Cache-Control"] == "public, max-age=0, no-transform"


def test_conditional_requests_get_304_and_head_gets_the_headers(app: Flask, ctx: ServiceContext) -> None:
    trust_lists.publish(ctx, ADMIN)
    client = app.test_client()
    first = client.get("/trust/list.jws")
    again = client.get("/trust/list.jws", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == first.headers["ETag"]
    since = client.get("/trust/list.jws", headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert since.status_code == 304
    head = client.head("/trust/list.json")
    assert head.status_code == 200 and head.data == b"" and head.headers["ETag"]
    # a new list: the old ETag no longer matches
    ctx.clock.advance(minutes=1)
    trust_lists.publish(ctx, ADMIN)
    changed = client.get("/trust/list.jws", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and changed.headers["ETag"] != first.headers["ETag"]


def test_past_versions_are_kept_and_cached_as_immutable(app: Flask, ctx: ServiceContext) -> None:
    one = trust_lists.publish(ctx, ADMIN)
    ctx.clock.advance(minutes=1)
    trust_lists.publish(ctx, ADMIN)
    client = app.test_client()
    r = client.get("/trust/lists/1.jws")
    assert r.status_code == 200 and r.data == one.jws
    assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert client.get("/trust/lists/1.json").data == one.payload
    assert client.get("/trust/lists/1.json").headers["Content-Type"] == "application/json"
    assert json.loads(client.get("/trust/list.json").data)["scheme"]["previous"]["sequence"] == 1


@pytest.mark.parametrize(
    "path",
    [
        "/trust/list.xml",
        "/trust/lists/0.jws",
        "/trust/lists/01.jws",
        "/trust/lists/3.jws",
        "/trust/../kek.json",
        "/trust/lists/1.txt",
        "/trust/lists/",
        "/trust/",
    ],
)
def test_other_paths_are_404(app: Flask, ctx: ServiceContext, path: str) -> None:
    trust_lists.publish(ctx, ADMIN)
    assert app.test_client().get(path).status_code == 404


def test_before_the_first_publication_the_files_are_404(app: Flask, ctx: ServiceContext) -> None:
    assert app.test_client().get("/trust/list.jws").status_code == 404


# -- the admin page ----------------------------------------------------------------------------


def test_the_admin_page_shows_the_pins_and_the_admin_publishes(app: Flask, ctx: ServiceContext) -> None:
    trust_lists.publish(ctx, ADMIN)
    adm = client_as(app, ctx, "adm", Role.ADMIN)
    html = adm.get("/admin/trust-list").get_data(as_text=True)
    for alg, hexdigest in trust_lists.fingerprints(ctx):
        assert re.search(
            rf'data-alg="{alg}" data-status="current">.*?<code class="fingerprint">{hexdigest}</code>', html, re.S
        )
        assert " ".join(hexdigest[i : i + 4] for i in range(0, 64, 4)) in html
    assert '<td id="sequence">1</td>' in html and "sm2-seal-maker" in html
    r = adm.post("/admin/trust-list/publish", data={"csrf_token": csrf(html)})
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert "刚刚发布：第 2 版列表" in page and '<td id="sequence">2</td>' in page
    assert trust_lists.current(ctx).sequence == 2  # type: ignore[union-attr]


def test_others_see_the_page_but_may_not_publish(app: Flask, ctx: ServiceContext) -> None:
    trust_lists.publish(ctx, ADMIN)
    op = client_as(app, ctx, "sam", Role.OPERATOR)
    html = op.get("/admin/trust-list").get_data(as_text=True)
    assert "本机构的信任列表" in html and 'id="publish-now"' not in html
    r = op.post("/admin/trust-list/publish", data={"csrf_token": csrf(html)})
    assert r.status_code == 403
    with ctx.reader() as s:
        assert s.scalar(select(func.count()).select_from(TrustListVersion)) == 1
