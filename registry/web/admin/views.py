"""Back-office pages."""

from __future__ import annotations

from typing import Any

from flask import render_template

from ...domain.seal_types import SealType
from ...services import dashboard as dashboard_service
from .. import i18n, service_context
from . import bp, staff_required


@bp.get("/")
@staff_required()
def dashboard() -> Any:
    data = dashboard_service.build(service_context())
    return render_template("admin/dashboard.html", d=data, seal_types={t.code: t for t in SealType})


# -- seals ------------------------------------------------------------------------------------------

from flask import Response, abort, flash, g, redirect, request, url_for  # noqa: E402
from flask_babel import gettext as _  # noqa: E402

from ...domain.errors import DomainError  # noqa: E402
from ...domain.roles import Permission  # noqa: E402
from ...services import revocation, seal_admin, seals  # noqa: E402
from .forms import NoteForm, RevokeForm  # noqa: E402

SEAL_REASONS = (
    "keyCompromise",
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
    "privilegeWithdrawn",
    "unspecified",
)


@bp.get("/seals")
@staff_required(Permission.SEAL_VIEW)
def seal_list() -> Any:
    after = request.args.get("after", type=int)
    try:
        page = seal_admin.search(service_context(), g.actor, request.args.get("q", ""), after=after)
    except DomainError as exc:
        return render_template(
            "admin/seals.html", page=None, error=i18n.error_text(exc), seal_types={t.code: t for t in SealType}
        ), exc.http_status
    return render_template("admin/seals.html", page=page, error=None, seal_types={t.code: t for t in SealType})


@bp.get("/seals/<code>")
@staff_required(Permission.SEAL_VIEW)
def seal_detail(code: str) -> Any:
    info = seal_admin.detail(service_context(), g.actor, code)
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


def _confirmed(form: Any, code: str) -> bool:
    return (form.confirm.data or "").strip().upper() == code.strip().upper()


@bp.post("/seals/<code>/revoke")
@staff_required(Permission.SEAL_REVOKE)
def seal_revoke(code: str) -> Any:
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
def seal_hold(code: str, action: str) -> Any:
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


# -- applications ---------------------------------------------------------------------------------

from ...services import applications  # noqa: E402
from .forms import EmptyForm, ReasonForm  # noqa: E402


@bp.get("/applications")
@staff_required(Permission.SEAL_VIEW)
def application_list() -> Any:
    state = request.args.get("state", "open")
    oldest = request.args.get("sort", "oldest") != "newest"
    after_at, after_id = request.args.get("after_at"), request.args.get("after_id", type=int)
    after = (after_at, after_id) if after_at and after_id is not None else None
    try:
        page = applications.queue(
            service_context(), g.actor, state=state, query=request.args.get("q", ""), oldest_first=oldest, after=after
        )
    except (DomainError, ValueError) as exc:
        return render_template(
            "admin/applications.html", page=None, error=i18n.error_text(exc), seal_types={t.code: t for t in SealType}
        ), 400
    return render_template("admin/applications.html", page=page, error=None, seal_types={t.code: t for t in SealType})


@bp.get("/applications/<int:app_id>")
@staff_required(Permission.SEAL_VIEW)
def application_detail(app_id: int) -> Any:
    info = applications.detail(service_context(), g.actor, app_id)
    return render_template("admin/application.html", a=info, form=EmptyForm(), reason_form=ReasonForm())


@bp.get("/applications/<int:app_id>/picture.png")
@staff_required(Permission.SEAL_VIEW)
def application_picture(app_id: int) -> Response:
    png = applications.picture(service_context(), g.actor, app_id)
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, max-age=300"})


@bp.post("/applications/<int:app_id>/<any(review, approve, issue, reject):action>")
@staff_required()
def application_action(app_id: int, action: str) -> Any:
    ctx = service_context()
    if action == "reject":
        form = ReasonForm()
        if not form.validate_on_submit():
            if form.errors.get("csrf_token"):
                abort(400)
            flash(_("A rejection needs a reason; it is shown to the applicant."), "error")
            return redirect(url_for("admin.application_detail", app_id=app_id))
        applications.reject(ctx, g.actor, app_id, form.reason.data or "")
        flash(_("The application was rejected."), "info")
    else:
        if not EmptyForm().validate_on_submit():
            abort(400)
        if action == "review":
            applications.review(ctx, g.actor, app_id)
            flash(_("Licence check recorded; the application waits for a second person's approval."), "info")
        elif action == "approve":
            applications.approve(ctx, g.actor, app_id)
            flash(_("The application was approved; an operator can issue the seal now."), "info")
        else:
            result = applications.issue(ctx, g.actor, app_id)
            flash(_("Seal %(code)s was issued.", code=result.es_id), "info")
            return redirect(url_for("admin.seal_detail", code=result.es_id))
    return redirect(url_for("admin.application_detail", app_id=app_id))


from . import export_views  # noqa: E402,F401  (CSV exports and the seal picture register on bp)
