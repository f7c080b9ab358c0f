"""Seal pictures: rendering the standard red official-seal image, and validating uploaded PNGs.

GB/T 38540-2020 stores the seal image in ``SES_ESPictureInfo`` (``type`` e.g. ``PNG``, ``data``, ``width`` and
``height`` in millimetres); it says only that an organisation's seal "宜采用相关国家管理部门指定的印模". The
rendering below follows the customary layout of a Chinese official seal (公章): a red ring, a five-point star
in the centre, the enterprise name along the upper arc with every character's top facing outwards, and the
seal kind (e.g. 财务专用章) horizontally under the star. A personal name seal (法定代表人名章 / 负责人章) is a
square red frame holding the name in columns read right-to-left, top-to-bottom.

The module is pure apart from reading font files: the caller reads configuration (``REGISTRY_SEAL_FONT``) and
passes it in as ``font_path``. Output is deterministic: the same inputs, font file and Pillow build (which
bundles FreeType and zlib) give the same PNG bytes.

Glyph coverage is decided from the font's own ``cmap`` table (OpenType spec, "cmap — Character to Glyph Index
Mapping Table", formats 4 and 12), read by the small parser below — Pillow does not expose glyph indices, and
a missing character must never be drawn as a tofu box.
"""

from __future__ import annotations

import bisect
import io
import math
import os
import struct
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Literal

from PIL import Image, ImageChops, ImageDraw, ImageFont

from ..messages import Localized, M

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

PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"  # ISO/IEC 15948 §5.2
SEAL_RED: Final = (0xD6, 0x00, 0x1C)  # seal-paste red, #D6001C

#: Where Noto CJK is installed by common distributions, seal-like serif (宋体-style) faces first.
#: Debian/Ubuntu: ``apt-get install fonts-noto-cjk``; Fedora: google-noto-serif-cjk-fonts; Arch: noto-fonts-cjk.
KNOWN_FONT_LOCATIONS: Final = (
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-serif-cjk-fonts/NotoSerifCJK-Bold.ttc",
    "/usr/share/fonts/google-noto-serif-cjk-fonts/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-sans-cjk-fonts/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/google-noto-sans-cjk-fonts/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSerifCJK-Bold.ttc",
    "/usr/share/fonts/noto-cjk/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
)
_INSTALL_HINT: Final = M(
    "picture.install_hint",
    "install one with `apt-get install fonts-noto-cjk` or set REGISTRY_SEAL_FONT to a CJK font file",
    "请用 `apt-get install fonts-noto-cjk` 安装一种，或将 REGISTRY_SEAL_FONT 设为一个中文字体文件",
)
#: Characters a font must have to be accepted as a seal font (印 "seal", 章 "stamp", 国 "state").
_CJK_PROBE: Final = "印章国"

Shape = Literal["round", "square", "oval"]
MIN_SIZE_PX: Final = 64
MAX_SIZE_PX: Final = 2048
MAX_NAME_CHARS: Final = 40  # beyond this the characters on a 40 mm seal are no longer legible
MAX_LABEL_CHARS: Final = 12


class PictureError(Localized, ValueError):
    """A seal picture could not be rendered or an uploaded picture is not acceptable; one-line message."""


# ---------------------------------------------------------------------------------------------------------
# Fonts: locating, choosing the Simplified-Chinese face of a collection, reading the cmap
# ---------------------------------------------------------------------------------------------------------


def find_cjk_font(font_path: str | None = None) -> str:
    """Return the path of a usable CJK font file.

    If ``font_path`` is given (the caller's configuration, e.g. ``REGISTRY_SEAL_FONT``) it must name a
    readable font file with CJK glyphs — a wrong configured path is an error, not silently replaced.
    Otherwise :data:`KNOWN_FONT_LOCATIONS` are tried in order. Raises :class:`PictureError` with an install
    hint if nothing usable is found.
    """
    if font_path:
        problem = _font_problem(font_path)
        if problem:
            raise PictureError(
                M(
                    "picture.font_configured",
                    "configured seal font {path!r} {problem}; {hint}",
                    "所配置的印模字体 {path!r}{problem}；{hint}",
                ),
                path=font_path,
                problem=problem,
                hint=_INSTALL_HINT,
            )
        return font_path
    for candidate in KNOWN_FONT_LOCATIONS:
        if os.path.isfile(candidate) and _font_problem(candidate) is None:
            return candidate
    raise PictureError(
        M("picture.no_font", "no CJK font found for seal pictures; {hint}", "找不到可绘制印模的中文字体；{hint}"),
        hint=_INSTALL_HINT,
    )


