"""What every web module takes from the application: the service context it was built with, and a
refused request's JSON body. A module of its own, so that the pages need not import the package that
builds the app (and the app the pages)."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app

from ..messages import Localized
from ..services.context import ServiceContext


def service_context(app: Flask | None = None) -> ServiceContext:
    ctx: ServiceContext = (app or current_app).extensions["registry"]
    return ctx


def json_error(exc: BaseException) -> dict[str, Any]:
    """A refused request in JSON: the error class, the message's code, English and Chinese."""
    body: dict[str, Any] = {"error": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, Localized) and exc.code:
        body["code"] = exc.code
        body["message_zh"] = exc.text("zh")
    return body
