"""CRLs: every published CRL (the newest at each path) and "publish now" (Permission.CRL_PUBLISH),
the same call as ``registry crl publish``."""
from __future__ import annotations

from typing import Any

from flask import abort, g, render_template

from ...domain.errors import DomainError
from ...domain.roles import Permission
from ...services import crl_admin, crl_publish
from .. import i18n, service_context
from . import bp, staff_required
from .forms import EmptyForm


def _render(*, published: list[crl_publish.Published] | None = None, error: str | None = None,
            status: int = 200) -> Any:
    data = crl_admin.overview(service_context(), g.actor)
    return render_template("admin/crls.html", o=data, published=published, error=error,
                           publish_form=EmptyForm()), status


@bp.get("/crls")
@staff_required()   # SEAL_VIEW or CRL_PUBLISH: checked by crl_admin.overview
def crl_list() -> Any:
    return _render()


@bp.post("/crls/publish")
@staff_required(Permission.CRL_PUBLISH)
def crl_publish_now() -> Any:
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        published = crl_publish.publish(service_context(), g.actor)
    except DomainError as exc:   # e.g. the publisher daemon holds an issuer's lease right now
        return _render(error=i18n.error_text(exc), status=exc.http_status)
    return _render(published=published)
