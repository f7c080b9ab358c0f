"""Names people read for the codes the registry stores, in Chinese and English, in one place.

States, statuses, roles, seal types and revocation reasons are enums with ``label(lang)``; this
module names the codes stored as plain text — audit actions and their detail keys, target types,
channels, licence fields and events — and turns an audit event's details and a licence history
entry into readable lines. A code with no label here is shown as it is (never an error).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from typing import Any

from ..pki.crl import CrlReason
from .roles import Role
from .seal_types import SealType
from .states import EXPIRED_LABEL, ApplicationState, CertificateStatus, LicenceStatus, SealStatus

__all__ = ["label", "KINDS", "audit_details", "licence_changes", "Line"]

Pair = tuple[str, str]  # (Chinese, English)

AUDIT_ACTIONS: dict[str, Pair] = {
    "application.submitted": ("提交申请", "Application submitted"),
    "application.reviewed": ("执照已核验", "Licence checked"),
    "application.approved": ("批准申请", "Application approved"),
    "application.rejected": ("驳回申请", "Application rejected"),
    "application.withdrawn": ("撤回申请", "Application withdrawn"),
    "application.issued": ("申请已签发", "Application issued"),
    "authority.created": ("创建 CA", "CA created"),
    "authority.revoked": ("吊销 CA 证书", "CA certificate revoked"),
    "crl.published": ("发布 CRL", "CRLs published"),
    "enterprise.contact_changed": ("变更联系方式", "Contact changed"),
    "licence.changed": ("执照变更", "Licence changed"),
    "licence.imported": ("导入执照文件", "Licence file imported"),
    "notification.sent": ("发送通知", "Notice sent"),
    "notification.undeliverable": ("通知无法送达", "Notice undeliverable"),
    "peer.proposed": ("提议接纳对方机构", "Peer proposed"),
    "peer.approved": ("批准接纳对方机构", "Peer admitted"),
    "peer.suspended": ("暂停对方机构", "Peer suspended"),
    "peer.resumed": ("恢复对方机构", "Peer resumed"),
    "peer.withdrawn": ("撤销对方机构", "Peer withdrawn"),
    "peer.list_accepted": ("接受对方信任列表", "Peer's trust list accepted"),
    "peer.key_rolled_over": ("对方列表签名密钥轮换", "Peer's list-signing key rolled over"),
    "peer.refresh_failed": ("对方信任列表获取失败或被拒", "Peer's trust list failed or refused"),
    "peer.equivocation": ("对方列表两面说法", "Peer equivocation"),
    "person.created": ("创建经办人", "Authorised person created"),
    "person.deactivated": ("停用经办人", "Authorised person deactivated"),
    "person.reactivated": ("恢复经办人", "Authorised person reactivated"),
    "person.granted": ("授予印章权限", "Seal authority granted"),
    "person.withdrawn": ("收回印章权限", "Seal authority withdrawn"),
    "person.password_changed": ("经办人修改密码", "Person's password changed"),
    "person.password_reset": ("重置经办人密码", "Person's password reset"),
    "person.totp_reset": ("重置经办人动态口令", "Person's authenticator reset"),
    "seal.issued": ("签发印章", "Seal issued"),
    "seal.revoked": ("吊销印章", "Seal revoked"),
    "seal.suspended": ("停用印章", "Seal suspended"),
    "seal.resumed": ("恢复印章", "Seal resumed"),
    "seal.grants_carried": ("权限转至新印章", "Grants carried to the new seal"),
    "signin.succeeded": ("登录成功", "Signed in"),
    "signin.failed": ("登录失败", "Sign-in failed"),
    "signin.locked": ("账号锁定", "Account locked"),
    "signin.unknown": ("以未知账号登录", "Sign-in with an unknown name"),
    "application.break_glass": ("紧急签发（无第二人）", "Break-glass issuance (no second person)"),
    "counter.confirmed": ("命令行确认身份", "Confirmed at the command line"),
    "list.exported": ("导出列表", "List exported"),
    "signout": ("退出登录", "Signed out"),
    "totp.enrolled": ("绑定动态口令", "Authenticator enrolled"),
    "trust_list.key_created": ("生成信任列表签名密钥", "List-signing key created"),
    "trust_list.published": ("发布信任列表", "Trust list published"),
    "trust_list.key_announced": ("预告下一把列表签名密钥", "Next list-signing key announced"),
    "trust_list.key_rolled_over": ("列表签名密钥轮换", "List-signing key rolled over"),
    "trust_list.key_retired": ("停用列表签名密钥", "List-signing key retired"),
    "totp.reset": ("重置动态口令", "Authenticator reset"),
    "user.created": ("创建工作人员账号", "Staff account created"),
    "user.deactivated": ("停用工作人员账号", "Staff account deactivated"),
    "user.reactivated": ("恢复工作人员账号", "Staff account reactivated"),
    "user.password_changed": ("修改密码", "Password changed"),
    "user.password_reset": ("重置密码", "Password reset"),
    "user.roles_changed": ("变更角色", "Roles changed"),
}

AUDIT_KEYS: dict[str, Pair] = {
    "after": ("变更后", "after"),
    "algorithm": ("算法", "algorithm"),
    "application": ("申请", "application"),
    "at": ("时间", "time"),
    "attempt": ("尝试次数", "attempt"),
    "authority": ("机构", "authority"),
    "before": ("变更前", "before"),
    "cc": ("抄送", "cc"),
    "certificate_serial": ("证书序列号", "certificate serial"),
    "certificates": ("证书", "certificates"),
    "changes": ("变更", "changes"),
    "channel": ("渠道", "channel"),
    "created": ("新增", "added"),
    "crls": ("CRL", "CRLs"),
    "day": ("日期", "day"),
    "digest": ("摘要", "digest"),
    "display_name": ("姓名", "name"),
    "email": ("电子邮箱", "e-mail"),
    "error": ("错误", "error"),
    "grants": ("权限", "grants"),
    "invalidity_date": ("失效日期", "invalidity date"),
    "issuer": ("签发者", "issuer"),
    "key": ("密钥", "key"),
    "kind": ("类别", "kind"),
    "licence_status": ("执照状态", "licence status"),
    "note": ("备注", "note"),
    "notices": ("通知", "notices"),
    "policy": ("规则", "policy"),
    "reason": ("原因", "reason"),
    "refused": ("拒绝", "refused"),
    "rejected": ("未导入", "not imported"),
    "renews": ("续期自", "renews"),
    "replaces": ("取代", "replaces"),
    "reviewed_by": ("核验人", "reviewed by"),
    "revoked_at": ("吊销时间", "revoked at"),
    "revoked_seals": ("吊销的印章", "revoked seals"),
    "roles": ("角色", "roles"),
    "seal": ("印章", "seal"),
    "seal_type": ("印章类型", "seal type"),
    "serial": ("序列号", "serial"),
    "shard": ("CRL 分片", "CRL shard"),
    "source": ("来源", "source"),
    "subject": ("主题", "subject"),
    "superseded_by": ("被取代为", "superseded by"),
    "to": ("收件人", "to"),
    "unchanged": ("未变", "unchanged"),
    "updated": ("更新", "updated"),
    "updated_uscc": ("更新的企业", "updated"),
    "uscc": ("统一社会信用代码", "USCC"),
    "valid_end": ("有效期至", "valid until"),
    "was_suspended": ("吊销前已停用", "was suspended"),
    "watermark": ("进度", "watermark"),
    "entries": ("条目", "entries"),
    "number": ("编号", "number"),
    "this_update": ("本次更新", "this update"),
    "next_update": ("下次更新", "next update"),
    "count": ("数量", "count"),
    "sessions_ended": ("结束的会话", "sessions ended"),
    "renewal_of": ("续期自", "renewal of"),
    "via": ("方式", "via"),
    "step": ("步骤", "step"),
    "failures": ("失败次数", "failures"),
    "locked_until": ("锁定至", "locked until"),
    "break_glass": ("紧急签发理由", "break-glass reason"),
    "cli_user": ("命令行用户", "command-line user"),
    "factors": ("验证方式", "factors"),
    "role": ("角色", "role"),
    "sequence": ("版本号", "sequence"),
    "area_code": ("地区代码", "area code"),
    "url": ("地址", "URL"),
    "fingerprints": ("指纹", "fingerprints"),
    "held_sha256": ("已接受版本的 SHA-256", "held SHA-256"),
    "proposed_by": ("提议人", "proposed by"),
    "code": ("代码", "code"),
    "previous": ("上一版", "previous"),
    "walked": ("补取的版本数", "versions walked"),
    "sha256": ("SHA-256", "SHA-256"),
    "kid": ("密钥标识", "key id"),
    "trigger": ("触发原因", "trigger"),
    "services": ("服务数", "services"),
    "format": ("格式", "format"),
    "filters": ("筛选条件", "filters"),
    "rows": ("行数", "rows"),
}

TARGET_TYPES: dict[str, Pair] = {
    "application": ("申请", "Application"),
    "authority": ("机构（CA）", "Authority (CA)"),
    "enterprise": ("企业", "Enterprise"),
    "licence-file": ("执照文件", "Licence file"),
    "seal": ("印章", "Seal"),
    "list": ("列表", "List"),
    "user": ("工作人员", "Staff account"),
    "person": ("经办人", "Authorised person"),
}

CHANNELS: dict[str, Pair] = {
    "portal": ("企业门户", "Enterprise portal"),
    "counter": ("窗口受理", "At the counter"),
}

LICENCE_FIELDS: dict[str, Pair] = {
    "uscc": ("统一社会信用代码", "USCC"),
    "name": ("名称", "Enterprise name"),
    "legal_representative": ("法定代表人", "Legal representative"),
    "entity_type": ("类型", "Entity type"),
    "address": ("住所", "Address"),
    "registered_on": ("成立日期", "Registered on"),
    "status": ("登记状态", "Licence status"),
}

LICENCE_EVENTS: dict[str, Pair] = {
    "registered": ("登记", "Registered"),
    "changed": ("变更", "Changed"),
    "status": ("状态变更", "Status changed"),
}

NOTICE_KINDS: dict[str, Pair] = {
    "application_approved": ("申请已批准", "Application approved"),
    "application_rejected": ("申请被驳回", "Application rejected"),
    "application_reissue": ("执照变更，已开始重新制作印章", "Licence changed: seal being re-made"),
    "seal_issued": ("印章已签发", "Seal issued"),
    "seal_revoked": ("印章已吊销", "Seal revoked"),
    "seal_suspended": ("印章已停用", "Seal suspended"),
    "seal_resumed": ("印章已恢复", "Seal resumed"),
    "seal_expiring": ("印章即将到期", "Seal expiring soon"),
}

# what happened to a notice's e-mail (Notification.state)
NOTICE_STATES: dict[str, Pair] = {
    "pending": ("等待发送（每日汇总邮件）", "Waiting (daily digest e-mail)"),
    "sent": ("已发邮件", "E-mailed"),
    "folded": ("已由同一邮件中的后续通知说明", "Covered by a later notice in the same e-mail"),
    "undeliverable": ("未发送：无可用的联系邮箱", "Not sent: no usable contact address"),
}

BOOLEANS: dict[str, Pair] = {"True": ("是", "yes"), "False": ("否", "no")}


def _enum_pairs(kind: Any) -> dict[str, Pair]:
    return {m.value if isinstance(m.value, str) else str(m.value): (m.label("zh"), m.label("en")) for m in kind}


KINDS: dict[str, dict[str, Pair]] = {
    "application_state": _enum_pairs(ApplicationState),
    "seal_status": {**_enum_pairs(SealStatus), "expired": EXPIRED_LABEL},
    "licence_status": _enum_pairs(LicenceStatus),
    "certificate_status": _enum_pairs(CertificateStatus),
    "role": _enum_pairs(Role),
    "seal_type": {m.code: (m.label("zh"), m.label("en")) for m in SealType},
    "crl_reason": {r.rfc_name: (r.label("zh"), r.label("en")) for r in CrlReason},
    "audit_action": AUDIT_ACTIONS,
    "audit_key": AUDIT_KEYS,
    "target_type": TARGET_TYPES,
    "channel": CHANNELS,
    "licence_field": LICENCE_FIELDS,
    "licence_event": LICENCE_EVENTS,
    "notice_kind": NOTICE_KINDS,
    "notice_state": NOTICE_STATES,
}


def label(kind: str, value: Any, lang: str = "zh") -> str:
    """The name of ``value`` (a stored code or an enum) of ``kind`` in ``lang``; unknown codes as is."""
    if value is None:
        return ""
    if isinstance(value, enum.Enum):
        label_of = getattr(value, "label", None)
        if callable(label_of):
            return str(label_of(lang))
    key = value.value if isinstance(value, enum.Enum) else value
    if kind == "crl_reason" and isinstance(key, int):
        try:
            return CrlReason(key).label(lang)
        except ValueError:
            return str(key)
    pair = KINDS.get(kind, {}).get(str(key))
    return str(value) if pair is None else pair[0 if lang == "zh" else 1]


def reason_label(value: Any, lang: str = "zh") -> str:
    """A revocation reason: its meaning with the RFC 5280 term beside it (挂失（密钥遗失或泄露） keyCompromise)."""
    try:
        reason = CrlReason.parse(value)
    except (ValueError, TypeError):
        return str(value)
    return f"{reason.label(lang)} ({reason.rfc_name})" if lang != "zh" else f"{reason.label(lang)}（{reason.rfc_name}）"


# Keys whose values are codes of a kind.
_VALUE_KINDS = {
    "reason": "crl_reason",
    "licence_status": "licence_status",
    "roles": "role",
    "before": "role",
    "after": "role",
    "seal_type": "seal_type",
    "channel": "channel",
    "status": "licence_status",
    "state": "application_state",
}
_TIME_KEYS = {"at", "revoked_at", "invalidity_date", "valid_end", "this_update", "next_update"}

Line = tuple[str, str]  # (label, value as text)


def _value(key: str, value: Any, lang: str, when: Any) -> str:
    sep = "、" if lang == "zh" else ", "
    if value is None:
        return "—"
    if isinstance(value, bool):
        return BOOLEANS[str(value)][0 if lang == "zh" else 1]
    if key in _TIME_KEYS and isinstance(value, str) and when is not None:
        return str(when(value))
    kind = _VALUE_KINDS.get(key)
    if isinstance(value, (list, tuple)):
        if key == "changes":
            return sep.join(_value(key, v, lang, when) for v in value)
        return sep.join(_value(key, v, lang, when) for v in value) if value else "—"
    if isinstance(value, Mapping):
        if key == "changes":
            return (
                "；".join(f"{f}：{old} → {new}" for f, old, new in licence_changes(value, lang))
                if lang == "zh"
                else "; ".join(f"{f}: {old} → {new}" for f, old, new in licence_changes(value, lang))
            )
        return ("；" if lang == "zh" else "; ").join(
            f"{label('audit_key', k, lang)}{'：' if lang == 'zh' else ': '}{_value(k, v, lang, when)}"
            for k, v in sorted(value.items())
        )
    if kind == "crl_reason":
        return reason_label(value, lang)
    if kind is not None:
        return label(kind, value, lang)
    return str(value)


def audit_details(details: Any, lang: str = "zh", when: Any = None) -> list[Line]:
    """An audit event's details (a dict or its JSON text) as (label, value) lines, keys in order.
    ``when`` formats a stored UTC time for display (the web layer's ``localtime``)."""
    if details in (None, "", "{}"):
        return []
    if isinstance(details, str):
        try:
            details = json.loads(details)
        except ValueError:
            return [("", details)]
    if not isinstance(details, Mapping):
        return [("", str(details))]
    return [(label("audit_key", k, lang), _value(k, v, lang, when)) for k, v in sorted(details.items())]


def licence_changes(changes: Any, lang: str = "zh") -> list[tuple[str, str, str]]:
    """A licence history entry's changes ({field: [old, new]}) as (field name, old, new); no value is —."""
    out: list[tuple[str, str, str]] = []
    if not isinstance(changes, Mapping):
        return out
    for field in sorted(changes):
        pair = changes[field]
        if isinstance(pair, (list, tuple)) and len(pair) == 2:
            old, new = pair
        else:
            old, new = None, pair
        if field == "status":
            old, new = (label("licence_status", v, lang) if v is not None else None for v in (old, new))
        out.append(
            (
                label("licence_field", field, lang),
                "—" if old in (None, "") else str(old),
                "—" if new in (None, "") else str(new),
            )
        )
    return out
