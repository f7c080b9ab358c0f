"""Forms of the staff account pages: a new account, its roles (one checkbox each), and the
confirmation of a new one-time password (Flask-WTF: each carries a CSRF token)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, StopValidation
from wtforms.widgets import CheckboxInput, ListWidget

from ...domain.roles import Role
from ..forms import choice

ROLE_LABELS = {
    Role.OPERATOR: _l("Operator (经办): applications, licence checks, issuing"),
    Role.REVIEWER: _l("Reviewer (审核): approval, revocation"),
    Role.ADMIN: _l("Admin: staff accounts, CAs and CRLs"),
    Role.AUDITOR: _l("Auditor: read-only, the audit log and its integrity check"),
}


class RoleBoxes(SelectMultipleField):
    """One checkbox per role."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _at_least_one_role(_form: Any, field: Any) -> None:
    """Checked on the server: an HTML ``required`` on each checkbox (what DataRequired renders)
    would make the browser demand every box ticked."""
    if not field.data:
        raise StopValidation(_l("Choose at least one role."))


def _role_field() -> RoleBoxes:
    return RoleBoxes(
        _l("Roles"),
        choices=[choice(r.value, label) for r, label in ROLE_LABELS.items()],
        validators=[_at_least_one_role],
    )


class UserCreateForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    display_name = StringField(_l("Display name"), validators=[Length(max=100)])
    roles = _role_field()


class RolesForm(FlaskForm):
    roles = _role_field()


class ConfirmUserForm(FlaskForm):
    """An action on another account that cannot be undone from this page: the box ticked."""

    confirm = BooleanField(_l("Yes, give this account a new one-time password"), validators=[DataRequired()])
