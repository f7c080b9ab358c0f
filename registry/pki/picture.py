"""Seal pictures: rendering the standard red official-seal image.

GB/T 38540-2020 stores the seal image in ``SES_ESPictureInfo`` (``type`` e.g. ``PNG``, ``data``, ``width`` and
``height`` in millimetres); it says only that an organisation's seal "宜采用相关国家管理部门指定的印模". The
rendering below follows the customary layout of a Chinese official seal (公章): a red ring, a five-point star
in the centre, the enterprise name along the upper arc with every character's top facing outwards, and the
seal kind (e.g. 财务专用章) horizontally under the star. A personal name seal (法定代表人名章 / 负责人章) is a
square red frame holding the name in columns read right-to-left, top-to-bottom.

The module is pure apart from reading font files: the caller reads configuration (``REGISTRY_SEAL_FONT``) and
passes it in as ``font_path``. Output is deterministic: the same inputs, font file and Pillow build (which
bundles FreeType and zlib) give the same PNG bytes.

Fonts (finding one, which characters it has) are :mod:`registry.pki.fonts`; validating an uploaded PNG is
:mod:`registry.pki.png`. Their public names are re-exported here, where the callers have always found them.
"""

from __future__ import annotations

import bisect
import io
import math
import os
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Literal

from PIL import Image, ImageChops, ImageDraw, ImageFont

from ..messages import M
from .fonts import KNOWN_FONT_LOCATIONS, face_index, find_cjk_font, missing_glyphs
from .picture_error import PictureError
from .png import KEPT_CHUNKS, PNG_SIGNATURE, strip_png, validate_png

__all__ = [
    "KNOWN_FONT_LOCATIONS",
    "PNG_SIGNATURE",
    "PictureError",
    "SEAL_RED",
    "find_cjk_font",
    "missing_glyphs",
    "render_seal",
    "check_seal_text",
    "seal_text_problem",
    "strip_png",
    "KEPT_CHUNKS",
    "ASPECT",
    "validate_png",
]

SEAL_RED: Final = (0xD6, 0x00, 0x1C)  # seal-paste red, #D6001C

Shape = Literal["round", "square", "oval"]
MIN_SIZE_PX: Final = 64
MAX_SIZE_PX: Final = 2048
MAX_NAME_CHARS: Final = 40  # beyond this the characters on a 40 mm seal are no longer legible
MAX_LABEL_CHARS: Final = 12


def _unprintable(text: str, *, space_ok: bool) -> list[str]:
    """Distinct line breaks, tabs, other whitespace and control/format characters in ``text`` (an ASCII space
    is allowed where ``space_ok``). Private-use characters are left to the glyph check."""
    bad: dict[str, None] = {}
    for ch in text:
        if ch == " " and space_ok:
            continue
        if ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Cs"):
            bad[ch] = None
    return list(bad)


def _describe_chars(chars: list[str]) -> str:
    return ", ".join(f"{c!r} (U+{ord(c):04X})" for c in chars)


# ---------------------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Glyphs:
    """Renders single characters as white-on-black ``L`` tiles whose centre is the em-box centre."""

    font: ImageFont.FreeTypeFont
    size: int  # em size in pixels
    center_dy: float  # baseline → em-box centre (negative: above the baseline)

    @classmethod
    def load(cls, path: str, size: int) -> _Glyphs:
        font = ImageFont.truetype(path, size, index=face_index(path), layout_engine=ImageFont.Layout.BASIC)
        # Vertical centre of the ideographic em box, measured on 国 whose ink fills that box; this keeps
        # 一 low-and-centred like 国 instead of centring each glyph's own ink.
        _l, top, _r, bottom = font.getbbox("国", anchor="ls")
        return cls(font, size, (top + bottom) / 2)

    def tile(self, ch: str, width: int, height: int, *, center_ink: bool = False) -> Image.Image:
        """``ch`` scaled into a ``width``×``height`` box (em box → box), on a square-ish canvas with margin.

        With ``center_ink`` the glyph's ink, not its advance box, is centred horizontally.
        """
        pad = self.size // 4
        side = self.size + 2 * pad
        img = Image.new("L", (side, side), 0)
        advance = self.font.getlength(ch)
        ImageDraw.Draw(img).text(
            (side / 2 - advance / 2, side / 2 - self.center_dy), ch, fill=255, font=self.font, anchor="ls"
        )
        ink = img.getbbox() if center_ink else None
        if ink:
            shifted = Image.new("L", img.size, 0)
            shifted.paste(img, (round(side / 2 - (ink[0] + ink[2]) / 2), 0))
            img = shifted
        if (width, height) != (self.size, self.size):
            img = img.resize(
                (max(1, round(side * width / self.size)), max(1, round(side * height / self.size))),
                Image.Resampling.LANCZOS,
            )
        return img


