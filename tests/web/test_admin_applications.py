"""Admin portal: the application queue and dual control through the pages."""

from __future__ import annotations

from registry.domain.roles import Role
from registry.services import applications
from registry.services.context import ServiceContext
from tests.support.applications import staff_actor, submit
from tests.support.staff import client_as, page_csrf


def post(client, url: str, page: str, **data):  # type: ignore[no-untyped-def]
    return client.post(url, data={"csrf_token": page_csrf(client, page), **data})


def test_review_approve_issue_through_the_pages_by_two_people(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    app_id = submit(ctx)
    op = client_as(app, ctx, "opal", Role.OPERATOR)
    rev = client_as(app, ctx, "ruth", Role.REVIEWER)
    page = f"/admin/applications/{app_id}"
    html = op.get("/admin/applications").get_data(as_text=True)
    assert f'/admin/applications/{app_id}"' in html and "深圳市前海示范科技有限公司" in html
    html = op.get(page).get_data(as_text=True)
    assert "营业执照信息" in html and "张三" in html and "标记为已审核" in html
    assert op.get(f"/admin/applications/{app_id}/picture.png").mimetype == "image/png"
    assert post(op, f"{page}/review", page).status_code == 302
    # the operator cannot approve; the reviewer sees the button
    assert post(op, f"{page}/approve", page).status_code == 403
    assert "批准" in rev.get(page).get_data(as_text=True)
    assert post(rev, f"{page}/approve", page).status_code == 302
    resp = post(op, f"{page}/issue", page)
    assert resp.status_code == 302 and "/admin/seals/" in resp.headers["Location"]
    assert "已签发" in op.get(resp.headers["Location"]).get_data(as_text=True)


def test_a_person_with_both_roles_cannot_approve_their_own_review(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    app_id = submit(ctx)
    both = client_as(app, ctx, "bo", Role.OPERATOR, Role.REVIEWER)
    page = f"/admin/applications/{app_id}"
    post(both, f"{page}/review", page)
    assert "须由另一名审批人员批准" in both.get(page).get_data(as_text=True)
    resp = post(both, f"{page}/approve", page)
    assert resp.status_code == 403 and "双人控制" in resp.get_data(as_text=True)


def test_reject_needs_a_reason_and_wrong_states_are_409(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    app_id = submit(ctx)
    rev = client_as(app, ctx, "ruth", Role.REVIEWER)
    page = f"/admin/applications/{app_id}"
    resp = post(rev, f"{page}/reject", page, reason="")
    assert resp.status_code == 302 and "驳回需要填写原因" in rev.get(page).get_data(as_text=True)
    assert post(rev, f"{page}/reject", page, reason="<b>名称不符</b>").status_code == 302
    html = rev.get(page).get_data(as_text=True)
    assert "&lt;b&gt;名称不符&lt;/b&gt;" in html and "<b>名称不符</b>" not in html
    resp = post(rev, f"{page}/approve", page)
    assert resp.status_code == 409 and "rejected" in resp.get_data(as_text=True)
    assert rev.get("/admin/applications/999999").status_code == 404
    assert rev.post(f"{page}/reject", data={"reason": "x"}).status_code == 400  # no CSRF token


def test_queue_filters_and_pages(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    ids = []
    for _ in range(3):
        ids.append(submit(ctx))
        ctx.clock.advance(minutes=5)
    applications.review(ctx, staff_actor(ctx, "olivia"), ids[1])
    c = client_as(app, ctx, "aud2", Role.AUDITOR)
    html = c.get("/admin/applications?state=reviewed").get_data(as_text=True)
    assert f">{ids[1]}</a>" in html and f">{ids[0]}</a>" not in html
    html = c.get("/admin/applications?sort=newest").get_data(as_text=True)
    assert html.index(f">{ids[2]}</a>") < html.index(f">{ids[0]}</a>")
    assert c.get("/admin/applications?state=bogus").status_code == 400
