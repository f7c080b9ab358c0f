"""Cookie, header and redirect rules shared by the admin and the enterprise portal.

* Cookies are ``HttpOnly``, ``SameSite=Lax`` and, with ``REGISTRY_SECURE_COOKIES`` (on by default
  when ``REGISTRY_BASE_URL`` is https), ``Secure``; such deployments also send HSTS (one year).
* The pages of the portals are ``Cache-Control: no-store``: they show one-time passwords, second
  factor secrets and an enterprise's own data, which a shared computer's cache must not keep.
* A ``next`` target is followed only if it is a path on this site under the expected prefix
  (no scheme, no host, no ``//``, no backslash or control character: browsers strip a tab or a
  newline, so ``/\\t/evil.example`` would become ``//evil.example``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, request, session
from werkzeug.wrappers import Response

__all__ = ["init_app", "safe_next", "local_path", "fresh_cookie", "pending"]


def safe_next(target: str | None, prefix: str = "/") -> str | None:
    """``target`` if it is a local path starting with ``prefix``; otherwise None."""
    if not target or len(target) > 2000:
        return None
    if any(ord(c) < 33 or ord(c) == 127 or c == "\\" for c in target):
        return None
    if not target.startswith("/") or target.startswith("//") or not target.startswith(prefix):
        return None
    return target


def local_path(url: str | None) -> str | None:
    """The path and query of a same-site URL (a Referer, a request's full path), else None."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.netloc and parts.netloc != request.host:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def fresh_cookie(*keep: str) -> None:
    """A new cookie for a new stage of sign-in (no session fixation), keeping the language and ``keep``."""
    kept = {k: session[k] for k in ("lang", *keep) if k in session}
    session.clear()
    session.update(kept)


def pending(key: str, seconds: int) -> int | None:
    """The account id a password step left in the cookie under ``key`` ({"id", "at"}), if still fresh
    (``seconds``) and well formed; a stale or malformed entry is dropped."""
    entry: Any = session.get(key)  # {"id", "at"}, or anything a stale cookie holds
    try:
        account, at = int(entry["id"]), dt.datetime.fromisoformat(entry["at"])
    except (KeyError, TypeError, ValueError):
        session.pop(key, None)
        return None
    if (current_app.extensions["registry"].clock.now() - at).total_seconds() > seconds:
        session.pop(key, None)
        return None
    return account


def init_app(app: Flask, secure: bool) -> None:
    app.config["SESSION_COOKIE_SECURE"] = secure

    @app.after_request
    def _headers(resp: Response) -> Response:
        if secure:
            resp.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if request.path.startswith(("/admin", "/portal")) and not request.path.startswith("/portal/static"):
            resp.headers["Cache-Control"] = "no-store"
        return resp
