"""The enterprise portal (/portal): sign in with the electronic business licence, apply, follow.

An enterprise sees only its own applications and seals: every lookup is by (enterprise, id), and
anything else is a 404, whatever id is typed into a URL.
"""
# messages: not yet converted (tests/test_messages.py)
from __future__ import annotations

import datetime as dt
from functools import wraps
from pathlib import Path
from typing import Any, Callable

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from ...domain.errors import DomainError
from ...domain.seal_types import SealType
from ...services import applications, elicence, portal_data
from ...services.context import Actor
from ...services.portal_access import Principal
from .. import service_context

# The portal's own script and styles (CSP: script-src 'self', so no inline script): /portal/static/...
STATIC = Path(__file__).resolve().parents[3] / "static" / "portal"
bp = Blueprint("portal", __name__, url_prefix="/portal", static_folder=str(STATIC), static_url_path="/static")

_CHALLENGE_SECONDS = 300


class CredentialForm(FlaskForm):
    credential = TextAreaField(_l("E-licence credential"), validators=[DataRequired(), Length(max=8192)])


class EmptyForm(FlaskForm):
    pass


def _now() -> dt.datetime:
    return service_context().clock.now()


@bp.before_app_request
def load_enterprise() -> None:
    g.enterprise = None
    g.principal = None
    ent = session.get("enterprise")
    if not ent:
        return
    seen = session.get("ent_seen")
    ctx = service_context()
    if seen and (_now() - dt.datetime.fromisoformat(seen)).total_seconds() > ctx.settings.session_idle_minutes * 60:
        session.pop("enterprise", None)
        return
    principal = Principal.from_session(ent)
    if principal.person_id is not None:
        # an authorised person: deactivated, second factor reset or licence no longer active → signed out
        from ...services import enterprise_people

        found = enterprise_people.principal_for(ctx, principal.person_id)
        if found is None or found[0].enterprise_id != principal.enterprise_id:
            session.pop("enterprise", None)
            return
        principal, g.person_must_change_password = found
        ent = principal.as_session()
    g.enterprise = ent
    g.principal = principal
    session["ent_seen"] = _now().isoformat()


def _password_first() -> Any:
    """An authorised person with a one-time password chooses their own before anything else."""
    if g.get("person_must_change_password") and request.endpoint not in ("portal.person_password", "portal.logout"):
        return redirect(url_for("portal.person_password"))
    return None


def enterprise_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if g.get("enterprise") is None:
            return redirect(url_for("portal.login"))
        return _password_first() or view(*args, **kwargs)
    return wrapper


def _actor() -> Actor:
    principal: Principal = g.principal
    return principal.actor


def legal_representative_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Views only the legal representative may use (applying, authorising people): 403 for others."""
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if g.get("enterprise") is None:
            return redirect(url_for("portal.login"))
        if not g.principal.is_legal_representative:
            return _password_first() or abort(403)
        return view(*args, **kwargs)
    return wrapper


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Show a fresh challenge; accept the credential the e-licence app made for it."""
    form = CredentialForm()
    error, status = None, 200
    challenge, issued = session.get("ent_challenge"), session.get("ent_challenge_at")
    if form.validate_on_submit():
        fresh = issued and (_now() - dt.datetime.fromisoformat(issued)).total_seconds() <= _CHALLENGE_SECONDS
        try:
            if not challenge or not fresh:
                raise elicence.CredentialRejected(_("The code on this page has expired; a new one is shown."))
            who = elicence.LocalIssuerVerifier(service_context()).verify(form.credential.data or "",
                                                                        challenge=challenge, now=_now())
        except DomainError as exc:
            error, status = str(exc), exc.http_status
        else:
            lang = session.get("lang")
            session.clear()  # a new session, and the challenge is used up
            if lang:
                session["lang"] = lang
            session["enterprise"] = Principal(enterprise_id=who.enterprise_id, uscc=who.uscc, enterprise_name=who.name,
                                              person=who.legal_representative).as_session()
            session["ent_seen"] = _now().isoformat()
            return redirect(url_for("portal.home"))
    elif request.method == "POST":
        status = 400
    if request.method == "GET" or status != 200 or not challenge:
        challenge = elicence.new_challenge()
        session["ent_challenge"], session["ent_challenge_at"] = challenge, _now().isoformat()
    import segno

    qr = segno.make(f"elicence:challenge:{challenge}", error="m").png_data_uri(scale=4, border=2)
    return render_template("portal/login.html", form=form, challenge=challenge, qr=qr, error=error), status


@bp.post("/logout")
def logout() -> Any:
    if not EmptyForm().validate_on_submit():
        abort(400)
    session.pop("enterprise", None)
    flash(_("You have signed out."), "info")
    return redirect(url_for("portal.login"))


@bp.get("/")
@enterprise_required
def home() -> Any:
    data = portal_data.overview(service_context(), g.principal)
    return render_template("portal/home.html", d=data, seal_types={t.code: t for t in SealType},
                           form=EmptyForm())


@bp.get("/applications/<int:app_id>")
@legal_representative_required
def application(app_id: int) -> Any:
    a = portal_data.application(service_context(), g.enterprise["id"], app_id)
    return render_template("portal/application.html", a=a, form=EmptyForm())


@bp.post("/applications/<int:app_id>/withdraw")
@legal_representative_required
def withdraw(app_id: int) -> Any:
    if not EmptyForm().validate_on_submit():
        abort(400)
    portal_data.application(service_context(), g.enterprise["id"], app_id)  # 404 if not ours
    applications.withdraw(service_context(), _actor(), app_id, g.enterprise["id"])
    flash(_("The application was withdrawn."), "info")
    return redirect(url_for("portal.application", app_id=app_id))


from . import people_views  # noqa: E402,F401  (authorised persons and their sign-in register on bp)
from . import seal_views  # noqa: E402,F401  (seal pages, applying, renewal, loss and cancellation on bp)
