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

from flask import Flask, g, request, session
from flask_babel import Babel

TRANSLATIONS = Path(__file__).resolve().parents[1] / "translations"
LANGUAGES = ("zh", "en")
DEFAULT = "zh"


def compile_catalogs(root: Path = TRANSLATIONS) -> list[Path]:
    """Compile every ``messages.po`` whose ``.mo`` is missing or stale; returns those written."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

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


def init_app(app: Flask) -> None:
    try:
        compile_catalogs()
    except OSError:  # a read-only install: the set-up must have compiled them
        pass
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    Babel(app, locale_selector=select_locale)

    @app.context_processor
    def languages():  # type: ignore[no-untyped-def]
        from flask_babel import get_locale

        return {"current_language": str(get_locale() or DEFAULT), "languages": LANGUAGES}
