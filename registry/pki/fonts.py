"""CJK fonts for the seal pictures: finding one, choosing the Simplified-Chinese face of a collection,
and reading its ``cmap`` to know which characters it can draw.

Glyph coverage is decided from the font's own ``cmap`` table (OpenType spec, "cmap — Character to Glyph Index
Mapping Table", formats 4 and 12), read by the small parser below — Pillow does not expose glyph indices, and
a missing character must never be drawn as a tofu box. Reading font files is the only I/O here.
"""

from __future__ import annotations

import bisect
import os
import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from PIL import ImageFont

from ..messages import M
from .picture_error import PictureError

__all__ = ["KNOWN_FONT_LOCATIONS", "face_index", "find_cjk_font", "missing_glyphs"]

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
        ImageFont.truetype(path, 16, index=face_index(path), layout_engine=ImageFont.Layout.BASIC)
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
def face_index(path: str) -> int:
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
    """The character map of the face :func:`face_index` selects; :class:`PictureError` if unreadable."""
    try:
        return _parse_cmap(_read_cmap_table(path, face_index(path)), (12, 4))
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
