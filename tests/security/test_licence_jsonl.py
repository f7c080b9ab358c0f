"""Issue 11 item 22: hostile JSON Lines licence files are row errors, never a 500 or a traceback."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from registry.db.models import Enterprise
from registry.domain.licence_file import parse_licence_file
from registry.domain.roles import Role
from registry.services.context import ServiceContext
from tests.support.cli import Cli
from tests.support.data import SHENZHEN_USCC
from tests.support.enterprises import client_as, rows_of, upload

TODAY = dt.date(2025, 1, 1)
FUTIAN_USCC = "91440300MA5GK7B25F"
GOOD = dict(
    uscc=SHENZHEN_USCC,
    name="深圳市前海示范科技有限公司",
    legal_representative="张三",
    entity_type="有限责任公司",
    address="深圳市南山区前海大道1号",
    registered_on="2019-05-20",
    status="active",
)

DEEP_ARRAY = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a":' * 5000 + "1" + "}" * 5000
HUGE_NUMBER = '{"uscc": 1' + "0" * 100_000 + "}"
DEEP_VALUE = '{"uscc": ' + "[" * 3000 + "]" * 3000 + "}"
# the row names one enterprise first, then (duplicate key) cancels another
DUPLICATE = (
    f'{{"uscc": "{FUTIAN_USCC}", "name": "深圳市福田样例贸易有限公司", "legal_representative": "李四", '
    f'"entity_type": "有限责任公司", "address": "", "registered_on": "2020-08-11", "uscc": "{SHENZHEN_USCC}", '
    '"status": "cancelled"}'
)

HOSTILE = [
    (DEEP_ARRAY, "line is 200,000 characters"),
    (DEEP_OBJECT, "nested more than"),
    (DEEP_VALUE, "nested more than"),
    (HUGE_NUMBER, "line is 100,011 characters"),
    ('{"uscc": 1' + "0" * 1000 + "}", "a number of 1,001"),
    (DUPLICATE, "key 'uscc' is written twice"),
    ('{"uscc": NaN}', "NaN is not allowed"),
    ('{"uscc": 12}', "every value must be a string"),
    ('{"uscc": 1.5e3}', "every value must be a string"),
]


@pytest.mark.parametrize("line,message", HOSTILE)
def test_a_hostile_line_is_a_row_error_naming_the_problem(line: str, message: str) -> None:
    data = (json.dumps(GOOD, ensure_ascii=False) + "\n" + line + "\n").encode()
    good, bad = parse_licence_file(data, "feed.jsonl", TODAY)
    assert [r.uscc for r in good] == [SHENZHEN_USCC]
    assert [e.line for e in bad] == [2] and message in bad[0].message, bad[0].message
    assert bad[0].error.code and bad[0].text("zh") != bad[0].message


def test_row_errors_have_their_chinese() -> None:
    good, bad = parse_licence_file((DUPLICATE + "\n").encode(), "feed.jsonl", TODAY)
    assert good == [] and "出现了两次" in bad[0].text("zh")


def test_duplicate_keys_never_change_the_other_enterprise(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    c = client_as(app, ctx, "sam", Role.OPERATOR)
    resp = upload(c, (DUPLICATE + "\n").encode(), "feed.jsonl")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert rows_of(page) == [(1, "", "rejected")] and "written twice" in page
    with ctx.reader() as s:
        assert s.scalar(select(Enterprise.status).where(Enterprise.uscc == SHENZHEN_USCC)).value == "active"


def test_hostile_upload_is_a_report_not_a_500_and_speaks_chinese(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    data = "\n".join([DEEP_ARRAY, DEEP_OBJECT, HUGE_NUMBER, DUPLICATE]).encode()
    c = client_as(app, ctx, "sam", Role.OPERATOR)
    resp = upload(c, data, "feed.jsonl")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert rows_of(page) == [(1, "", "rejected"), (2, "", "rejected"), (3, "", "rejected"), (4, "", "rejected")]
    zh = client_as(app, ctx, "zoe", Role.OPERATOR, english=False)
    zh.post(
        "/admin/language/zh",
        data={
            "csrf_token": __import__("tests.web.test_admin_auth", fromlist=["x"]).page_csrf(zh, "/admin/"),
            "next": "/admin/",
        },
    )
    page = upload(zh, data, "feed.jsonl").get_data(as_text=True)
    assert "嵌套超过" in page and "出现了两次" in page and "nested more than" not in page


def test_cli_reports_hostile_lines_without_a_traceback(cli: Cli, tmp_path: Path) -> None:
    cli("init")
    f = tmp_path / "feed.jsonl"
    f.write_text("\n".join([DEEP_ARRAY, DEEP_OBJECT, HUGE_NUMBER, DUPLICATE]) + "\n", encoding="utf-8")
    r = cli("licence", "import", str(f), ok=False)
    assert r.exit_code == 2 and "Traceback" not in r.stderr + r.stdout
    assert "rejected 4" in r.stdout
    for n, text in [(1, "characters"), (2, "nested"), (3, "characters"), (4, "written twice")]:
        assert f"line {n}: " in r.stderr and text in r.stderr