def _stamp(canvas: Image.Image, tile: Image.Image, cx: float, cy: float) -> None:
    """Merge ``tile`` (centred at ``cx``, ``cy``) into ``canvas`` by per-pixel maximum."""
    left = round(cx - tile.width / 2)
    top = round(cy - tile.height / 2)
    box = (left, top, left + tile.width, top + tile.height)
    canvas.paste(ImageChops.lighter(canvas.crop(box), tile), box)


def _star(draw: ImageDraw.ImageDraw, cx: float, cy: float, r_outer: float) -> None:
    """A regular five-point star, one point straight up."""
    r_inner = r_outer * math.sin(math.radians(18)) / math.sin(math.radians(54))  # ≈ 0.382 × outer
    points = []
    for k in range(10):
        r = r_outer if k % 2 == 0 else r_inner
        a = math.radians(-90 + 36 * k)
        points.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    draw.polygon(points, fill=255)


def _is_punctuation(ch: str) -> bool:
    return unicodedata.category(ch).startswith("P")


def _slot_weight(path: str, ch: str) -> float:
    """Share of a full-width slot that ``ch`` occupies on the arc (see :func:`_render_round`)."""
    if _is_punctuation(ch):
        return 0.5
    return min(1.0, max(0.5, _measure_font(path).getlength(ch) / _MEASURE_EM))


_MEASURE_EM: Final = 256


@lru_cache(maxsize=4)
def _measure_font(path: str) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, _MEASURE_EM, index=face_index(path), layout_engine=ImageFont.Layout.BASIC)


def _render_round(mask: Image.Image, glyph_path: str, name: str, label: str) -> None:
    side = mask.width
    R = side / 2
    c = side / 2
    draw = ImageDraw.Draw(mask)

    # Ring: outer edge just inside the image, ~1.2 mm wide on a 40 mm seal (0.06 R).
    r_out = 0.985 * R
    ring = max(1, round(0.06 * R))
    draw.ellipse((c - r_out, c - r_out, c + r_out, c + r_out), outline=255, width=ring)
    r_in = r_out - ring

    # Star in the centre, ~14 mm across on a 40 mm seal.
    _star(draw, c, c, 0.31 * R)

    # Enterprise name along the upper arc, evenly spread, clockwise from lower left, character tops outward.
    # Each character gets an arc slot proportional to its weight: 1 for a CJK character, its advance for
    # narrower (Latin) characters, ½ for punctuation such as full-width brackets （ ）, whose ink is centred
    # in the slot (a full-width bracket's ink sits at one side of its em box and would leave a visible gap).
    weights = [_slot_weight(glyph_path, ch) for ch in name]
    total = sum(weights)
    span = min(250.0, max(210.0, 190.0 + 5.0 * total))  # degrees: 210° at 4 characters … 250° from 12 on
    span = min(span, 45.0 * total)  # but at most 45° per character: a short name is not pulled apart
    unit = span / total  # degrees per full-width slot
    height = (0.33 if total <= 6 else 0.29) * R  # em size of a name character (≈ 6 mm on a 40 mm seal)
    r_top = r_in - 0.035 * R  # characters' outer edge, just inside the ring
    r_mid = r_top - height / 2
    width = min(height, 0.92 * math.radians(unit) * r_mid)  # long names: narrower (长扁) characters
    if width < 0.55 * height:  # very long names: keep the aspect legible by lowering the height too
        height = max(width / 0.55, 0.17 * R)
        r_mid = r_top - height / 2
        width = min(height, 0.92 * math.radians(unit) * r_mid)
    glyphs = _Glyphs.load(glyph_path, round(height))
    w_px, h_px = round(width), round(height)
    before = 0.0
    for ch, weight in zip(name, weights, strict=False):
        theta = -span / 2 + unit * (before + weight / 2)  # slot centre, degrees clockwise from 12 o'clock
        before += weight
        if ch.isspace():
            continue
        tile = glyphs.tile(ch, w_px, h_px, center_ink=_is_punctuation(ch))
        tile = tile.rotate(-theta, resample=Image.Resampling.BICUBIC, expand=True)
        t = math.radians(theta)
        _stamp(mask, tile, c + r_mid * math.sin(t), c - r_mid * math.cos(t))

    # Seal kind horizontally under the star.
    if label:
        lh = 0.19 * R
        y = c + 0.56 * R
        half_chord = math.sqrt(max(r_in**2 - (y + lh / 2 - c) ** 2, 0.0))
        max_width = 0.85 * 2 * half_chord
        pitch = min(lh * 1.08, max_width / len(label))
        lw = min(lh, pitch / 1.08)
        lglyphs = _Glyphs.load(glyph_path, round(lh))
        x0 = c - pitch * (len(label) - 1) / 2
        for k, ch in enumerate(label):
            if not ch.isspace():
                _stamp(mask, lglyphs.tile(ch, round(lw), round(lh)), x0 + k * pitch, y)


