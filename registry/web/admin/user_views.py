"""Staff accounts (Permission.USER_MANAGE, the admin role): list, create with a one-time password,
roles, deactivate / reactivate, reset the second factor. Each action is one service call, checked
and audited there."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from ...domain.errors import DomainError
from ...domain.roles import Permission, Role
from ...services import staff_auth, users
from .. import i18n
from ..context import service_context
from ..forms import EmptyForm
from .blueprint import bp, staff_required
from .user_forms import ConfirmUserForm, RolesForm, UserCreateForm


def _roles(form: Any) -> list[Role]:
    return [Role.parse(r) for r in form.roles.data or []]


@bp.route("/users", methods=["GET", "POST"])
@staff_required(Permission.USER_MANAGE)
def user_list() -> ResponseReturnValue:
    """The list (keyset pages by username); a POST creates an account and shows its one-time
    password on the answer to that POST only: it is not stored, and no page shows it again."""
    ctx = service_context()
    form = UserCreateForm()
    error, status = None, 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                user, password = users.add_user(
                    ctx, g.actor, form.username.data or "", _roles(form), (form.display_name.data or "").strip()
                )
            except DomainError as exc:
                error, status = i18n.error_text(exc), exc.http_status
            else:
                return render_template(
                    "admin/user_created.html", user=user, password=password
                )  # no-store: web.security
        else:
            if form.errors.get("csrf_token"):
                abort(400)
            status = 400
    page = users.list_users(ctx, g.actor, after=request.args.get("after") or None)
    return render_template(
        "admin/users.html", page=page, form=form, error=error, open_form=request.method == "POST"
    ), status


def _detail(
    username: str, *, error: str | None = None, status: int = 200, form: RolesForm | None = None
) -> ResponseReturnValue:
    u = users.get_user(service_context(), g.actor, username)
    if form is None:
        form = RolesForm(formdata=None, data={"roles": list(u.roles)})
    return render_template(
        "admin/user.html", u=u, form=form, action_form=EmptyForm(), reset_form=ConfirmUserForm(), error=error
    ), status


@bp.route("/users/<username>", methods=["GET", "POST"])
@staff_required(Permission.USER_MANAGE)
def user_detail(username: str) -> ResponseReturnValue:
    """The account; a POST replaces its roles."""
    if request.method == "GET":
        return _detail(username)
    form = RolesForm()
    if not form.validate_on_submit():
        if form.errors.get("csrf_token"):
            abort(400)
        return _detail(username, status=400, form=form)
    try:
        users.set_roles(service_context(), g.actor, username, _roles(form))
    except DomainError as exc:
        return _detail(username, error=i18n.error_text(exc), status=exc.http_status, form=form)
    flash(_("The roles of %(user)s were saved; they apply from the next page the user opens.", user=username), "info")
    return redirect(url_for("admin.user_detail", username=username))


@bp.post("/users/<username>/<any(deactivate, reactivate):action>")
@staff_required(Permission.USER_MANAGE)
def user_active(username: str, action: str) -> ResponseReturnValue:
    if not EmptyForm().validate_on_submit():
        abort(400)
    fn = users.deactivate_user if action == "deactivate" else users.reactivate_user
    try:
        fn(service_context(), g.actor, username)
    except DomainError as exc:
        return _detail(username, error=i18n.error_text(exc), status=exc.http_status)
    flash(
        _("%(user)s was deactivated and is signed out.", user=username)
        if action == "deactivate"
        else _("%(user)s can sign in again.", user=username),
        "info",
    )
    return redirect(url_for("admin.user_detail", username=username))


@bp.post("/users/<username>/reset-second-factor")
@staff_required(Permission.USER_MANAGE)
def user_reset_totp(username: str) -> ResponseReturnValue:
    if not EmptyForm().validate_on_submit():
        abort(400)
    staff_auth.reset_second_factor(service_context(), g.actor, username)
    flash(
        _(
            "The second factor of %(user)s was reset: they enrol a new authenticator at their next sign-in.",
            user=username,
        ),
        "info",
    )
    return redirect(url_for("admin.user_detail", username=username))


@bp.post("/users/<username>/reset-password")
@staff_required(Permission.USER_MANAGE)
def user_reset_password(username: str) -> ResponseReturnValue:
    """A new one-time password for a forgotten one, shown once on the answer to this POST."""
    form = ConfirmUserForm()
    if not form.validate_on_submit():
        if form.errors.get("csrf_token"):
            abort(400)
        return _detail(username, error=_("Tick the box to confirm the new one-time password."), status=400)
    try:
        password = users.reset_password(service_context(), g.actor, username)
    except DomainError as exc:
        return _detail(username, error=i18n.error_text(exc), status=exc.http_status)
    u = users.get_user(service_context(), g.actor, username)
    return render_template("admin/user_created.html", user=u, password=password, reset=True)
