"""Seals in the back office: the list and search, a seal's page and downloads, revocation (a
reason from :data:`registry.services.revocation.SEAL_REASONS`, the seal's code typed to confirm),
suspension and resumption."""

from __future__ import annotations

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from ...domain.errors import DomainError
from ...domain.roles import Permission
from ...domain.seal_types import SealType
from ...services import revocation, seal_records, seals
from .. import i18n
from ..context import service_context
from .blueprint import bp, staff_required
from .forms import NoteForm, RevokeForm

#: the reasons a seal may be revoked for, as the revocation form offers them (RFC 5280 names)
SEAL_REASONS = tuple(reason.rfc_name for reason in revocation.SEAL_REASONS)


@bp.get("/seals")
@staff_required(Permission.SEAL_VIEW)
def seal_list() -> ResponseReturnValue:
    after = request.args.get("after", type=int)
    try:
        page = seal_records.search(service_context(), g.actor, request.args.get("q", ""), after=after)
    except DomainError as exc:
        return render_template(
            "admin/seals.html", page=None, error=i18n.error_text(exc), seal_types={t.code: t for t in SealType}
        ), exc.http_status
    return render_template("admin/seals.html", page=page, error=None, seal_types={t.code: t for t in SealType})


@bp.get("/seals/<code>")
@staff_required(Permission.SEAL_VIEW)
def seal_detail(code: str) -> ResponseReturnValue:
    info = seal_records.detail(service_context(), g.actor, code)
    return render_template(
        "admin/seal.html", s=info, reasons=SEAL_REASONS, revoke_form=RevokeForm(), note_form=NoteForm()
    )


@bp.get("/seals/<code>/<any('seal.esl', 'cert.pem', 'chain.pem', 'maker-chain.pem'):name>")
@staff_required(Permission.SEAL_VIEW)
def seal_download(code: str, name: str) -> Response:
    exp = seals.export_seal(service_context(), code)
    body, mime = {
        "seal.esl": (exp.seal_der, "application/octet-stream"),
        "cert.pem": (exp.certificate_pem.encode(), "application/x-pem-file"),
        "chain.pem": (exp.chain_pem.encode(), "application/x-pem-file"),
        "maker-chain.pem": (exp.maker_chain_pem.encode(), "application/x-pem-file"),
    }[name]
    filename = f"{exp.es_id}.esl" if name == "seal.esl" else f"{exp.es_id}-{name}"
    return Response(
        body,
        mimetype=mime,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


def _confirmed(form: FlaskForm, code: str) -> bool:
    return (form.confirm.data or "").strip().upper() == code.strip().upper()


@bp.post("/seals/<code>/revoke")
@staff_required(Permission.SEAL_REVOKE)
def seal_revoke(code: str) -> ResponseReturnValue:
    form = RevokeForm()
    if not form.validate_on_submit():
        abort(400)
    if not (form.reason.data or "").strip():  # no default reason: the person chooses one
        flash(_("Not revoked: choose the reason for the revocation."), "error")
        return redirect(url_for("admin.seal_detail", code=code))
    if not _confirmed(form, code):
        flash(_("Not revoked: the code typed to confirm does not match the seal's code."), "error")
        return redirect(url_for("admin.seal_detail", code=code))
    revocation.revoke_seal(service_context(), g.actor, code, form.reason.data or "")
    flash(_("The seal was revoked; the next CRLs will list its certificate."), "info")
    return redirect(url_for("admin.seal_detail", code=code))


@bp.post("/seals/<code>/<any(suspend, resume):action>")
@staff_required(Permission.SEAL_SUSPEND)
def seal_hold(code: str, action: str) -> ResponseReturnValue:
    form = NoteForm()
    if not form.validate_on_submit():
        abort(400)
    if not _confirmed(form, code):
        flash(_("Nothing changed: the code typed to confirm does not match the seal's code."), "error")
        return redirect(url_for("admin.seal_detail", code=code))
    fn = revocation.suspend_seal if action == "suspend" else revocation.resume_seal
    fn(service_context(), g.actor, code, form.note.data or "")
    flash(_("The seal was suspended.") if action == "suspend" else _("The seal was resumed."), "info")
    return redirect(url_for("admin.seal_detail", code=code))
