"""CRLs: every published CRL (the newest at each path) and "publish now" (Permission.CRL_PUBLISH),
the same call as ``registry crl publish``."""

from __future__ import annotations

from flask import abort, current_app, g, render_template
from flask.typing import ResponseReturnValue

from ...domain.errors import DomainError, M
from ...domain.roles import Permission
from ...services import crl_admin, crl_publish
from .. import i18n
from ..context import service_context
from ..forms import EmptyForm
from .blueprint import bp, staff_required


def _render(
    *, published: list[crl_publish.Published] | None = None, error: str | None = None, status: int = 200
) -> ResponseReturnValue:
    data = crl_admin.overview(service_context(), g.actor)
    return render_template(
        "admin/crls.html", o=data, published=published, error=error, publish_form=EmptyForm()
    ), status


@bp.get("/crls")
@staff_required()  # SEAL_VIEW or CRL_PUBLISH: checked by crl_admin.overview
def crl_list() -> ResponseReturnValue:
    return _render()


_WRITE_FAILED = M(
    "crl_publish.write_failed",
    "the CRL files could not be written to the publish directory (see the server log); "
    "the CRLs already published are still served",
    "CRL 文件未能写入发布目录（详见服务器日志）；已发布的 CRL 仍照常提供",
)


@bp.post("/crls/publish")
@staff_required(Permission.CRL_PUBLISH)
def crl_publish_now() -> ResponseReturnValue:
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        published = crl_publish.publish(service_context(), g.actor)
    except DomainError as exc:  # e.g. the publisher daemon holds an issuer's lease right now
        return _render(error=i18n.error_text(exc), status=exc.http_status)
    except OSError:  # the publish directory cannot be written (disk full, permissions)
        current_app.logger.exception("publishing CRLs failed")
        return _render(error=i18n.error_text(_WRITE_FAILED), status=503)
    return _render(published=published)