_GOOD_FONTS: set[tuple[str, int, int]] = set()  # (path, size, mtime_ns) of fonts found good: checked once


def _font_problem(path: str) -> PictureError | None:
    """None if ``path`` is a readable font with the probe characters, else why not (for a message).
    A good font is remembered (by path, size and modification time), so checking many texts against
    it (a licence import) does not load it again and again."""
    try:
        st = os.stat(path)
    except OSError:
        st = None
    if st is None or not os.path.isfile(path):
        return PictureError(M("picture.font_not_a_file", "does not exist or is not a file", "不存在或不是文件"))
    key = (path, st.st_size, st.st_mtime_ns)
    if key in _GOOD_FONTS:
        return None
    problem = _check_font(path)
    if problem is None:
        _GOOD_FONTS.add(key)
    return problem


def _check_font(path: str) -> PictureError | None:
    try:
        cmap = _cmap(path)
        ImageFont.truetype(path, 16, index=_face_index(path), layout_engine=ImageFont.Layout.BASIC)
    except (OSError, PictureError) as exc:
        return PictureError(
            M("picture.font_unreadable", "cannot be read as a font ({why})", "无法作为字体读取（{why}）"), why=exc
        )
    lacking = [c for c in _CJK_PROBE if not cmap.has(ord(c))]
    if lacking:
        return PictureError(
            M("picture.font_not_chinese", "has no Chinese glyphs (lacks {chars})", "没有中文字形（缺少 {chars}）"),
            chars="".join(lacking),
        )
    return None


@lru_cache(maxsize=16)
def _face_index(path: str) -> int:
    """Index of the face to use: for a collection (.ttc/.otc) the Simplified-Chinese ("… SC") face."""
    with open(path, "rb") as f:
        head = f.read(12)
    if head[:4] != b"ttcf":
        return 0
    num_fonts = struct.unpack(">I", head[8:12])[0]
    families: list[str] = []
    for i in range(num_fonts):
        try:
            families.append(ImageFont.truetype(path, 16, index=i).getname()[0] or "")
        except OSError:
            families.append("")
    for suffix in (" SC", "SC"):  # "Noto Serif CJK SC"; then e.g. "Source Han Serif SC" variants
        for i, family in enumerate(families):
            if family.endswith(suffix):
                return i
    return 0


@dataclass(frozen=True)
class _Cmap:
    """Character → glyph lookup for one face, from a format 12 or format 4 ``cmap`` subtable."""

    fmt: int
    data: bytes  # the subtable bytes
    starts: tuple[int, ...]  # format 12: group start codes; format 4: segment end codes (sorted)

    def glyph_id(self, cp: int) -> int:
        """Glyph index for code point ``cp``; 0 (.notdef) if the face has no glyph for it."""
        if self.fmt == 12:
            i = bisect.bisect_right(self.starts, cp) - 1
            if i < 0:
                return 0
            start, end, glyph = struct.unpack_from(">III", self.data, 16 + 12 * i)
            return glyph + (cp - start) if start <= cp <= end else 0
        # Format 4 (BMP only): segments sorted by endCode; the last segment ends at 0xFFFF.
        if cp > 0xFFFF:
            return 0
        seg_count = len(self.starts)
        i = bisect.bisect_left(self.starts, cp)
        if i >= seg_count:
            return 0
        ends_at = 14
        starts_at = ends_at + 2 * seg_count + 2  # + reservedPad
        deltas_at = starts_at + 2 * seg_count
        offsets_at = deltas_at + 2 * seg_count
        (start,) = struct.unpack_from(">H", self.data, starts_at + 2 * i)
        if cp < start:
            return 0
        (delta,) = struct.unpack_from(">h", self.data, deltas_at + 2 * i)
        (range_offset,) = struct.unpack_from(">H", self.data, offsets_at + 2 * i)
        if range_offset == 0:
            return (cp + delta) & 0xFFFF
        # idRangeOffset is relative to its own position in the idRangeOffset array.
        at = offsets_at + 2 * i + range_offset + 2 * (cp - start)
        if at + 2 > len(self.data):
            return 0
        (glyph,) = struct.unpack_from(">H", self.data, at)
        return (glyph + delta) & 0xFFFF if glyph else 0

    def has(self, cp: int) -> bool:
        return self.glyph_id(cp) != 0


