"""Composing a digest: what each notice says (:func:`view`, through the Jinja templates in
``templates/email``: Chinese, then English; plain text and HTML), which notices a later one makes
pointless (:func:`fold`), who is copied (:func:`copies`), and the e-mail itself (:func:`message`)."""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...db.models import Enterprise, EnterprisePerson, Notification, NotificationDigest, Seal, SealGrant
from ...domain.display_time import format_local
from ...domain.seal_types import SealType
from ...domain.states import SealStatus
from ..context import ServiceContext
from .job import zone

__all__ = ["TEMPLATES", "copies", "fold", "message", "templates", "view"]

TEMPLATES = Path(__file__).resolve().parents[3] / "templates" / "email"

# RFC 5280 §5.3.1 reason → what the enterprise reads (the portal's own requests named separately)
_REASONS = {
    "keyCompromise": ("挂失（印章或密钥丢失、泄露）", "reported lost or compromised (keyCompromise)"),
    "affiliationChanged": ("营业执照登记信息变更", "the business licence details changed (affiliationChanged)"),
    "superseded": ("印章已重新制作", "the seal was re-made (superseded)"),
    "cessationOfOperation": (
        "营业执照注销、吊销或印章注销",
        "the licence was cancelled or revoked, or the seal was cancelled (cessationOfOperation)",
    ),
    "privilegeWithdrawn": ("使用权限被撤回", "the privilege was withdrawn (privilegeWithdrawn)"),
    "unspecified": ("未说明", "not specified"),
}
_REQUESTS = {
    "loss": ("贵单位挂失", "reported lost or compromised by your enterprise (keyCompromise)"),
    "cancel": ("贵单位申请注销", "cancelled at your enterprise's request (cessationOfOperation)"),
}


