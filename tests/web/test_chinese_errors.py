"""Chinese pages speak Chinese (issue 11 item 5): real refusals driven through the pages in Chinese
show the message's Chinese text and no English sentence; the public verifier shows both languages."""

from __future__ import annotations

import io
import re
from html import unescape

import pytest

from registry.domain.roles import Role
from registry.services import revocation
from registry.services.context import ServiceContext
from tests.support.data import ADMIN, OTHER_USCC, SHENZHEN_USCC
from tests.support.pki import csr_for
from tests.support.portal import sign_in
from tests.support.seals import issue
from tests.support.staff import client_as

pytestmark = pytest.mark.demo_issuer  # the app fixture sets up the demo e-licence issuer first

TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
# An English sentence: four or more English words in a row (codes, USCCs and file names are single words;
# a date format such as YYYY-MM-DD HH:MM is not a sentence).
_ENGLISH = re.compile(r"[A-Za-z]{2,}(?:[ ,;:'()-]+[A-Za-z]{2,}){3,}")


class _English:
    @staticmethod
    def search(text: str):  # type: ignore[no-untyped-def]
        return _ENGLISH.search(re.sub(r"\bY{4}-M{2}-D{2}(?: H{2}:M{2}(?::S{2})?)?\b", "", text))


ENGLISH = _English()


def errors(html: str) -> str:
    """The error messages on a page (role="alert" elements)."""
    found = re.findall(r'<(?:div|p) class="error"[^>]*role="alert"[^>]*>(.*?)</(?:div|p)>', html, re.S)
    return unescape(" ".join(re.sub(r"<[^>]+>", " ", f) for f in found)).strip()


def chinese_only(text: str) -> None:
    assert text, "no error shown"
    assert re.search(r"[\u4e00-\u9fff]", text), text
    assert not ENGLISH.search(text), f"English on a Chinese page: {text!r}"


def zh_client(app, ctx: ServiceContext, name: str, *roles: Role):  # type: ignore[no-untyped-def]
    c = client_as(app, ctx, name, *roles)
    c.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN,zh;q=0.9"
    return c


def test_the_public_verifier_says_why_in_chinese_and_english(app) -> None:  # type: ignore[no-untyped-def]
    c = app.test_client()
    c.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    r = c.post(
        "/verify", data={"file": (io.BytesIO(b"this is not a seal"), "x.esl")}, content_type="multipart/form-data"
    )
    assert r.status_code == 400
    shown = errors(r.get_data(as_text=True))
    assert "不是电子印章、电子签章或 OFD 文档（既非 DER 也非 ZIP）" in shown
    assert "not an electronic seal, an electronic signature or an OFD document (neither DER nor ZIP)" in shown


def test_a_seal_that_is_not_one_is_explained_in_both_languages(app) -> None:  # type: ignore[no-untyped-def]
    """A DER file that is no seal: the parse problem is said in Chinese too (not English inside Chinese)."""
    c = app.test_client()
    r = c.post(
        "/verify",
        data={"file": (io.BytesIO(bytes.fromhex("300602010102010a")), "x.esl")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 400
    zh, en = errors(r.get_data(as_text=True)).split(" / ", 1)
    assert zh.startswith("既不是电子印章（SES_SealInfo（偏移 2）：应为 SEQUENCE，实为 INTEGER）"), zh
    chinese_only(zh)
    assert en.startswith("neither an electronic seal (SES_SealInfo at offset 2: expected SEQUENCE, found INTEGER)")


def test_application_queue_filter_refusal_in_chinese(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    c = zh_client(app, ctx, "opal", Role.OPERATOR)
    r = c.get("/admin/applications?state=bogus")
    assert r.status_code == 400
    shown = errors(r.get_data(as_text=True))
    assert "未知状态" in shown
    chinese_only(shown)


def test_revoking_a_revoked_seal_is_refused_in_chinese(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    code = issue(ctx).es_id
    revocation.revoke_seal(ctx, ADMIN, code, "keyCompromise")
    c = zh_client(app, ctx, "rita2", Role.REVIEWER)
    html = c.get(f"/admin/seals/{code}").get_data(as_text=True)
    tok = TOKEN.search(html).group(1)  # type: ignore[union-attr]
    r = c.post(f"/admin/seals/{code}/revoke", data={"csrf_token": tok, "reason": "superseded", "confirm": code})
    assert r.status_code == 409
    body = unescape(r.get_data(as_text=True))
    assert f"印章 {code} 已被吊销" in body
    assert "is already revoked" not in body


def test_licence_change_refusal_in_chinese(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    c = zh_client(app, ctx, "opal", Role.OPERATOR)
    r = c.get("/admin/enterprises/91440300MA5FUTURE0/licence")
    assert r.status_code in (400, 404)
    body = unescape(r.get_data(as_text=True))
    assert "统一社会信用代码" in body and "unified social credit code" not in body


def test_apply_form_csr_refusal_in_chinese(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    c = app.test_client()
    c.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    assert sign_in(c, ctx, SHENZHEN_USCC).status_code == 302
    tok = TOKEN.search(c.get("/portal/apply").get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    data = {f"csr_{code}": (io.BytesIO(csr_for(SHENZHEN_USCC)[1]), "r.csr") for code in ("01", "02", "04", "05")}
    data["csr_01"] = (io.BytesIO(csr_for(OTHER_USCC)[1]), "r.csr")
    data["csr_02"] = (io.BytesIO(b"-----BEGIN CERTIFICATE REQUEST-----\nnot base64\n"), "r.csr")
    r = c.post("/portal/apply", data={**data, "csrf_token": tok}, content_type="multipart/form-data")
    assert r.status_code == 400
    shown = errors(r.get_data(as_text=True))
    assert f"证书请求中的统一社会信用代码为 {OTHER_USCC}" in shown
    chinese_only(shown)


def test_licence_import_row_errors_in_chinese(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    c = zh_client(app, ctx, "opal", Role.OPERATOR)
    tok = TOKEN.search(c.get("/admin/licences/import").get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    csv = (
        "uscc,name,legal_representative,entity_type,address,registered_on,status\n"
        "91440300MA5FUTURE0,某公司,张三,有限责任公司,深圳,2020-01-01,active\n"
    ).encode()
    r = c.post(
        "/admin/licences/import",
        data={"csrf_token": tok, "file": (io.BytesIO(csv), "l.csv")},
        content_type="multipart/form-data",
    )
    html = r.get_data(as_text=True)
    row = unescape(re.sub(r"<[^>]+>", " ", html.split('class="row-rejected"', 1)[1].split("</tr>", 1)[0]))
    assert "统一社会信用代码" in row
    assert not ENGLISH.search(row), row


def test_audit_filter_refusal_in_chinese(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    c = zh_client(app, ctx, "audz", Role.AUDITOR)
    r = c.get("/admin/audit?from=yesterday")
    assert r.status_code == 400
    chinese_only(errors(r.get_data(as_text=True)))
