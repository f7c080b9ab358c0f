"""Our trust list over plain HTTP (mutual-recognition.md §2.1): the files under the publish
directory's ``trust/``, written by :mod:`registry.services.trust_lists`, never built on a request.

``list.json`` (application/json), ``list.jws`` and ``peers.jws`` (application/jose+json, the JWS
JSON serialization, RFC 7515 §9.2.1), ``list.json.sha256`` (text) and every past version at
``lists/<sequence>.jws`` / ``.json``. Like the CRLs: a strong ETag (the SHA-256 of the bytes),
Last-Modified = the list's issued_at, 304 to a matching conditional request, HEAD. The current
files may be cached until the list's next_update but never longer than
:data:`MAX_AGE_CURRENT` seconds, so that a list republished early (a CA revoked) reaches peers
that refresh every few minutes; a past version never changes and is cached for a year."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import re
import threading
from email.utils import format_datetime
from pathlib import Path

from flask import Blueprint, Response, abort

from .context import service_context
from .crl import not_modified

bp = Blueprint("trust", __name__)

#: The longest a cache may keep list.json / list.jws / peers.jws (the peers' default refresh).
MAX_AGE_CURRENT = 300
_IMMUTABLE = 365 * 24 * 3600
_CURRENT = {
    "list.json": "application/json",
    "list.jws": "application/jose+json",
    "peers.jws": "application/jose+json",
    "list.json.sha256": "text/plain; charset=utf-8",
}
_PAST = re.compile(r"^lists/([1-9][0-9]{0,15})\.(json|jws)$")
_meta_lock = threading.Lock()
_meta: dict[tuple[str, int, int, int], tuple[str, dt.datetime, dt.datetime]] = {}


def _times(data: bytes, sibling: Path) -> tuple[dt.datetime, dt.datetime]:
    """issued_at and next_update of a list (or peer list), read from its JSON or its JWS payload;
    a .sha256 file takes them from the list.json beside it."""
    if sibling.name.endswith(".sha256"):
        data = (sibling.parent / "list.json").read_bytes()
    doc = json.loads(data)
    if isinstance(doc, dict) and "payload" in doc:
        text = str(doc["payload"])
        doc = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    head = doc.get("scheme", doc)
    issued, next_update = (
        dt.datetime.strptime(head[k], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC) for k in ("issued_at", "next_update")
    )
    return issued, next_update


def _metadata(path: Path, data: bytes, st: os.stat_result) -> tuple[str, dt.datetime, dt.datetime]:
    key = (str(path), st.st_ino, st.st_mtime_ns, st.st_size)
    with _meta_lock:
        hit = _meta.get(key)
    if hit is None:
        issued, next_update = _times(data, path)
        hit = (hashlib.sha256(data).hexdigest(), issued, next_update)
        with _meta_lock:
            if len(_meta) > 1024:
                _meta.clear()
            _meta[key] = hit
    return hit


@bp.route("/trust/<path:name>", methods=["GET", "HEAD"])
def trust_file(name: str) -> Response:
    past = _PAST.match(name)
    if name not in _CURRENT and past is None:
        abort(404)
    ctx = service_context()
    path = ctx.settings.publish_dir / "trust" / name
    try:
        with open(path, "rb") as fh:  # one open: the bytes and the stat belong to the same file
            st = os.fstat(fh.fileno())
            data = fh.read()
        etag, issued, next_update = _metadata(path, data, st)
    except (FileNotFoundError, IsADirectoryError):
        abort(404)
    except (ValueError, KeyError, TypeError, AttributeError):  # a file no publisher here wrote
        abort(404)
    if past is not None:
        max_age, mimetype = _IMMUTABLE, _CURRENT["list.json" if past.group(2) == "json" else "list.jws"]
        cache = f"public, max-age={max_age}, immutable"
    else:
        now = ctx.clock.now()
        max_age = max(0, min(MAX_AGE_CURRENT, int((next_update - now).total_seconds())))
        mimetype = _CURRENT[name]
        cache = f"public, max-age={max_age}, no-transform"
    headers = {
        "ETag": f'"{etag}"',
        "Last-Modified": format_datetime(issued, usegmt=True),
        "Cache-Control": cache,
        "X-Content-Type-Options": "nosniff",
    }
    if not_modified(etag, issued):
        return Response(status=304, headers=headers)
    return Response(data, content_type=mimetype, headers=headers)
