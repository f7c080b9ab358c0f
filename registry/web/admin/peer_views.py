"""Peers in the back office (mutual-recognition.md §2.2): every peer with its state, list in force,
fetches and alerts; a peer's page with its keys, services and CRLs; proposing a peer (an admin),
approving it (another person: admin or reviewer), suspending, resuming and withdrawing it (the
peer's name typed to confirm, with a reason), and "refresh now". The same calls as ``registry peer``."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from ...domain.errors import DomainError, NotFound
from ...domain.roles import Permission, permissions_of
from ...services import peers
from .. import i18n
from ..context import service_context
from ..forms import EmptyForm
from .blueprint import bp, staff_required


class ProposeForm(FlaskForm):
    name = StringField(_l("Name (e.g. beijing)"), validators=[DataRequired(), Length(max=64)])
    url = StringField(_l("Trust list URL (…/trust/list.jws)"), validators=[DataRequired(), Length(max=500)])
    area_code = StringField(_l("Area code"), validators=[DataRequired(), Length(max=6)])
    fingerprints = TextAreaField(
        _l("Fingerprints of its list-signing keys, one per line (read out of band)"),
        validators=[DataRequired(), Length(max=1000)],
    )


class DecisionForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=500)])
    confirm = StringField(_l("Type the peer's name to confirm"), validators=[DataRequired(), Length(max=64)])


ACTIONS = ("suspend", "resume", "withdraw")


def _list_page(*, form: ProposeForm | None = None, error: str | None = None, status: int = 200) -> ResponseReturnValue:
    views = peers.list_peers(service_context(), g.actor)
    return render_template("admin/peers.html", peers=views, form=form or ProposeForm(), error=error), status


@bp.get("/peers")
@staff_required()  # SEAL_VIEW or a peer permission: checked by peers.list_peers
def peer_list() -> ResponseReturnValue:
    return _list_page()


@bp.post("/peers")
@staff_required(Permission.PEER_PROPOSE)
def peer_propose() -> ResponseReturnValue:
    form = ProposeForm()
    if not form.validate_on_submit():
        return _list_page(form=form, error=_("Fill in every field of the proposal."), status=400)
    pins = [line.strip() for line in (form.fingerprints.data or "").splitlines() if line.strip()]
    try:
        proposal = peers.propose(
            service_context(), g.actor, form.name.data or "", form.url.data or "", form.area_code.data or "", pins
        )
    except DomainError as exc:
        return _list_page(form=form, error=i18n.error_text(exc), status=exc.http_status)
    flash(
        _("Proposed: %(name)s. Another person must now compare the fingerprints and approve it.", name=proposal.name),
        "info",
    )
    return redirect(url_for("admin.peer_detail", name=proposal.name))


def _detail(name: str, *, error: str | None = None, status: int = 200) -> ResponseReturnValue:
    ctx = service_context()
    try:
        view = peers.show_peer(ctx, g.actor, name)
    except NotFound:
        abort(404)
    crls = peers.peer_crls(ctx, g.actor, name)
    mine = permissions_of(g.actor.roles)
    return render_template(
        "admin/peer.html",
        p=view,
        crls=crls,
        error=error,
        can_approve=view.state == "proposed" and Permission.PEER_APPROVE in mine and view.proposed_by != g.actor.name,
        can_manage=Permission.PEER_MANAGE in mine,
        decision_form=DecisionForm(),
        form=EmptyForm(),
    ), status


@bp.get("/peers/<name>")
@staff_required()
def peer_detail(name: str) -> ResponseReturnValue:
    return _detail(name)


@bp.post("/peers/<name>/approve")
@staff_required(Permission.PEER_APPROVE)
def peer_approve(name: str) -> ResponseReturnValue:
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        peers.approve(service_context(), g.actor, name)
    except DomainError as exc:
        return _detail(name, error=i18n.error_text(exc), status=exc.http_status)
    flash(_("Admitted: %(name)s.", name=name), "info")
    return redirect(url_for("admin.peer_detail", name=name))


@bp.post("/peers/<name>/<any(suspend, resume, withdraw):action>")
@staff_required(Permission.PEER_MANAGE)
def peer_decide(name: str, action: str) -> ResponseReturnValue:
    form = DecisionForm()
    if not form.validate_on_submit():
        return _detail(name, error=_("Give a reason and type the peer's name to confirm."), status=400)
    if (form.confirm.data or "").strip().lower() != name.strip().lower():
        return _detail(
            name, error=_("Nothing changed: the name typed to confirm does not match the peer's name."), status=400
        )
    try:
        peers.change_state(service_context(), g.actor, name, action, form.reason.data or "")
    except DomainError as exc:
        return _detail(name, error=i18n.error_text(exc), status=exc.http_status)
    flash({"suspend": _("Suspended."), "resume": _("Resumed."), "withdraw": _("Withdrawn.")}[action], "info")
    return redirect(url_for("admin.peer_detail", name=name))


@bp.post("/peers/<name>/refresh")
@staff_required(Permission.PEER_MANAGE)
def peer_refresh(name: str) -> ResponseReturnValue:
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        [result] = peers.refresh(service_context(), g.actor, name)
    except DomainError as exc:
        return _detail(name, error=i18n.error_text(exc), status=exc.http_status)
    flash(_("Refreshed: %(line)s", line=result.line()), "info")
    return redirect(url_for("admin.peer_detail", name=name))
