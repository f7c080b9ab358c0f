"""Seal pictures (registry.pki.picture, .fonts, .png): font discovery and glyph coverage, rendering, PNG validation.

The rendering tests need a CJK font; the project installs Debian's fonts-noto-cjk. They honour
REGISTRY_SEAL_FONT like the application does, and fail (not skip) if no font is found.
"""

from __future__ import annotations

import io
import os
import random
import struct
import zlib

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFont

from registry.pki import fonts, picture
from registry.pki.picture import (
    SEAL_RED,
    PictureError,
    find_cjk_font,
    missing_glyphs,
    render_seal,
    validate_png,
)

REALISTIC_NAMES = [
    "深圳市前海微众银行股份有限公司",
    "深圳市腾讯计算机系统有限公司",
    "华为技术有限公司",
    "比亚迪股份有限公司",
    "中国平安保险（集团）股份有限公司",  # full-width brackets U+FF08 / U+FF09
    "深圳市鑫达实业有限公司",
    "TCL科技集团股份有限公司",
    "招商银行股份有限公司",
    "深圳市大疆创新科技有限公司",
    "深圳迈瑞生物医疗电子股份有限公司",
]
SEAL_KIND_LABELS = ["法定名称章", "财务专用章", "发票专用章", "合同专用章", "法定代表人名章", "负责人章"]
PERSON_NAMES = ["张三", "王小明", "欧阳建国", "李喆"]
# Rare characters seen in enterprise and personal names: 鑫 (common in trade names), 瑧, 喆, and 𠮷 (U+20BB7,
# outside the BMP, the classic "tsuchi-yoshi" variant of 吉).
RARE_CHARACTERS = ["鑫", "瑧", "喆", "𠮷"]
PRIVATE_USE = "\ue000"  # no CJK font maps the Private Use Area


@pytest.fixture(scope="module")
def font() -> str:
    return find_cjk_font(os.environ.get("REGISTRY_SEAL_FONT") or None)


@pytest.fixture(scope="module")
def round_png(font) -> bytes:
    return render_seal("深圳市前海微众银行股份有限公司", "财务专用章", shape="round", font_path=font)


@pytest.fixture(scope="module")
def square_png(font) -> bytes:
    return render_seal("欧阳建国", "法定代表人名章", shape="square", font_path=font)


def _rgba(data: bytes) -> Image.Image:
    """Decode as any viewer would: the palette PNG (seal red, opacity in tRNS) expanded to RGBA."""
    img = Image.open(io.BytesIO(data))
    img.load()
    assert img.format == "PNG"
    return img.convert("RGBA")


def _ink(img: Image.Image, box: tuple[float, float, float, float]) -> int:
    """Number of clearly opaque pixels in ``box`` given as fractions (left, top, right, bottom) of the size."""
    w, h = img.size
    region = img.getchannel("A").crop((round(box[0] * w), round(box[1] * h), round(box[2] * w), round(box[3] * h)))
    return sum(region.point(lambda a: 255 if a >= 128 else 0).histogram()[255:])


def _png_chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def _png(width: int, height: int, mode: str = "RGBA") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height)).save(out, format="PNG")
    return out.getvalue()


# --- fonts ----------------------------------------------------------------------------------------------


def test_find_cjk_font_finds_an_installed_noto_cjk_font(font):
    assert os.path.isfile(font)
    if not os.environ.get("REGISTRY_SEAL_FONT"):
        assert font in picture.KNOWN_FONT_LOCATIONS
        assert find_cjk_font() == font


def test_collection_uses_the_simplified_chinese_face(font):
    face = fonts.face_index(font)
    name = ImageFont.truetype(font, 16, index=face).getname()[0]
    if font.endswith((".ttc", ".otc")):
        assert name.endswith(" SC"), name


def test_configured_font_that_does_not_exist_is_an_error_with_install_hint(tmp_path):
    with pytest.raises(PictureError) as info:
        find_cjk_font(str(tmp_path / "nope.ttc"))
    assert "does not exist" in str(info.value)
    assert "apt-get install fonts-noto-cjk" in str(info.value)


