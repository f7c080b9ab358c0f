"""The regulator's admin portal (/admin): staff sign-in with a second factor, then the back office.

Views are thin: each calls one service, which checks the permission and writes the audit event;
a denied action is a 403 whichever URL it came from.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from ...domain.errors import DomainError
from ...domain.roles import Permission, permissions_of
from ...services import staff_auth, web_sessions
from ...services.context import Actor
from .. import i18n
from ..context import service_context
from ..forms import EmptyForm, PasswordChangeForm
from ..security import fresh_cookie, local_path, safe_next
from ..sign_in import SignIn
from .forms import LoginForm

P = ParamSpec("P")
R = TypeVar("R")
View = Callable[P, R]

bp = Blueprint("admin", __name__, url_prefix="/admin")


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


# On every request of the app, not only the admin's: a staff member's session is touched (kept from
# going idle) by any page they open, their saved language applies to the whole site, and an ended
# session leaves the cookie on the first page opened (the notice is said on an admin page only).
@bp.before_app_request
def load_staff() -> None:
    """The signed-in staff member (if any) for every request, from the server-side session; a
    session that ended (idle, expired, signed out elsewhere, account changed) is said so once."""
    g.actor = None
    token = session.get("sid")
    if not token:
        return
    found = staff_auth.signed_in(service_context(), token)
    if not isinstance(found, staff_auth.SignedIn):
        session.pop("sid", None)
        if isinstance(found, str) and request.blueprint == "admin":
            g.session_ended = found
            flash(ended_message(found), "info")
        return
    g.actor = found.actor
    g.user_language = found.language
    g.must_change_password = found.must_change_password
    g.session_key = found.session_key


def staff_required(permission: Permission | None = None) -> Callable[[View[P, R]], View[P, R | Response]]:
    """A view for signed-in staff (with ``permission``, if given; 403 without it). Someone not signed
    in goes to the sign-in page and comes back; a one-time password is changed first."""

    def deco(view: View[P, R]) -> View[P, R | Response]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | Response:
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

SIGN_IN = SignIn(
    pending_key="pending",
    next_key="next",
    session_key="sid",
    prefix="/admin",
    login_endpoint="admin.login",
    enrol_endpoint="admin.enrol",
    code_endpoint="admin.code",
    home_endpoint="admin.dashboard",
    login_template="admin/login.html",
    code_template="admin/code.html",
    start_enrolment=staff_auth.start_enrolment,
    complete_sign_in=staff_auth.complete_sign_in,
    next_on_get=False,
    code_error_status=401,
)


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if g.get("actor") is not None:
        return redirect(url_for("admin.dashboard"))
    form = LoginForm()

    def check() -> tuple[int, bool]:
        checked = staff_auth.check_password_step(service_context(), form.username.data or "", form.password.data or "")
        return checked.user_id, checked.needs_enrolment

    return SIGN_IN.password_page(form, check)


@bp.route("/login/enrol", methods=["GET", "POST"])
def enrol() -> ResponseReturnValue:
    """First sign-in: scan the QR code with an authenticator app, then give a code."""
    return SIGN_IN.code_page(enrol=True)


@bp.route("/login/code", methods=["GET", "POST"])
def code() -> ResponseReturnValue:
    return SIGN_IN.code_page(enrol=False)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    staff_auth.sign_out(service_context(), g.get("actor"), session.get("sid"))
    fresh_cookie()
    flash(_("You have signed out."), "info")
    return redirect(url_for("admin.login"))


@bp.route("/password", methods=["GET", "POST"])
@staff_required()
def password() -> ResponseReturnValue:
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
            error, status = i18n.error_text(exc), exc.http_status
        else:
            flash(_("Your password was changed."), "info")
            return redirect(url_for("admin.dashboard"))
    elif request.method == "POST":
        status = 400
    return render_template("admin/password.html", form=form, error=error, forced=g.get("must_change_password")), status


@bp.post("/language/<lang>")
def language(lang: str) -> ResponseReturnValue:
    """The language switcher: remembered in the session, and saved for a signed-in user."""
    form = EmptyForm()
    if not form.validate_on_submit() or lang not in ("zh", "en"):
        abort(400)
    session["lang"] = lang
    if g.get("actor") is not None:
        staff_auth.set_language(service_context(), g.actor, lang)
    return redirect(safe_next(request.form.get("next")) or url_for("admin.login"))
