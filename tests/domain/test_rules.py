"""Pure domain rules: no database, no app."""

from __future__ import annotations

import datetime as dt

import pytest

from registry.domain.errors import InvalidTransition, PermissionDenied, ValidationError
from registry.domain.esid import ALPHABET, luhn32_check, make_esid, validate_esid
from registry.domain.licence_file import parse_licence_file
from registry.domain.roles import Permission, Role, check_dual_control, permissions_of, require
from registry.domain.seal_types import STANDARD_SET, SealType, seal_name
from registry.domain.states import ApplicationAction as A
from registry.domain.states import ApplicationState as S
from registry.domain.states import LicenceStatus, next_application_state

TODAY = dt.date(2026, 11, 23)


# -- esID -----------------------------------------------------------------------------------------


def test_esid_layout_is_area_type_year_random_check() -> None:
    e = make_esid("440300", SealType.CONTRACT, 2026, random_bytes=b"\x00" * 8)
    assert e == "440300042026000000000000" + luhn32_check("440300042026000000000000")
    assert len(e) == 25 and e.isascii()


def test_esid_every_single_character_change_is_detected() -> None:
    e = make_esid("440300", SealType.FINANCE, 2026)
    for i in range(len(e)):
        for c in ALPHABET:
            if c != e[i]:
                with pytest.raises(ValidationError):
                    validate_esid(e[:i] + c + e[i + 1 :])


def test_esid_random_part_differs_between_draws() -> None:
    assert len({make_esid("440300", SealType.OFFICIAL, 2026) for _ in range(1000)}) == 1000


@pytest.mark.parametrize("bad", ["", "hello", "44030002202", "4403000220261234567890ABCI"])
def test_malformed_esid_is_refused_with_the_expected_format(bad: str) -> None:
    with pytest.raises(ValidationError, match="not a seal code"):
        validate_esid(bad)


# -- seal types -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        ("01", SealType.OFFICIAL),
        ("2", SealType.FINANCE),
        ("invoice", SealType.INVOICE),
        ("合同专用章", SealType.CONTRACT),
        ("负责人章", SealType.LEGAL_REPRESENTATIVE),
        ("Legal Representative", SealType.LEGAL_REPRESENTATIVE),
        ("99", SealType.OTHER),
    ],
)
def test_seal_type_accepts_code_english_and_chinese_names(text: str, expected: SealType) -> None:
    assert SealType.parse(text) is expected


def test_only_the_official_seal_is_drawn_without_a_label() -> None:
    """A drawn picture of any other type must not look like the enterprise's official seal (公章)."""
    assert SealType.OFFICIAL.picture_label == ""
    assert all(t.picture_label for t in SealType if t is not SealType.OFFICIAL)
    assert SealType.OTHER.picture_label == "专用章"


def test_unknown_seal_type_lists_the_choices() -> None:
    with pytest.raises(ValidationError, match="01 official.*05 legal-representative"):
        SealType.parse("07")


def test_standard_set_is_shenzhens_four_and_names_follow_the_registered_name() -> None:
    assert [t.chinese for t in STANDARD_SET] == ["法定名称章", "财务专用章", "合同专用章", "法定代表人名章"]
    assert seal_name("某某公司", SealType.FINANCE, "张三") == "某某公司财务专用章"
    assert seal_name("某某公司", SealType.OFFICIAL, "张三") == "某某公司"
    assert seal_name("某某公司", SealType.LEGAL_REPRESENTATIVE, "张三").startswith("张三")


# -- application state machine and dual control ---------------------------------------------------


def test_application_happy_path() -> None:
    s = S.SUBMITTED
    for action, expected in ((A.REVIEW, S.REVIEWED), (A.APPROVE, S.APPROVED), (A.ISSUE, S.ISSUED)):
        s = next_application_state(s, action)
        assert s is expected


@pytest.mark.parametrize(
    "state,action",
    [
        (S.SUBMITTED, A.APPROVE),
        (S.SUBMITTED, A.ISSUE),
        (S.REVIEWED, A.ISSUE),
        (S.APPROVED, A.WITHDRAW),
        (S.REJECTED, A.REVIEW),
        (S.ISSUED, A.REJECT),
        (S.WITHDRAWN, A.REVIEW),
        (S.APPROVED, A.REJECT),
    ],
)
def test_illegal_application_transitions_are_refused(state: S, action: A) -> None:
    with pytest.raises(InvalidTransition, match=f"cannot {action.value}"):
        next_application_state(state, action)


def test_reviewer_cannot_approve_own_review() -> None:
    with pytest.raises(PermissionDenied, match="dual control"):
        check_dual_control("otto", "otto")
    check_dual_control("olivia", "rita")


def test_operators_review_and_reviewers_approve_but_not_the_other_way() -> None:
    assert Permission.APPLICATION_REVIEW in permissions_of([Role.OPERATOR])
    assert Permission.APPLICATION_APPROVE not in permissions_of([Role.OPERATOR])
    assert Permission.APPLICATION_APPROVE in permissions_of([Role.REVIEWER])
    assert Permission.APPLICATION_REVIEW not in permissions_of([Role.REVIEWER])
    with pytest.raises(PermissionDenied):
        require("aud", [Role.AUDITOR], Permission.SEAL_ISSUE)


# -- licence files --------------------------------------------------------------------------------

HEADER = "uscc,name,legal_representative,entity_type,address,registered_on,status\n"


def test_licence_csv_rows_are_checked_one_by_one() -> None:
    data = (
        HEADER
        + "91440300MA5F12342Q,甲公司,张三,有限责任公司,深圳,2019-05-20,active\n"
        + "91440300MA5F12342Q,重复,张三,有限责任公司,深圳,2019-05-20,active\n"
        + "91440300MA5GK7B25F,乙公司,,有限责任公司,深圳,2019-05-20,active\n"
        + "91440300MA5GK7B25F,乙公司,李四,有限责任公司,深圳,2030-01-01,active\n"
        + "92440300MA5GT0017N,丙,王五,个体工商户,深圳,2019-05-20,dormant\n"
        + "93440300MA5HW8N39L,丁,赵六,合作社,深圳,2019-05-20\n"
    ).encode()
    good, bad = parse_licence_file(data, "x.csv", TODAY)
    assert [r.uscc for r in good] == ["91440300MA5F12342Q"]
    assert [(e.line, e.message.split(" ")[0]) for e in bad] == [
        (3, "USCC"),
        (4, "empty"),
        (5, "registered_on"),
        (6, "unknown"),
        (7, "expected"),
    ]
    assert good[0].status is LicenceStatus.ACTIVE and good[0].registered_on == dt.date(2019, 5, 20)


def test_licence_file_must_be_utf8_with_the_full_header() -> None:
    with pytest.raises(ValidationError, match="not UTF-8"):
        parse_licence_file("uscc,name\n".encode("gbk") + "甲".encode("gbk"), "x.csv", TODAY)
    with pytest.raises(ValidationError, match="missing column"):
        parse_licence_file(b"uscc,name\n", "x.csv", TODAY)
    with pytest.raises(ValidationError, match="empty"):
        parse_licence_file(b"", "x.csv", TODAY)


def test_licence_csv_with_bom_and_crlf_is_accepted() -> None:
    data = (
        "\ufeff"
        + HEADER.replace("\n", "\r\n")
        + "91440300MA5F12342Q,甲公司,张三,有限责任公司,深圳,2019-05-20,active\r\n"
    ).encode()
    good, bad = parse_licence_file(data, "x.csv", TODAY)
    assert len(good) == 1 and bad == []
