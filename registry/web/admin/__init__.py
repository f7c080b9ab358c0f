"""The regulator's admin portal (/admin): staff sign-in with a second factor, then the back office.

Views are thin: each calls one service, which checks the permission and writes the audit event;
a denied action is a 403 whichever URL it came from.
"""
from __future__ import annotations

import datetime as dt
from functools import wraps
from typing import Any, Callable

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from ...domain.errors import DomainError
from ...domain.roles import Permission, permissions_of
from ...services import staff_auth
from ...services.context import Actor
from .. import service_context
from .forms import CodeForm, EmptyForm, LoginForm, PasswordChangeForm

bp = Blueprint("admin", __name__, url_prefix="/admin")

_PENDING_SECONDS = 300  # between a correct password and the code


def _now() -> dt.datetime:
    return service_context().clock.now()


@bp.before_app_request
def load_staff() -> Any:
    """The signed-in staff member (if any) for every request; idle sessions end here."""
    g.actor = None
    uid = session.get("staff_id")
    if uid is None:
        return None
    ctx = service_context()
    seen = session.get("seen")
    now = _now()
    if seen is not None and (now - dt.datetime.fromisoformat(seen)).total_seconds() > ctx.settings.session_idle_minutes * 60:
        session.clear()
        if request.blueprint == "admin":
            flash(_("Your session ended after %(minutes)d minutes without activity. Please sign in again.",
                    minutes=ctx.settings.session_idle_minutes), "info")
        return None
    found = staff_auth.actor_for(ctx, uid)
    if found is None:
        session.clear()
        return None
    g.actor, user = found
    g.user_language = user.language
    g.must_change_password = user.must_change_password
    session["seen"] = now.isoformat()
    return None


def staff_required(permission: Permission | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def deco(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            actor: Actor | None = g.get("actor")
            if actor is None:
                return redirect(url_for("admin.login", next=request.full_path if request.method == "GET" else None))
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
            checked = staff_auth.check_password_step(service_context(), form.username.data or "",
                                                     form.password.data or "")
        except DomainError as exc:
            error, status = _translated(exc), exc.http_status
        else:
            lang = session.get("lang")
            session.clear()
            if lang:
                session["lang"] = lang
            session["pw_user"] = checked.user_id
            session["pw_at"] = _now().isoformat()
            session["next"] = _safe_next(request.args.get("next"))
            return redirect(url_for("admin.enrol" if checked.needs_enrolment else "admin.code"))
    elif request.method == "POST":
        status = 400
    return render_template("admin/login.html", form=form, error=error), status


def _translated(exc: DomainError) -> str:
    if isinstance(exc, staff_auth.SignInFailed):
        text = str(exc)
        return {"wrong username or password": _("Wrong username or password."),
                "wrong code": _("Wrong code."),
                "wrong or already used code": _("Wrong code, or a code that was already used: wait for the next one."),
                }.get(text, text)
    if isinstance(exc, staff_auth.AccountLocked):
        return _("Too many failed attempts: the account is locked for a while.") + " " + str(exc)
    return str(exc)


def _safe_next(target: str | None) -> str | None:
    if target and target.startswith("/admin") and not target.startswith("//"):
        return target
    return None


def _pending_user() -> int | None:
    uid, at = session.get("pw_user"), session.get("pw_at")
    if uid is None or at is None:
        return None
    if (_now() - dt.datetime.fromisoformat(at)).total_seconds() > _PENDING_SECONDS:
        session.pop("pw_user", None)
        return None
    return int(uid)


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
    if request.method == "GET" or "totp_uri" not in session:
        try:
            secret, uri = staff_auth.start_enrolment(service_context(), uid)
        except DomainError as exc:
            return redirect(url_for("admin.code")) if exc.http_status == 409 else abort(exc.http_status)
        session["totp_uri"], session["totp_secret"] = uri, secret
    import segno

    qr = segno.make(session["totp_uri"], error="m").png_data_uri(scale=5, border=2)
    return render_template("admin/enrol.html", form=form, qr=qr, secret=session["totp_secret"],
                           error=error), status


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
        actor = staff_auth.complete_sign_in(service_context(), uid, code)
    except DomainError as exc:
        if isinstance(exc, staff_auth.AccountLocked):
            session.pop("pw_user", None)
        return _translated(exc)
    target = session.get("next")
    lang = session.get("lang")
    session.clear()  # a fresh session id after sign-in (no fixation)
    session.permanent = True
    session["staff_id"] = actor.user_id
    session["seen"] = _now().isoformat()
    if lang:
        session["lang"] = lang
    return redirect(target or url_for("admin.dashboard"))


@bp.post("/logout")
def logout() -> Any:
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You have signed out."), "info")
    return redirect(url_for("admin.login"))


@bp.route("/password", methods=["GET", "POST"])
@staff_required()
def password() -> Any:
    form = PasswordChangeForm()
    error, status = None, 200
    if form.validate_on_submit():
        try:
            staff_auth.change_password(service_context(), g.actor, form.current.data or "", form.new.data or "")
        except DomainError as exc:
            error, status = str(exc), exc.http_status
        else:
            flash(_("Your password was changed."), "info")
            return redirect(url_for("admin.dashboard"))
    elif request.method == "POST":
        status = 400
    return render_template("admin/password.html", form=form, error=error,
                           forced=g.get("must_change_password")), status


@bp.post("/language/<lang>")
def language(lang: str) -> Any:
    """The language switcher: remembered in the session, and saved for a signed-in user."""
    form = EmptyForm()
    if not form.validate_on_submit() or lang not in ("zh", "en"):
        abort(400)
    session["lang"] = lang
    if g.get("actor") is not None:
        staff_auth.set_language(service_context(), g.actor, lang)
    target = request.form.get("next") or ""
    return redirect(target if target.startswith("/") and not target.startswith("//") else url_for("admin.login"))


from . import views  # noqa: E402,F401  (the back-office pages register on bp)
from . import audit_views, crl_views, enterprise_views, user_views  # noqa: E402,F401