@lru_cache(maxsize=16)
def _cmap(path: str) -> _Cmap:
    """The character map of the face :func:`_face_index` selects; :class:`PictureError` if unreadable."""
    try:
        return _parse_cmap(_read_cmap_table(path, _face_index(path)), (12, 4))
    except OSError as exc:
        raise PictureError(
            M("picture.font_read", "cannot read font {path!r}: {why}", "无法读取字体 {path!r}：{why}"),
            path=path,
            why=exc.strerror or str(exc),
        ) from None
    except (struct.error, IndexError):
        raise PictureError(
            M("picture.font_bad_cmap", "font {path!r} has a malformed cmap table", "字体 {path!r} 的 cmap 表格式错误"),
            path=path,
        ) from None
    except PictureError as exc:
        raise PictureError(
            M("picture.font_problem", "font {path!r}: {why}", "字体 {path!r}：{why}"), path=path, why=exc
        ) from None


def _read_cmap_table(path: str, index: int) -> bytes:
    """The raw ``cmap`` table of face ``index`` (OpenType font file or TTC collection)."""
    with open(path, "rb") as f:

        def read(offset: int, size: int) -> bytes:
            f.seek(offset)
            chunk = f.read(size)
            if len(chunk) != size:
                raise PictureError(M("picture.font_truncated", "the font file is truncated", "字体文件不完整"))
            return chunk

        base = 0
        if read(0, 4) == b"ttcf":  # TTC header: tag, majorVersion, minorVersion, numFonts, offsets[numFonts]
            num_fonts = struct.unpack(">I", read(8, 4))[0]
            if index >= num_fonts:
                raise PictureError(
                    M("picture.font_no_face", "the collection has no face {index}", "字体集合中没有第 {index} 号字体"),
                    index=index,
                )
            base = struct.unpack(">I", read(12 + 4 * index, 4))[0]
        # Table directory: sfntVersion, numTables, searchRange, entrySelector, rangeShift, then 16-byte records.
        num_tables = struct.unpack(">H", read(base + 4, 2))[0]
        records = read(base + 12, 16 * num_tables)
        for t in range(num_tables):
            tag, _checksum, offset, length = struct.unpack_from(">4sIII", records, 16 * t)
            if tag == b"cmap":
                return read(offset, length)
    raise PictureError(M("picture.font_no_cmap", "there is no cmap table", "字体中没有 cmap 表"))


