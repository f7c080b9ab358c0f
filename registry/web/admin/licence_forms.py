"""Forms of the licence pages: the import upload and the confirmation of a licence change
(Flask-WTF: each carries a CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import StringField
from wtforms.validators import DataRequired, Length


class LicenceImportForm(FlaskForm):
    file = FileField(
        _l("Licence file (CSV or JSON Lines)"),
        validators=[FileRequired(message=_l("Choose a licence file to upload."))],
    )


class LicenceStatusForm(FlaskForm):
    """The confirmation step of a licence change: the change as previewed (hidden), the seals the
    preview showed, and the USCC typed by hand. The service checks the values themselves."""

    status = StringField(validators=[DataRequired(), Length(max=20)])
    name = StringField(validators=[Length(max=400)])
    legal_representative = StringField(validators=[Length(max=400)])
    entity_type = StringField(validators=[Length(max=400)])
    seals = StringField(validators=[Length(max=200_000)])  # esIDs, space-separated
    confirm = StringField(_l("Type the USCC to confirm"), validators=[DataRequired(), Length(max=64)])
