"""The OCSP responder over HTTP (RFC 6960 Appendix A, RFC 5019 §5 caching).

``POST /ocsp`` (body: DER ``OCSPRequest``, any path under ``/ocsp``) and ``GET /ocsp/<base64>``
(the DER request base64-encoded, percent-encoded or not, standard or URL-safe alphabet, padding
optional). The answer is always HTTP 200 with ``application/ocsp-response``, errors included
(malformedRequest, unauthorized, tryLater, internalError are OCSP statuses, not HTTP ones); only a
method other than GET/HEAD/POST gets 405.

This is a lean WSGI handler mounted in front of Flask (:func:`init_app`): an OCSP request costs a
base64 decode, the DER parse, one indexed SELECT and a write, with no routing, request object,
session or template machinery. Pre-signed responses carry RFC 5019 caching headers
(``Cache-Control: max-age`` until nextUpdate, ``public, no-transform, must-revalidate``,
``Last-Modified`` = thisUpdate, ``Expires`` = nextUpdate, a strong ``ETag``; 304 on a matching
``If-None-Match``); live responses (nonce) and errors are ``no-store``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from collections.abc import Callable, Iterable
from email.utils import format_datetime
from typing import Any

from ..services import ocsp as ocsp_service
from ..services.context import ServiceContext

MAX_BODY = 16 * 1024  # an OCSP request for one certificate is ~100 bytes
MAX_GET = 4 * 1024
CONTENT_TYPE = "application/ocsp-response"
log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]


def decode_get(tail: str) -> bytes | None:
    """The DER request from the path after ``/ocsp/`` (already percent-decoded by the server)."""
    text = tail.lstrip("/")
    if not text or len(text) > MAX_GET:
        return None
    text = text.replace(" ", "+").replace("-", "+").replace("_", "/")  # '+' read as a space; URL-safe
    text = "".join(text.split())
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _read_body(environ: dict[str, Any]) -> bytes | None:
    """At most MAX_BODY bytes of the request body; None if it is larger."""
    stream = environ.get("wsgi.input")
    raw_length = environ.get("CONTENT_LENGTH") or ""
    try:
        length = int(raw_length) if raw_length else -1
    except ValueError:
        length = -1
    if length > MAX_BODY:
        return None
    if stream is None:
        return b""
    data = stream.read(length) if length >= 0 else stream.read(MAX_BODY + 1)
    return None if len(data) > MAX_BODY else data


class OcspApp:
    """WSGI application answering OCSP for ``/ocsp`` and ``/ocsp/...``; everything else goes to ``app``."""

    def __init__(self, app: Callable[..., Iterable[bytes]] | None, ctx: ServiceContext) -> None:
        self.app = app
        self.ctx = ctx

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or ""
        if path != "/ocsp" and not path.startswith("/ocsp/"):
            if self.app is None:
                start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
                return [b"not found"]
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD", "POST"):
            start_response(
                "405 Method Not Allowed",
                [("Allow", "GET, HEAD, POST"), ("Content-Type", "text/plain"), ("Content-Length", "18")],
            )
            return [b"method not allowed"]
        try:
            status, headers, body = self.respond(environ, method, path)
        except Exception:  # noqa: BLE001 - never a traceback or a 500 for an OCSP client
            log.exception("OCSP responder failed")
            status, headers, body = "200 OK", _headers(ocsp_service.INTERNAL_ERROR, None), ocsp_service.INTERNAL_ERROR
        start_response(status, headers)
        return [] if method == "HEAD" else [body]

    def respond(self, environ: dict[str, Any], method: str, path: str) -> tuple[str, list[tuple[str, str]], bytes]:
        if method == "POST":
            request = _read_body(environ)
        else:
            request = decode_get(path[len("/ocsp/") :]) if path.startswith("/ocsp/") else None
        if request is None:
            body = ocsp_service.MALFORMED
            return "200 OK", _headers(body, None), body
        answer = ocsp_service.answer(self.ctx, request)
        body = answer.body
        if not answer.cacheable:
            return "200 OK", _headers(body, None), body
        etag = '"' + hashlib.sha256(body).hexdigest()[:40] + '"'
        headers = _headers(body, self._caching(answer, etag))
        inm = environ.get("HTTP_IF_NONE_MATCH")
        if (
            method != "POST"
            and inm
            and (inm.strip() == "*" or etag in {t.strip().removeprefix("W/") for t in inm.split(",")})
        ):
            return "304 Not Modified", [h for h in headers if h[0] != "Content-Length"], b""
        return "200 OK", headers, body

    def _caching(self, answer: ocsp_service.Answer, etag: str) -> list[tuple[str, str]]:
        assert answer.this_update is not None and answer.next_update is not None
        max_age = max(0, int((answer.next_update - self.ctx.clock.now()).total_seconds()))
        return [
            ("Cache-Control", f"max-age={max_age}, public, no-transform, must-revalidate"),
            ("Last-Modified", format_datetime(answer.this_update, usegmt=True)),
            ("Expires", format_datetime(answer.next_update, usegmt=True)),
            ("ETag", etag),
        ]


def _headers(body: bytes, caching: list[tuple[str, str]] | None) -> list[tuple[str, str]]:
    headers = [
        ("Content-Type", CONTENT_TYPE),
        ("Content-Length", str(len(body))),
        ("X-Content-Type-Options", "nosniff"),
    ]
    headers += caching if caching is not None else [("Cache-Control", "no-store")]
    return headers


def init_app(app: Any) -> None:
    """Mount the responder in front of the Flask application (``app.wsgi_app``)."""
    app.wsgi_app = OcspApp(app.wsgi_app, app.extensions["registry"])
