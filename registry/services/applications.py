"""Seal applications under dual control: submitted → reviewed (operator: the licence check) →
approved (a reviewer who is not the one who reviewed) → issued (operator), or rejected with a
reason; withdrawn by the enterprise before approval (design.md §3).

One transaction and one audit event per transition. The counter (staff), the enterprise portal and
licence events all submit through :func:`submit`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import literal, select, tuple_, union_all
from sqlalchemy.orm import Session

from ..db.models import AuditEvent, Enterprise, SealApplication, User
from ..domain.errors import Conflict, InvalidTransition, M, NotFound, ValidationError
from ..domain.roles import Permission, check_dual_control, require
from ..domain.seal_types import SealType
from ..domain.search import search_text
from ..domain.states import ApplicationAction, ApplicationState, LicenceStatus, next_application_state
from ..messages import Localized
from ..pki import der, x509
from ..pki.uscc import UsccError, validate_uscc
from .context import Actor, ServiceContext
from .core import issuance, pictures
from .core.tx import begin

__all__ = [
    "Item",
    "ItemRefused",
    "submit_many",
    "submit",
    "review",
    "approve",
    "reject",
    "withdraw",
    "issue",
    "queue",
    "detail",
    "QueueRow",
    "QueuePage",
    "queue_filter",
    "PAGE_SIZE",
    "OPEN",
    "enterprise_application",
    "enterprise_application_picture",
    "PROGRESS",
]

PAGE_SIZE = 50
OPEN = (ApplicationState.SUBMITTED, ApplicationState.REVIEWED, ApplicationState.APPROVED)
MAX_REASON = 500


@dataclass(frozen=True)
class Item:
    seal_type: str
    key: issuance.KeyMaterial
    picture_png: bytes | None = None
    algorithm: str | None = None


class ItemRefused(ValidationError):
    """One item of a set was refused; ``seal_type`` names which."""

    def __init__(self, seal_type: str, error: BaseException) -> None:
        if isinstance(error, Localized) and error.message is not None:
            super().__init__(error.message, **error.params)
        else:
            super().__init__(str(error))
        self.seal_type = seal_type


def submit(
    ctx: ServiceContext,
    actor: Actor,
    *,
    uscc: str,
    seal_type: str,
    key: issuance.KeyMaterial,
    picture_png: bytes | None = None,
    channel: str = "counter",
    algorithm: str | None = None,
) -> int:
    """A new application; returns its id. The holder key comes as a CSR (its subject must name the
    USCC when it comes from the portal; its self-signature is checked) or a public key."""
    return submit_many(ctx, actor, uscc=uscc, items=[Item(seal_type, key, picture_png, algorithm)], channel=channel)[0]


def submit_many(
    ctx: ServiceContext, actor: Actor, *, uscc: str, items: list[Item], channel: str = "counter"
) -> list[int]:
    """Several applications of one enterprise (e.g. the standard set of four) in one transaction:
    all are submitted or none. A refused item raises :class:`ItemRefused` naming its seal type."""
    if channel == "counter":
        require(actor.name, actor.roles, Permission.APPLICATION_SUBMIT)
    elif channel != "portal":
        raise ValidationError(
            M("application.unknown_channel", "unknown channel {channel}", "未知渠道 {channel}"), channel=f"{channel!r}"
        )
    try:
        uscc = validate_uscc(uscc)
    except UsccError as exc:
        raise ValidationError(
            M("application.uscc", "USCC {uscc}: {exc}", "统一社会信用代码 {uscc}：{exc}"), uscc=f"{uscc!r}", exc=exc
        ) from None
    if not items:
        raise ValidationError(M("application.nothing_apply", "nothing to apply for", "没有要申请的内容"))
    checked = []
    for item in items:
        st = SealType.parse(item.seal_type)
        try:
            if item.key.generate:
                raise ValidationError(
                    M(
                        "application.application_brings_holder_s",
                        "an application brings the holder's own key (a CSR or a public key)",
                        "申请须提供持有人自己的密钥（证书请求或公钥）",
                    )
                )
            req = issuance.IssueRequest(
                uscc=uscc,
                seal_type=st.code,
                key=item.key,
                operator="",
                approver="",
                algorithm=item.algorithm,
                picture_png=item.picture_png,
                channel=channel,
                require_uscc_in_csr=channel == "portal",
            )
            pictures.check_picture(ctx, item.picture_png)
            pub, csr_der, _none = issuance.resolve_key(req, uscc)
        except ValidationError as exc:
            if len(items) == 1:
                raise
            raise ItemRefused(st.code, exc) from None
        checked.append((st, item, pub, csr_der))
    keys = [pub.fingerprint() for _st, _i, pub, _c in checked]
    if len(set(keys)) != len(keys):
        raise ValidationError(
            M(
                "application.each_seal_needs_its",
                "each seal needs its own key: two requests carry the same public key",
                "每枚印章需要各自的密钥：两份请求携带同一公钥",
            )
        )
    now = ctx.clock.now()
    with begin(ctx, actor) as tx:
        session = tx.session
        ent = session.scalar(select(Enterprise).where(Enterprise.uscc == uscc))
        if ent is None:
            raise NotFound(
                M(
                    "application.no_licence_record_uscc",
                    "no licence on record for USCC {uscc}",
                    "没有统一社会信用代码为 {uscc} 的执照记录",
                ),
                uscc=uscc,
            )
        if ent.status is not LicenceStatus.ACTIVE:
            raise Conflict(
                M(
                    "application.licence_no_new_applications",
                    "the licence of {uscc} is {status}: no new applications",
                    "{uscc} 的执照{status}：不能提交新申请",
                ),
                uscc=uscc,
                status=ent.status.value,
            )
        ids = []
        for st, item, pub, csr_der in checked:
            app = SealApplication(
                enterprise_id=ent.id,
                seal_type=st,
                algorithm=pub.algorithm,
                state=ApplicationState.SUBMITTED,
                channel=channel,
                public_key_spki=pub.spki(),
                csr_der=csr_der,
                picture_png=item.picture_png,
                submitted_by=actor.name,
                submitted_at=now,
            )
            session.add(app)
            session.flush()
            tx.audit(
                "application.submitted",
                "application",
                app.id,
                uscc=uscc,
                seal_type=st.code,
                channel=channel,
                algorithm=pub.algorithm.value,
                key=pub.fingerprint(),
            )
            ids.append(app.id)
        return ids


def _load(session: Session, app_id: int, *, lock: bool = False) -> SealApplication:
    stmt = select(SealApplication).where(SealApplication.id == app_id)
    if lock:
        stmt = stmt.with_for_update()
    app = session.scalar(stmt)
    if app is None:
        raise NotFound(M("application.no_application", "no application {app_id}", "没有申请 {app_id}"), app_id=app_id)
    return app


def _move(app: SealApplication, action: ApplicationAction) -> ApplicationState:
    return next_application_state(app.state, action)


def review(ctx: ServiceContext, actor: Actor, app_id: int, note: str = "") -> None:
    """The operator's licence check: the enterprise's licence is active and matches the application."""
    require(actor.name, actor.roles, Permission.APPLICATION_REVIEW)
    with begin(ctx, actor) as tx:
        app = _load(tx.session, app_id, lock=True)
        new = _move(app, ApplicationAction.REVIEW)
        if app.enterprise.status is not LicenceStatus.ACTIVE:
            raise Conflict(
                M(
                    "application.licence_reject_application_instead",
                    "the licence of {uscc} is {status}: reject the application instead",
                    "{uscc} 的执照{status}：请改为驳回申请",
                ),
                uscc=app.enterprise.uscc,
                status=app.enterprise.status.value,
            )
        app.state, app.reviewed_by_id, app.reviewed_at = new, actor.user_id, tx.now
        tx.audit(
            "application.reviewed",
            "application",
            app.id,
            licence_status=app.enterprise.status.value,
            note=note[:MAX_REASON],
        )


def approve(ctx: ServiceContext, actor: Actor, app_id: int) -> None:
    """The second control: a reviewer other than the person who reviewed."""
    require(actor.name, actor.roles, Permission.APPLICATION_APPROVE)
    with begin(ctx, actor) as tx:
        session = tx.session
        app = _load(session, app_id, lock=True)
        new = _move(app, ApplicationAction.APPROVE)
        reviewer = session.get(User, app.reviewed_by_id) if app.reviewed_by_id else None
        check_dual_control(reviewer.username if reviewer else "", actor.name)
        if app.enterprise.status is not LicenceStatus.ACTIVE:
            raise Conflict(
                M("application.licence", "the licence of {uscc} is {status}", "{uscc} 的执照{status}"),
                uscc=app.enterprise.uscc,
                status=app.enterprise.status.value,
            )
        app.state, app.approved_by_id, app.approved_at = new, actor.user_id, tx.now
        tx.audit(
            "application.approved",
            "application",
            app.id,
            reviewed_by=reviewer.username if reviewer else None,
        )


def reject(ctx: ServiceContext, actor: Actor, app_id: int, reason: str) -> None:
    require(actor.name, actor.roles, Permission.APPLICATION_REJECT)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(
            M(
                "application.rejection_needs_reason_it",
                "a rejection needs a reason (it is shown to the applicant)",
                "驳回须说明理由（理由会告知申请人）",
            )
        )
    if len(reason) > MAX_REASON:
        raise ValidationError(
            M(
                "application.reason_longer_than_characters",
                "the reason is longer than {max_reason} characters",
                "理由超过 {max_reason} 个字符",
            ),
            max_reason=MAX_REASON,
        )
    with begin(ctx, actor) as tx:
        app = _load(tx.session, app_id, lock=True)
        app.state = _move(app, ApplicationAction.REJECT)
        app.decided_reason = reason
        app.picture_png = None
        tx.audit("application.rejected", "application", app.id, reason=reason)


def withdraw(ctx: ServiceContext, actor: Actor, app_id: int, enterprise_id: int) -> None:
    """The enterprise takes its application back before approval."""
    with begin(ctx, actor) as tx:
        app = _load(tx.session, app_id, lock=True)
        if app.enterprise_id != enterprise_id:
            raise NotFound(
                M("application.no_application", "no application {app_id}", "没有申请 {app_id}"), app_id=app_id
            )
        app.state = _move(app, ApplicationAction.WITHDRAW)
        app.picture_png = None
        tx.audit("application.withdrawn", "application", app.id)


def issue(ctx: ServiceContext, actor: Actor, app_id: int) -> issuance.IssueResult:
    """Issue the seal of an approved application (the same issuance path as everywhere else)."""
    require(actor.name, actor.roles, Permission.SEAL_ISSUE)
    with ctx.reader() as session:
        app = _load(session, app_id)
        if app.state is not ApplicationState.APPROVED:
            raise InvalidTransition(
                M(
                    "application.application_only_approved_application",
                    "application {app_id} is {state}; only an approved application is issued",
                    "申请 {app_id} 为{state}；只有已批准的申请才能签发",
                ),
                app_id=app_id,
                state=app.state.value,
            )
        pem = der.der_to_pem(app.public_key_spki, "PUBLIC KEY").encode()
        req = issuance.IssueRequest(
            uscc=app.enterprise.uscc,
            seal_type=app.seal_type.code,
            key=issuance.KeyMaterial(public_key_pem=pem),
            operator="",
            approver="",
            picture_png=app.picture_png,
            channel=app.channel if app.channel in ("counter", "portal", "reissue") else "counter",
            application_id=app.id,
        )
    return issuance.issue(ctx, actor, [req])[0]


# ------------------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True)
class QueueRow:
    id: int
    state: str
    seal_type: str
    enterprise: str
    uscc: str
    channel: str
    submitted_at: dt.datetime
    age_hours: float


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    state: str
    query: str
    oldest_first: bool
    next_after: tuple[str, int] | None  # (submitted_at ISO, id) to continue after


def queue_filter(state: str, query: str) -> tuple[list[ApplicationState], str, Any]:
    """The states of a list filter (``open`` = submitted, reviewed or approved), the cleaned query
    and the enterprise condition it names (a USCC or a name prefix; None for none), for the queue
    and its CSV export (registry.services.exports)."""
    states = (
        list(OPEN)
        if state == "open"
        else [ApplicationState(state)]
        if state in {s.value for s in ApplicationState}
        else None
    )
    if states is None:
        raise ValidationError(
            M("application.unknown_state", "unknown state {state}", "未知状态 {state}"), state=f"{state!r}"
        )
    q = search_text(query)
    A = SealApplication
    ent_filter = None
    if q:
        if len(q) == 18 and q.upper().isalnum():
            ent_filter = A.enterprise_id.in_(select(Enterprise.id).where(Enterprise.uscc == q.upper()))
        else:
            escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            ent_filter = A.enterprise_id.in_(
                select(Enterprise.id).where(Enterprise.name.like(escaped + "%", escape="\\")).limit(1000)
            )
    return states, q, ent_filter


def queue(
    ctx: ServiceContext,
    actor: Actor,
    *,
    state: str = "open",
    query: str = "",
    oldest_first: bool = True,
    after: tuple[str, int] | None = None,
    limit: int = PAGE_SIZE,
) -> QueuePage:
    """Applications by state (``open`` = submitted, reviewed or approved), optionally for one USCC or
    enterprise-name prefix, by age, with keyset pagination on (submitted_at, id)."""
    require(actor.name, actor.roles, Permission.SEAL_VIEW)
    states, q, ent_filter = queue_filter(state, query)
    A = SealApplication
    # One ordered, limited branch per state over ix_seal_applications_state_submitted, merged: a
    # multi-state filter ordered by (submitted_at, id) cannot use that index otherwise, and both
    # databases would sort every open application for each page. The keyset is a row value.
    branches = []
    for st in states:
        b = select(A.id, A.enterprise_id, A.state, A.seal_type, A.channel, A.submitted_at).where(A.state == st)
        if ent_filter is not None:
            b = b.where(ent_filter)
        if after is not None:
            key = tuple_(
                literal(dt.datetime.fromisoformat(after[0]), A.submitted_at.type), literal(after[1], A.id.type)
            )
            b = b.where(tuple_(A.submitted_at, A.id) > key if oldest_first else tuple_(A.submitted_at, A.id) < key)
        order = (A.submitted_at.asc(), A.id.asc()) if oldest_first else (A.submitted_at.desc(), A.id.desc())
        branches.append(select(*b.order_by(*order).limit(limit + 1).subquery().c))
    u = (union_all(*branches) if len(branches) > 1 else branches[0]).subquery()
    outer = (u.c.submitted_at.asc(), u.c.id.asc()) if oldest_first else (u.c.submitted_at.desc(), u.c.id.desc())
    stmt = (
        select(u.c.id, u.c.state, u.c.seal_type, u.c.channel, u.c.submitted_at, Enterprise.name, Enterprise.uscc)
        .join(Enterprise, Enterprise.id == u.c.enterprise_id)
        .order_by(*outer)
        .limit(limit + 1)
    )
    now = ctx.clock.now()
    with ctx.reader() as s:
        rows = s.execute(stmt).all()
    out = [
        QueueRow(r[0], r[1].value, r[2].code, r[5], r[6], r[3], r[4], (now - r[4]).total_seconds() / 3600)
        for r in rows[:limit]
    ]
    nxt = (out[-1].submitted_at.isoformat(), out[-1].id) if len(rows) > limit else None
    return QueuePage(out, state, q, oldest_first, nxt)


def detail(ctx: ServiceContext, actor: Actor, app_id: int) -> dict[str, Any]:
    require(actor.name, actor.roles, Permission.SEAL_VIEW)
    from ..pki.keys import PublicKey

    with ctx.reader() as s:
        app = _load(s, app_id)
        ent = app.enterprise
        names = {
            u.id: u.username
            for u in s.scalars(
                select(User).where(User.id.in_([i for i in (app.reviewed_by_id, app.approved_by_id) if i]))
            )
        }
        pub = PublicKey.from_spki(app.public_key_spki)
        csr_subject = None
        if app.csr_der:
            csr_subject = str(x509.CertificationRequest.load(app.csr_der).subject)
        history = [
            {"at": e.occurred_at, "actor": e.actor, "action": e.action, "details": e.details}
            for e in s.scalars(
                select(AuditEvent)
                .where(AuditEvent.target_type == "application", AuditEvent.target_id == str(app.id))
                .order_by(AuditEvent.id)
            )
        ]
        seal_code = app.seal.es_id if app.seal is not None else None
        return {
            "id": app.id,
            "state": app.state.value,
            "seal_type": app.seal_type,
            "channel": app.channel,
            "algorithm": app.algorithm.value,
            "submitted_by": app.submitted_by,
            "submitted_at": app.submitted_at,
            "reviewed_by": names.get(app.reviewed_by_id or -1),
            "reviewed_at": app.reviewed_at,
            "approved_by": names.get(app.approved_by_id or -1),
            "approved_at": app.approved_at,
            "reason": app.decided_reason,
            "key_sha256": pub.fingerprint(),
            "key_label": pub.algorithm.label,
            "csr_subject": csr_subject,
            "has_picture": app.picture_png is not None,
            "seal": seal_code,
            "enterprise": {
                "id": ent.id,
                "uscc": ent.uscc,
                "name": ent.name,
                "legal_representative": ent.legal_representative,
                "entity_type": ent.entity_type,
                "address": ent.address,
                "registered_on": ent.registered_on,
                "status": ent.status.value,
            },
            "licence_history": [
                {"at": h.recorded_at, "event": h.event, "changes": h.changes, "source": h.source} for h in ent.history
            ],
            "history": history,
        }


def picture(ctx: ServiceContext, actor: Actor, app_id: int) -> bytes:
    """The application's picture: the uploaded PNG, or the standard seal drawn for it."""
    require(actor.name, actor.roles, Permission.SEAL_VIEW)
    with ctx.reader() as s:
        app = _load(s, app_id)
        if app.picture_png is not None:
            return app.picture_png
        if app.seal is not None:
            return pictures.seal_picture(app.seal).data
        return pictures.render_picture(
            ctx, app.enterprise.name, app.enterprise.legal_representative, app.seal_type, app.enterprise.uscc
        )


