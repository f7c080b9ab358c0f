"""The regulator's admin portal (/admin): staff sign-in with a second factor, then the back office.

Views are thin: each calls one service, which checks the permission and writes the audit event;
a denied action is a 403 whichever URL it came from.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from ...domain.errors import DomainError
from ...domain.roles import Permission, permissions_of
from ...services import staff_auth, web_sessions
from ...services.context import Actor
from .. import i18n, service_context
from ..security import fresh_cookie, local_path, pending, safe_next
from .forms import CodeForm, EmptyForm, LoginForm, PasswordChangeForm

bp = Blueprint("admin", __name__, url_prefix="/admin")

_PENDING_SECONDS = 300  # between a correct password and the code


def _now() -> dt.datetime:
    return service_context().clock.now()


_ENDED = {
    web_sessions.IDLE: lambda: _(
        "Your session ended after %(minutes)d minutes without activity. Please sign in again.",
        minutes=service_context().settings.session_idle_minutes,
    ),
    web_sessions.EXPIRED: lambda: _(
        "Your session ended %(hours)d hours after you signed in. Please sign in again.",
        hours=service_context().settings.session_max_hours,
    ),
    web_sessions.ACCOUNT_CHANGED: lambda: _(
        "Your session was ended: the account was deactivated, or its password or second factor was reset."
    ),
    web_sessions.SIGNED_OUT: lambda: _("This session was signed out. Please sign in again."),
}


def ended_message(reason: str) -> str:
    make = _ENDED.get(reason)
    return make() if make else _("Your session ended. Please sign in again.")


@bp.before_app_request
def load_staff() -> Any:
    """The signed-in staff member (if any) for every request, from the server-side session; a
    session that ended (idle, expired, signed out elsewhere, account changed) is said so once."""
    g.actor = None
    token = session.get("sid")
    if not token:
        return None
    found = staff_auth.signed_in(service_context(), token)
    if not isinstance(found, staff_auth.SignedIn):
        session.pop("sid", None)
        if isinstance(found, str) and request.blueprint == "admin":
            g.session_ended = found
            flash(ended_message(found), "info")
        return None
    g.actor = found.actor
    g.user_language = found.language
    g.must_change_password = found.must_change_password
    g.session_key = found.session_key
    return None


def staff_required(permission: Permission | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def deco(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            actor: Actor | None = g.get("actor")
            if actor is None:
                if request.headers.get("Sec-Fetch-Dest") in ("image", "script", "style", "font"):
                    abort(401)  # a picture of a page left behind: no sign-in page (it would eat its notices)
                # the page asked for comes back after sign-in (a form's page, for a refused POST)
                target = safe_next(
                    (local_path(request.full_path if request.method == "GET" else request.referrer) or "").rstrip("?"),
                    "/admin",
                )
                return redirect(url_for("admin.login", next=None if target in ("/admin/", "/admin") else target))
            if g.get("must_change_password") and request.endpoint not in ("admin.password", "admin.logout"):
                return redirect(url_for("admin.password"))
            if permission is not None and permission not in permissions_of(actor.roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return deco


@bp.app_context_processor
def staff_context() -> dict[str, Any]:
    actor = g.get("actor")
    perms = permissions_of(actor.roles) if actor else frozenset()
    return {"actor": actor, "can": lambda p: Permission(p) in perms, "logout_form": EmptyForm()}


# -- sign-in ----------------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if g.get("actor") is not None:
        return redirect(url_for("admin.dashboard"))
    form = LoginForm()
    error = None
    status = 200
    if form.validate_on_submit():
        try:
            checked = staff_auth.check_password_step(
                service_context(), form.username.data or "", form.password.data or ""
            )
        except DomainError as exc:
            error, status = _translated(exc), exc.http_status
        else:
            fresh_cookie()
            session["pending"] = {"id": checked.user_id, "at": _now().isoformat()}
            target = safe_next(request.args.get("next"), "/admin")
            if target:
                session["next"] = target
            return redirect(url_for("admin.enrol" if checked.needs_enrolment else "admin.code"))
    elif request.method == "POST":
        status = 400
    return render_template("admin/login.html", form=form, error=error), status


def _translated(exc: DomainError) -> str:
    return i18n.error_text(exc)


def _pending_user() -> int | None:
    return pending("pending", _PENDING_SECONDS)


def grouped(secret: str) -> str:
    """A TOTP secret as people type it: groups of four."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@bp.route("/login/enrol", methods=["GET", "POST"])
