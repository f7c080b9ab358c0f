"""Audit pages: the auditor's log (filters, newest first, keyset pages) and the hash chain's
integrity check (registry.services.audit.verify_audit_chain, as ``registry audit verify``)."""

from __future__ import annotations

from flask import abort, g, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l

from ...domain.errors import ValidationError
from ...domain.roles import Permission, permissions_of
from ...services import audit
from ...services import audit_log as log_service
from .. import i18n
from ..context import service_context
from ..forms import EmptyForm
from .blueprint import bp, staff_required

# what each kind of problem means, for the page (the service's own message follows it, in English)
PROBLEM_KINDS = {
    audit.CHANGED: _l("An event was edited in place: it no longer matches its hash."),
    audit.REPLACED: _l("An event was changed and re-hashed, or removed and another written in its place."),
    audit.REMOVED: _l("Events are missing from the chain."),
    audit.INSERTED: _l("An event was added behind the application's back."),
    audit.TRUNCATED: _l("Events were removed from the end of the log."),
    audit.HEAD_MISMATCH: _l("The last events were rewritten and re-hashed: they do not end where the chain head says."),
    audit.HEAD_MISSING: _l("The chain head is missing: no audit event can be written until this is looked at."),
}
# the page's query parameters → parse_filter's arguments
FILTER_FIELDS = {
    "actor": "actor",
    "action": "action",
    "type": "target_type",
    "target": "target_id",
    "from": "since",
    "to": "until",
}


def page_query() -> dict[str, str]:
    return {k: v.strip() for k in FILTER_FIELDS if (v := request.args.get(k, "")) and v.strip()}


def _render(
    *,
    page: log_service.AuditPage | None = None,
    error: str | None = None,
    report: audit.ChainReport | None = None,
    status: int = 200,
    log: bool = True,
) -> ResponseReturnValue:
    return render_template(
        "admin/audit.html",
        page=page,
        error=error,
        report=report,
        kinds=PROBLEM_KINDS,
        target_types=log_service.TARGET_TYPES,
        q=page_query() if log else {},
        show_log=log,
        verify_form=EmptyForm(),
    ), status


def _log_page() -> tuple[log_service.AuditPage | None, str | None]:
    q = page_query()
    try:
        filt = log_service.parse_filter(**{FILTER_FIELDS[k]: v for k, v in q.items()})
        return log_service.search(service_context(), g.actor, filt, after=request.args.get("after", type=int)), None
    except ValidationError as exc:
        return None, i18n.error_text(exc)


@bp.get("/audit")
@staff_required(Permission.AUDIT_VIEW)
def audit_log() -> ResponseReturnValue:
    page, error = _log_page()
    return _render(page=page, error=error, status=400 if error else 200)


@bp.get("/audit/integrity")
@staff_required(Permission.AUDIT_VERIFY)
def audit_integrity() -> ResponseReturnValue:
    """The check alone, for those who may run it but not read the log (admins)."""
    return _render(log=False)


@bp.post("/audit/integrity")
@staff_required(Permission.AUDIT_VERIFY)
def audit_verify() -> ResponseReturnValue:
    if not EmptyForm().validate_on_submit():
        abort(400)
    report = audit.verify_audit_chain(service_context(), g.actor)
    if Permission.AUDIT_VIEW in permissions_of(g.actor.roles):
        page, error = _log_page()
        return _render(page=page, error=error, report=report)
    return _render(report=report, log=False)
