"""Validating an uploaded seal picture: a single-image PNG within the size limits, and nothing in it
but the image (:func:`strip_png` drops the ancillary chunks before it goes inside a signed seal)."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import Final

from PIL import Image

from ..messages import M
from .picture_error import PictureError

__all__ = ["KEPT_CHUNKS", "PNG_SIGNATURE", "strip_png", "validate_png"]

PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"  # ISO/IEC 15948 §5.2


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