@functools.cache
def templates(html: bool) -> jinja2.Environment:
    """One environment per output type: the sentences (_notices.txt) are shared, and escaped for HTML
    in the HTML environment, where every template escapes (a macro is compiled by the environment
    that loads it, whatever the template importing it)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _local(text: str | None, tz: ZoneInfo, with_time: bool = True) -> str:
    if not text:
        return ""
    when = dt.datetime.fromisoformat(text).astimezone(tz)
    if not with_time:
        return when.strftime("%Y-%m-%d")
    off = when.utcoffset() or dt.timedelta()
    minutes = int(off.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{when:%Y-%m-%d %H:%M} (UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d})"


def view(ctx: ServiceContext, n: Notification, tz: ZoneInfo) -> dict[str, Any]:
    """What the templates need to say one notice."""
    d = dict(n.details or {})
    base = ctx.settings.base_url
    st = SealType(d["seal_type"]) if d.get("seal_type") else None
    reason_zh, reason_en = _REQUESTS.get(d.get("request") or "") or _REASONS.get(
        d.get("reason") or "", (str(d.get("reason") or ""), str(d.get("reason") or ""))
    )
    if d.get("licence_event") and d.get("reason") == "cessationOfOperation":
        reason_zh, reason_en = (
            "营业执照注销或吊销",
            "the business licence was cancelled or revoked (cessationOfOperation)",
        )
    link = (
        f"{base}/seals/{d['es_id']}"
        if d.get("es_id")
        else f"{base}/portal/applications/{d['application']}"
        if d.get("application")
        else f"{base}/portal/"
    )
    return {
        "kind": n.kind,
        "es_id": d.get("es_id"),
        "name": d.get("name"),
        "application": d.get("application"),
        "type_zh": st.chinese if st else "",
        "type_en": st.english if st else "",
        "reason": d.get("reason") or "",
        "reason_zh": reason_zh,
        "reason_en": reason_en,
        # times people read: the display zone, labelled (北京时间 / Beijing time); dates as the day there
        "at": format_local(d.get("at"), ctx.settings.display_timezone, "zh"),
        "at_en": format_local(d.get("at"), ctx.settings.display_timezone, "en"),
        "valid_end": _local(d.get("valid_end"), tz, with_time=False),
        "renews": d.get("renews"),
        "superseded_by": d.get("superseded_by"),
        "days_left": d.get("days_left"),
        "link": link,
    }


def fold(
    session: Session, notices: list[Notification], now: dt.datetime
) -> tuple[list[Notification], list[Notification]]:
    """(shown, folded): an approval whose seal was issued is said by the issuance; a reminder for a
    seal revoked or expired since, or older than another reminder for it, says nothing useful."""
    issued_apps = {n.application_id for n in notices if n.kind == "seal_issued" and n.application_id}
    expiring = [n for n in notices if n.kind == "seal_expiring"]
    latest: dict[int | None, Notification] = {}
    for n in expiring:
        if n.seal_id not in latest or n.details.get("threshold", 0) < latest[n.seal_id].details.get("threshold", 0):
            latest[n.seal_id] = n
    live = (
        {
            r.id
            for r in session.execute(
                select(Seal.id).where(
                    Seal.id.in_([n.seal_id for n in expiring if n.seal_id is not None]),
                    Seal.status.in_((SealStatus.ACTIVE, SealStatus.SUSPENDED)),
                    Seal.valid_end > now,
                )
            )
        }
        if expiring
        else set()
    )
    shown, folded = [], []
    for n in notices:
        if (
            n.kind == "application_approved"
            and n.application_id in issued_apps
            or n.kind == "seal_expiring"
            and (n.seal_id not in live or latest.get(n.seal_id) is not n)
        ):
            folded.append(n)
        else:
            shown.append(n)
    return shown, folded


def copies(session: Session, enterprise_id: int, shown: list[Notification], to: str) -> list[str]:
    """Authorised persons to copy: those granted every seal the digest speaks of (none if it speaks
    of an application, which only the legal representative sees)."""
    seal_ids = {n.seal_id for n in shown}
    if not seal_ids or None in seal_ids:
        return []
    granted: dict[int, set[int]] = defaultdict(set)
    emails: dict[int, str] = {}
    for pid, email, seal_id in session.execute(
        select(EnterprisePerson.id, EnterprisePerson.email, SealGrant.seal_id)
        .join(SealGrant, SealGrant.person_id == EnterprisePerson.id)
        .where(
            EnterprisePerson.enterprise_id == enterprise_id,
            EnterprisePerson.active.is_(True),
            EnterprisePerson.email != "",
            SealGrant.seal_id.in_(list(seal_ids)),
        )
    ):
        granted[pid].add(seal_id)
        emails[pid] = email.strip()
    out = {emails[p] for p, ids in granted.items() if ids >= seal_ids and emails[p]}
    return sorted(a for a in out if a.lower() != to.lower())


def message(
    ctx: ServiceContext,
    ent: Enterprise,
    digest: NotificationDigest,
    shown: list[Notification],
    to: str,
    cc: list[str],
    day: dt.date,
) -> tuple[EmailMessage, str]:
    """The digest e-mail. Raises ValueError (or a header parsing error) for an unusable address."""
    tz = zone(ctx)
    s = ctx.settings
    base = s.base_url
    data = {
        "enterprise": ent.name,
        "uscc": ent.uscc,
        "day": day.isoformat(),
        "items": [view(ctx, n, tz) for n in shown],
        "portal_url": f"{base}/portal/",
        "status_url": f"{base}/seals/",
        "authority": s.authority_name,
        "authority_en": s.authority_name_en,
    }
    text = templates(False).get_template("digest.txt").render(**data)
    html = templates(True).get_template("digest.html").render(**data)
    sender = Address(display_name=s.authority_name, addr_spec=s.mail_from)
    msg = EmailMessage()
    msg["Subject"] = f"【电子印章】{day.isoformat()} 通知 {len(shown)} 项 / Electronic seal notices ({len(shown)})"
    msg["From"] = sender
    msg["To"] = Address(display_name=ent.name, addr_spec=to)
    if cc:
        msg["Cc"] = [Address(addr_spec=a) for a in cc]
    msg["Date"] = format_datetime(ctx.clock.now())
    msg["Message-ID"] = f"<notify-{digest.id}.{ent.uscc.lower()}@{sender.domain or 'localhost'}>"
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834 §5: no automatic replies to this
    msg["Content-Language"] = "zh-CN, en"
    msg.set_content(text, cte="base64")  # 7-bit safe whatever the server supports
    msg.add_alternative(html, subtype="html", cte="base64")
    return msg, text