def test_configured_file_that_is_not_a_font_is_an_error(tmp_path):
    junk = tmp_path / "junk.ttf"
    junk.write_bytes(b"this is not a font" * 10)
    with pytest.raises(PictureError) as info:
        find_cjk_font(str(junk))
    assert "cannot be read as a font" in str(info.value)


def test_configured_font_without_chinese_glyphs_is_an_error():
    latin = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    if not os.path.isfile(latin):
        pytest.skip("DejaVu Sans is not installed")
    with pytest.raises(PictureError) as info:
        find_cjk_font(latin)
    assert "no Chinese glyphs" in str(info.value)


def test_no_font_anywhere_raises_with_install_hint(monkeypatch):
    monkeypatch.setattr(fonts, "KNOWN_FONT_LOCATIONS", ("/nonexistent/NotoSerifCJK-Bold.ttc",))
    with pytest.raises(PictureError) as info:
        find_cjk_font(None)
    assert "apt-get install fonts-noto-cjk" in str(info.value)


# --- glyph coverage ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", REALISTIC_NAMES)
def test_every_character_of_realistic_enterprise_names_is_covered(font, name):
    assert missing_glyphs(name, font) == []


@pytest.mark.parametrize("label", SEAL_KIND_LABELS)
def test_every_seal_kind_label_is_covered(font, label):
    assert missing_glyphs(label, font) == []


@pytest.mark.parametrize("person", PERSON_NAMES)
def test_every_character_of_person_names_is_covered(font, person):
    assert missing_glyphs(person, font) == []


@pytest.mark.parametrize("char", RARE_CHARACTERS)
def test_rare_name_characters_are_covered_or_rejected_by_name(font, char):
    name = f"深圳市{char}科技有限公司"
    if missing_glyphs(name, font) == []:
        data = render_seal(name, "合同专用章", shape="round", font_path=font)
        assert validate_png(data) == (472, 472)
    else:
        assert missing_glyphs(name, font) == [char]
        with pytest.raises(PictureError) as info:
            render_seal(name, "合同专用章", shape="round", font_path=font)
        assert char in str(info.value) and f"U+{ord(char):04X}" in str(info.value)


def test_noto_cjk_covers_the_rare_characters_including_the_supplementary_plane(font):
    # Noto CJK maps all four (𠮷 through a cmap format 12 group); a font that does not is still handled
    # by the test above, so this one only documents the installed font.
    if "Noto" not in ImageFont.truetype(font, 16, index=fonts.face_index(font)).getname()[0]:
        pytest.skip("not a Noto CJK font")
    assert missing_glyphs("".join(RARE_CHARACTERS), font) == []


def test_private_use_character_is_reported_missing(font):
    assert missing_glyphs(f"华为{PRIVATE_USE}技术{PRIVATE_USE}", font) == [PRIVATE_USE]


def test_render_raises_naming_a_character_the_font_lacks(font):
    with pytest.raises(PictureError) as info:
        render_seal(f"深圳市{PRIVATE_USE}有限公司", "", shape="round", font_path=font)
    assert "U+E000" in str(info.value) and "no glyph" in str(info.value)
    with pytest.raises(PictureError) as info:
        render_seal("华为技术有限公司", f"财务{PRIVATE_USE}章", shape="round", font_path=font)
    assert "U+E000" in str(info.value)


def test_missing_glyphs_agrees_with_what_freetype_draws(font):
    # Independent oracle: a character the cmap lacks is drawn by FreeType as the .notdef glyph, so its
    # rendering equals that of a known-missing code point; a covered character's rendering differs.
    face = ImageFont.truetype(font, 48, index=fonts.face_index(font), layout_engine=ImageFont.Layout.BASIC)

    def drawn(ch: str) -> bytes:
        img = Image.new("L", (96, 96))
        ImageDraw.Draw(img).text((24, 72), ch, fill=255, font=face, anchor="ls")
        return img.tobytes()

    notdef = drawn(PRIVATE_USE)
    sample = "印章国鑫瑧喆𠮷（）A1\ue001\U000f0000\u0378"
    missing = set(missing_glyphs(sample, font))
    assert {"\ue001", "\U000f0000", "\u0378"} <= missing
    for ch in sample:
        assert (drawn(ch) == notdef) == (ch in missing), repr(ch)


