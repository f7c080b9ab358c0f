"""Applications in the back office: the queue (filters, oldest or newest first, keyset pages), an
application's page and picture, and the steps of the four-eyes rule - licence check (review),
approval, issue - or a rejection with its reason."""

from __future__ import annotations

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from ...domain.errors import DomainError
from ...domain.roles import Permission
from ...domain.seal_types import SealType
from ...services import applications
from .. import i18n
from ..context import service_context
from ..forms import EmptyForm
from .blueprint import bp, staff_required
from .forms import ReasonForm


@bp.get("/applications")
@staff_required(Permission.SEAL_VIEW)
def application_list() -> ResponseReturnValue:
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
def application_detail(app_id: int) -> ResponseReturnValue:
    info = applications.detail(service_context(), g.actor, app_id)
    return render_template("admin/application.html", a=info, form=EmptyForm(), reason_form=ReasonForm())


@bp.get("/applications/<int:app_id>/picture.png")
@staff_required(Permission.SEAL_VIEW)
def application_picture(app_id: int) -> Response:
    png = applications.picture(service_context(), g.actor, app_id)
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, max-age=300"})


@bp.post("/applications/<int:app_id>/<any(review, approve, issue, reject):action>")
@staff_required()
def application_action(app_id: int, action: str) -> ResponseReturnValue:
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
