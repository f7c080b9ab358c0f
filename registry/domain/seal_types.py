"""Seal categories (domain.md §2.2).

The code is the two-digit category code used by public-security seal systems (01 法定名称章 ... 99);
GB/T 38540 leaves ``SES_ESPropertyInfo.type`` to local convention, and we put this code's integer
value there, so a verifier elsewhere sees e.g. ``type = 2`` for a finance seal.
"""

from __future__ import annotations

import enum

from .errors import M, Message, ValidationError


class SealType(str, enum.Enum):
    OFFICIAL = "01"  # 法定名称章 (公章)
    FINANCE = "02"  # 财务专用章
    INVOICE = "03"  # 发票专用章
    CONTRACT = "04"  # 合同专用章
    LEGAL_REPRESENTATIVE = "05"  # 法定代表人名章 / 负责人章
    OTHER = "99"  # 其他类型印章

    @property
    def code(self) -> str:
        return self.value

    @property
    def ses_type(self) -> int:
        """Integer written into SES_ESPropertyInfo.type."""
        return int(self.value)

    @property
    def english(self) -> str:
        return _ENGLISH[self]

    @property
    def chinese(self) -> str:
        return _CHINESE[self]

    def label(self, lang: str = "zh") -> str:
        """The seal type's name for people: 财务专用章 / Finance seal (``english`` is the CLI's code)."""
        return _CHINESE[self] if lang == "zh" else _DISPLAY_EN[self]

    @property
    def named(self) -> Message:
        """The type as a value of a message: "02 财务专用章" / "02 Finance seal" (the enum itself is a
        ``str`` and would show as its bare code)."""
        return Message(f"seal_type.t{self.code}", f"{self.code} {_DISPLAY_EN[self]}", f"{self.code} {_CHINESE[self]}")

    @property
    def is_name_seal(self) -> bool:
        """A personal name seal: square, carries the legal representative's name."""
        return self is SealType.LEGAL_REPRESENTATIVE

    @property
    def picture_shape(self) -> str:
        """The form of the standard picture: the 法定代表人名章 is square; the 发票专用章 is the tax
        authority's oval (40 × 30 mm, the taxpayer identification number through the middle, no star);
        every other seal is round (40 mm) with a star."""
        if self.is_name_seal:
            return "square"
        return "oval" if self is SealType.INVOICE else "round"

    @property
    def picture_mm(self) -> tuple[int, int]:
        """Width and height of the picture in millimetres (SES_ESPictureInfo width/height)."""
        return {"square": (20, 20), "oval": (40, 30)}.get(self.picture_shape, (40, 40))

    @property
    def picture_label(self) -> str:
        """Text along the bottom of a round seal: empty only for the 法定名称章 (公章). Any other seal
        is labelled, so that no drawn picture can be taken for the enterprise's official seal; a seal
        of another type says 专用章, as its name does (:func:`seal_name`)."""
        return {SealType.OFFICIAL: "", SealType.OTHER: "专用章"}.get(self, self.chinese)

    @classmethod
    def parse(cls, text: str) -> SealType:
        """Accept the code (``02``, ``2``), the English name (``finance``) or the Chinese name."""
        t = (text or "").strip()
        if t.isdigit():
            t = t.zfill(2)
            for member in cls:
                if member.value == t:
                    return member
        key = t.lower().replace("_", "-").replace(" ", "-")
        for member in cls:
            if key == member.english or t == member.chinese or t in _ALIASES.get(member, ()):
                return member
        choices = ", ".join(f"{m.value} {m.english}" for m in cls)
        raise ValidationError(
            M(
                "seal_type.unknown_seal_type_use",
                "unknown seal type {text}; use one of: {choices}",
                "未知的印章类型 {text}；可选：{choices}",
            ),
            text=f"{text!r}",
            choices=choices,
        )


_ENGLISH = {
    SealType.OFFICIAL: "official",
    SealType.FINANCE: "finance",
    SealType.INVOICE: "invoice",
    SealType.CONTRACT: "contract",
    SealType.LEGAL_REPRESENTATIVE: "legal-representative",
    SealType.OTHER: "other",
}
_DISPLAY_EN = {
    SealType.OFFICIAL: "Official seal",
    SealType.FINANCE: "Finance seal",
    SealType.INVOICE: "Invoice seal",
    SealType.CONTRACT: "Contract seal",
    SealType.LEGAL_REPRESENTATIVE: "Legal representative's seal",
    SealType.OTHER: "Other seal",
}
_CHINESE = {
    SealType.OFFICIAL: "法定名称章",
    SealType.FINANCE: "财务专用章",
    SealType.INVOICE: "发票专用章",
    SealType.CONTRACT: "合同专用章",
    SealType.LEGAL_REPRESENTATIVE: "法定代表人名章",
    SealType.OTHER: "其他类型印章",
}
_ALIASES = {
    SealType.LEGAL_REPRESENTATIVE: ("负责人章", "法人章", "法定代表人章"),
    SealType.OFFICIAL: ("公章",),
}

# Shenzhen's free standard set (domain.md §2.2): 法定名称章、财务专用章、合同专用章、负责人章.
STANDARD_SET: tuple[SealType, ...] = (
    SealType.OFFICIAL,
    SealType.FINANCE,
    SealType.CONTRACT,
    SealType.LEGAL_REPRESENTATIVE,
)


def seal_name(enterprise_name: str, seal_type: SealType, legal_representative: str) -> str:
    """The SES seal name (助记名称). GM/T 0031-2025 asks it to match the registered name, e.g.
    "××公司财务专用章"; a name seal is named after the person."""
    if seal_type is SealType.OFFICIAL:
        return enterprise_name
    if seal_type is SealType.LEGAL_REPRESENTATIVE:
        return f"{legal_representative}（{enterprise_name}负责人章）"
    if seal_type is SealType.OTHER:
        return f"{enterprise_name}专用章"
    return f"{enterprise_name}{seal_type.chinese}"