def test_cmap_format_4_and_format_12_subtables_agree_on_the_whole_bmp(font):
    table = fonts._read_cmap_table(font, fonts.face_index(font))
    try:
        fmt4 = fonts._parse_cmap(table, (4,))
    except PictureError:
        pytest.skip("the font has no format 4 subtable")
    fmt12 = fonts._parse_cmap(table, (12,))
    for cp in range(0x10000):
        assert fmt4.glyph_id(cp) == fmt12.glyph_id(cp), hex(cp)


def test_missing_glyphs_of_an_unreadable_font_is_a_picture_error(tmp_path):
    with pytest.raises(PictureError):
        missing_glyphs("印", str(tmp_path / "absent.ttc"))


# --- rendering --------------------------------------------------------------------------------------------


def test_round_seal_is_a_valid_png_of_the_default_size(round_png):
    assert validate_png(round_png) == (472, 472)
    raw = Image.open(io.BytesIO(round_png))
    assert raw.format == "PNG" and raw.mode == "P" and "transparency" in raw.info
    assert _rgba(round_png).size == (472, 472)


@pytest.mark.parametrize("size", [64, 300, 600])
def test_seal_has_the_requested_size(font, size):
    for shape, name in (("round", "华为技术有限公司"), ("square", "张三")):
        data = render_seal(name, "", shape=shape, size_px=size, font_path=font)
        assert validate_png(data, max_px=2048) == (size, size)


def test_seal_background_is_transparent_and_ink_is_seal_red(round_png, square_png):
    for data in (round_png, square_png):
        img = _rgba(data)
        assert img.getpixel((0, 0))[3] == 0  # corner outside ring / frame
        alpha = img.getchannel("A").histogram()
        assert alpha[0] > 0.3 * img.width * img.height  # mostly transparent
        assert alpha[255] > 0.05 * img.width * img.height  # solid ink
        # Every pixel carries the seal red; only the opacity varies (anti-aliased edges).
        for band, value in zip("RGB", SEAL_RED, strict=True):
            assert img.getchannel(band).getextrema() == (value, value)