def _parse_cmap(table: bytes, formats: tuple[int, ...]) -> _Cmap:
    """Pick a Unicode subtable of one of ``formats`` from a ``cmap`` table and index it for lookup.

    Preference: full-Unicode format 12 (Windows UCS-4, Unicode full repertoire), then BMP format 4
    (Windows Unicode BMP, Unicode BMP). Other formats and symbol/legacy encodings are ignored.
    """
    n_sub = struct.unpack_from(">H", table, 2)[0]
    subtables: dict[tuple[int, int], int] = {}
    for s in range(n_sub):
        platform, encoding, offset = struct.unpack_from(">HHI", table, 4 + 8 * s)
        subtables[(platform, encoding)] = offset
    preference = (
        ((3, 10), 12),
        ((0, 6), 12),
        ((0, 4), 12),
        ((3, 1), 4),
        ((0, 3), 4),
        ((0, 2), 4),
        ((0, 1), 4),
        ((0, 0), 4),
    )
    for key, fmt in preference:
        offset = subtables.get(key)
        if fmt not in formats or offset is None or struct.unpack_from(">H", table, offset)[0] != fmt:
            continue
        if fmt == 12:  # format, reserved, length(32), language(32), numGroups(32), groups[start, end, glyph]
            n_groups = struct.unpack_from(">I", table, offset + 12)[0]
            data = table[offset : offset + 16 + 12 * n_groups]
            starts = struct.unpack_from(f">{n_groups * 3}I", data, 16)[0::3]
        else:  # format, length, language, segCountX2, searchRange, entrySelector, rangeShift, endCode[]…
            length = struct.unpack_from(">H", table, offset + 2)[0]
            data = table[offset : offset + length]
            seg_count = struct.unpack_from(">H", data, 6)[0] // 2
            starts = struct.unpack_from(f">{seg_count}H", data, 14)
        return _Cmap(fmt, data, tuple(starts))
    raise PictureError(
        M(
            "picture.font_no_unicode_cmap",
            "there is no Unicode character map (cmap format {formats})",
            "字体中没有 Unicode 字符映射（cmap 格式 {formats}）",
        ),
        formats=" or ".join(map(str, formats)),
    )


def missing_glyphs(text: str, font_path: str) -> list[str]:
    """The distinct characters of ``text``, in order of first appearance, that the font has no glyph for.

    For a collection the Simplified-Chinese face is consulted (the face :func:`render_seal` draws with).
    Raises :class:`PictureError` if the font cannot be read.
    """
    cmap = _cmap(font_path)
    seen: dict[str, None] = {}
    for ch in text:
        if ch not in seen and not cmap.has(ord(ch)):
            seen[ch] = None
    return list(seen)


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
        font = ImageFont.truetype(path, size, index=_face_index(path), layout_engine=ImageFont.Layout.BASIC)
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
    return ImageFont.truetype(path, _MEASURE_EM, index=_face_index(path), layout_engine=ImageFont.Layout.BASIC)


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
    for ch, weight in zip(name, weights):
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
    for ch, (x, y, rows) in zip(name, slots):
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
    for t0, t1 in zip(ts, ts[1:]):
        arc.append(arc[-1] + math.hypot(a * (math.sin(t1) - math.sin(t0)), b * (math.cos(t1) - math.cos(t0))))
    length = arc[-1]
    unit = length / total
    width = min(height * 0.9, 0.92 * unit)
    glyphs = _Glyphs.load(glyph_path, round(height))
    before = 0.0
    for ch, weight in zip(name, weights):
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


# ---------------------------------------------------------------------------------------------------------
# Validating an uploaded PNG
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Size:
    """A byte count for a message: ``512 KB`` / ``1000 bytes`` (字节)."""

    n: int

    def label(self, lang: str) -> str:
        n = self.n
        if n < 1024:
            return f"{n} 字节" if lang == "zh" else f"{n} bytes"
        if n < 1024 * 1024:
            return f"{n / 1024:.3g} KB" if n % 1024 else f"{n // 1024} KB"
        return f"{n / (1024 * 1024):.1f} MB" if n % (1024 * 1024) else f"{n // (1024 * 1024)} MB"

    def __str__(self) -> str:
        return self.label("en")


def _human_size(n: int) -> str:
    return str(_Size(n))


_KINDS: Final = (
    (b"\xff\xd8\xff", M("picture.kind_jpeg", "a JPEG", "JPEG 图片")),
    (b"GIF87a", M("picture.kind_gif", "a GIF", "GIF 图片")),
    (b"GIF89a", M("picture.kind_gif", "a GIF", "GIF 图片")),
    (b"BM", M("picture.kind_bmp", "a BMP", "BMP 图片")),
    (b"RIFF", M("picture.kind_riff", "a RIFF/WebP file", "RIFF/WebP 文件")),
    (b"%PDF", M("picture.kind_pdf", "a PDF", "PDF 文件")),
    (b"<svg", M("picture.kind_svg", "an SVG", "SVG 文件")),
    (b"<?xml", M("picture.kind_xml", "an XML/SVG file", "XML/SVG 文件")),
    (b"\x8aMNG", M("picture.kind_mng", "an MNG", "MNG 动画")),
)


