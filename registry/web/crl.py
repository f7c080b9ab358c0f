"""CRLs over plain HTTP (design.md §5): static files from the publish directory, never built on a
request; strong ETag, Last-Modified = thisUpdate, caching no longer than nextUpdate, 304, HEAD."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import threading
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

from flask import Blueprint, Response, abort, jsonify, render_template, request

from ..pki import crl
from ..services import crl_index
from .context import service_context

bp = Blueprint("crl", __name__)
_NAME = re.compile(r"^[a-z0-9-]+(?:-delta)?\.crl$|^[a-z0-9-]+/shard-[0-9]{1,4}\.crl$")
_meta_lock = threading.Lock()
_meta: dict[tuple[str, int, int, int], tuple[str, dt.datetime, dt.datetime | None]] = {}


def _metadata(path: Path, data: bytes, st: os.stat_result) -> tuple[str, dt.datetime, dt.datetime | None]:
    key = (str(path), st.st_ino, st.st_mtime_ns, st.st_size)
    with _meta_lock:
        hit = _meta.get(key)
    if hit is None:
        _number, this_update, next_update = crl.peek(data)
        hit = (hashlib.sha256(data).hexdigest(), this_update, next_update)
        with _meta_lock:
            if len(_meta) > 1024:
                _meta.clear()
            _meta[key] = hit
    return hit


@bp.route("/crl/<path:name>", methods=["GET", "HEAD"])
def crl_file(name: str) -> Response:
    if not _NAME.match(name):
        abort(404)
    path = service_context().settings.publish_dir / name
    try:
        with open(path, "rb") as fh:  # one open: the bytes and the stat belong to the same file
            st = os.fstat(fh.fileno())
            data = fh.read()
    except (FileNotFoundError, IsADirectoryError):
        abort(404)
    etag, this_update, next_update = _metadata(path, data, st)
    now = service_context().clock.now()
    max_age = 0 if next_update is None else max(0, int((next_update - now).total_seconds()))
    headers = {
        "ETag": f'"{etag}"',
        "Last-Modified": format_datetime(this_update, usegmt=True),
        "Cache-Control": f"public, max-age={max_age}, no-transform",
    }
    if next_update is not None:
        headers["Expires"] = format_datetime(next_update, usegmt=True)
    if not_modified(etag, this_update):
        return Response(status=304, headers=headers)
    resp = Response(data, mimetype="application/pkix-crl", headers=headers)
    resp.headers["Content-Disposition"] = f'inline; filename="{name.replace("/", "-")}"'
    return resp


def not_modified(etag: str, last_modified: dt.datetime) -> bool:
    """Whether the request's If-None-Match / If-Modified-Since match (RFC 9110 §13.1): answer 304."""
    inm = request.headers.get("If-None-Match")
    if inm is not None:  # RFC 9110 §13.1.2: If-None-Match wins over If-Modified-Since
        tags = {t.strip() for t in inm.split(",")}
        return "*" in tags or f'"{etag}"' in tags or f'W/"{etag}"' in tags
    ims = request.headers.get("If-Modified-Since")
    if ims:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
        return since is not None and since.tzinfo is not None and last_modified.replace(microsecond=0) <= since
    return False


@bp.get("/crl/")
def index() -> str:
    ctx = service_context()
    items = crl_index.latest(ctx, ctx.clock.now())
    return render_template("public/crls.html", crls=items)


@bp.get("/crl/index.json")
def index_json() -> Response:
    ctx = service_context()
    now = ctx.clock.now()
    items = crl_index.latest(ctx, now)
    return jsonify(
        generated_at=now.isoformat().replace("+00:00", "Z"),
        crls=[c.as_json() for c in items],
        stale=[c.path for c in items if c.stale],
    )
