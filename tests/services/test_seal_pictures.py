"""Seal pictures against their official forms, whether a licence's pictures can be drawn (and where
that is said), and what of an uploaded picture goes inside the signed seal."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

from registry.domain.seal_types import SealType
from registry.pki import picture, ses
from registry.services import licences, seals
from registry.services.context import ServiceContext
from tests.support.data import ADMIN, SHENZHEN_USCC
from tests.support.seals import issue_with as issue

LONG_NAME = "深圳市前海深港现代服务业合作区国际供应链管理与跨境电子商务综合服务示范科技发展有限责任公司"  # 45
LONG_USCC = "91440300MA5K56788C"


def _ink_box(data: bytes, box: tuple[float, float, float, float]) -> int:
    img = Image.open(io.BytesIO(data)).convert("RGBA")
    w, h = img.size
    region = img.getchannel("A").crop((round(box[0] * w), round(box[1] * h), round(box[2] * w), round(box[3] * h)))
    return sum(region.point(lambda a: 255 if a >= 128 else 0).histogram()[255:])


def test_each_type_has_its_official_form() -> None:
    # 公章 / 合同专用章 / 财务专用章 / 其他: round 40 mm with a star; 发票专用章: oval 40 × 30 mm; 名章: square
    assert {t: (t.picture_shape, t.picture_mm) for t in SealType} == {
        SealType.OFFICIAL: ("round", (40, 40)),
        SealType.FINANCE: ("round", (40, 40)),
        SealType.CONTRACT: ("round", (40, 40)),
        SealType.OTHER: ("round", (40, 40)),
        SealType.INVOICE: ("oval", (40, 30)),
        SealType.LEGAL_REPRESENTATIVE: ("square", (20, 20)),
    }


def test_the_invoice_seal_is_a_4_to_3_oval_with_the_uscc_through_the_middle_and_no_star() -> None:
    oval = picture.render_seal("深圳市前海示范科技有限公司", "发票专用章", shape="oval", middle=SHENZHEN_USCC)
    assert picture.validate_png(oval) == (472, 354)  # 40 × 30 mm
    round_ = picture.render_seal("深圳市前海示范科技有限公司", "发票专用章", shape="round")
    # the centre: the round seal's star is a solid blot; the oval's is one thin line of 18 characters
    centre = (0.42, 0.40, 0.58, 0.60)
    assert _ink_box(round_, centre) > 3 * _ink_box(oval, centre)
    # the middle line spans the width (the 18 characters of the USCC)
    band = (0.15, 0.44, 0.85, 0.56)
    assert _ink_box(oval, (0.15, 0.44, 0.3, 0.56)) > 0 and _ink_box(oval, (0.7, 0.44, 0.85, 0.56)) > 0
    assert _ink_box(oval, band) > 0
    # the corners of the bounding box are empty (an ellipse, not a rectangle)
    for corner in ((0, 0, 0.08, 0.08), (0.92, 0, 1, 0.08), (0, 0.92, 0.08, 1), (0.92, 0.92, 1, 1)):
        assert _ink_box(oval, corner) == 0


def test_an_issued_invoice_seal_carries_the_oval_picture_and_40_by_30_mm(ctx: ServiceContext) -> None:
    r = issue(ctx, seal_type="invoice")
    pic = ses.parse_seal(r.seal_der).picture
    assert (pic.width, pic.height) == (40, 30)
    assert Image.open(io.BytesIO(bytes(pic.data))).size == (472, 354)
    r = issue(ctx, seal_type="finance")
    pic = ses.parse_seal(r.seal_der).picture
    assert (pic.width, pic.height) == (40, 40) and Image.open(io.BytesIO(bytes(pic.data))).size == (472, 472)


def test_a_long_name_or_a_long_person_name_says_which_pictures_cannot_be_drawn_and_why() -> None:
    problems = seals.licence_picture_problems(None, LONG_NAME, "张三", LONG_USCC)
    assert set(problems) == {t for t in SealType if not t.is_name_seal}
    why = problems[SealType.OFFICIAL]
    assert why.code == "picture.name_too_long"
    assert why.text("zh") == "名称有 45 个字，圆形印章最多容纳 40 个字"
    assert "at most 40" in str(why)
    problems = seals.licence_picture_problems(None, "深圳市前海示范科技有限公司", "陈<i>一</i>", SHENZHEN_USCC)
    assert set(problems) == {SealType.LEGAL_REPRESENTATIVE}
    assert problems[SealType.LEGAL_REPRESENTATIVE].text("zh") == "名章只能刻 2 至 4 个字的姓名，“陈<i>一</i>”有 9 个字"
    assert seals.licence_picture_problems(None, "深圳市前海示范科技有限公司", "张三", SHENZHEN_USCC) == {}


def test_licence_import_warns_per_row_and_still_imports(ctx: ServiceContext) -> None:
    csv = (
        "uscc,name,legal_representative,entity_type,address,registered_on,status\n"
        f"{LONG_USCC},{LONG_NAME},王五,有限责任公司,深圳市南山区,2020-01-01,active\n"
    ).encode()
    report = licences.import_licences(ctx, ADMIN, csv, "long.csv")
    assert report.created == [LONG_USCC]
    (row,) = report.rows
    assert row.outcome == "created" and len(row.warnings) == 1
    assert "法定名称章" in row.warnings[0].text("zh") and "名称有 45 个字" in row.warnings[0].text("zh")
    assert "upload its own picture" in str(row.warnings[0])


def _chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def _chunk_types(data: bytes) -> list[bytes]:
    out, pos = [], 8
    while pos < len(data):
        length, ctype = struct.unpack_from(">I4s", data, pos)
        out.append(ctype)
        pos += 12 + length
    return out


def _png_with_extras() -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", (128, 128), (200, 16, 46, 255)).save(buf, format="PNG")
    plain = buf.getvalue()
    # tEXt (a comment), tIME and a private chunk right after IHDR (8 + 25 bytes)
    extras = (
        _chunk(b"tEXt", b"Comment\x00secret tracking id")
        + _chunk(b"tIME", b"\x07\xea\x01\x01\x00\x00\x00")
        + _chunk(b"prVt", b"anything")
    )
    return plain[:33] + extras + plain[33:]


def test_strip_png_keeps_only_the_image_chunks_and_the_same_pixels() -> None:
    data = _png_with_extras()
    assert {b"tEXt", b"tIME", b"prVt"} <= set(_chunk_types(data))
    stripped = picture.strip_png(data)
    assert set(_chunk_types(stripped)) <= picture.KEPT_CHUNKS and b"secret" not in stripped
    assert picture.validate_png(stripped) == (128, 128)
    assert (
        Image.open(io.BytesIO(stripped)).convert("RGBA").tobytes()
        == Image.open(io.BytesIO(data)).convert("RGBA").tobytes()
    )


def test_an_uploaded_picture_goes_into_the_seal_without_its_extra_chunks(ctx: ServiceContext) -> None:
    r = issue(ctx, seal_type="contract", picture_png=_png_with_extras())
    data = bytes(ses.parse_seal(r.seal_der).picture.data)
    assert b"secret tracking id" not in r.seal_der
    assert set(_chunk_types(data)) <= picture.KEPT_CHUNKS