def _render_square(mask: Image.Image, glyph_path: str, name: str) -> None:
    side = mask.width
    draw = ImageDraw.Draw(mask)
    margin = round(0.02 * side)
    frame = max(1, round(0.07 * side))
    draw.rectangle((margin, margin, side - 1 - margin, side - 1 - margin), outline=255, width=frame)
    inner0 = margin + frame
    inner = side - 2 * inner0
    gap = 0.045 * side  # between the frame and the characters, and between cells
    cell = (inner - 3 * gap) / 2  # a 2 × 2 grid
    col_x = (inner0 + gap + cell * 1.5 + gap, inner0 + gap + cell / 2)  # right column first
    row_y = (inner0 + gap + cell / 2, inner0 + gap * 2 + cell * 1.5)
    full_h = 2 * cell + gap
    mid_y = side / 2
    glyphs = _Glyphs.load(glyph_path, round(cell))
    size = round(cell)
    # Traditional name-seal order: columns right to left, each read top to bottom.
    # 4 characters: 2 × 2. 3: the first (the surname) fills the right column, the other two the left.
    # 2: one tall character per column.
    if len(name) == 4:
        slots = [(col_x[0], row_y[0], 1), (col_x[0], row_y[1], 1), (col_x[1], row_y[0], 1), (col_x[1], row_y[1], 1)]
    elif len(name) == 3:
        slots = [(col_x[0], mid_y, 2), (col_x[1], row_y[0], 1), (col_x[1], row_y[1], 1)]
    else:
        slots = [(col_x[0], mid_y, 2), (col_x[1], mid_y, 2)]
    for ch, (x, y, rows) in zip(name, slots, strict=False):
        tile_h = size if rows == 1 else round(full_h)
        _stamp(mask, glyphs.tile(ch, size, tile_h), x, y)


def _ellipse_text(
    mask: Image.Image,
    glyph_path: str,
    name: str,
    *,
    cx: float,
    cy: float,
    a: float,
    b: float,
    height: float,
    span_deg: float,
) -> None:
    """``name`` along the upper part of the ellipse with semi-axes ``a`` × ``b`` (the characters' centre
    line), clockwise, each character's top facing outwards along the ellipse's normal, the characters
    spaced evenly by arc length over the parametric span ``±span_deg / 2`` about the top."""
    weights = [_slot_weight(glyph_path, ch) for ch in name]
    total = sum(weights)
    half = math.radians(span_deg / 2)
    steps = 720
    ts = [-half + 2 * half * k / steps for k in range(steps + 1)]
    arc = [0.0]
    for t0, t1 in zip(ts, ts[1:], strict=False):
        arc.append(arc[-1] + math.hypot(a * (math.sin(t1) - math.sin(t0)), b * (math.cos(t1) - math.cos(t0))))
    length = arc[-1]
    unit = length / total
    width = min(height * 0.9, 0.92 * unit)
    glyphs = _Glyphs.load(glyph_path, round(height))
    before = 0.0
    for ch, weight in zip(name, weights, strict=False):
        s = unit * (before + weight / 2)
        before += weight
        if ch.isspace():
            continue
        k = min(bisect.bisect_left(arc, s), steps)
        t = ts[k]
        x, y = cx + a * math.sin(t), cy - b * math.cos(t)
        theta = math.degrees(math.atan2(math.sin(t) / a, math.cos(t) / b))  # the outward normal, from 12 o'clock
        tile = glyphs.tile(ch, round(width), round(height), center_ink=_is_punctuation(ch))
        _stamp(mask, tile.rotate(-theta, resample=Image.Resampling.BICUBIC, expand=True), x, y)