def _not_png(data: bytes) -> PictureError:
    head = " ".join(f"{b:02X}" for b in data[:8])
    for magic, kind in _KINDS:
        if data.startswith(magic):
            return PictureError(
                M(
                    "picture.not_png_looks_like",
                    "picture is not a PNG (it starts with {head}, which looks like {kind})",
                    "图片不是 PNG（开头为 {head}，看来是{kind}）",
                ),
                head=head,
                kind=kind,
            )
    return PictureError(
        M("picture.not_png", "picture is not a PNG (it starts with {head})", "图片不是 PNG（开头为 {head}）"), head=head
    )


_TRUNCATED: Final = M(
    "picture.truncated",
    "picture is a truncated PNG (it ends before the IEND chunk)",
    "图片是不完整的 PNG（在 IEND 块之前就结束了）",
)
_ANIMATED: Final = M(
    "picture.animated",
    "picture is an animated PNG (APNG); a seal picture must be a single image",
    "图片是动画 PNG（APNG）；印模必须是单幅图像",
)


def _walk_chunks(data: bytes) -> tuple[int, int, bool]:
    """Walk the PNG chunk list (ISO/IEC 15948 §5.3): return (width, height, has acTL). Structural errors
    raise :class:`PictureError`. CRCs and pixel data are left to Pillow."""
    pos = len(PNG_SIGNATURE)
    first = True
    width = height = 0
    animated = seen_idat = False
    while True:
        if pos + 8 > len(data):
            raise PictureError(_TRUNCATED)
        length, ctype = struct.unpack_from(">I4s", data, pos)
        if length > 0x7FFFFFFF or pos + 12 + length > len(data):
            raise PictureError(
                M(
                    "picture.chunk_truncated",
                    "picture is a truncated PNG (chunk {chunk!r} runs past the end)",
                    "图片是不完整的 PNG（数据块 {chunk!r} 超出了文件末尾）",
                ),
                chunk=ctype.decode("latin-1"),
            )
        body = data[pos + 8 : pos + 8 + length]
        if first:
            if ctype != b"IHDR" or length != 13:
                raise PictureError(
                    M(
                        "picture.no_ihdr",
                        "picture is not a valid PNG (the first chunk is not IHDR)",
                        "图片不是有效的 PNG（第一个数据块不是 IHDR）",
                    )
                )
            width, height = struct.unpack(">II", body[:8])
            first = False
        elif ctype == b"acTL":  # APNG animation control (APNG spec; must precede IDAT)
            animated = True
        elif ctype == b"IDAT":
            seen_idat = True
        pos += 12 + length
        if ctype == b"IEND":
            break
    if not seen_idat:
        raise PictureError(
            M(
                "picture.no_idat",
                "picture is not a valid PNG (it has no image data)",
                "图片不是有效的 PNG（没有图像数据）",
            )
        )
    if pos != len(data):
        raise PictureError(
            M(
                "picture.trailing_bytes",
                "picture has {n} extra bytes after the end of the PNG",
                "图片在 PNG 结尾之后还有 {n} 个多余字节",
            ),
            n=len(data) - pos,
        )
    return width, height, animated