def enrol() -> Any:
    """First sign-in: scan the QR code with an authenticator app, then give a code."""
    uid = _pending_user()
    if uid is None:
        return redirect(url_for("admin.login"))
    form = CodeForm()
    done, error, status = _code_step(uid, form)
    if done is not None:
        return done
    try:  # the one pending secret (the same after a reload), read from the database, never from a cookie
        secret, uri = staff_auth.start_enrolment(service_context(), uid)
    except DomainError as exc:
        if exc.http_status == 409:
            return redirect(url_for("admin.code"))
        session.pop("pending", None)
        return redirect(url_for("admin.login"))
    import segno

    qr = segno.make(uri, error="m").png_data_uri(scale=5, border=2)
    return render_template("admin/enrol.html", form=form, qr=qr, secret=grouped(secret), error=error), status


@bp.route("/login/code", methods=["GET", "POST"])
def code() -> Any:
    uid = _pending_user()
    if uid is None:
        return redirect(url_for("admin.login"))
    form = CodeForm()
    done, error, status = _code_step(uid, form)
    if done is not None:
        return done
    return render_template("admin/code.html", form=form, error=error), status


def _code_step(uid: int, form: CodeForm) -> tuple[Any, str | None, int]:
    """A submitted code: (the redirect after sign-in, None, 302), or (None, the error, its status)."""
    if form.validate_on_submit():
        result = _finish(uid, form.code.data or "")
        if not isinstance(result, str):
            return result, None, 302
        return None, result, 401
    return None, None, 400 if request.method == "POST" else 200


def _finish(uid: int, code: str) -> Any:
    try:
        _actor, token = staff_auth.complete_sign_in(service_context(), uid, code)
    except DomainError as exc:
        if isinstance(exc, staff_auth.AccountLocked):
            session.pop("pending", None)
        return _translated(exc)
    target = safe_next(session.get("next"), "/admin")
    fresh_cookie()  # a fresh cookie after sign-in (no fixation); the session itself is on the server
    session.permanent = True
    session["sid"] = token
    return redirect(target or url_for("admin.dashboard"))


@bp.post("/logout")
def logout() -> Any:
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    staff_auth.sign_out(service_context(), g.get("actor"), session.get("sid"))
    fresh_cookie()
    flash(_("You have signed out."), "info")
    return redirect(url_for("admin.login"))


@bp.route("/password", methods=["GET", "POST"])
@staff_required()
def password() -> Any:
    form = PasswordChangeForm()
    error, status = None, 200
    if form.validate_on_submit():
        try:
            staff_auth.change_password(
                service_context(),
                g.actor,
                form.current.data or "",
                form.new.data or "",
                keep_session=g.get("session_key"),
            )
        except DomainError as exc:
            error, status = _translated(exc), exc.http_status
        else:
            flash(_("Your password was changed."), "info")
            return redirect(url_for("admin.dashboard"))
    elif request.method == "POST":
        status = 400
    return render_template("admin/password.html", form=form, error=error, forced=g.get("must_change_password")), status


@bp.post("/language/<lang>")
def language(lang: str) -> Any:
    """The language switcher: remembered in the session, and saved for a signed-in user."""
    form = EmptyForm()
    if not form.validate_on_submit() or lang not in ("zh", "en"):
        abort(400)
    session["lang"] = lang
    if g.get("actor") is not None:
        staff_auth.set_language(service_context(), g.actor, lang)
    return redirect(safe_next(request.form.get("next")) or url_for("admin.login"))


from . import (  # noqa: E402,F401
    audit_views,
    crl_views,
    enterprise_views,
    user_views,
    views,  # noqa: E402,F401  (the back-office pages register on bp)
)
