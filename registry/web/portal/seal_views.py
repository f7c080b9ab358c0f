"""Seals in the enterprise portal: applying (the standard set of four, or a single seal; a CSR and a
drawn or uploaded picture each), a seal's page with its downloads and printable certificate, renewal,
loss reports and cancellation.

Thin views: parse the form, call the services (``application_intake``, ``seal_records``,
``renewal``, ``revocation``: each decides, through
portal_access, who may see and do what), and show the result or the refusal on the page with its
status: 400 bad input, 403 not allowed, 404 not ours, 409 wrong state, 413 too large.
"""

from __future__ import annotations

import segno
from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _

from ...domain.errors import DomainError, NotFound
from ...domain.seal_types import STANDARD_SET, SealType
from ...services import application_intake, applications, renewal, revocation, seal_records
from .. import i18n, uploads
from ..context import service_context
from .blueprint import EmptyForm, bp, enterprise_required, legal_representative_required


def _kb(n: int) -> int:
    return max(1, n // 1024)


# ------------------------------------------------------------------------------------------------
# Applying


def _type_label(t: SealType) -> str:
    return t.label("zh" if str(get_locale()).startswith("zh") else "en")


def _apply_form(mode: str, types: list[SealType], chosen: SealType | None) -> ResponseReturnValue:
    """The standard set (``mode == "set"``: one block per type) or a single seal (one block for the
    chosen type). Field names: ``csr_<code>`` and ``picture_<code>`` (``_single`` for a single seal).
    Every block goes to the service, which reports every problem of every block in one pass."""
    form = EmptyForm()
    errors: dict[str, str] = {}
    general: str | None = None
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        blocks = types if mode == "set" else [chosen] if chosen is not None else []
        if mode == "single" and request.form.get("action") == "preview":
            return _render_apply(mode, types, chosen, form, errors, general), 200  # nothing stored
        ctx = service_context()
        items = []
        too_large = False
        big_pictures: dict[str, str] = {}  # a picture over the limit is not read: said here, checked no further
        for t in blocks:
            field = t.code if mode == "set" else "single"  # the single form's type can change in the page
            csr, big_csr = uploads.read(
                f"csr_{field}", application_intake.MAX_CSR_BYTES
            )  # the service says it is too large
            png, big_png = uploads.read(f"picture_{field}", ctx.settings.max_picture_bytes)
            if big_png:
                big_pictures[t.code] = _(
                    "The picture is larger than %(kb)d KB; nothing was stored.", kb=_kb(ctx.settings.max_picture_bytes)
                )
                png = None
            too_large = too_large or big_csr or big_png
            items.append(application_intake.ApplyItem(t.code, csr or b"", png))
        if not blocks:
            general, status = _("Choose the type of seal to apply for."), 400
        else:
            try:
                if big_pictures:  # refused in any case: every other problem is still found, nothing is written
                    problems, _types = application_intake.check_application(ctx, g.principal, items)
                    raise application_intake.ApplicationRefused(problems)
                ids = application_intake.apply(ctx, g.principal, items)
            except application_intake.ApplicationRefused as exc:
                errors = {code: i18n.error_text(why) for code, why in sorted(exc.problems.items())}
                for code, message in big_pictures.items():
                    errors[code] = f"{message} {errors[code]}" if code in errors else message
                status = 413 if too_large else 400
            except DomainError as exc:
                general, status = i18n.error_text(exc), exc.http_status
            else:
                if len(ids) == 1:
                    flash(_("The application was submitted."), "info")
                    return redirect(url_for("portal.application", app_id=ids[0]))
                flash(_("%(n)d applications were submitted.", n=len(ids)), "info")
                return redirect(url_for("portal.home"))
    return _render_apply(mode, types, chosen, form, errors, general), status


def _render_apply(
    mode: str,
    types: list[SealType],
    chosen: SealType | None,
    form: EmptyForm,
    errors: dict[str, str],
    general: str | None,
) -> str:
    ctx = service_context()
    try:
        undrawable = {
            code: i18n.error_text(why) for code, why in application_intake.picture_problems(ctx, g.principal).items()
        }
    except DomainError:
        undrawable = {}
    return render_template(
        "portal/apply.html",
        mode=mode,
        types=types,
        chosen=chosen,
        form=form,
        errors=errors,
        general=general,
        label=_type_label,
        max_csr_kb=_kb(application_intake.MAX_CSR_BYTES),
        max_picture_kb=_kb(ctx.settings.max_picture_bytes),
        undrawable=undrawable,
        refused=bool(errors) or general is not None and request.method == "POST",
    )


@bp.route("/apply", methods=["GET", "POST"])
@legal_representative_required
def apply() -> ResponseReturnValue:
    """The standard set of four in one go."""
    return _apply_form("set", list(STANDARD_SET), None)


@bp.route("/apply/seal", methods=["GET", "POST"])
@legal_representative_required
def apply_seal() -> ResponseReturnValue:
    """A single seal of any type (the invoice seal and other seals are not in the standard set)."""
    raw = request.form.get("seal_type") if request.method == "POST" else request.args.get("type")
    others = [t for t in SealType if t not in STANDARD_SET]
    types = others + [t for t in SealType if t in STANDARD_SET]
    chosen = types[0]
    if raw:
        try:
            chosen = SealType.parse(raw)
        except DomainError:
            r = _render_apply("single", types, None, EmptyForm(), {}, _("Unknown seal type: %(t)s", t=raw[:20]))
            return r, 400
    return _apply_form("single", types, chosen)


@bp.get("/apply/preview/<code>.png")
@legal_representative_required
def apply_preview(code: str) -> Response:
    """The standard picture this enterprise's seal of this type would carry, drawn from its licence
    data now (a server-rendered PNG, so the page needs no script to show it)."""
    png = application_intake.preview_picture(service_context(), g.principal, code)
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, max-age=300"})


@bp.get("/applications/<int:app_id>/picture.png")
@legal_representative_required
def application_picture(app_id: int) -> Response:
    """The picture of the application's seal (issued, uploaded, or drawn from the licence now)."""
    png = applications.enterprise_application_picture(service_context(), g.principal.enterprise_id, app_id)
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, max-age=300"})


# ------------------------------------------------------------------------------------------------
# A seal's page and downloads


def _seal_page(es_id: str, *, error: str | None = None, status: int = 200) -> ResponseReturnValue:
    d = seal_records.enterprise_detail(service_context(), g.principal, es_id)
    return render_template(
        "portal/seal.html",
        s=d,
        form=EmptyForm(),
        error=error,
        label=_type_label,
        window_days=service_context().settings.renewal_window_days,
        max_csr_kb=_kb(application_intake.MAX_CSR_BYTES),
    ), status


@bp.get("/seals/<es_id>")
@enterprise_required
def seal(es_id: str) -> ResponseReturnValue:
    return _seal_page(es_id)


@bp.get("/seals/<es_id>/picture.png")
@enterprise_required
def seal_picture(es_id: str) -> Response:
    png = seal_records.enterprise_picture(service_context(), g.principal, es_id)
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, max-age=300"})


_DOWNLOADS = {
    "seal.esl": ("application/octet-stream", "{code}.esl"),
    "cert.pem": ("application/x-pem-file", "{code}-cert.pem"),
    "chain.pem": ("application/x-pem-file", "{code}-chain.pem"),
    "maker-chain.pem": ("application/x-pem-file", "{code}-maker-chain.pem"),
    "chain.p7b": ("application/x-pkcs7-certificates", "{code}-chain.p7b"),
}


@bp.get("/seals/<es_id>/<any('seal.esl', 'cert.pem', 'chain.pem', 'maker-chain.pem', 'chain.p7b'):name>")
@enterprise_required
def seal_download(es_id: str, name: str) -> Response:
    files = seal_records.enterprise_files(service_context(), g.principal, es_id)
    body = {
        "seal.esl": files.seal_der,
        "cert.pem": files.certificate_pem.encode(),
        "chain.pem": files.chain_pem.encode(),
        "maker-chain.pem": files.maker_chain_pem.encode(),
        "chain.p7b": files.p7b_der,
    }[name]
    mime, filename = _DOWNLOADS[name]
    return Response(
        body,
        mimetype=mime,
        headers={
            "Content-Disposition": f'attachment; filename="{filename.format(code=files.es_id)}"',
            "Cache-Control": "no-store",
        },
    )


@bp.get("/seals/<es_id>/certificate")
@enterprise_required
def seal_certificate(es_id: str) -> ResponseReturnValue:
    """The printable seal certificate: picture, data, and a QR code that opens the public status page."""
    ctx = service_context()
    d = seal_records.enterprise_detail(ctx, g.principal, es_id)
    status_url = f"{ctx.settings.base_url}/seals/{d['es_id']}"
    qr = segno.make(status_url, error="m").svg_data_uri(scale=4, border=2)
    return render_template(
        "portal/certificate.html",
        s=d,
        status_url=status_url,
        qr=qr,
        label=_type_label,
        authority=ctx.settings.authority_name,
    )


# ------------------------------------------------------------------------------------------------
# Renewal, loss, cancellation


def _checked_post(es_id: str) -> None:
    """CSRF first (400), then the seal must be one this person can see (404 otherwise), before any
    other input is looked at."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    seal_records.enterprise_detail(service_context(), g.principal, es_id)


@bp.post("/seals/<es_id>/renew")
@enterprise_required
def seal_renew(es_id: str) -> ResponseReturnValue:
    _checked_post(es_id)
    key = request.form.get("key", "same")
    try:
        csr = uploads.read_within("csr", application_intake.MAX_CSR_BYTES)
    except uploads.TooLarge:
        return _seal_page(
            es_id,
            error=_("The certificate request is larger than %(kb)d KB.", kb=_kb(application_intake.MAX_CSR_BYTES)),
            status=413,
        )
    if key not in ("same", "new"):
        return _seal_page(es_id, error=_("Choose whether to keep the key or to bring a new one."), status=400)
    if key == "new" and not csr:
        return _seal_page(es_id, error=_("Choose the certificate request (CSR) of the new key."), status=400)
    if key == "same" and csr:
        return _seal_page(
            es_id,
            error=_("You chose to keep the same key but also attached a certificate request: choose one or the other."),
            status=400,
        )
    try:
        result = renewal.renew_own_seal(service_context(), g.principal, es_id, csr if key == "new" else None)
    except NotFound:
        raise
    except renewal.RenewalNotOpen as exc:
        return _seal_page(
            es_id,
            error=_(
                "Not renewed: this seal is valid until %(end)s and can be renewed from "
                "%(opens)s, %(days)d days before it expires.",
                end=exc.valid_end.strftime("%Y-%m-%d"),
                opens=exc.opens.strftime("%Y-%m-%d"),
                days=exc.days,
            ),
            status=exc.http_status,
        )
    except DomainError as exc:
        return _seal_page(es_id, error=_("Not renewed: %(why)s", why=i18n.error_text(exc)), status=exc.http_status)
    flash(
        _(
            "The seal was renewed: the new seal is %(new)s, and %(old)s is revoked as superseded.",
            new=result.es_id,
            old=es_id,
        ),
        "info",
    )
    return redirect(url_for("portal.seal", es_id=result.es_id))


def _revocation(es_id: str, action: str) -> ResponseReturnValue:
    _checked_post(es_id)
    confirm = request.form.get("confirm", "")
    fn = revocation.report_loss if action == "loss" else revocation.cancel_seal
    try:
        fn(service_context(), g.principal, es_id, confirm)
    except NotFound:
        raise
    except revocation.ConfirmationMismatch:
        return _seal_page(
            es_id, error=_("Nothing changed: the code typed to confirm does not match the seal's code."), status=400
        )
    except DomainError as exc:
        return _seal_page(es_id, error=_("Nothing changed: %(why)s", why=i18n.error_text(exc)), status=exc.http_status)
    if action == "loss":
        flash(
            _(
                "Seal %(code)s is revoked (key compromise). OCSP answers “revoked” now, and the CRLs list it "
                "within seconds.",
                code=es_id,
            ),
            "info",
        )
    else:
        flash(_("Seal %(code)s is cancelled (cessation of operation).", code=es_id), "info")
    return redirect(url_for("portal.seal", es_id=es_id))


@bp.post("/seals/<es_id>/loss")
@enterprise_required
def seal_loss(es_id: str) -> ResponseReturnValue:
    """Report the seal (its holder key) lost or compromised: revoked at once, keyCompromise."""
    return _revocation(es_id, "loss")


@bp.post("/seals/<es_id>/cancel")
@enterprise_required
def seal_cancel(es_id: str) -> ResponseReturnValue:
    """Cancel a seal no longer needed: revoked, cessationOfOperation."""
    return _revocation(es_id, "cancel")
