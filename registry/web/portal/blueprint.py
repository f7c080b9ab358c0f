"""The enterprise portal (/portal): sign in with the electronic business licence, apply, follow.

An enterprise sees only its own applications and seals: every lookup is by (enterprise, id), and
anything else is a 404, whatever id is typed into a URL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from ...domain.errors import DomainError
from ...domain.seal_types import SealType
from ...services import applications, elicence, portal_sign_in, seal_records, web_sessions
from ...services.context import Actor
from ...services.portal_access import Principal
from .. import i18n
from ..context import service_context
from ..forms import EmptyForm
from ..security import fresh_cookie, local_path, safe_next
from ..sign_in import qr_data_uri

# The portal's own script and styles (CSP: script-src 'self', so no inline script): /portal/static/...
STATIC = Path(__file__).resolve().parents[3] / "static" / "portal"
bp = Blueprint("portal", __name__, url_prefix="/portal", static_folder=str(STATIC), static_url_path="/static")

_CHALLENGE_SECONDS = 300


class CredentialForm(FlaskForm):
    credential = TextAreaField(_l("E-licence credential"), validators=[DataRequired(), Length(max=8192)])


def _now() -> dt.datetime:
    return service_context().clock.now()


_ENDED = {
    web_sessions.IDLE: lambda: _(
        "You were signed out after %(minutes)d minutes without activity. Sign in again to continue where you were.",
        minutes=service_context().settings.session_idle_minutes,
    ),
    web_sessions.EXPIRED: lambda: _(
        "You were signed out %(hours)d hours after signing in. Sign in again to continue.",
        hours=service_context().settings.session_max_hours,
    ),
    web_sessions.ACCOUNT_CHANGED: lambda: _(
        "You were signed out: your account was deactivated, or its password or second factor was reset."
    ),
    web_sessions.REPRESENTATIVE_CHANGED: lambda: _(
        "You were signed out: the licence now names another legal "
        "representative. The new legal representative signs in with the "
        "e-licence."
    ),
    web_sessions.LICENCE_INACTIVE: lambda: _("You were signed out: the enterprise's licence is no longer active."),
    web_sessions.SIGNED_OUT: lambda: _("This session was signed out. Please sign in again."),
}

SESSION_KEY = "portal_sid"


def ended_message(reason: str) -> str:
    make = _ENDED.get(reason)
    return make() if make else _("You were signed out. Please sign in again.")


# On every request of the app, not only the portal's: any page opened keeps the session from going
# idle, and the error page of a /portal URL that matches no view (no blueprint) still knows who is
# signed in (its "back to our seals" link).
@bp.before_app_request
def load_enterprise() -> None:
    """The portal's principal for every request, from the server-side session, re-checked against
    the licence (legal representative) or the account (authorised person) every time."""
    g.enterprise = None
    g.principal = None
    token = session.get(SESSION_KEY)
    if not token:
        return
    found = portal_sign_in.signed_in(service_context(), token)
    if not isinstance(found, portal_sign_in.PortalSession):
        session.pop(SESSION_KEY, None)
        if isinstance(found, str) and request.blueprint == "portal":
            flash(ended_message(found), "info")
        return
    g.principal = found.principal
    g.enterprise = found.principal.as_session()
    g.person_must_change_password = found.must_change_password
    g.portal_session_key = found.key


def start_portal_session(token: str) -> None:
    """The signed-in cookie: a new one, keeping the language and where sign-in should lead."""
    fresh_cookie("portal_next")
    session.permanent = True
    session[SESSION_KEY] = token


def to_sign_in(person: bool = False) -> ResponseReturnValue:
    """To the sign-in page, coming back to this page afterwards (a POST comes back to its form's page)."""
    target = safe_next(
        (local_path(request.full_path if request.method == "GET" else request.referrer) or "").rstrip("?"), "/portal"
    )
    if target in ("/portal/", "/portal"):
        target = None  # the home page is where sign-in leads anyway
    return redirect(url_for("portal.person_login" if person else "portal.login", next=target))


def after_sign_in() -> ResponseReturnValue:
    target = safe_next(session.pop("portal_next", None), "/portal")
    return redirect(target or url_for("portal.home"))


def _password_first() -> ResponseReturnValue | None:
    """An authorised person with a one-time password chooses their own before anything else."""
    if g.get("person_must_change_password") and request.endpoint not in ("portal.person_password", "portal.logout"):
        return redirect(url_for("portal.person_password"))
    return None


def enterprise_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if g.get("enterprise") is None:
            return to_sign_in()
        return _password_first() or view(*args, **kwargs)

    return wrapper


def _actor() -> Actor:
    principal: Principal = g.principal
    return principal.actor


def legal_representative_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Views only the legal representative may use (applying, authorising people): 403 for others."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if g.get("enterprise") is None:
            return to_sign_in()
        if not g.principal.is_legal_representative:
            return _password_first() or abort(403)
        return view(*args, **kwargs)

    return wrapper


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Show a fresh challenge; accept the credential the e-licence app made for it (once)."""
    if request.method == "GET" and (target := safe_next(request.args.get("next"), "/portal")):
        session["portal_next"] = target
    form = CredentialForm()
    error, status = None, 200
    challenge, issued = session.get("ent_challenge"), session.get("ent_challenge_at")
    if form.validate_on_submit():
        fresh = False
        if issued:
            try:
                fresh = (_now() - dt.datetime.fromisoformat(issued)).total_seconds() <= _CHALLENGE_SECONDS
            except (TypeError, ValueError):
                fresh = False
        try:
            if not challenge or not fresh:
                raise elicence.CredentialRejected(elicence.CHALLENGE_EXPIRED)
            ctx = service_context()
            who = elicence.LocalIssuerVerifier(ctx).verify(form.credential.data or "", challenge=challenge, now=_now())
            token = portal_sign_in.representative_sign_in(ctx, who, challenge)
        except DomainError as exc:
            error, status = i18n.error_text(exc), exc.http_status
        else:
            start_portal_session(token)  # a new cookie: the challenge is gone with the old one
            return after_sign_in()
    elif request.method == "POST":
        status = 400
    if request.method == "GET" or status != 200 or not challenge:
        challenge = elicence.new_challenge()
        session["ent_challenge"], session["ent_challenge_at"] = challenge, _now().isoformat()
    qr = qr_data_uri(f"elicence:challenge:{challenge}", 4)
    return render_template("portal/login.html", form=form, challenge=challenge, qr=qr, error=error), status


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    if not EmptyForm().validate_on_submit():
        abort(400)
    portal_sign_in.sign_out(service_context(), g.get("principal"), session.get(SESSION_KEY))
    fresh_cookie()
    flash(_("You have signed out."), "info")
    return redirect(url_for("portal.login"))


@bp.get("/")
@enterprise_required
def home() -> ResponseReturnValue:
    data = seal_records.enterprise_overview(service_context(), g.principal)
    return render_template("portal/home.html", d=data, seal_types={t.code: t for t in SealType}, form=EmptyForm())


@bp.get("/applications/<int:app_id>")
@legal_representative_required
def application(app_id: int) -> ResponseReturnValue:
    a = applications.enterprise_application(service_context(), g.enterprise["id"], app_id)
    return render_template("portal/application.html", a=a, form=EmptyForm())


@bp.post("/applications/<int:app_id>/withdraw")
@legal_representative_required
def withdraw(app_id: int) -> ResponseReturnValue:
    if not EmptyForm().validate_on_submit():
        abort(400)
    applications.enterprise_application(service_context(), g.enterprise["id"], app_id)  # 404 if not ours
    applications.withdraw(service_context(), _actor(), app_id, g.enterprise["id"])
    flash(_("The application was withdrawn."), "info")
    return redirect(url_for("portal.application", app_id=app_id))
