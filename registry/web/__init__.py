"""Flask application factory. Views are thin: parse input, call one service, render the result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from ..config import Settings
from ..domain.errors import DomainError
from ..messages import bilingual
from ..services.context import ServiceContext, load_or_create_secret_key
from . import i18n, ocsp, security
from .context import json_error
from .context import service_context as service_context  # what pages took from here before

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def create_app(test_config: dict[str, Any] | None = None, *, ctx: ServiceContext | None = None) -> Flask:
    app = Flask(__name__, template_folder=str(TEMPLATES), static_folder=None)
    settings = ctx.settings if ctx is not None else Settings.from_env()
    app.config.from_mapping(
        SECRET_KEY=load_or_create_secret_key(settings),
        # two files (a signature and its document) up to the verifier's limit each, plus form overhead
        MAX_CONTENT_LENGTH=max(16 * 1024 * 1024, 2 * settings.verify_max_bytes + 1024 * 1024),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="registry_session",
        # the cookie's own lifetime; the session itself is on the server (services.web_sessions): idle after
        # REGISTRY_SESSION_IDLE_MINUTES, ended REGISTRY_SESSION_MAX_HOURS after sign-in however active
        PERMANENT_SESSION_LIFETIME=settings.session_max_hours * 3600,
        WTF_CSRF_TIME_LIMIT=None,  # a token lives as long as the session
    )
    if test_config:
        app.config.update(test_config)
    app.extensions["registry"] = ctx or ServiceContext.create(settings)

    # the blueprints import service_context from this package, so they are imported once it is defined
    from . import admin, api, crl, portal, public, trust

    i18n.init_app(app)
    csrf = CSRFProtect(app)
    app.register_blueprint(public.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(crl.bp)
    app.register_blueprint(trust.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(portal.bp)
    # The public verifier and the API take uploads from anyone and change nothing: no session, no CSRF.
    csrf.exempt(api.bp)
    csrf.exempt(public.bp)
    csrf.exempt(crl.bp)
    ocsp.init_app(app)  # /ocsp: a lean WSGI handler in front of Flask (RFC 6960 / RFC 5019)
    _init_errors(app)
    _init_security_headers(app)
    security.init_app(app, settings.secure_cookies)
    return app


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _init_errors(app: Flask) -> None:
    def page(status: int, message: str) -> str:
        """The error page: inside the enterprise portal's layout (its header, a way back to the
        portal) for a URL under /portal, the public layout elsewhere."""
        if request.path == "/portal" or request.path.startswith("/portal/"):
            return render_template("portal/error.html", status=status, message=message)
        return render_template("error.html", status=status, message=message)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> ResponseReturnValue:
        message = _(
            "The form has expired or did not come from this site (%(reason)s). Reload the page and try again.",
            reason=exc.description,
        )
        if _wants_json():
            return jsonify(error="CSRFError", message=message), 400
        return page(400, message), 400

    @app.errorhandler(403)
    def forbidden(_exc: HTTPException) -> ResponseReturnValue:
        message = _("You do not have permission to do this.")
        if _wants_json():
            return jsonify(error=403, message=message), 403
        return page(403, message), 403

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> ResponseReturnValue:
        if _wants_json():
            return jsonify(json_error(exc)), exc.http_status
        # The public pages speak both languages side by side; the portals speak the page's language.
        public = not request.path.startswith(("/admin", "/portal"))
        text = bilingual(exc) if public else i18n.error_text(exc)
        return page(exc.http_status, text), exc.http_status

    for status, message in (
        (404, "页面不存在 / Not found"),
        (405, "不支持的方法 / Method not allowed"),
        (413, "上传文件过大 / Upload too large"),
    ):

        def handler(exc: HTTPException, status: int = status, message: str = message) -> ResponseReturnValue:
            # a 405 names the methods the URL takes (RFC 9110 §15.5.6)
            allowed = getattr(exc, "valid_methods", None)
            headers = {"Allow": ", ".join(sorted(allowed))} if status == 405 and allowed else {}
            if _wants_json():
                return jsonify(error=status, message=message), status, headers
            if request.path.startswith("/portal/") and status == 404:
                message = _("This page does not exist, or it is not one of your enterprise's.")
            return page(status, message), status, headers

        app.register_error_handler(status, handler)


def _init_security_headers(app: Flask) -> None:
    @app.after_request
    def headers(resp: Response) -> Response:
        resp.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        )
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        return resp