def _horizontal_text(
    mask: Image.Image,
    glyph_path: str,
    text: str,
    *,
    cx: float,
    cy: float,
    height: float,
    char_width: float,
    max_width: float,
) -> None:
    """``text`` on one horizontal line centred at (``cx``, ``cy``), characters ``char_width`` wide
    (narrowed to fit ``max_width``)."""
    pitch = min(char_width * 1.08, max_width / len(text))
    w = min(char_width, pitch / 1.08)
    glyphs = _Glyphs.load(glyph_path, round(height))
    x0 = cx - pitch * (len(text) - 1) / 2
    for k, ch in enumerate(text):
        if not ch.isspace():
            _stamp(mask, glyphs.tile(ch, round(w), round(height), center_ink=True), x0 + k * pitch, cy)


def _render_oval(mask: Image.Image, glyph_path: str, name: str, label: str, middle: str) -> None:
    """The 发票专用章 (国家税务总局 2011 年第 7 号公告, 发票专用章式样): an oval 40 × 30 mm with a 1 mm
    border, no star; the enterprise name along the upper edge, the taxpayer identification number (the
    USCC) on a line through the centre (characters 3.7 mm high, 1.3 mm wide), 发票专用章 along the bottom
    (4.6 mm × 3 mm)."""
    w, h = mask.size
    mm = w / 40.0
    cx, cy = w / 2, h / 2
    draw = ImageDraw.Draw(mask)
    edge = max(1, round(1.0 * mm))
    inset = 0.2 * mm
    draw.ellipse((inset, inset, w - 1 - inset, h - 1 - inset), outline=255, width=edge)
    a_in, b_in = w / 2 - inset - edge, h / 2 - inset - edge
    # the name: 4.2 mm high characters just inside the border, over ~230° of the ellipse's upper part
    count = sum(_slot_weight(glyph_path, ch) for ch in name)
    height = (4.2 if count <= 16 else 3.6 if count <= 24 else 3.0) * mm
    gap = 0.9 * mm
    span = min(236.0, max(200.0, 180.0 + 4.0 * count))
    span = min(span, 40.0 * count)
    _ellipse_text(
        mask,
        glyph_path,
        name,
        cx=cx,
        cy=cy,
        a=a_in - gap - height / 2,
        b=b_in - gap - height / 2,
        height=height,
        span_deg=span,
    )
    if middle:
        _horizontal_text(
            mask, glyph_path, middle, cx=cx, cy=cy, height=3.7 * mm, char_width=1.3 * mm, max_width=2 * a_in * 0.86
        )
    if label:
        lh = 4.6 * mm
        y = cy + b_in - gap - lh / 2 - 0.6 * mm
        half_chord = a_in * math.sqrt(max(1 - ((y + lh / 2 - cy) / b_in) ** 2, 0.0))
        _horizontal_text(
            mask, glyph_path, label, cx=cx, cy=y, height=lh, char_width=3.0 * mm, max_width=0.9 * 2 * half_chord
        )


