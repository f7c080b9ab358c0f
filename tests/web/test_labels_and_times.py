"""Issue 11 items 6-8 through the pages in Chinese: codes shown by their names (states, reasons,
audit actions and details, licence history), the revocation form with no default reason, and
times in Beijing time, labelled."""

from __future__ import annotations

import re
from html import unescape

from registry.domain import labels
from registry.domain.display_time import format_local
from registry.domain.roles import Role
from registry.services import applications, revocation, seals
from registry.services.context import ServiceContext
from tests.support.data import ADMIN, SHENZHEN_USCC
from tests.support.seals import issue
from tests.support.staff import client_as

TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def visible(html: str) -> str:
    """The page's text as read (tags, attributes and scripts dropped)."""
    return unescape(re.sub(r"<[^>]+>", " ", html))


def test_seal_page_names_states_actions_and_details(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    code = issue(ctx).es_id
    revocation.revoke_seal(ctx, ADMIN, code, "superseded")
    c = client_as(app, ctx, "rita2", Role.REVIEWER)
    text = visible(c.get(f"/admin/seals/{code}").get_data(as_text=True))
    assert "已吊销" in text and "签发印章" in text and "吊销印章" in text
    assert "已重新制作（被取代）（superseded）" in text
    assert "证书序列号" in text
    for raw in ("seal.issued", "seal.revoked", "certificate_serial=", " revoked "):
        assert raw not in text, raw


def test_audit_page_shows_action_names_and_readable_details(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    code = issue(ctx).es_id
    revocation.revoke_seal(ctx, ADMIN, code, "keyCompromise")
    c = client_as(app, ctx, "aud3", Role.AUDITOR)
    html = c.get("/admin/audit").get_data(as_text=True)
    table = visible(html.split('id="audit-events"', 1)[1].split("</table>", 1)[0])
    assert "吊销印章" in table and "签发印章" in table and "印章 " + code in " ".join(table.split())
    assert (
        "原因：挂失（密钥遗失或泄露）（keyCompromise）" in table.replace(" ", "").replace("原因：", "原因：")
        or "挂失（密钥遗失或泄露）（keyCompromise）" in table
    )
    assert '{"' not in table and '":' not in table
    assert '<option value="seal" >印章</option>' in html or ">印章</option>" in html


def test_application_pages_name_state_channel_and_licence_history(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    from registry.pki.keys import Algorithm, PrivateKey

    pub = PrivateKey.generate(Algorithm.SM2).public_key.pem().encode()
    app_id = applications.submit(
        ctx, ADMIN, uscc=SHENZHEN_USCC, seal_type="finance", key=seals.KeyMaterial(public_key_pem=pub)
    )
    c = client_as(app, ctx, "opal", Role.OPERATOR)
    listing = visible(c.get("/admin/applications?state=submitted").get_data(as_text=True))
    assert "已提交" in listing and "窗口受理" in listing
    assert not re.search(r"\bsubmitted\b|\bcounter\b", listing)
    page = visible(c.get(f"/admin/applications/{app_id}").get_data(as_text=True))
    assert "已提交" in page and "提交申请" in page and re.search(r"住所\s*：", page)
    assert "[None," not in page and "address:" not in page and "application.submitted" not in page


def test_revocation_form_has_no_default_and_names_each_reason(app, ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    code = issue(ctx).es_id
    c = client_as(app, ctx, "rita2", Role.REVIEWER)
    html = c.get(f"/admin/seals/{code}").get_data(as_text=True)
    select = html.split('<select id="reason"', 1)[1].split("</select>", 1)[0]
    assert "required" in select.split(">", 1)[0]
    options = re.findall(r'<option value="([^"]*)"([^>]*)>([^<]*)</option>', select)
    assert options[0][0] == "" and "selected" in options[0][1] and "disabled" in options[0][1]
    assert all("selected" not in attrs for _v, attrs, _t in options[1:])
    assert ("keyCompromise", "", "挂失（密钥遗失或泄露）（keyCompromise）") in options
    assert ("affiliationChanged", "", "登记事项变更（affiliationChanged）") in options
    before = fingerprint(ctx)
    r = c.post(
        f"/admin/seals/{code}/revoke",
        data={
            "csrf_token": TOKEN.search(html).group(1),  # type: ignore[union-attr]
            "reason": "",
            "confirm": code,
        },
        follow_redirects=True,
    )
    assert "未吊销：请选择吊销原因。" in r.get_data(as_text=True)
    assert fingerprint(ctx) == before


def test_times_on_pages_are_beijing_time_labelled(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    res = issue(ctx)
    c = client_as(app, ctx, "rita2", Role.REVIEWER)
    html = c.get(f"/admin/seals/{res.es_id}").get_data(as_text=True)
    with ctx.reader() as s:
        from sqlalchemy import select

        from registry.db.models import Seal

        seal = s.scalar(select(Seal).where(Seal.es_id == res.es_id))
        start = seal.valid_start
    local = format_local(start, "Asia/Shanghai", "zh")
    assert local.endswith("北京时间") and local in visible(html)
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", visible(html))  # no raw ISO timestamps
    # the public status page too, and the API stays UTC
    pub = visible(app.test_client().get(f"/seals/{res.es_id}").get_data(as_text=True))
    assert local in pub
    api = app.test_client().get(f"/api/v1/seals/{res.es_id}").get_json()
    assert str(api).count("Z") >= 1 and "北京时间" not in str(api)


def test_every_audit_action_recorded_has_a_label() -> None:
    """The actions the services record (read from the source, an action and its target type on one
    line or, as ruff formats a long call, on two) all have names in both languages."""
    import pathlib

    import registry

    root = pathlib.Path(registry.__file__).parent
    found = set()
    for path in root.rglob("*.py"):
        found |= set(
            re.findall(
                r'"((?:application|authority|crl|enterprise|licence|notification|person|seal|signin|'
                r'totp|trust_list|peer|user)\.[a-z_]+)",\s*"(?:application|authority|enterprise|licence-file|seal|'
                r'user|person|trust-list|peer)"',
                path.read_text(),
            )
        )
    assert len(found) > 20
    missing = sorted(a for a in found if a not in labels.AUDIT_ACTIONS)
    assert missing == []
