"""Messages people read, identified by a stable code, in Chinese and in English.

Every error a person can see — a refused form, a rejected credential, a verifier's reason, a row of a
licence file — is raised with a :class:`Message`: a code (``"csr.wrong_uscc"``), an English and a
Chinese template with the same ``{name}`` fields, and the values for them::

    raise ValidationError(M("csr.wrong_uscc",
                            "the certificate request names USCC {found}, not the applicant {expected}",
                            "证书请求中的统一社会信用代码为 {found}，不是申请企业的 {expected}"),
                          found=found, expected=uscc)

``str(error)`` is the English text (the command line, logs and the JSON API's ``message``); the web
layer renders ``error.text(lang)`` in the page's language, and the public pages, which speak both
languages side by side, show both. The translation is chosen by the message, never by matching the
English text of a formatted message, so rewording or a new value cannot silently lose it.

Values may themselves be bilingual: a :class:`Message` without fields, a localised error, anything
with a ``label(lang)`` method (the domain's enums: states, revocation reasons, seal types), or a list
of those (joined with "、" / ", "). Everything else is shown with ``str()``.

This module is the bottom layer: it imports nothing from ``registry``, so ``pki``, ``domain``,
``services`` and ``web`` all use it. ``tests/test_messages.py`` reads every ``M(...)`` in the source
and fails on a missing or empty translation, fields that differ between the two languages, one code
used for two different texts, or a localised error raised with a bare string.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

__all__ = ["LANGUAGES", "Message", "M", "Localized", "localize", "render", "text_of", "bilingual"]

LANGUAGES = ("zh", "en")
_FORMATTER = string.Formatter()


@dataclass(frozen=True)
class Message:
    """A message template: ``code`` identifies it, ``en`` and ``zh`` say it (``{name}`` fields)."""

    code: str
    en: str
    zh: str

    def fields(self, lang: str = "en") -> set[str]:
        template = self.zh if lang == "zh" else self.en
        return {name.split(".")[0].split("[")[0] for _lit, name, _spec, _conv in _FORMATTER.parse(template) if name}

    def format(self, lang: str = "en", /, **params: Any) -> str:
        return render(self, lang, params)

    def label(self, lang: str) -> str:
        """A message without fields is a bilingual label (so it can be a value of another)."""
        return self.zh if lang == "zh" else self.en

    def __str__(self) -> str:
        return self.en


def M(code: str, en: str, zh: str) -> Message:  # noqa: N802 - reads as a constructor at raise sites
    """A message (the source scan in ``tests/test_messages.py`` finds every call by this name)."""
    return Message(code, en, zh)


class Localized(Exception):
    """An exception whose text is a :class:`Message` with values.

    Also accepts a bare string for code not yet converted; ``tests/test_messages.py`` refuses any
    such raise in the source, so every user-visible error has its Chinese.
    """

    message: Message | None
    params: dict[str, Any]

    def __init__(self, message: Message | str = "", /, **params: Any) -> None:
        if isinstance(message, Message):
            self.message, self.params = message, params
            super().__init__(render(message, "en", params))
        else:
            self.message, self.params = None, params
            super().__init__(message)

    @property
    def code(self) -> str | None:
        return self.message.code if self.message is not None else None

    def text(self, lang: str) -> str:
        """The message in ``lang`` (``zh`` or ``en``)."""
        if self.message is None:
            return str(self)
        return render(self.message, lang, self.params)

    def label(self, lang: str) -> str:
        return self.text(lang)

    @classmethod
    def carrying(cls, error: BaseException, /) -> Localized:
        """An error of this class that says what ``error`` says (its coded message and values)."""
        if isinstance(error, Localized) and error.message is not None:
            return cls(error.message, **error.params)
        return cls(str(error))


def localize(value: Any, lang: str) -> str:
    """One value of a message, in ``lang``."""
    if isinstance(value, Localized):
        return value.text(lang)
    label = getattr(value, "label", None)
    if callable(label) and type(value) is not str:
        try:
            text = str(label(lang))
        except TypeError:
            pass
        else:
            # an enum's English label inside a sentence: "the licence is cancelled", not "... Cancelled"
            if lang == "en" and isinstance(value, Enum) and text[:1].isupper() and not text[1:2].isupper():
                text = text[:1].lower() + text[1:]
            return text
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return ("、" if lang == "zh" else ", ").join(localize(v, lang) for v in items)
    return str(value)


class _Values(dict):
    """Fields of a template: localised on use; a field with no value shows as ``{name}``."""

    def __init__(self, params: Mapping[str, Any], lang: str) -> None:
        super().__init__()
        self._params, self._lang = params, lang

    def __missing__(self, key: str) -> str:
        if key in self._params:
            value = self._params[key]
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return value  # type: ignore[return-value]  # keeps format specs such as {n:,}
            return localize(value, self._lang)
        return "{" + key + "}"


def render(message: Message, lang: str, params: Mapping[str, Any]) -> str:
    template = message.zh if lang == "zh" else message.en
    try:
        return template.format_map(_Values(params, lang))
    except (ValueError, IndexError, KeyError, AttributeError):  # a malformed template must not hide the error
        return template


def text_of(error: BaseException, lang: str) -> str:
    """What to show a person for ``error`` in ``lang``: its message if it has one, else ``str()``."""
    if isinstance(error, Localized):
        return error.text(lang)
    return str(error)


def bilingual(error: BaseException | Message, sep: str = " / ") -> str:
    """Chinese and English side by side, for the public pages (identical texts shown once)."""
    if isinstance(error, Message):
        zh, en = error.zh, error.en
    else:
        zh, en = text_of(error, "zh"), text_of(error, "en")
    return zh if zh == en else f"{zh}{sep}{en}"


def codes(messages: Iterable[Message]) -> dict[str, Message]:
    """Index messages by code (for tests and tooling)."""
    return {m.code: m for m in messages}
