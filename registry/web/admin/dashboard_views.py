"""The back office's first page: the figures of the registry (any signed-in staff member)."""

from __future__ import annotations

from flask import render_template

from ...domain.seal_types import SealType
from ...services import dashboard as dashboard_service
from ..context import service_context
from .blueprint import bp, staff_required


@bp.get("/")
@staff_required()
def dashboard() -> str:
    data = dashboard_service.build(service_context())
    return render_template("admin/dashboard.html", d=data, seal_types={t.code: t for t in SealType})
