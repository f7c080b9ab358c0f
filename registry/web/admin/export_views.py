"""CSV exports of the back office's lists (registry.services.exports) and the seal picture of the
admin seal page. Each export honours its list's filters (the same query parameters; paging ones are
ignored), is checked like its list and streamed; a refused filter shows the list with its error."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Response, g, request, url_for
from flask.typing import ResponseReturnValue

from ...domain.errors import ValidationError
from ...domain.roles import Permission
from ...services import audit_log, exports, seal_records
from ...services.context import Actor
from .. import i18n
from ..context import service_context
from .application_views import application_list
from .audit_views import FILTER_FIELDS, page_query
from .audit_views import audit_log as audit_page
from .blueprint import bp, staff_required
from .enterprise_views import enterprise_list
from .seal_views import seal_list

PAGING = ("after", "after_at", "after_id", "after_name")
PICTURE_TYPES = {"PNG": "image/png", "JPG": "image/jpeg", "GIF": "image/gif", "BMP": "image/bmp"}


@bp.app_template_global()
def export_url(endpoint: str) -> str:
    """The CSV export of the list on this page, with the page's filters."""
    filters: dict[str, Any] = {k: v for k, v in request.args.items() if k not in PAGING and v}
    return url_for(endpoint, **filters)


def _csv(name: str, chunks: Iterable[str]) -> Response:
    filename = exports.filename(name, service_context().clock.now())
    return Response(
        chunks,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@bp.get("/seals.csv")
@staff_required(Permission.SEAL_VIEW)
def seal_export() -> ResponseReturnValue:
    try:
        chunks = exports.seals(service_context(), _actor(), request.args.get("q", ""), lang=i18n.current())
    except ValidationError:
        return seal_list()  # the list, with the same filter's error
    return _csv("seals", chunks)


@bp.get("/applications.csv")
@staff_required(Permission.SEAL_VIEW)
def application_export() -> ResponseReturnValue:
    try:
        chunks = exports.applications_csv(
            service_context(),
            _actor(),
            state=request.args.get("state", "open"),
            query=request.args.get("q", ""),
            oldest_first=request.args.get("sort", "oldest") != "newest",
            lang=i18n.current(),
        )
    except ValidationError:
        return application_list()
    return _csv("applications", chunks)


@bp.get("/enterprises.csv")
@staff_required(Permission.SEAL_VIEW)
def enterprise_export() -> ResponseReturnValue:
    try:
        chunks = exports.enterprises(
            service_context(),
            _actor(),
            request.args.get("q", ""),
            status=request.args.get("status"),
            lang=i18n.current(),
        )
    except ValidationError:
        return enterprise_list()
    return _csv("enterprises", chunks)


@bp.get("/audit.csv")
@staff_required(Permission.AUDIT_VIEW)
def audit_export() -> ResponseReturnValue:
    try:
        filt = audit_log.parse_filter(**{FILTER_FIELDS[k]: v for k, v in page_query().items()})
        chunks = exports.audit_events(service_context(), _actor(), filt, lang=i18n.current())
    except ValidationError:
        return audit_page()
    return _csv("audit", chunks)


@bp.get("/seals/<code>/picture")
@staff_required(Permission.SEAL_VIEW)
def seal_picture(code: str) -> Response:
    """The picture inside the seal's SESeal (what a verifier sees), for the seal page."""
    kind, data = seal_records.picture(service_context(), _actor(), code)
    mime = PICTURE_TYPES.get(kind)
    if mime is None:  # SVG or OFD pictures are not shown inline (the .esl carries them)
        return Response(status=404)
    return Response(data, mimetype=mime, headers={"Cache-Control": "private, max-age=300"})


def _actor() -> Actor:
    actor: Actor = g.actor
    return actor
