"""Public pages (no login): home, seal status, CA certificates, health."""

from __future__ import annotations

import base64
from typing import Any

from flask import Blueprint, Response, abort, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from ..domain.errors import ValidationError
from ..messages import bilingual
from ..services import crl_index, peers, status, summary, verify
from .context import service_context
from .uploads import read_upload

bp = Blueprint("public", __name__)


@bp.get("/")
def index() -> str:
    ctx = service_context()
    held = summary.summary(ctx)
    return render_template(
        "public/index.html", authorities=held.authorities, seal_count=held.seal_count, settings=ctx.settings
    )


@bp.get("/seals/lookup")
def lookup() -> ResponseReturnValue:
    code = (request.args.get("code") or "").strip()
    if not code:
        return render_template(
            "public/index.html",
            authorities=[],
            seal_count=None,
            settings=service_context().settings,
            error="请输入印章编码 / Enter a seal code",
        )
    return redirect(url_for("public.seal_status", code=code.upper()))


@bp.get("/seals/<code>")
def seal_status(code: str) -> ResponseReturnValue:
    """The public status page of a seal (the QR code on a printed seal certificate opens it);
    ``Accept: application/json`` gets the same data as ``GET /api/v1/seals/<code>``."""
    info = status.seal_status(service_context(), code)
    if request.accept_mimetypes.best == "application/json":
        holder = info.get("holder") or {}  # a peer's answer may name no holder
        return jsonify({**info, "uscc": holder.get("uscc"), "enterprise": holder.get("enterprise")})
    return render_template("public/seal.html", seal=info)


@bp.get("/ca/<name>.cer")
def ca_certificate(name: str) -> Response:
    """DER CA certificates, as named in the holder certificates' AIA caIssuers (RFC 5280 §4.2.2.1)."""
    der = summary.ca_certificate_der(service_context(), name)
    if der is None:
        abort(404)
    return Response(
        der,
        mimetype="application/pkix-cert",
        headers={"Cache-Control": "public, max-age=86400", "Content-Disposition": f'attachment; filename="{name}.cer"'},
    )


@bp.get("/healthz")
def health() -> ResponseReturnValue:
    ctx = service_context()
    problem = summary.database_problem(ctx)
    db = "ok" if problem is None else f"error: {problem}"
    crl_problems: list[str] = []
    peer_problems: list[str] = []
    if db == "ok":
        crl_problems = crl_index.problems(ctx)
        # an admitted peer whose list has expired: what it vouches for is indeterminate (§2.2 step 7)
        peer_problems = [f"peer {name}: its trust list has expired" for name in peers.expired_peers(ctx)]
    status = 200 if db == "ok" and not crl_problems and not peer_problems else 503
    return jsonify(
        status="ok" if status == 200 else "degraded",
        database=db,
        crl_problems=crl_problems,
        peer_problems=peer_problems,
    ), status


@bp.route("/verify", methods=["GET", "POST"])
def verify_page() -> ResponseReturnValue:
    """Anyone may upload a seal, a signature (with its document) or an OFD file and read the verdict."""
    ctx = service_context()
    limit = ctx.settings.verify_max_bytes
    if request.method == "GET":
        return render_template("public/verify.html", limit=limit, report=None)
    try:
        data = read_upload("file", True)
        document = read_upload("document", False)
        assert data is not None
        result = verify.verify_file(ctx, data, document=document)
    except ValidationError as exc:
        return render_template("public/verify.html", limit=limit, report=None, error=bilingual(exc)), 400
    upload = request.files.get("file")
    return render_template(
        "public/verify.html",
        limit=limit,
        report=result.to_json(),
        pictures=[_picture_uri(item.picture) for item in result.items],
        filename=(upload.filename if upload else "") or "",
    )


_PICTURE_MIME = {"PNG": "image/png", "JPG": "image/jpeg", "GIF": "image/gif", "BMP": "image/bmp"}


def _picture_uri(picture: Any) -> str | None:
    """The seal picture carried in the uploaded file as a ``data:`` URI for an <img> (raster types
    only; an SVG or OFD picture is not drawn here), or None."""
    mime = _PICTURE_MIME.get(getattr(picture, "type", ""))
    if picture is None or mime is None or not picture.data:
        return None
    return f"data:{mime};base64," + base64.b64encode(bytes(picture.data)).decode("ascii")
