"""Applications under dual control: submit → review → approve (another person) → issue; reject; withdraw."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from registry.db.models import AuditEvent, SealApplication
from registry.domain.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationError
from registry.domain.roles import Role
from registry.pki import ses
from registry.services import applications, licences, seals
from registry.services.context import Actor, ServiceContext
from tests.support.applications import staff_actor, submit
from tests.support.data import CANCELLED_USCC, SHENZHEN_USCC
from tests.support.pki import csr_for


def events(ctx: ServiceContext, app_id: int) -> list[str]:
    with ctx.reader() as s:
        return list(
            s.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.target_type == "application", AuditEvent.target_id == str(app_id))
                .order_by(AuditEvent.id)
            )
        )


def test_the_whole_path_under_dual_control(ctx: ServiceContext) -> None:
    app_id = submit(ctx)
    applications.review(ctx, staff_actor(ctx, "olivia"), app_id)
    applications.approve(ctx, staff_actor(ctx, "rita"), app_id)
    result = applications.issue(ctx, staff_actor(ctx, "olivia"), app_id)
    assert result.application_id == app_id
    seal = ses.parse_seal(result.seal_der)
    assert seal.property.name.endswith("合同专用章")
    with ctx.reader() as s:
        app = s.get(SealApplication, app_id)
        assert app is not None and app.state.value == "issued" and app.seal is not None
        assert app.seal.es_id == result.es_id and app.picture_png is None
        assert s.scalar(select(SealApplication.id).where(SealApplication.id != app_id)) is None  # no second row
    assert events(ctx, app_id) == [
        "application.submitted",
        "application.reviewed",
        "application.approved",
        "application.issued",
    ]


def test_the_reviewer_can_never_approve_their_own_review(ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    app_id = submit(ctx)
    otto = staff_actor(ctx, "otto")  # operator and reviewer
    applications.review(ctx, otto, app_id)
    before = fingerprint(ctx)
    with pytest.raises(PermissionDenied, match="dual control"):
        applications.approve(ctx, otto, app_id)
    assert fingerprint(ctx) == before
    applications.approve(ctx, staff_actor(ctx, "rita"), app_id)


@pytest.mark.parametrize(
    "case",
    [
        "approve before review",
        "issue before approval",
        "review twice",
        "operator approves",
        "auditor reviews",
        "reject without reason",
        "unknown id",
    ],
)
def test_wrong_steps_are_clear_errors_that_change_nothing(ctx: ServiceContext, fingerprint, case: str) -> None:  # type: ignore[no-untyped-def]
    app_id = submit(ctx)
    olivia, rita, aud = (staff_actor(ctx, n) for n in ("olivia", "rita", "aud"))
    if case == "review twice":
        applications.review(ctx, olivia, app_id)
    before = fingerprint(ctx)
    expected, call = {
        "approve before review": (InvalidTransition, lambda: applications.approve(ctx, rita, app_id)),
        "issue before approval": (InvalidTransition, lambda: applications.issue(ctx, olivia, app_id)),
        "review twice": (InvalidTransition, lambda: applications.review(ctx, olivia, app_id)),
        "operator approves": (PermissionDenied, lambda: applications.approve(ctx, olivia, app_id)),
        "auditor reviews": (PermissionDenied, lambda: applications.review(ctx, aud, app_id)),
        "reject without reason": (ValidationError, lambda: applications.reject(ctx, rita, app_id, "  ")),
        "unknown id": (NotFound, lambda: applications.review(ctx, olivia, app_id + 999)),
    }[case]
    with pytest.raises(expected):
        call()
    assert fingerprint(ctx) == before


def test_reject_with_reason_and_withdraw(ctx: ServiceContext) -> None:
    a, b = submit(ctx), submit(ctx)
    applications.reject(ctx, staff_actor(ctx, "rita"), a, "印章名称与营业执照不符")
    with pytest.raises(InvalidTransition):
        applications.approve(ctx, staff_actor(ctx, "rita"), a)
    with ctx.reader() as s:
        ent_id = s.get(SealApplication, b).enterprise_id  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        applications.withdraw(ctx, Actor("someone", kind="enterprise"), b, ent_id + 1)
    applications.withdraw(ctx, Actor("ent", kind="enterprise"), b, ent_id)
    assert events(ctx, b)[-1] == "application.withdrawn"
    assert applications.detail(ctx, staff_actor(ctx, "aud"), a)["reason"] == "印章名称与营业执照不符"


def test_submission_checks(ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    before = fingerprint(ctx)
    olivia = staff_actor(ctx, "olivia")
    _k, other_csr = csr_for(CANCELLED_USCC, common_name="测试")
    with pytest.raises(ValidationError, match="names USCC"):
        applications.submit(ctx, olivia, uscc=SHENZHEN_USCC, seal_type="finance", key=seals.KeyMaterial(csr=other_csr))
    with pytest.raises(Conflict, match="cancelled"):
        applications.submit(ctx, olivia, uscc=CANCELLED_USCC, seal_type="finance", key=seals.KeyMaterial(csr=other_csr))
    with pytest.raises(ValidationError, match="not a PNG|PNG"):
        applications.submit(
            ctx,
            olivia,
            uscc=SHENZHEN_USCC,
            seal_type="finance",
            key=seals.KeyMaterial(csr=csr_for(SHENZHEN_USCC, common_name="测试")[1]),
            picture_png=b"GIF89a....",
        )
    with pytest.raises(PermissionDenied):
        applications.submit(
            ctx,
            staff_actor(ctx, "rita"),
            uscc=SHENZHEN_USCC,
            seal_type="finance",
            key=seals.KeyMaterial(csr=csr_for(SHENZHEN_USCC, common_name="测试")[1]),
        )
    assert fingerprint(ctx) == before


def test_licence_cancelled_after_review_blocks_approval(ctx: ServiceContext) -> None:
    from tests.support.data import ADMIN

    app_id = submit(ctx)
    applications.review(ctx, staff_actor(ctx, "olivia"), app_id)
    licences.set_licence_status(ctx, ADMIN, SHENZHEN_USCC, "cancelled")
    with pytest.raises(Conflict, match="cancelled"):
        applications.approve(ctx, staff_actor(ctx, "rita"), app_id)


def test_queue_by_age_with_keyset_pages(ctx: ServiceContext) -> None:
    ids = []
    for _ in range(5):
        ids.append(submit(ctx))
        ctx.clock.advance(minutes=1)
    aud = staff_actor(ctx, "aud")
    first = applications.queue(ctx, aud, limit=2)
    assert [r.id for r in first.rows] == ids[:2] and first.next_after is not None
    second = applications.queue(ctx, aud, limit=2, after=first.next_after)
    assert [r.id for r in second.rows] == ids[2:4]
    newest = applications.queue(ctx, aud, oldest_first=False, limit=2)
    assert [r.id for r in newest.rows] == [ids[4], ids[3]]
    applications.reject(ctx, staff_actor(ctx, "rita"), ids[0], "重复申请")
    assert ids[0] not in [r.id for r in applications.queue(ctx, aud).rows]
    assert [r.id for r in applications.queue(ctx, aud, state="rejected").rows] == [ids[0]]
    assert len(applications.queue(ctx, aud, query="深圳市前海").rows) == 4
    with pytest.raises(ValidationError):
        applications.queue(ctx, aud, state="bogus")
    assert Role.AUDITOR in aud.roles
