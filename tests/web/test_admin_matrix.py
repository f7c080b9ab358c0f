"""Every admin URL and action, for every role and for anonymous visitors: the allowed/denied matrix.

A new admin endpoint that is not in EXPECTED fails this test, so nobody adds a page without
deciding who may use it.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest

from registry.domain.roles import Role
from registry.services.context import ServiceContext
from tests.support.applications import submit
from tests.support.seals import issue_es_id
from tests.support.staff import csrf, sign_in, staff

ALL = {"operator", "reviewer", "admin", "auditor"}
STAFF_ANY = ALL
FUTIAN_USCC = "91440300MA5GK7B25F"  # demo licence, active, no seals: renamed by the licence-change row
# endpoint → (method, URL template, roles allowed). {code} is a live seal's esID, {uscc} an enterprise's USCC.
EXPECTED: dict[str, tuple[str, str, set[str]]] = {
    "admin.dashboard": ("GET", "/admin/", STAFF_ANY),
    "admin.password": ("GET", "/admin/password", STAFF_ANY),
    "admin.audit_log": ("GET", "/admin/audit", {"auditor"}),
    "admin.audit_integrity": ("GET", "/admin/audit/integrity", {"admin", "auditor"}),
    "admin.audit_verify": ("POST", "/admin/audit/integrity", {"admin", "auditor"}),
    "admin.user_list": ("GET", "/admin/users", {"admin"}),  # its POST creates an account (same check)
    "admin.user_detail": ("GET", "/admin/users/olivia", {"admin"}),  # its POST sets the roles
    "admin.user_active": ("POST", "/admin/users/aud/deactivate", {"admin"}),
    "admin.user_reset_totp": ("POST", "/admin/users/otto/reset-second-factor", {"admin"}),
    "admin.user_reset_password": ("POST", "/admin/users/otto/reset-password", {"admin"}),
    "admin.crl_list": ("GET", "/admin/crls", STAFF_ANY),
    "admin.crl_publish_now": ("POST", "/admin/crls/publish", {"admin"}),
    "admin.trust_list_page": ("GET", "/admin/trust-list", STAFF_ANY),
    "admin.trust_list_publish_now": ("POST", "/admin/trust-list/publish", {"admin"}),
    "admin.peer_list": ("GET", "/admin/peers", STAFF_ANY),
    "admin.peer_propose": ("POST", "/admin/peers", {"admin"}),
    "admin.peer_detail": ("GET", "/admin/peers/matrix-view", STAFF_ANY),
    "admin.peer_approve": ("POST", "/admin/peers/matrix-approve/approve", {"admin", "reviewer"}),
    "admin.peer_decide": ("POST", "/admin/peers/matrix-withdraw/withdraw", {"admin"}),
    "admin.peer_refresh": ("POST", "/admin/peers/matrix-refresh/refresh", {"admin"}),
    "admin.seal_list": ("GET", "/admin/seals", {"operator", "reviewer", "admin", "auditor"}),
    "admin.seal_detail": ("GET", "/admin/seals/{code}", {"operator", "reviewer", "admin", "auditor"}),
    "admin.seal_download": ("GET", "/admin/seals/{code}/seal.esl", {"operator", "reviewer", "admin", "auditor"}),
    "admin.seal_revoke": ("POST", "/admin/seals/{code}/revoke", {"reviewer"}),
    "admin.seal_hold": ("POST", "/admin/seals/{code}/suspend", {"operator", "reviewer"}),
    "admin.application_list": ("GET", "/admin/applications", {"operator", "reviewer", "admin", "auditor"}),
    "admin.application_detail": ("GET", "/admin/applications/{app}", {"operator", "reviewer", "admin", "auditor"}),
    "admin.application_picture": (
        "GET",
        "/admin/applications/{app}/picture.png",
        {"operator", "reviewer", "admin", "auditor"},
    ),
    "admin.application_action": ("POST", "/admin/applications/{app}/review", {"operator"}),
    "admin.enterprise_list": ("GET", "/admin/enterprises", STAFF_ANY),
    "admin.enterprise_detail": ("GET", "/admin/enterprises/{uscc}", STAFF_ANY),
    "admin.licence_import": ("GET", "/admin/licences/import", {"operator"}),
    "admin.licence_import_upload": ("POST", "/admin/licences/import", {"operator"}),
    "admin.licence_status": ("GET", "/admin/enterprises/{uscc}/licence?status=cancelled", {"operator"}),  # preview
    "admin.licence_status_apply": ("POST", "/admin/enterprises/{uscc}/licence", {"operator"}),
    # CSV exports: checked like their lists; the seal picture like the seal page
    "admin.seal_export": ("GET", "/admin/seals.csv", {"operator", "reviewer", "admin", "auditor"}),
    "admin.application_export": ("GET", "/admin/applications.csv", {"operator", "reviewer", "admin", "auditor"}),
    "admin.enterprise_export": ("GET", "/admin/enterprises.csv", STAFF_ANY),
    "admin.audit_export": ("GET", "/admin/audit.csv", {"auditor"}),
    "admin.seal_picture": ("GET", "/admin/seals/{code}/picture", {"operator", "reviewer", "admin", "auditor"}),
}
# what a POST carries besides the CSRF token and the seal actions' fields (a fresh body per request)
LICENCE_CSV = (
    "uscc,name,legal_representative,entity_type,address,registered_on,status\n"
    f"{FUTIAN_USCC},深圳市福田样例贸易有限公司,李四,有限责任公司,深圳市福田区深南大道2号,2020-08-11,active\n"
)
FORMS: dict[str, Callable[[], dict[str, Any]]] = {
    # a proposal whose list cannot be fetched: refused with 400 after the permission check (below)
    "admin.peer_propose": lambda: {
        "name": "matrix-new",
        "url": "http://127.0.0.1:9/trust/list.jws",
        "area_code": "310000",
        "fingerprints": "ab" * 32,
    },
    "admin.peer_decide": lambda: {"reason": "matrix", "confirm": "matrix-withdraw"},
    "admin.licence_import_upload": lambda: {"file": (io.BytesIO(LICENCE_CSV.encode()), "matrix.csv")},
    "admin.licence_status_apply": lambda: {
        "status": "active",
        "name": "深圳市福田样例贸易（集团）有限公司",
        "confirm": FUTIAN_USCC,
        "seals": "",
    },
}
# endpoints whose allowed call, in this matrix, is a refusal of its input (4xx after the
# permission check): a peer proposal needs a live trust list to succeed (tests/mutual covers that)
REFUSED_INPUT = {"admin.peer_propose"}
# reachable without signing in (the sign-in itself)
PUBLIC = {"admin.login", "admin.enrol", "admin.code", "admin.logout", "admin.language"}


def test_every_admin_endpoint_is_in_the_matrix(app) -> None:  # type: ignore[no-untyped-def]
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("admin.")}
    assert endpoints == set(EXPECTED) | PUBLIC


@pytest.mark.parametrize("who", ["anonymous", *(r.value for r in Role)])
def test_role_matrix(app, ctx: ServiceContext, who: str) -> None:  # type: ignore[no-untyped-def]
    """One visitor (anonymous, or a staff account with one role) against every admin endpoint:
    split by visitor so the runs spread over workers and a failure names whose row is wrong."""
    client = app.test_client()
    _peers(ctx)
    if who != "anonymous":
        sign_in(client, ctx, f"m{who}", staff(ctx, f"m{who}", (Role(who),)))
    got: dict[str, str] = {}
    for endpoint, (method, template, _allowed) in EXPECTED.items():
        # a fresh seal for every state-changing call, so one action doesn't block the next
        code = issue_es_id(ctx)
        url = template.format(code=code, app=submit(ctx) if "{app}" in template else 0, uscc=FUTIAN_USCC)
        if method == "GET":
            resp = client.get(url)
        else:
            token_page = client.get("/admin/login") if who == "anonymous" else client.get("/admin/")
            data = {
                "csrf_token": csrf(token_page.get_data(as_text=True)),
                "confirm": code,
                "reason": "keyCompromise",
                "note": "",
            }
            data.update(FORMS[endpoint]() if endpoint in FORMS else {})
            resp = client.post(url, data=data)
        if (
            endpoint in REFUSED_INPUT
            and resp.status_code == 400
            or resp.status_code in (200, 302)
            and not (resp.status_code == 302 and "/admin/login" in resp.headers["Location"])
        ):
            got[endpoint] = "allowed"
        elif resp.status_code == 302:
            got[endpoint] = "login"
        elif resp.status_code == 403:
            got[endpoint] = "denied"
        else:
            got[endpoint] = f"HTTP {resp.status_code}"
    want = {
        e: ("login" if who == "anonymous" else "allowed" if who in allowed else "denied")
        for e, (_m, _t, allowed) in EXPECTED.items()
    }
    wrong = {k: (got[k], want[k]) for k in want if got[k] != want[k]}
    assert not wrong, wrong


def _peers(ctx: ServiceContext) -> None:
    """Peers for the peer endpoints: proposed by someone else (to approve, to withdraw, to view),
    and an admitted one whose list server is down (to refresh: it records the failure)."""
    from registry.db.trust_models import Peer

    with ctx.transaction() as s:
        for name, state in (
            ("matrix-view", "proposed"),
            ("matrix-approve", "proposed"),
            ("matrix-withdraw", "proposed"),
            ("matrix-refresh", "active"),
        ):
            s.add(
                Peer(
                    name=name,
                    kind="registry",
                    area_code="110000",
                    trust_list_url=f"http://127.0.0.1:9/{name}/list.jws",
                    state=state,
                    state_since=ctx.clock.now(),
                    state_by="someone-else",
                    proposed_by="someone-else",
                    proposed_at=ctx.clock.now(),
                )
            )
