"""Our trust list: the newest version, the fingerprints of the list-signing keys another region
pins (also ``registry trust-list show --fingerprints``), the services listed, the past versions,
and "publish now" (Permission.TRUST_LIST_PUBLISH), the same call as ``registry trust-list publish``."""

from __future__ import annotations

from flask import abort, current_app, g, render_template
from flask.typing import ResponseReturnValue

from ...domain.errors import DomainError, M
from ...domain.roles import Permission
from ...services import trust_lists
from .. import i18n
from ..context import service_context
from ..forms import EmptyForm
from ..sign_in import grouped
from .blueprint import bp, staff_required


def _render(
    *, published: trust_lists.PublishedList | None = None, error: str | None = None, status: int = 200
) -> ResponseReturnValue:
    data = trust_lists.overview(service_context(), g.actor)
    return render_template(
        "admin/trust_list.html",
        o=data,
        lst=data.current.trust_list if data.current is not None else None,
        published=published,
        error=error,
        grouped=grouped,
        publish_form=EmptyForm(),
    ), status


@bp.get("/trust-list")
@staff_required()  # SEAL_VIEW or TRUST_LIST_PUBLISH: checked by trust_lists.overview
def trust_list_page() -> ResponseReturnValue:
    return _render()


_WRITE_FAILED = M(
    "trust_list.write_failed",
    "the trust list files could not be written to the publish directory (see the server log); "
    "the list is recorded and the next run writes them",
    "信任列表文件未能写入发布目录（详见服务器日志）；该版本已记录，下次运行时写入",
)


@bp.post("/trust-list/publish")
@staff_required(Permission.TRUST_LIST_PUBLISH)
def trust_list_publish_now() -> ResponseReturnValue:
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        published = trust_lists.publish(service_context(), g.actor)
    except DomainError as exc:  # e.g. the publisher daemon is publishing right now
        return _render(error=i18n.error_text(exc), status=exc.http_status)
    except OSError:  # the publish directory cannot be written (disk full, permissions)
        current_app.logger.exception("publishing the trust list failed")
        return _render(error=i18n.error_text(_WRITE_FAILED), status=503)
    return _render(published=published)
