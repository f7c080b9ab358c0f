"""CRL reason codes (RFC 5280 §5.3.1) and what each means for a seal: the revocation vocabulary
the services and the web pages use, and :class:`CrlError`, the one error of this package."""

from __future__ import annotations

import enum
import re


class CrlError(ValueError):
    """Bad arguments to a CRL builder, or input that is not a well-formed CRL; the message says which."""


class CrlReason(enum.IntEnum):
    """CRLReason (RFC 5280 §5.3.1). Value 7 is unused."""

    UNSPECIFIED = 0
    KEY_COMPROMISE = 1
    CA_COMPROMISE = 2
    AFFILIATION_CHANGED = 3
    SUPERSEDED = 4
    CESSATION_OF_OPERATION = 5
    CERTIFICATE_HOLD = 6
    REMOVE_FROM_CRL = 8
    PRIVILEGE_WITHDRAWN = 9
    AA_COMPROMISE = 10

    @property
    def rfc_name(self) -> str:
        """The ASN.1 name in RFC 5280 §5.3.1, e.g. ``keyCompromise``."""
        return _RFC_NAMES[self]

    def label(self, lang: str = "zh") -> str:
        """What the reason means for a seal, in Chinese or English (the RFC name is ``rfc_name``)."""
        zh, en = _LABELS[self]
        return zh if lang == "zh" else en

    @classmethod
    def parse(cls, text: str | int | CrlReason) -> CrlReason:
        """Accept an RFC name (case-insensitive; ``keyCompromise``, ``key-compromise``,
        ``KEY_COMPROMISE``) or a numeric code (``1`` or ``"1"``). Raises :class:`CrlError` listing the
        choices otherwise."""
        if isinstance(text, cls):
            return text
        if isinstance(text, int) and not isinstance(text, bool):
            try:
                return cls(text)
            except ValueError:
                raise CrlError(f"unknown CRL reason code {text}; choose one of {_choices()}") from None
        if isinstance(text, str):
            key = re.sub(r"[\s_-]", "", text).lower()
            if key.isdigit():
                return cls.parse(int(key))
            for reason, name in _RFC_NAMES.items():
                if key == name.lower():
                    return reason
        raise CrlError(f"unknown CRL reason {text!r}; choose one of {_choices()}")


_RFC_NAMES = {
    CrlReason.UNSPECIFIED: "unspecified",
    CrlReason.KEY_COMPROMISE: "keyCompromise",
    CrlReason.CA_COMPROMISE: "cACompromise",
    CrlReason.AFFILIATION_CHANGED: "affiliationChanged",
    CrlReason.SUPERSEDED: "superseded",
    CrlReason.CESSATION_OF_OPERATION: "cessationOfOperation",
    CrlReason.CERTIFICATE_HOLD: "certificateHold",
    CrlReason.REMOVE_FROM_CRL: "removeFromCRL",
    CrlReason.PRIVILEGE_WITHDRAWN: "privilegeWithdrawn",
    CrlReason.AA_COMPROMISE: "aACompromise",
}


# How this registry uses each reason (design.md §3; docs/cli.md "Seal revocation reasons").
_LABELS = {
    CrlReason.UNSPECIFIED: ("未说明原因", "Unspecified"),
    CrlReason.KEY_COMPROMISE: ("挂失（密钥遗失或泄露）", "Loss or key compromise"),
    CrlReason.CA_COMPROMISE: ("CA 密钥泄露", "CA key compromise"),
    CrlReason.AFFILIATION_CHANGED: ("登记事项变更", "Licence details changed"),
    CrlReason.SUPERSEDED: ("已重新制作（被取代）", "Superseded by a new seal"),
    CrlReason.CESSATION_OF_OPERATION: ("注销或吊销（停止使用）", "Cancelled (no longer used)"),
    CrlReason.CERTIFICATE_HOLD: ("停用（暂停）", "Suspended (on hold)"),
    CrlReason.REMOVE_FROM_CRL: ("恢复使用（移出 CRL）", "Resumed (removed from the CRL)"),
    CrlReason.PRIVILEGE_WITHDRAWN: ("撤销资格", "Privilege withdrawn"),
    CrlReason.AA_COMPROMISE: ("属性机构密钥泄露", "Attribute authority compromise"),
}


def _choices() -> str:
    return ", ".join(f"{r.rfc_name} ({r.value})" for r in CrlReason)