def _supersampling(size_px: int) -> int:
    # Draw at 2–3× and downsample: ImageDraw shapes are not anti-aliased, Lanczos reduction makes them smooth.
    return max(2, min(3, 1800 // size_px))


#: Height / width of each shape's picture: the oval 发票专用章 is 40 × 30 mm.
ASPECT: Final = {"round": 1.0, "square": 1.0, "oval": 0.75}
MAX_MIDDLE_CHARS: Final = 20

_WHAT_NAME: Final = M("picture.what_name", "name", "名称")
_WHAT_KIND: Final = M("picture.what_kind", "seal kind", "印章类别")
_WHAT_MIDDLE: Final = M("picture.what_middle", "middle line", "中间一行")


def _max_name_chars(shape: str) -> int:
    return MAX_NAME_CHARS


def check_seal_text(
    name: str,
    kind_label: str = "",
    *,
    shape: Shape,
    middle: str = "",
    font_path: str | None = None,
    glyphs: bool = True,
) -> None:
    """Raise :class:`PictureError` (coded, bilingual) if a seal of ``shape`` cannot be drawn with this
    text: what :func:`render_seal` checks before it draws, without drawing. With ``glyphs`` the font
    is found (``font_path`` or a known location) and every character must be in it; ``glyphs=False``
    checks only what needs no font (lengths, control characters)."""
    if shape not in ("round", "square", "oval"):
        raise PictureError(
            M(
                "picture.bad_shape",
                "seal shape must be 'round', 'oval' or 'square', not {shape!r}",
                "印章形状须为 'round'、'oval' 或 'square'，而不是 {shape!r}",
            ),
            shape=shape,
        )
    name = (name or "").strip()
    label = (kind_label or "").strip() if shape != "square" else ""
    middle = (middle or "").strip() if shape == "oval" else ""
    if not name:
        raise PictureError(M("picture.name_empty", "the name on the seal is empty", "印章上的名称为空"))
    limit = _max_name_chars(shape)
    if shape != "square" and len(name) > limit:
        raise PictureError(
            M(
                "picture.name_too_long",
                "the name has {n} characters; a round seal holds at most {max}",
                "名称有 {n} 个字，圆形印章最多容纳 {max} 个字",
            ),
            n=len(name),
            max=limit,
        )
    if shape == "square" and not 2 <= len(name) <= 4:
        raise PictureError(
            M(
                "picture.person_name_length",
                "a name seal holds a name of 2 to 4 characters, not {n} ({name!r})",
                "名章只能刻 2 至 4 个字的姓名，“{name}”有 {n} 个字",
            ),
            n=len(name),
            name=name,
        )
    if len(label) > MAX_LABEL_CHARS:
        raise PictureError(
            M(
                "picture.kind_too_long",
                "the seal kind has {n} characters; at most {max} fit under the star",
                "印章类别有 {n} 个字，最多容纳 {max} 个字",
            ),
            n=len(label),
            max=MAX_LABEL_CHARS,
        )
    if len(middle) > MAX_MIDDLE_CHARS:
        raise PictureError(
            M(
                "picture.middle_too_long",
                "the middle line has {n} characters; at most {max} fit",
                "中间一行有 {n} 个字符，最多容纳 {max} 个",
            ),
            n=len(middle),
            max=MAX_MIDDLE_CHARS,
        )
    for what, text, space_ok in (
        (_WHAT_NAME, name, shape != "square"),
        (_WHAT_KIND, label, True),
        (_WHAT_MIDDLE, middle, False),
    ):
        bad = _unprintable(text, space_ok=space_ok)
        if bad:
            raise PictureError(
                M(
                    "picture.unprintable",
                    "the {what} contains whitespace or control characters: {chars}",
                    "{what}含有空白或控制字符：{chars}",
                ),
                what=what,
                chars=_describe_chars(bad),
            )
    if not glyphs:
        return
    path = find_cjk_font(font_path)
    lacking = missing_glyphs(name + label + middle, path)
    if lacking:
        raise PictureError(
            M(
                "picture.missing_glyphs",
                "the seal font {font} has no glyph for {chars}; use a font that covers them (REGISTRY_SEAL_FONT)",
                "印模字体 {font} 中没有 {chars} 的字形；请改用包含这些字的字体（REGISTRY_SEAL_FONT）",
            ),
            font=os.path.basename(path),
            chars=_describe_chars(lacking),
        )


def seal_text_problem(
    name: str,
    kind_label: str = "",
    *,
    shape: Shape,
    middle: str = "",
    font_path: str | None = None,
    glyphs: bool = True,
) -> PictureError | None:
    """Why a seal of ``shape`` with this text cannot be drawn (a coded, bilingual :class:`PictureError`),
    or None if it can: :func:`check_seal_text` as a value."""
    try:
        check_seal_text(name, kind_label, shape=shape, middle=middle, font_path=font_path, glyphs=glyphs)
    except PictureError as exc:
        return exc
    return None


def render_seal(
    name: str,
    kind_label: str,
    *,
    shape: Shape,
    size_px: int = 472,
    font_path: str | None = None,
    middle: str = "",
) -> bytes:
    """Render a seal picture and return it as PNG bytes (RGBA, transparent background, seal red
    :data:`SEAL_RED`), ``size_px`` wide and ``size_px`` × :data:`ASPECT` high.

    * ``shape="round"`` — an organisation seal: ring, central star, ``name`` (1–40 characters) along the
      upper arc, ``kind_label`` (e.g. 财务专用章; ``""`` for the 法定名称章, up to 12 characters) under the star.
    * ``shape="oval"`` — the 发票专用章: an oval 4 : 3 (40 × 30 mm) without a star, ``name`` along the upper
      edge, ``middle`` (the taxpayer identification number, i.e. the USCC) on a line through the centre,
      ``kind_label`` (发票专用章) along the bottom.
    * ``shape="square"`` — a personal name seal (法定代表人名章 / 负责人章): ``name`` is the person's name,
      2–4 characters, drawn in columns read right to left. Traditional name seals carry only the name, so
      ``kind_label`` is accepted for a uniform call but not drawn (nor glyph-checked).

    ``size_px`` is 64–2048 (472 px = 40 mm at 300 dpi). ``font_path`` is the configured font or None
    (see :func:`find_cjk_font`). Leading/trailing whitespace of the texts is removed.
    Raises :class:`PictureError` for invalid input, a missing font, or characters the font cannot draw
    (named in the message; see :func:`check_seal_text`) — a missing glyph is never drawn as a box. The
    same inputs, font file and Pillow build give byte-identical output.
    """
    if shape not in ("round", "square", "oval"):
        check_seal_text(name, kind_label, shape=shape)  # raises: the shape
    if isinstance(size_px, bool) or not isinstance(size_px, int) or not MIN_SIZE_PX <= size_px <= MAX_SIZE_PX:
        raise PictureError(
            M(
                "picture.bad_size",
                "seal size must be an integer from {min} to {max} px, not {size!r}",
                "印模尺寸须为 {min} 至 {max} 像素之间的整数，而不是 {size!r}",
            ),
            min=MIN_SIZE_PX,
            max=MAX_SIZE_PX,
            size=size_px,
        )
    check_seal_text(name, kind_label, shape=shape, middle=middle, font_path=font_path)
    name = (name or "").strip()
    label = (kind_label or "").strip() if shape != "square" else ""
    middle = (middle or "").strip() if shape == "oval" else ""
    path = find_cjk_font(font_path)

    scale = _supersampling(size_px)
    height_px = max(1, round(size_px * ASPECT[shape]))
    mask = Image.new("L", (size_px * scale, height_px * scale), 0)
    if shape == "round":
        _render_round(mask, path, name, label)
    elif shape == "oval":
        _render_oval(mask, path, name, label, middle)
    else:
        _render_square(mask, path, name)
    alpha = mask.resize((size_px, height_px), Image.Resampling.LANCZOS)
    # One colour at 16 opacities: a 4-bit palette PNG whose entries are all seal red and whose tRNS
    # chunk gives entry i the opacity i/15. Indistinguishable from 8-bit alpha at seal sizes, and
    # less than half the bytes (every seal embeds its picture, so this is most of its size); every PNG
    # decoder (browsers, Java ImageIO in OFD readers, Pillow) expands it.
    levels = 16
    quantised = alpha.point(lambda v: (v * (levels - 1) + 127) // 255)
    image = Image.frombytes("P", quantised.size, quantised.tobytes())
    image.putpalette(bytes(SEAL_RED) * levels)
    out = io.BytesIO()
    image.save(
        out,
        format="PNG",
        transparency=bytes((i * 255 + (levels - 1) // 2) // (levels - 1) for i in range(levels)),
        bits=4,
        optimize=False,
        compress_level=6,
    )
    return out.getvalue()
