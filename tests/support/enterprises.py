"""Enterprises in bulk (generated USCCs, one licence file), and the staff portal's enterprise and
licence-import pages (an English client, the upload, the import report's rows)."""

from __future__ import annotations

import io
import re

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from registry.domain.roles import Role
from registry.pki.uscc import orgcode_check_char, uscc_check_char
from registry.services import licences
from registry.services.context import ServiceContext
from tests.support.data import ADMIN
from tests.support.staff import client_as as staff_client_as
from tests.support.staff import page_csrf

HEADER = "uscc,name,legal_representative,entity_type,address,registered_on,status\n"


def make_uscc(i: int) -> str:
    """The i-th of a series of valid USCCs (Shenzhen, company), none of them a demo licence."""
    body = f"E{i:07d}"
    first17 = "91440300" + body + orgcode_check_char(body)
    return first17 + uscc_check_char(first17)


def load(ctx: ServiceContext, names: list[str], start: int = 0) -> list[str]:
    """Active licences with these names, imported in one file; their USCCs in the same order."""
    codes = [make_uscc(start + i) for i in range(len(names))]
    csv = HEADER + "".join(
        f"{c},{n},王五,有限责任公司,深圳市,2020-01-01,active\n" for c, n in zip(codes, names, strict=True)
    )
    report = licences.import_licences(ctx, ADMIN, csv.encode(), "test.csv")
    assert not report.errors, report.errors
    return codes


def client_as(app: Flask, ctx: ServiceContext, name: str, *roles: Role, english: bool = True) -> FlaskClient:
    """A signed-in client; in English, so the assertions do not depend on the Chinese catalog."""
    client = staff_client_as(app, ctx, name, *roles)
    if english:
        client.post("/admin/language/en", data={"csrf_token": page_csrf(client, "/admin/"), "next": "/admin/"})
    return client


def upload(client: FlaskClient, data: bytes, filename: str = "licences.csv") -> TestResponse:
    """Upload a licence file on the import page."""
    token = page_csrf(client, "/admin/licences/import")
    return client.post(
        "/admin/licences/import",
        data={"csrf_token": token, "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def rows_of(page: str) -> list[tuple[int, str, str]]:
    """(line, USCC, outcome) of each row of the import report."""
    table = page.split('id="rows"')[1].split("</table>")[0]
    out = []
    for m in re.finditer(r'<tr class="row-(\w+)"><td>(\d+)</td>\s*<td>(.*?)</td>', table, re.S):
        uscc = re.search(r"<code>([^<]*)</code>", m.group(3))
        out.append((int(m.group(2)), uscc.group(1) if uscc else "", m.group(1)))
    return out
