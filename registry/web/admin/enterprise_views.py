"""Enterprises and licences: the list and each enterprise (Permission.SEAL_VIEW), licence import by
upload with a per-row report (Permission.LICENCE_IMPORT, the service of ``registry licence
import``), and a licence change in two steps - a read-only preview of exactly which seals it
revokes, then a typed confirmation (Permission.LICENCE_CHANGE, the service of ``registry licence
set-status``). Each action is one service call, checked and audited there."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ...domain.errors import DomainError
from ...domain.roles import Permission
from ...domain.seal_types import SealType
from ...services import enterprise_records, licences, revocation
from .. import i18n, uploads
from ..context import service_context
from .blueprint import bp, staff_required
from .licence_forms import LicenceImportForm, LicenceStatusForm

REPORT_ROWS = 1000  # rows listed on the import report (not-imported and updated first)
SOURCE = "admin portal"  # the licence history's source of a change made here

LICENCE_STATUS = {"active": _l("In business"), "cancelled": _l("Cancelled"), "revoked": _l("Revoked")}
FIELDS = {
    "name": _l("Enterprise name"),
    "legal_representative": _l("Legal representative"),
    "entity_type": _l("Entity type"),
    "address": _l("Address"),
    "registered_on": _l("Registered on"),
    "status": _l("Licence status"),
}
EVENTS = {"registered": _l("Registered"), "changed": _l("Changed"), "status": _l("Status changed")}
OUTCOMES = {
    "created": _l("Added"),
    "updated": _l("Updated"),
    "unchanged": _l("Unchanged"),
    "rejected": _l("Not imported"),
}


def _render(template: str, status: int = 200, **kw: Any) -> ResponseReturnValue:
    return render_template(
        template,
        licence_status=LICENCE_STATUS,
        fields=FIELDS,
        events=EVENTS,
        outcomes=OUTCOMES,
        seal_types={t.code: t for t in SealType},
        **kw,
    ), status


# -- enterprises ----------------------------------------------------------------------------------


@bp.get("/enterprises")
@staff_required(Permission.SEAL_VIEW)
def enterprise_list() -> ResponseReturnValue:
    try:
        page = enterprise_records.search(
            service_context(),
            g.actor,
            request.args.get("q", ""),
            after=request.args.get("after", type=int),
            after_name=request.args.get("after_name"),
            status=request.args.get("status"),
        )
    except DomainError as exc:
        return _render("admin/enterprises.html", exc.http_status, page=None, error=i18n.error_text(exc))
    return _render("admin/enterprises.html", page=page, error=None)


@bp.get("/enterprises/<uscc>")
@staff_required(Permission.SEAL_VIEW)
def enterprise_detail(uscc: str) -> ResponseReturnValue:
    ctx = service_context()
    d = enterprise_records.detail(ctx, g.actor, uscc)
    e = d["enterprise"]
    warnings = [
        i18n.error_text(w) for w in licences.picture_warnings(ctx, e["name"], e["legal_representative"], e["uscc"])
    ]
    return _render("admin/enterprise.html", d=d, picture_warnings=warnings)


# -- licence import -------------------------------------------------------------------------------


def _import_page(
    form: LicenceImportForm,
    *,
    status: int = 200,
    error: str | None = None,
    report: licences.ImportReport | None = None,
    filename: str = "",
) -> ResponseReturnValue:
    shown, hidden = [], 0
    if report is not None:
        shown = report.rows
        if len(shown) > REPORT_ROWS:  # the rows that need someone's attention first, in file order
            first = [r for r in shown if r.outcome in ("rejected", "updated")][:REPORT_ROWS]
            shown = sorted(
                first + [r for r in shown if r.outcome not in ("rejected", "updated")][: REPORT_ROWS - len(first)],
                key=lambda r: r.line,
            )
            hidden = len(report.rows) - len(shown)
    return _render(
        "admin/licence_import.html",
        status,
        form=form,
        error=error,
        report=report,
        rows=shown,
        hidden=hidden,
        filename=filename,
        limit_mb=_megabytes(uploads.licence_limit()),
    )


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):.3g}"


@bp.get("/licences/import")
@staff_required(Permission.LICENCE_IMPORT)
def licence_import() -> ResponseReturnValue:
    return _import_page(LicenceImportForm())


@bp.post("/licences/import")
@staff_required(Permission.LICENCE_IMPORT)
def licence_import_upload() -> ResponseReturnValue:
    limit = uploads.licence_limit()
    too_large = _(
        "The file is larger than %(mb)s MB: split it, or import it with `registry licence import` on the server.",
        mb=_megabytes(limit),
    )
    if request.content_length is not None and request.content_length > limit + 64 * 1024:
        return _import_page(LicenceImportForm(formdata=None), status=413, error=too_large)
    form = LicenceImportForm()
    if not form.validate_on_submit():
        if form.errors.get("csrf_token"):
            abort(400)
        return _import_page(form, status=400, error=_("Choose a licence file to upload."))
    upload = form.file.data
    data, too_large_file = uploads.read_storage(upload, limit)
    if too_large_file:
        return _import_page(form, status=413, error=too_large)
    filename = licences.file_label(upload.filename or "licences.csv")
    try:
        report = licences.import_licences(service_context(), g.actor, data, upload.filename or "licences.csv")
    except DomainError as exc:  # a file-level problem (encoding, header): nothing was imported
        return _import_page(
            form,
            status=exc.http_status,
            filename=filename,
            error=_("Nothing was imported from %(file)s: %(reason)s", file=filename, reason=i18n.error_text(exc)),
        )
    return _import_page(LicenceImportForm(formdata=None), report=report, filename=filename)


# -- licence change -------------------------------------------------------------------------------


def _chosen(source: Any) -> dict[str, str | None]:
    """The change asked for: blank fields keep the licence's current values."""
    out: dict[str, str | None] = {}
    for key in ("status", "name", "legal_representative", "entity_type"):
        value = (source.get(key) or "").strip()
        out[key] = value or None
    return out