def test_round_seal_has_a_ring_and_a_centred_star(round_png):
    img = _rgba(round_png)
    w = img.width
    alpha = img.getchannel("A")
    assert alpha.getpixel((w // 2, w // 2)) == 255  # star centre
    assert alpha.getpixel((w // 2, 4)) == 255  # ring at 12 o'clock
    assert alpha.getpixel((4, w // 2)) == 255  # ring at 9 o'clock
    # The star is mirror-symmetric about the vertical axis through the centre.
    star = alpha.crop((round(0.3 * w), round(0.3 * w), w - round(0.3 * w), round(0.62 * w)))
    mirrored = star.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    differing = sum(ImageChops.difference(star, mirrored).histogram()[65:])
    assert differing < 0.01 * star.width * star.height


def test_kind_label_is_drawn_under_the_star_and_absent_for_the_legal_name_seal(font):
    with_label = _rgba(render_seal("华为技术有限公司", "财务专用章", shape="round", font_path=font))
    without = _rgba(render_seal("华为技术有限公司", "", shape="round", font_path=font))
    below_star = (0.3, 0.70, 0.7, 0.86)
    assert _ink(with_label, below_star) > 500
    assert _ink(without, below_star) == 0
    # Nothing else changes: the upper half (name, star) is identical.
    top = (0, 0, 1, 0.62)
    w = with_label.width
    box = tuple(round(f * w) for f in top)
    assert with_label.crop(box).tobytes() == without.crop(box).tobytes()


def test_name_runs_along_the_upper_arc_and_not_across_the_bottom(font):
    img = _rgba(render_seal("华为技术有限公司", "", shape="round", font_path=font))
    assert _ink(img, (0.35, 0.06, 0.65, 0.25)) > 500  # characters at the top
    assert _ink(img, (0.06, 0.45, 0.25, 0.70)) > 300  # first characters, lower left
    assert _ink(img, (0.75, 0.45, 0.94, 0.70)) > 300  # last characters, lower right
    assert _ink(img, (0.35, 0.78, 0.65, 0.90)) == 0  # the bottom, inside the ring, stays free


def test_square_seal_has_a_frame_and_the_name_inside(square_png):
    img = _rgba(square_png)
    w = img.width
    alpha = img.getchannel("A")
    for x, y in ((0.04, 0.04), (0.96, 0.04), (0.04, 0.96), (0.96, 0.96), (0.5, 0.04), (0.04, 0.5)):
        assert alpha.getpixel((round(x * w), round(y * w))) == 255, (x, y)
    for quadrant in ((0.15, 0.15, 0.5, 0.5), (0.5, 0.15, 0.85, 0.5), (0.15, 0.5, 0.5, 0.85), (0.5, 0.5, 0.85, 0.85)):
        assert _ink(img, quadrant) > 500, quadrant


def test_square_seal_reads_right_to_left_top_to_bottom(font):
    # 一二三十 must land as: right column 一 (top) 二 (bottom), left column 三 (top) 十 (bottom).
    # The characters are told apart by their amount of ink: 一 < 二 < 三, and 十 > 一.
    img = _rgba(render_seal("一二三十", "", shape="square", font_path=font))
    top_right, bottom_right = _ink(img, (0.5, 0.12, 0.88, 0.5)), _ink(img, (0.5, 0.5, 0.88, 0.88))
    top_left, bottom_left = _ink(img, (0.12, 0.12, 0.5, 0.5)), _ink(img, (0.12, 0.5, 0.5, 0.88))
    assert top_right < bottom_right < top_left
    assert bottom_left > top_right


def test_three_character_name_seal_gives_the_surname_the_whole_right_column(font):
    # 一二三: 一 stretched over the right column, 二 top-left, 三 bottom-left.
    img = _rgba(render_seal("一二三", "", shape="square", font_path=font))
    # The single stroke of 一 sits at mid-height of the right column (a 2 × 2 cell would put it at 30 %).
    assert _ink(img, (0.5, 0.40, 0.88, 0.60)) > 0
    assert _ink(img, (0.5, 0.12, 0.88, 0.38)) == 0 and _ink(img, (0.5, 0.62, 0.88, 0.88)) == 0
    top_left, bottom_left = _ink(img, (0.12, 0.12, 0.5, 0.5)), _ink(img, (0.12, 0.5, 0.5, 0.88))
    assert 0 < top_left < bottom_left


def test_square_seal_does_not_draw_the_kind_label(font):
    a = render_seal("张三", "法定代表人名章", shape="square", font_path=font)
    b = render_seal("张三", "", shape="square", font_path=font)
    assert a == b


def test_rendering_is_deterministic(font, round_png, square_png):
    assert render_seal("深圳市前海微众银行股份有限公司", "财务专用章", shape="round", font_path=font) == round_png
    assert render_seal("欧阳建国", "法定代表人名章", shape="square", font_path=font) == square_png


def test_surrounding_whitespace_of_name_and_label_is_ignored(font):
    assert render_seal(" 华为技术有限公司\n", " 合同专用章 ", shape="round", font_path=font) == render_seal(
        "华为技术有限公司", "合同专用章", shape="round", font_path=font
    )


@pytest.mark.parametrize("name", REALISTIC_NAMES)
def test_every_realistic_name_renders_within_the_upload_limits(font, name):
    assert validate_png(render_seal(name, "合同专用章", shape="round", font_path=font)) == (472, 472)


@pytest.mark.parametrize(
    ("name", "kwargs", "fragment"),
    [
        ("", {"shape": "round"}, "empty"),
        ("   ", {"shape": "round"}, "empty"),
        ("张", {"shape": "square"}, "2 to 4"),
        ("欧阳建国民", {"shape": "square"}, "2 to 4"),
        ("张 三", {"shape": "square"}, "whitespace"),
        ("华为\n技术有限公司", {"shape": "round"}, "whitespace"),
        ("华为\u200b技术有限公司", {"shape": "round"}, "U+200B"),
        ("华" * 41, {"shape": "round"}, "at most 40"),
        ("华为技术有限公司", {"shape": "ellipse"}, "'round', 'oval' or 'square'"),
        ("华为技术有限公司", {"shape": "round", "size_px": 63}, "64 to 2048"),
        ("华为技术有限公司", {"shape": "round", "size_px": 2049}, "64 to 2048"),
        ("华为技术有限公司", {"shape": "round", "size_px": True}, "64 to 2048"),
        ("华为技术有限公司", {"shape": "round", "size_px": 472.0}, "64 to 2048"),
    ],
)
def test_invalid_render_arguments_raise_picture_error(font, name, kwargs, fragment):
    with pytest.raises(PictureError) as info:
        render_seal(name, "", font_path=font, **kwargs)
    assert fragment in str(info.value)


def test_render_with_a_wrong_configured_font_raises(tmp_path):
    with pytest.raises(PictureError) as info:
        render_seal("华为技术有限公司", "", shape="round", font_path=str(tmp_path / "missing.ttc"))
    assert "apt-get install fonts-noto-cjk" in str(info.value)


# --- validate_png -----------------------------------------------------------------------------------------


def test_validate_png_accepts_the_rendered_seals(round_png, square_png):
    assert validate_png(round_png) == (472, 472)
    assert validate_png(square_png) == (472, 472)


def test_validate_png_rejects_a_jpeg():
    out = io.BytesIO()
    Image.new("RGB", (200, 200), SEAL_RED).save(out, format="JPEG")
    with pytest.raises(PictureError) as info:
        validate_png(out.getvalue())
    assert str(info.value).startswith("picture is not a PNG (it starts with FF D8 FF")
    assert "JPEG" in str(info.value)


def test_validate_png_rejects_a_gif():
    out = io.BytesIO()
    Image.new("P", (200, 200)).save(out, format="GIF")
    with pytest.raises(PictureError) as info:
        validate_png(out.getvalue())
    assert "not a PNG" in str(info.value) and "GIF" in str(info.value)


def test_validate_png_rejects_random_bytes():
    data = random.Random(20240601).randbytes(4096)
    with pytest.raises(PictureError) as info:
        validate_png(data)
    assert "not a PNG" in str(info.value)


def test_validate_png_rejects_empty_input():
    with pytest.raises(PictureError, match="empty"):
        validate_png(b"")


@pytest.mark.parametrize("keep", [8, 20, 0.5, -13, -1])
def test_validate_png_rejects_a_truncated_png(round_png, keep):
    cut = round_png[: int(len(round_png) * keep)] if isinstance(keep, float) else round_png[:keep]
    with pytest.raises(PictureError) as info:
        validate_png(cut)
    assert "truncated" in str(info.value)


def test_validate_png_rejects_corrupt_pixel_data(round_png):
    # Flip one byte inside the first IDAT chunk: the chunk CRC no longer matches.
    at = round_png.index(b"IDAT") + 4 + 100
    corrupt = round_png[:at] + bytes([round_png[at] ^ 0xFF]) + round_png[at + 1 :]
    with pytest.raises(PictureError) as info:
        validate_png(corrupt)
    assert "not a readable PNG" in str(info.value)


def test_validate_png_rejects_bytes_after_iend(round_png):
    with pytest.raises(PictureError, match="extra bytes after the end"):
        validate_png(round_png + b"PK\x03\x04 appended zip")


def test_validate_png_rejects_an_oversize_file_stating_size_and_limit():
    data = picture.PNG_SIGNATURE + bytes(int(3.1 * 1024 * 1024) - 8)
    with pytest.raises(PictureError) as info:
        validate_png(data)
    assert str(info.value) == "picture is 3.1 MB; the limit is 512 KB"


def test_validate_png_applies_a_custom_byte_limit(round_png):
    with pytest.raises(PictureError, match="the limit is 1000 bytes"):
        validate_png(round_png, max_bytes=1000)


def test_validate_png_rejects_a_too_large_dimension():
    with pytest.raises(PictureError) as info:
        validate_png(_png(5000, 5000, "L"))
    assert str(info.value) == "picture is 5000×5000 px; the limit is 2048 px"
    with pytest.raises(PictureError, match="2049×100 px; the limit is 2048 px"):
        validate_png(_png(2049, 100, "L"))


def test_validate_png_rejects_a_too_small_dimension():
    with pytest.raises(PictureError) as info:
        validate_png(_png(63, 200))
    assert str(info.value) == "picture is 63×200 px; the minimum is 64 px"


def test_validate_png_accepts_the_limits_exactly():
    assert validate_png(_png(64, 2048, "L")) == (64, 2048)


def test_validate_png_rejects_a_decompression_bomb_before_decoding():
    # IHDR claims 100000 × 100000 RGBA (40 GB decoded) behind a few bytes of IDAT.
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 6, 0, 0, 0)
    bomb = (
        picture.PNG_SIGNATURE
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(bytes(1000)))
        + _png_chunk(b"IEND", b"")
    )
    with pytest.raises(PictureError, match="100000×100000 px; the limit is 2048 px"):
        validate_png(bomb)
    # Even a caller who lifts max_px does not get past Pillow's bomb guard.
    with pytest.raises(PictureError, match="decompression bomb"):
        validate_png(bomb, max_px=1_000_000)


def test_validate_png_rejects_an_animated_png():
    frames = [Image.new("RGBA", (100, 100), c) for c in ((255, 0, 0, 255), (0, 0, 255, 255))]
    out = io.BytesIO()
    frames[0].save(out, format="PNG", save_all=True, append_images=frames[1:])
    assert b"acTL" in out.getvalue()
    with pytest.raises(PictureError, match="animated PNG"):
        validate_png(out.getvalue())


def test_validate_png_rejects_a_single_frame_apng(round_png):
    # An acTL chunk alone makes the file an APNG, whatever the frame count; insert one after IHDR.
    after_ihdr = 8 + 12 + 13
    apng = round_png[:after_ihdr] + _png_chunk(b"acTL", struct.pack(">II", 1, 0)) + round_png[after_ihdr:]
    with pytest.raises(PictureError, match="animated PNG"):
        validate_png(apng)


def test_validate_png_rejects_a_png_whose_first_chunk_is_not_ihdr(round_png):
    bad = picture.PNG_SIGNATURE + _png_chunk(b"tEXt", b"a\x00b") + round_png[8:]
    with pytest.raises(PictureError, match="first chunk is not IHDR"):
        validate_png(bad)


def test_picture_error_is_a_value_error():
    assert issubclass(PictureError, ValueError)


def test_a_seal_of_another_type_is_not_drawn_like_the_official_seal(font):
    """The 其他类型印章 (99) carries 专用章 along its bottom; the 公章 (01) carries nothing there."""
    from registry.domain.seal_types import SealType
    from registry.services.seals import draw_picture

    official = draw_picture(font, "深圳市前海示范科技有限公司", "张三", SealType.OFFICIAL)
    other = draw_picture(font, "深圳市前海示范科技有限公司", "张三", SealType.OTHER)
    a, b = (Image.open(io.BytesIO(p)).convert("RGBA") for p in (official, other))
    assert a.size == b.size
    diff = ImageChops.difference(a, b).getbbox()
    assert diff is not None and diff[1] > a.size[1] // 2  # they differ, in the lower half (the label)
