"""Forms of the staff sign-in, the seal actions and the application steps (WTForms through
Flask-WTF: every form carries a CSRF token). The code, password-change and empty forms are the
shared ones of :mod:`registry.web.forms`, importable from here too."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from ..forms import CodeForm, EmptyForm, PasswordChangeForm

__all__ = ["LoginForm", "RevokeForm", "NoteForm", "ReasonForm", "CodeForm", "EmptyForm", "PasswordChangeForm"]


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])


class RevokeForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[Length(max=40)])  # required: checked in the view, with a message
    note = StringField(_l("Note"), validators=[Length(max=500)])
    confirm = StringField(_l("Type the seal code to confirm"), validators=[DataRequired(), Length(max=64)])


class NoteForm(FlaskForm):
    note = StringField(_l("Note"), validators=[Length(max=500)])
    confirm = StringField(_l("Type the seal code to confirm"), validators=[DataRequired(), Length(max=64)])


class ReasonForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=500)])
