"""Forms both portals use (WTForms through Flask-WTF: every form carries a CSRF token): the
second-factor code, a password change, the empty form of a button, and :func:`choice`."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

__all__ = ["choice", "CodeForm", "PasswordChangeForm", "EmptyForm"]

try:  # WTForms 3.3 deprecates (value, label) tuples
    from wtforms.fields.choices import SelectChoice
except ImportError:  # pragma: no cover - WTForms 3.1, 3.2
    SelectChoice = None


def choice(value: str, label: Any) -> Any:
    """One option of a select field, as the installed WTForms wants it."""
    return SelectChoice(value, label) if SelectChoice is not None else (value, label)


class CodeForm(FlaskForm):
    code = StringField(
        _l("6-digit code"),
        validators=[DataRequired(), Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message=_l("Enter the 6 digits"))],
    )


class PasswordChangeForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=256)])
    confirm = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("new", message=_l("The two new passwords differ."))],
    )


class EmptyForm(FlaskForm):
    """Buttons that change something (sign out, language, an action on a row) still need a CSRF token."""
