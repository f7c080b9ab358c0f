"""Seal pictures (印模) as issuance needs them: an uploaded PNG checked, the standard picture drawn
from the licence data, what keeps it from being drawn, and the picture a seal carries. Pure
helpers over :mod:`registry.pki.picture` (no transaction): the building blocks and the use cases
(the licence import, the portal's apply form, the admin pages) share them."""

from __future__ import annotations

from typing import Any

from ...db.models import Seal
from ...domain.errors import M, ValidationError
from ...domain.seal_types import SealType
from ...pki import picture, ses
from ..context import ServiceContext


def check_picture(ctx: ServiceContext, data: bytes | None) -> None:
    if data is None:
        return
    try:
        picture.validate_png(data, max_bytes=ctx.settings.max_picture_bytes)
    except picture.PictureError as exc:
        raise ValidationError.carrying(exc) from None


def render_picture(
    ctx: ServiceContext, enterprise_name: str, legal_representative: str, st: SealType, uscc: str = ""
) -> bytes:
    return draw_picture(ctx.settings.seal_font, enterprise_name, legal_representative, st, uscc)


def _picture_text(enterprise_name: str, legal_representative: str, st: SealType, uscc: str) -> dict[str, Any]:
    """What the standard picture of a seal of type ``st`` carries, as :func:`picture.render_seal`'s
    arguments: the name seal the person's name; the invoice seal the name, 发票专用章 and the USCC (the
    taxpayer identification number) through the middle; the others the name and their type."""
    if st.is_name_seal:
        return {"name": legal_representative, "kind_label": "", "shape": "square"}
    return {
        "name": enterprise_name,
        "kind_label": st.picture_label,
        "shape": st.picture_shape,
        "middle": uscc if st.picture_shape == "oval" else "",
    }


CANNOT_DRAW = M("seal.cannot_draw", "cannot draw the seal picture: {why}", "无法绘制标准印模：{why}")


def draw_picture(
    seal_font: str | None, enterprise_name: str, legal_representative: str, st: SealType, uscc: str = ""
) -> bytes:
    """The standard picture of a seal of type ``st`` (what is issued when no PNG is uploaded)."""
    try:
        font = picture.find_cjk_font(seal_font)
        return picture.render_seal(font_path=font, **_picture_text(enterprise_name, legal_representative, st, uscc))
    except picture.PictureError as exc:
        raise ValidationError(CANNOT_DRAW, why=exc) from None


def picture_problem(
    seal_font: str | None,
    enterprise_name: str,
    legal_representative: str,
    st: SealType,
    uscc: str = "",
    *,
    glyphs: bool = True,
) -> picture.PictureError | None:
    """Why the standard picture of a seal of type ``st`` cannot be drawn from this licence data (a
    coded, bilingual :class:`~registry.pki.picture.PictureError`: a name too long for the ring, a
    legal representative's name that is not 2 to 4 characters, a character the seal font lacks), or
    None if it can. Nothing is drawn. With ``glyphs=False`` (or when no seal font is installed) only
    what needs no font is checked."""
    if glyphs:
        try:
            picture.find_cjk_font(seal_font)
        except picture.PictureError:
            glyphs = False
    return picture.seal_text_problem(
        font_path=seal_font, glyphs=glyphs, **_picture_text(enterprise_name, legal_representative, st, uscc)
    )


def licence_picture_problems(
    seal_font: str | None, enterprise_name: str, legal_representative: str, uscc: str = ""
) -> dict[SealType, picture.PictureError]:
    """The seal types whose standard picture cannot be drawn from this licence, and why (the
    enterprise must then upload its own PNG for them). Used at licence import, on the admin
    enterprise page and on the portal's apply form."""
    out: dict[SealType, picture.PictureError] = {}
    for st in SealType:
        problem = picture_problem(seal_font, enterprise_name, legal_representative, st, uscc)
        if problem is not None:
            out[st] = problem
    return out


def seal_picture(seal: Seal) -> ses.SealPicture:
    """The picture carried inside the seal's SESeal."""
    return ses.parse_seal(seal.ses_der).picture