# What an enterprise sees of its own applications on the portal (scoped by its id)

_STEPS = {
    "application.submitted": "submitted",
    "application.reviewed": "reviewed",
    "application.approved": "approved",
    "application.rejected": "rejected",
    "application.withdrawn": "withdrawn",
    "application.issued": "issued",
}

#: The progress line an enterprise sees: 提交 → 执照核验 → 审批 → 签发 (the states each step reaches).
PROGRESS = ("submitted", "reviewed", "approved", "issued")


def _progress(state: str, timeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The four steps, each ``done`` (with when), ``current`` (the one being worked on now),
    ``stopped`` (where a rejected or withdrawn application ended) or ``pending``."""
    at = {t["step"]: t["at"] for t in timeline}
    reached = (
        PROGRESS.index(state)
        if state in PROGRESS
        else max((PROGRESS.index(t["step"]) for t in timeline if t["step"] in PROGRESS), default=0)
    )
    ended = state in ("rejected", "withdrawn")
    steps = []
    for i, step in enumerate(PROGRESS):
        if i <= reached:
            mark = "done"
        elif i == reached + 1:
            mark = "stopped" if ended else "current"
        else:
            mark = "pending"
        steps.append({"step": step, "mark": mark, "at": at.get(step)})
    return steps


def enterprise_application(ctx: ServiceContext, enterprise_id: int, app_id: int) -> dict[str, Any]:
    """One of this enterprise's applications, with its timeline and progress line; another
    enterprise's id is *not found*."""
    with ctx.reader() as s:
        app = s.scalar(
            select(SealApplication).where(SealApplication.id == app_id, SealApplication.enterprise_id == enterprise_id)
        )
        if app is None:
            raise NotFound(M("portal.no_application", "no application {id}", "没有编号为 {id} 的申请"), id=app_id)
        events = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.target_type == "application", AuditEvent.target_id == str(app.id))
            .order_by(AuditEvent.id)
        ).all()
        timeline = [{"step": _STEPS[e.action], "at": e.occurred_at} for e in events if e.action in _STEPS]
        state = app.state.value
        return {
            "id": app.id,
            "seal_type": app.seal_type.code,
            "seal_type_enum": app.seal_type,
            "state": state,
            "state_enum": app.state,
            "reason": app.decided_reason,
            "submitted_at": app.submitted_at,
            "timeline": timeline,
            "progress": _progress(state, timeline),
            "uploaded_picture": app.picture_png is not None,
            "seal": app.seal.es_id if app.seal is not None else None,
            "withdrawable": state in (ApplicationState.SUBMITTED.value, ApplicationState.REVIEWED.value),
        }


def enterprise_application_picture(ctx: ServiceContext, enterprise_id: int, app_id: int) -> bytes:
    """The picture the application's seal carries: the issued seal's, the uploaded PNG, or the
    standard picture drawn from the licence data now."""
    with ctx.reader() as s:
        app = s.scalar(
            select(SealApplication).where(SealApplication.id == app_id, SealApplication.enterprise_id == enterprise_id)
        )
        if app is None:
            raise NotFound(M("portal.no_application", "no application {id}", "没有编号为 {id} 的申请"), id=app_id)
        if app.seal is not None:
            return pictures.seal_picture(app.seal).data
        if app.picture_png is not None:
            return app.picture_png
        ent = app.enterprise
        return pictures.draw_picture(
            ctx.settings.seal_font, ent.name, ent.legal_representative, app.seal_type, ent.uscc
        )
