"""Languages: Simplified Chinese by default, English on request.

The choice, in order: the language picked with the switcher (kept in the session), the signed-in
user's saved setting, the browser's ``Accept-Language``, then Chinese. Strings in templates and
views are English message ids marked with ``_()``; the Chinese catalog
(``registry/translations/zh/LC_MESSAGES/messages.po``) is kept in the repository and compiled to
``.mo`` by the project's set-up (``scripts/_venv.sh`` → :func:`compile_catalogs`), and again here at
start-up when a ``.mo`` is missing or older than its ``.po``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, current_app, g, request, session
from flask_babel import Babel, get_locale
from markupsafe import Markup, escape

from .. import messages
from ..domain import display_time, labels

TRANSLATIONS = Path(__file__).resolve().parents[1] / "translations"
LANGUAGES = ("zh", "en")
DEFAULT = "zh"


def compile_catalogs(root: Path = TRANSLATIONS) -> list[Path]:
    """Compile every ``messages.po`` whose ``.mo`` is missing or stale; returns those written."""
    written = []
    for po in sorted(root.glob("*/LC_MESSAGES/messages.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=po.parts[-3])
        tmp = mo.with_suffix(".mo.tmp")
        with tmp.open("wb") as fh:
            write_mo(fh, catalog, use_fuzzy=False)
        tmp.replace(mo)
        written.append(mo)
    return written


def select_locale() -> str:
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return str(chosen)
    user_lang = getattr(g, "user_language", None)
    if user_lang in LANGUAGES:
        return str(user_lang)
    return request.accept_languages.best_match(LANGUAGES, default=DEFAULT) or DEFAULT


def current() -> str:
    """The language of the page being rendered (``zh`` or ``en``)."""
    try:
        locale = get_locale()
    except (RuntimeError, KeyError):  # outside a request
        return DEFAULT
    lang = str(locale or DEFAULT).split("_")[0]
    return lang if lang in LANGUAGES else DEFAULT


def error_text(error: BaseException | messages.Message | str | None) -> str:
    """What a person reads for ``error`` on this page: a coded message in the page's language."""
    if error is None:
        return ""
    if isinstance(error, str):
        return error
    if isinstance(error, messages.Message):
        return error.label(current())
    return messages.text_of(error, current())


def label(value: Any) -> str:
    """A bilingual value (an enum with ``label(lang)``, a message) in the page's language."""
    return messages.localize(value, current()) if value is not None else ""


def localtime(value: Any, fmt: str = "%Y-%m-%d %H:%M", label: bool = True) -> Any:
    """A stored UTC time shown in the display zone, labelled (北京时间), the UTC instant kept in the
    element's ``datetime`` and ``title``. ``label=False`` where a column heading names the zone."""
    utc = display_time.as_utc(value)
    if utc is None:
        return "" if value in (None, "") else value
    zone = current_app.extensions["registry"].settings.display_timezone
    text = display_time.format_local(utc, zone, current(), fmt, label=label)
    iso = utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    return Markup(f'<time datetime="{iso}" title="UTC {iso[:10]} {iso[11:19]}">{escape(text)}</time>')


def zone_label() -> str:
    return display_time.zone_label(current_app.extensions["registry"].settings.display_timezone, current())


def code_label(value: Any, kind: str) -> str:
    """A stored code's name in the page's language (registry/domain/labels.py), e.g.
    ``{{ e.action|code_label('audit_action') }}``; unknown codes as they are."""
    return labels.label(kind, value, current())


def reason_label(value: Any) -> str:
    """A revocation reason: its meaning with the RFC 5280 term beside it."""
    return labels.reason_label(value, current())


def audit_details(details: Any) -> list[tuple[str, str]]:
    """An audit event's details as readable (label, value) lines, times in the display zone."""
    zone, lang = current_app.extensions["registry"].settings.display_timezone, current()
    return labels.audit_details(details, lang, when=lambda v: display_time.format_local(v, zone, lang) or v)


def licence_changes(changes: Any) -> list[tuple[str, str, str]]:
    """A licence history entry as (field name, old, new) lines."""
    return labels.licence_changes(changes, current())


def init_app(app: Flask) -> None:
    try:
        compile_catalogs()
    except OSError:  # a read-only install: the set-up must have compiled them
        pass
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    Babel(app, locale_selector=select_locale)

    app.add_template_filter(error_text, "msg")
    app.add_template_filter(label, "label")
    app.add_template_global(messages.bilingual, "bilingual")
    app.add_template_filter(localtime, "localtime")
    app.add_template_global(zone_label, "zone_label")
    app.add_template_filter(code_label, "code_label")
    app.add_template_filter(reason_label, "reason_label")
    app.add_template_filter(audit_details, "audit_details")
    app.add_template_filter(licence_changes, "licence_changes")

    @app.context_processor
    def languages() -> dict[str, Any]:
        return {"current_language": str(get_locale() or DEFAULT), "languages": LANGUAGES}