def validate_png(
    data: bytes,
    *,
    max_bytes: int = 512 * 1024,
    max_px: int = 2048,
    min_px: int = 64,
) -> tuple[int, int]:
    """Accept ``data`` only if it is a single-image PNG within the limits; return (width_px, height_px).

    Checks, each failure raising :class:`PictureError` with a one-line message: non-empty and at most
    ``max_bytes``; the PNG signature; a well-formed chunk list ending at IEND with nothing after it; not an
    animated PNG (no ``acTL``); width and height between ``min_px`` and ``max_px`` — read from IHDR *before*
    any decoding, which is the local decompression-bomb limit (Pillow's process-wide
    ``Image.MAX_IMAGE_PIXELS`` is left alone); Pillow ``verify()`` (CRCs, structure) and then a full
    ``load()`` of the pixels from a fresh open.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise PictureError(
            M("picture.not_bytes", "picture must be bytes, not {type}", "图片必须是字节串，而不是 {type}"),
            type=type(data).__name__,
        )
    data = bytes(data)
    if not data:
        raise PictureError(M("picture.empty", "picture is empty", "图片为空"))
    if len(data) > max_bytes:
        raise PictureError(
            M("picture.too_large", "picture is {size}; the limit is {limit}", "图片大小为 {size}，上限为 {limit}"),
            size=_Size(len(data)),
            limit=_Size(max_bytes),
        )
    if not data.startswith(PNG_SIGNATURE):
        raise _not_png(data)
    width, height, animated = _walk_chunks(data)
    if animated:
        raise PictureError(_ANIMATED)
    if width > max_px or height > max_px:
        raise PictureError(
            M(
                "picture.too_many_px",
                "picture is {w}×{h} px; the limit is {max} px",
                "图片为 {w}×{h} 像素，上限为 {max} 像素",
            ),
            w=width,
            h=height,
            max=max_px,
        )
    if width < min_px or height < min_px:
        raise PictureError(
            M(
                "picture.too_few_px",
                "picture is {w}×{h} px; the minimum is {min} px",
                "图片为 {w}×{h} 像素，下限为 {min} 像素",
            ),
            w=width,
            h=height,
            min=min_px,
        )
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as probe:
            probe.verify()
        with Image.open(io.BytesIO(data), formats=["PNG"]) as img:
            if getattr(img, "is_animated", False):
                raise PictureError(_ANIMATED)
            img.load()
            size = img.size
    except Image.DecompressionBombError as exc:
        raise PictureError(
            M(
                "picture.bomb",
                "picture is rejected as a decompression bomb: {why}",
                "图片被判定为解压炸弹而拒收：{why}",
            ),
            why=str(exc),
        ) from None
    except PictureError:
        raise
    except (OSError, SyntaxError, ValueError, struct.error, EOFError) as exc:
        # Pillow reports corrupt PNGs as OSError ("broken data stream", "image file is truncated"),
        # SyntaxError ("broken PNG file", CRC errors) or ValueError (oversized text chunks).
        raise PictureError(
            M("picture.unreadable", "picture is not a readable PNG ({why})", "图片不是可读取的 PNG（{why}）"),
            why=str(exc),
        ) from None
    if size != (width, height):
        raise PictureError(
            M(
                "picture.inconsistent",
                "picture is not a consistent PNG (IHDR says {w}×{h}, decoded {dw}×{dh})",
                "图片不是一致的 PNG（IHDR 标明 {w}×{h}，解码得到 {dw}×{dh}）",
            ),
            w=width,
            h=height,
            dw=size[0],
            dh=size[1],
        )
    return size


#: The chunks a seal picture keeps (ISO/IEC 15948 §11.2: the critical chunks, and tRNS, which the
#: drawn pictures use for their opacity). Text (tEXt, zTXt, iTXt), time, physical size, colour
#: profiles and private chunks are dropped: nothing but the image goes inside a signed seal.
KEPT_CHUNKS: Final = frozenset({b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"})


def strip_png(data: bytes) -> bytes:
    """``data`` (a PNG that passed :func:`validate_png`) with only :data:`KEPT_CHUNKS`, in their order;
    the image is unchanged (the chunks kept are copied byte for byte, CRCs included)."""
    data = bytes(data)
    if not data.startswith(PNG_SIGNATURE):
        raise _not_png(data)
    out = [PNG_SIGNATURE]
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length, ctype = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > len(data):
            raise PictureError(_TRUNCATED)
        if ctype in KEPT_CHUNKS:
            out.append(data[pos:end])
        pos = end
        if ctype == b"IEND":
            return b"".join(out)
    raise PictureError(_TRUNCATED)
