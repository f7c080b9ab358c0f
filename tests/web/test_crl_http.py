"""CRLs over plain HTTP: static files, conditional requests, index and stale alarm."""

from __future__ import annotations

import datetime as dt
from email.utils import format_datetime, parsedate_to_datetime

import pytest

from registry.pki import crl
from registry.services import crl_publish
from registry.services.context import ServiceContext
from tests.support.data import ADMIN, NOW


def test_crl_is_served_as_der_with_strong_etag_and_caching_until_next_update(ctx: ServiceContext, client) -> None:  # type: ignore[no-untyped-def]
    crl_publish.publish(ctx, ADMIN)
    ctx.clock.advance(hours=2)
    r = client.get("/crl/sm2-issuing.crl")
    assert r.status_code == 200 and r.mimetype == "application/pkix-crl"
    assert r.data == (ctx.settings.publish_dir / "sm2-issuing.crl").read_bytes()
    parsed = crl.parse_crl(r.data)
    import hashlib

    assert r.headers["ETag"] == f'"{hashlib.sha256(r.data).hexdigest()}"'
    assert parsedate_to_datetime(r.headers["Last-Modified"]) == parsed.this_update == NOW
    max_age = int(r.headers["Cache-Control"].split("max-age=")[1].split(",")[0])
    assert max_age == int((parsed.next_update - ctx.clock.now()).total_seconds()) == 22 * 3600
    assert parsedate_to_datetime(r.headers["Expires"]) == parsed.next_update


def test_conditional_get_gives_304_and_head_gives_headers_only(ctx: ServiceContext, client) -> None:  # type: ignore[no-untyped-def]
    crl_publish.publish(ctx, ADMIN)
    first = client.get("/crl/ecdsa-issuing-delta.crl")
    etag = first.headers["ETag"]
    again = client.get("/crl/ecdsa-issuing-delta.crl", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    since = client.get(
        "/crl/ecdsa-issuing-delta.crl",
        headers={"If-Modified-Since": format_datetime(NOW + dt.timedelta(seconds=5), usegmt=True)},
    )
    assert since.status_code == 304
    older = client.get(
        "/crl/ecdsa-issuing-delta.crl",
        headers={"If-Modified-Since": format_datetime(NOW - dt.timedelta(days=1), usegmt=True)},
    )
    assert older.status_code == 200
    stale_tag = client.get("/crl/ecdsa-issuing-delta.crl", headers={"If-None-Match": '"0000"'})
    assert stale_tag.status_code == 200
    head = client.head("/crl/ecdsa-issuing-delta.crl")
    assert head.status_code == 200 and head.data == b"" and head.headers["ETag"] == etag
    assert int(head.headers["Content-Length"]) == len(first.data)


def test_a_new_publication_changes_the_etag(ctx: ServiceContext, client) -> None:  # type: ignore[no-untyped-def]
    crl_publish.publish(ctx, ADMIN)
    before = client.get("/crl/sm2-root.crl").headers["ETag"]
    ctx.clock.advance(minutes=1)
    crl_publish.publish(ctx, ADMIN, ["sm2-root"])
    after = client.get("/crl/sm2-root.crl", headers={"If-None-Match": before})
    assert after.status_code == 200 and after.headers["ETag"] != before


@pytest.mark.parametrize(
    "path",
    [
        "/crl/nope.crl",
        "/crl/../kek.json",
        "/crl/sm2-issuing/shard-99.crl",
        "/crl/%2e%2e/secret_key",
        "/crl/sm2-issuing.crl.tmp",
    ],
)
def test_unknown_or_unsafe_crl_paths_are_404(ctx: ServiceContext, client, path: str) -> None:  # type: ignore[no-untyped-def]
    crl_publish.publish(ctx, ADMIN)
    assert client.get(path).status_code == 404


def test_index_lists_every_crl_and_flags_stale_ones(ctx: ServiceContext, client) -> None:  # type: ignore[no-untyped-def]
    crl_publish.publish(ctx, ADMIN)
    j = client.get("/crl/index.json").get_json()
    paths = {c["path"]: c for c in j["crls"]}
    assert {
        "sm2-root.crl",
        "sm2-root-delta.crl",
        "sm2-issuing.crl",
        "ecdsa-issuing-delta.crl",
        "ecdsa-issuing/shard-7.crl",
    } <= set(paths)
    full = paths["sm2-issuing.crl"]
    assert full["issuer"] == "sm2-issuing" and full["kind"] == "full" and full["entries"] == 0
    assert full["url"] == "http://registry.test/crl/sm2-issuing.crl" and len(full["sha256"]) == 64
    assert full["stale"] is False and j["stale"] == []
    html = client.get("/crl/").get_data(as_text=True)
    assert "sm2-issuing.crl" in html and "shard 7" in html
    ctx.clock.advance(hours=25)
    j = client.get("/crl/index.json").get_json()
    assert "sm2-issuing.crl" in j["stale"] and all(c["stale"] for c in j["crls"])
    assert "stale" in client.get("/crl/").get_data(as_text=True)


def test_health_reports_unpublished_and_stale_crls(ctx: ServiceContext, client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/healthz")
    assert r.status_code == 503 and "sm2-issuing has no published CRL" in r.get_json()["crl_problems"]
    crl_publish.publish(ctx, ADMIN)
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.get_json() == {"status": "ok", "database": "ok", "crl_problems": [], "peer_problems": []}
    ctx.clock.advance(hours=25)
    r = client.get("/healthz")
    assert r.status_code == 503 and any("past its nextUpdate" in p for p in r.get_json()["crl_problems"])
