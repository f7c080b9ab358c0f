"""Authorised persons in the enterprise portal: the legal representative manages them (and the
enterprise's contact address); they sign in with USCC + username + password, then a TOTP code.

Every lookup is by (enterprise, id): another enterprise's person is a 404. Only the legal
representative reaches the management pages (403 for an authorised person).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Regexp

from ...domain.errors import DomainError
from ...services import enterprise_people, person_sign_in
from ...services.portal_access import Principal
from .. import i18n
from ..context import service_context
from ..forms import EmptyForm, PasswordChangeForm, choice
from ..sign_in import SignIn
from .blueprint import SESSION_KEY, bp, enterprise_required, legal_representative_required


class PersonLoginForm(FlaskForm):
    uscc = StringField(_l("Unified social credit code"), validators=[DataRequired(), Length(min=18, max=18)])
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])


class PersonForm(FlaskForm):
    username = StringField(
        _l("Username"),
        validators=[
            DataRequired(),
            Length(min=2, max=64),
            Regexp(r"^[A-Za-z][A-Za-z0-9._-]+$", message=_l("Letters, digits and . _ - only, a letter first")),
        ],
    )
    display_name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    email = StringField(_l("E-mail"), validators=[Length(max=254)])


class GrantForm(FlaskForm):
    seal = SelectField(_l("Seal"), choices=[], validate_choice=False, validators=[DataRequired()])
    authority = SelectField(
        _l("Authority"),
        choices=[
            choice("hold", _l("Hold: see, download, report loss")),
            choice("manage", _l("Manage: also renew and cancel")),
        ],
    )


class WithdrawForm(FlaskForm):
    seal = StringField(validators=[DataRequired(), Length(max=64)])


class ContactForm(FlaskForm):
    email = StringField(_l("Contact e-mail for notices"), validators=[Length(max=254)])


def _principal() -> Principal:
    principal: Principal = g.principal
    return principal


class ConfirmForm(FlaskForm):
    """An irreversible action on a person: their username typed by hand."""

    confirm = StringField(_l("Type the username to confirm"), validators=[DataRequired(), Length(max=64)])


def _unconfirmed(pid: int) -> ResponseReturnValue | None:
    """None if the typed username matches the person's; else the person's page with the error."""
    form = ConfirmForm()
    p = enterprise_people.person(service_context(), _principal(), pid)  # 404 first if not ours
    if form.validate_on_submit() and (form.confirm.data or "").strip().lower() == p.username:
        return None
    if form.errors.get("csrf_token"):
        abort(400)
    return _person_page(pid, error=_("Type the username %(user)s to confirm.", user=p.username), status=400)


def _person_page(pid: int, *, error: str | None = None, status: int = 200) -> ResponseReturnValue:
    p = enterprise_people.person(service_context(), _principal(), pid)
    form = GrantForm()
    form.seal.choices = _grantable(_principal())
    return render_template(
        "portal/person.html", p=p, grant_form=form, form=EmptyForm(), confirm_form=ConfirmForm(), error=error
    ), status


# -- sign-in of an authorised person -------------------------------------------------------------------


SIGN_IN = SignIn(
    pending_key="person_pending",
    next_key="portal_next",
    session_key=SESSION_KEY,
    prefix="/portal",
    login_endpoint="portal.person_login",
    enrol_endpoint="portal.person_enrol",
    code_endpoint="portal.person_code",
    home_endpoint="portal.home",
    login_template="portal/person_login.html",
    code_template="portal/person_code.html",
    start_enrolment=person_sign_in.start_enrolment,
    complete_sign_in=person_sign_in.complete_sign_in,
    next_on_get=True,
    code_error_status=None,
)


@bp.route("/login/person", methods=["GET", "POST"])
def person_login() -> ResponseReturnValue:
    form = PersonLoginForm()

    def check() -> tuple[int, bool]:
        checked = person_sign_in.check_password_step(
            service_context(), form.uscc.data or "", form.username.data or "", form.password.data or ""
        )
        return checked.person_id, checked.needs_enrolment

    return SIGN_IN.password_page(form, check)


@bp.route("/login/person/enrol", methods=["GET", "POST"])
def person_enrol() -> ResponseReturnValue:
    return SIGN_IN.code_page(enrol=True)


@bp.route("/login/person/code", methods=["GET", "POST"])
def person_code() -> ResponseReturnValue:
    return SIGN_IN.code_page(enrol=False)


@bp.route("/password", methods=["GET", "POST"])
@enterprise_required
def person_password() -> ResponseReturnValue:
    if _principal().is_legal_representative:
        abort(404)  # the legal representative signs in with the e-licence: no password here
    form = PasswordChangeForm()
    error, status = None, 200
    if form.validate_on_submit():
        try:
            person_sign_in.change_password(
                service_context(),
                _principal(),
                form.current.data or "",
                form.new.data or "",
                keep_session=g.get("portal_session_key"),
            )
        except DomainError as exc:
            error, status = i18n.error_text(exc), exc.http_status
        else:
            flash(_("Your password was changed."), "info")
            return redirect(url_for("portal.home"))
    elif request.method == "POST":
        status = 400
    return render_template(
        "portal/person_password.html", form=form, error=error, forced=g.get("person_must_change_password")
    ), status


# -- the legal representative's pages ------------------------------------------------------------------


@bp.route("/people", methods=["GET", "POST"])
@legal_representative_required
def people() -> ResponseReturnValue:
    form = PersonForm()
    error, status = None, 200
    if form.validate_on_submit():
        try:
            pid, password = enterprise_people.create_person(
                service_context(),
                _principal(),
                form.username.data or "",
                form.display_name.data or "",
                form.email.data or "",
            )
        except DomainError as exc:
            error, status = i18n.error_text(exc), exc.http_status
        else:
            return render_template(
                "portal/person_created.html",
                pid=pid,
                username=(form.username.data or "").lower(),
                password=password,
                uscc=_principal().uscc,
            )
    elif request.method == "POST":
        status = 400
    rows = enterprise_people.list_people(service_context(), _principal())
    return render_template("portal/people.html", people=rows, form=form, error=error), status


def _grantable(principal: Principal) -> list[Any]:
    return [
        choice(es_id, f"{name} · {es_id}")
        for es_id, name in enterprise_people.grantable_seals(service_context(), principal)
    ]


@bp.get("/people/<int:pid>")
@legal_representative_required
def person(pid: int) -> ResponseReturnValue:
    return _person_page(pid)


def _person_action(pid: int, action: Callable[[], object], done: str) -> ResponseReturnValue:
    """Run one management action: a flash and back to the person, or the page with the error."""
    try:
        result = action()
    except DomainError as exc:
        return _person_page(pid, error=i18n.error_text(exc), status=exc.http_status)
    if isinstance(result, str):  # a new one-time password
        p = enterprise_people.person(service_context(), _principal(), pid)
        return render_template(
            "portal/person_created.html",
            pid=pid,
            username=p.username,
            password=result,
            uscc=_principal().uscc,
            reset=True,
        )
    flash(done, "info")
    return redirect(url_for("portal.person", pid=pid))


@bp.post("/people/<int:pid>/grant")
@legal_representative_required
def person_grant(pid: int) -> ResponseReturnValue:
    form = GrantForm()
    form.seal.choices = _grantable(_principal())
    if not form.validate_on_submit():
        abort(400)
    return _person_action(
        pid,
        lambda: enterprise_people.grant(
            service_context(), _principal(), pid, form.seal.data or "", form.authority.data or ""
        ),
        _("The authority was granted."),
    )


@bp.post("/people/<int:pid>/withdraw")
@legal_representative_required
def person_withdraw(pid: int) -> ResponseReturnValue:
    form = WithdrawForm()
    if not form.validate_on_submit():
        abort(400)
    return _person_action(
        pid,
        lambda: enterprise_people.withdraw(service_context(), _principal(), pid, form.seal.data or ""),
        _("The authority was withdrawn."),
    )


@bp.post("/people/<int:pid>/<any(deactivate, reactivate):what>")
@legal_representative_required
def person_active(pid: int, what: str) -> ResponseReturnValue:
    if what == "deactivate":
        if (refused := _unconfirmed(pid)) is not None:
            return refused
    elif not EmptyForm().validate_on_submit():
        abort(400)
    return _person_action(
        pid,
        lambda: enterprise_people.set_active(service_context(), _principal(), pid, what == "reactivate"),
        _("The account was reactivated.") if what == "reactivate" else _("The account was deactivated."),
    )


@bp.post("/people/<int:pid>/reset-password")
@legal_representative_required
def person_reset_password(pid: int) -> ResponseReturnValue:
    if (refused := _unconfirmed(pid)) is not None:
        return refused
    return _person_action(pid, lambda: enterprise_people.reset_password(service_context(), _principal(), pid), "")


@bp.post("/people/<int:pid>/reset-second-factor")
@legal_representative_required
def person_reset_totp(pid: int) -> ResponseReturnValue:
    if (refused := _unconfirmed(pid)) is not None:
        return refused
    return _person_action(
        pid,
        lambda: enterprise_people.reset_second_factor(service_context(), _principal(), pid),
        _("The second factor was reset: the person enrols a new authenticator at the next sign-in."),
    )


@bp.route("/settings", methods=["GET", "POST"])
@legal_representative_required
def settings() -> ResponseReturnValue:
    ctx = service_context()
    form = ContactForm()
    error, status = None, 200
    if form.validate_on_submit():
        try:
            enterprise_people.set_contact_email(ctx, _principal(), form.email.data or "")
        except DomainError as exc:
            error, status = i18n.error_text(exc), exc.http_status
        else:
            flash(_("The contact address was saved."), "info")
            return redirect(url_for("portal.settings"))
    elif request.method == "POST":
        status = 400
    else:
        form.email.data = enterprise_people.contact_email(ctx, _principal())
    return render_template("portal/settings.html", form=form, error=error), status
