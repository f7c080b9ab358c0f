"""The notice centre in the enterprise portal (/portal/notices) and the unread badge in the portal's
header. Thin views over :mod:`registry.services.notices`, which decides (through
portal_access) who sees which notices and records what each reader has read."""

from __future__ import annotations

from typing import Any

from flask import g, render_template, request
from flask.typing import ResponseReturnValue

from ...domain.errors import M, ValidationError
from ...services import notices as notice_centre
from ..context import service_context
from .blueprint import bp, enterprise_required

_MAX_ID = 2**63 - 1  # (a larger number would overflow SQLite's integers)


def _refresh() -> None:
    """Notices of the audit events the e-mail job has not read yet: once per request."""
    if not g.get("_notices_refreshed"):
        g._notices_refreshed = True
        notice_centre.refresh(service_context())


@bp.app_context_processor
def notice_badge() -> dict[str, Any]:
    """``unread_notices()`` for the portal header: computed only when a page shows it, once."""

    def unread_notices() -> int:
        if g.get("principal") is None:
            return 0
        if "_unread_notices" not in g:
            if request.method == "GET":  # a refused form's page changes nothing, not even this
                _refresh()
            g._unread_notices = notice_centre.unread_count(service_context(), g.principal)
        return int(g._unread_notices)

    return {"unread_notices": unread_notices}


def _before() -> int | None:
    raw = request.args.get("before")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or not 0 < int(raw) <= _MAX_ID:
        raise ValidationError(
            M(
                "portal.notice_page_position",
                "the page position {value} is not a notice number",
                "页码位置 {value} 不是通知编号",
            ),
            value=repr(raw[:40]),
        )
    return int(raw)


@bp.get("/notices")
@enterprise_required
def notices() -> ResponseReturnValue:
    """The enterprise's notices (the person's: about their seals), newest first, 50 a page; opening
    the page marks what it shows as read."""
    before = _before()
    ctx = service_context()
    _refresh()
    data = notice_centre.page(ctx, g.principal, before)
    if data.items:
        notice_centre.mark_read(ctx, g.principal, data.items[0].id)
    g.pop("_unread_notices", None)
    return render_template("portal/notices.html", d=data, before=before)


@bp.get("/notices/<int:notice_id>")
@enterprise_required
def notice(notice_id: int) -> ResponseReturnValue:
    n = notice_centre.notice(service_context(), g.principal, notice_id)
    return render_template("portal/notice.html", n=n)
