"""Admin portal forms (WTForms through Flask-WTF: every form carries a CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])


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
    """Buttons that change something (sign out, language) still need a CSRF token."""


class RevokeForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[Length(max=40)])  # required: checked in the view, with a message
    note = StringField(_l("Note"), validators=[Length(max=500)])
    confirm = StringField(_l("Type the seal code to confirm"), validators=[DataRequired(), Length(max=64)])


class NoteForm(FlaskForm):
    note = StringField(_l("Note"), validators=[Length(max=500)])
    confirm = StringField(_l("Type the seal code to confirm"), validators=[DataRequired(), Length(max=64)])


class ReasonForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=500)])