def _status_page(
    uscc: str,
    chosen: dict[str, str | None],
    *,
    status: int = 200,
    error: str | None = None,
    changed: revocation.SealsChanged | None = None,
) -> ResponseReturnValue:
    """The licence-change page: the form, and for a chosen change its preview and confirmation."""
    ctx = service_context()
    preview = None
    if any(chosen.values()):
        try:
            preview = licences.preview_status_change(ctx, g.actor, uscc, **chosen)
        except DomainError as exc:
            if exc.http_status in (403, 404):
                raise
            error, status = error or i18n.error_text(exc), status if error else exc.http_status
    current = preview or licences.preview_status_change(ctx, g.actor, uscc)
    return _render(
        "admin/licence_status.html",
        status,
        p=current,
        preview=preview,
        chosen=chosen,
        error=error,
        changed=changed,
        form=LicenceStatusForm(formdata=None),
    )


@bp.get("/enterprises/<uscc>/licence")
@staff_required(Permission.LICENCE_CHANGE)
def licence_status(uscc: str) -> ResponseReturnValue:
    """Step 1: choose the change and see what it does (reads only)."""
    return _status_page(uscc, _chosen(request.args))


@bp.post("/enterprises/<uscc>/licence")
@staff_required(Permission.LICENCE_CHANGE)
def licence_status_apply(uscc: str) -> ResponseReturnValue:
    """Step 2: apply the previewed change, if the USCC was typed and the seals are still the ones shown."""
    form = LicenceStatusForm()
    chosen = _chosen(request.form)
    if not form.validate_on_submit():
        if form.errors.get("csrf_token"):
            abort(400)
        if set(form.errors) != {"confirm"}:
            return _status_page(
                uscc,
                chosen,
                status=400,
                error=_("Nothing changed: choose the change again and confirm it with the USCC."),
            )
    if (form.confirm.data or "").strip().upper() != uscc.strip().upper():
        return _status_page(
            uscc,
            chosen,
            status=400,
            error=_("Nothing changed: the USCC typed to confirm does not match this enterprise's."),
        )
    try:
        change = licences.set_licence_status(
            service_context(),
            g.actor,
            uscc,
            chosen["status"] or "",
            name=chosen["name"],
            legal_representative=chosen["legal_representative"],
            entity_type=chosen["entity_type"],
            source=SOURCE,
            expect_seals=(form.seals.data or "").split(),
        )
    except revocation.SealsChanged as exc:
        return _status_page(
            uscc,
            chosen,
            status=409,
            changed=exc,
            error=_(
                "Nothing changed: the seals this change would revoke are no longer the ones "
                "you confirmed. Check the list below and confirm again."
            ),
        )
    except DomainError as exc:
        if exc.http_status in (403, 404):
            raise
        return _status_page(uscc, chosen, status=exc.http_status, error=i18n.error_text(exc))
    if not change.changes:
        flash(_("Nothing changed: the licence already had these values."), "info")
    else:
        flash(_("The licence change was recorded; %(n)d seals were revoked.", n=len(change.revoked_seals)), "info")
    return redirect(url_for("admin.enterprise_detail", uscc=change.uscc))
