"""The status of another region's seal (issue 13, mutual-recognition.md §2.3): for an esID whose
area code is an admitted peer's, what the peer's own status API says about it, checked against
the peer's CRLs as we stored them.

* the peer is the one admitted for the esID's first six digits (never our own area; trust is not
  transitive: a peer's peers are not asked);
* its answer is fetched from the ``status_api`` URL of **its list in force** (never a URL from the
  request), with the defensive fetcher: a size limit, a short timeout, no redirect to another host;
  it is read as strict JSON (no duplicate keys, bounded nesting) and must be about the esID asked;
* the answer is unsigned, so it is informative only: each certificate it names (serial, issuer) is
  decided from the peer's CRL of the listed CA whose subject is that issuer. A certificate on the
  CRL is revoked with the CRL's time and reason whatever the peer says; a CRL past its nextUpdate,
  no CRL yet, an issuer the list does not name, the peer suspended or withdrawn, its list expired
  or the peer unreachable make the status ``unknown`` with the reason — never ``active``.

Only :func:`registry.services.peers.crls.lookup` (and its :class:`Found`) and the CRLs the peer
pages show (:func:`registry.services.peers.peer_crls`) are used, not the tables behind them.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ..db.trust_models import Peer
from ..domain import trust_list as tl
from ..domain.errors import M, Message
from ..pki import crl
from ..pki.strict_json import DuplicateKey, nesting_depth, no_duplicate_keys
from .context import Actor, ServiceContext
from .core.tx import reading
from .peers import crls as peer_crls
from .peers import views as peer_views
from .peers.fetch import FetchError, fetch
from .peers.lists import ListProblem, held_list

__all__ = ["peer_seal_status", "MAX_STATUS_BYTES", "STATUS_TIMEOUT"]

#: Largest status answer read from a peer (ours is a few kilobytes).
MAX_STATUS_BYTES = 256 * 1024
#: A relying party is waiting: a peer that does not answer within this is "unknown", not awaited.
STATUS_TIMEOUT = 5.0
_MAX_DEPTH = 8
_MAX_TEXT = 500
_MAX_CERTIFICATES = 20

_ACTOR = Actor.system("public-status")  # reads only

_SUSPENDED = M(
    "peer_status.suspended",
    "recognition of {who} was suspended here at {since}: {reason}",
    "本机构已于 {since} 暂停对{who}的认可：{reason}",
)
_WITHDRAWN = M(
    "peer_status.withdrawn",
    "recognition of {who} was withdrawn here at {since}: {reason}",
    "本机构已于 {since} 撤销对{who}的认可：{reason}",
)
_NO_LIST = M("peer_status.no_list", "no trust list of {who} is held", "未持有{who}的信任列表")
_BAD_LIST = M("peer_status.bad_list", "the stored trust list of {who} cannot be read", "无法读取已存的{who}信任列表")
_LIST_EXPIRED = M(
    "peer_status.list_expired",
    "the trust list #{sequence} of {who} expired at {at}",
    "{who}的信任列表第 {sequence} 版已于 {at} 过期",
)
_NO_STATUS_API = M(
    "peer_status.no_status_api",
    "the trust list of {who} names no usable seal status API",
    "{who}的信任列表未给出可用的印章状态接口",
)
_UNREACHABLE = M(
    "peer_status.unreachable",
    "the status service of {who} did not answer: {error}",
    "{who}的印章状态服务未能应答：{error}",
)
_NOT_JSON = M(
    "peer_status.not_json",
    "the status answer of {who} is not acceptable JSON: {error}",
    "{who}的印章状态应答不是可接受的 JSON：{error}",
)
_OTHER_SEAL = M(
    "peer_status.other_seal",
    "the status answer of {who} is about another seal ({said})",
    "{who}的印章状态应答针对的是另一枚印章（{said}）",
)
_NO_CERTIFICATES = M(
    "peer_status.no_certificates",
    "the status answer of {who} names no certificate: nothing its CRL could confirm",
    "{who}的印章状态应答未列出证书，无法用其 CRL 核实",
)
_ISSUER_NOT_LISTED = M(
    "peer_status.issuer_not_listed",
    "the certificate {serial}: its issuer '{issuer}' is not a CA the list of {who} names",
    "证书 {serial}：签发者“{issuer}”不是{who}信任列表所列的 CA",
)
_SERVICE_NOT_GRANTED = M(
    "peer_status.service_not_granted",
    "the CA {service} of {who} is {status} in its list",
    "{who}列表中的 CA {service} 状态为 {status}",
)
_NO_CRL = M(
    "peer_status.no_crl",
    "no CRL of the CA {service} of {who} is held yet: try later",
    "尚未持有{who}的 CA {service} 的 CRL，请稍后再试",
)
_CRL_STALE = M(
    "peer_status.crl_stale",
    "the CRL {url} of {who} is past its nextUpdate {at}: try later",
    "{who}的 CRL {url} 已过下次更新时间 {at}，请稍后再试",
)
_PEER_SAYS_REVOKED = M(
    "peer_status.peer_says_revoked",
    "{who} says the seal is {said}, its CRLs we hold do not say so yet: try later",
    "{who}称该印章{said}，但所持 CRL 尚未体现，请稍后再试",
)
_PEER_SAYS_UNKNOWN = M(
    "peer_status.peer_says_unknown",
    "{who} gives the status '{said}', which is not one we know",
    "{who}给出的状态“{said}”无法识别",
)
_TWO_PEERS = M(
    "peer_status.two_peers",
    "more than one admitted peer has the area code {area}: trusted for neither",
    "有多个已认可的对方机构使用地区代码 {area}，均不予采信",
)
_CA_REVOKED = M(
    "peer_status.ca_revoked",
    "the CA {service} of {who} is revoked on {url} at {at} ({reason})",
    "{who}的 CA {service} 已于 {at} 被吊销（{reason}），见 {url}",
)

_SAID_ZH = {"revoked": "已吊销", "suspended": "已停用"}
_STATUSES = {"active", "suspended", "revoked", "expired"}


def _iso(t: dt.datetime | None) -> str | None:
    return None if t is None else t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class _PeerSnapshot:
    """What one read transaction found about the peer; used after it closed (the fetch is slow)."""

    name: str
    area_code: str
    state: str
    state_since: dt.datetime
    state_reason: str | None
    name_zh: str | None = None
    name_en: str | None = None
    sequence: int | None = None
    sha256: str | None = None
    issued_at: dt.datetime | None = None
    next_update: dt.datetime | None = None
    fetched_at: dt.datetime | None = None
    trust_list: tl.TrustList | None = None
    unreadable: bool = False
    conflict: bool = False

    @property
    def who(self) -> tuple[str, str]:
        """How the reasons name the peer: (Chinese, English)."""
        zh = f"{self.name_zh}（{self.area_code}）" if self.name_zh else f"对方机构 {self.name}（{self.area_code}）"
        return zh, f"peer {self.name} ({self.area_code})"


class _Reasons:
    """The reasons of an answer, each in both languages; a parameter may be a (zh, en) pair."""

    def __init__(self, who: tuple[str, str]) -> None:
        self.who = who
        self.items: list[dict[str, str]] = []

    def add(self, message: Message, **params: Any) -> None:
        def values(i: int) -> dict[str, Any]:
            out = {k: (v[i] if isinstance(v, tuple) else "" if v is None else v) for k, v in params.items()}
            return {"who": self.who[i], **out}

        self.items.append(
            {"code": message.code, "zh": message.format("zh", **values(0)), "en": message.format("en", **values(1))}
        )


def _snapshot(ctx: ServiceContext, area: str) -> _PeerSnapshot | None:
    with reading(ctx, _ACTOR) as tx:
        found = tx.session.scalars(
            select(Peer)
            .where(Peer.area_code == area, Peer.state.in_(("active", "suspended", "withdrawn")))
            .order_by(Peer.name)
        ).all()
        if not found:
            return None
        active = [p for p in found if p.state == "active"]
        peer = (active or found)[0]
        base: dict[str, Any] = {
            "name": peer.name,
            "area_code": peer.area_code,
            "state": peer.state,
            "state_since": peer.state_since,
            "state_reason": peer.state_reason,
            "conflict": len(active) > 1,
        }
        try:
            held = held_list(tx, peer)
        except ListProblem:
            return _PeerSnapshot(**base, unreadable=True)
        if held is None:
            return _PeerSnapshot(**base)
        row, signed = held
        op = signed.trust_list.scheme.operator
        return _PeerSnapshot(
            **base,
            name_zh=op.name_zh,
            name_en=op.name_en,
            sequence=row.sequence,
            sha256=row.sha256,
            issued_at=row.issued_at,
            next_update=row.next_update,
            fetched_at=row.fetched_at,
            trust_list=signed.trust_list,
        )


def _status_url(trust_list: tl.TrustList, es_id: str) -> str | None:
    api = trust_list.status_api
    if api is None or "{esID}" not in api.url or not api.url.startswith(("http://", "https://")):
        return None
    return api.url.replace("{esID}", es_id)


class _Malformed(Exception):
    pass


def _text(value: object, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Malformed(f"{field} is not a string")
    return value[:_MAX_TEXT]


def _parse_answer(body: bytes) -> dict[str, Any]:
    """The peer's answer, strictly: UTF-8 JSON, an object, no key twice, bounded nesting; only the
    fields we show, each of the type expected (the rest is not kept)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _Malformed("not UTF-8") from None
    if nesting_depth(text, _MAX_DEPTH) > _MAX_DEPTH:
        raise _Malformed(f"nested deeper than {_MAX_DEPTH}")
    try:
        data = json.loads(text, object_pairs_hook=no_duplicate_keys)
    except DuplicateKey as exc:
        raise _Malformed(f"the key {exc.key!r} is given twice") from None
    except ValueError as exc:
        raise _Malformed(str(exc)[:200]) from None
    if not isinstance(data, dict):
        raise _Malformed("not an object")
    said: dict[str, Any] = {}
    for key in ("es_id", "status", "name", "algorithm", "valid_start", "valid_end", "created_at"):
        said[key] = _text(data.get(key), key)
    for key in ("revoked_at", "revocation_reason", "suspended_at", "superseded_by", "checked_at"):
        said[key] = _text(data.get(key), key)
    for key, fields in (("type", ("code", "name_zh", "name_en")), ("holder", ("enterprise", "uscc"))):
        part = data.get(key)
        if part is not None and not isinstance(part, dict):
            raise _Malformed(f"{key} is not an object")
        said[key] = None if part is None else {f: _text(part.get(f), f"{key}.{f}") for f in fields}
    certs = data.get("certificates", [])
    if not isinstance(certs, list):
        raise _Malformed("certificates is not a list")
    if len(certs) > _MAX_CERTIFICATES:
        raise _Malformed(f"more than {_MAX_CERTIFICATES} certificates")
    said["certificates"] = []
    for i, c in enumerate(certs):
        if not isinstance(c, dict):
            raise _Malformed(f"certificates[{i}] is not an object")
        serial, issuer = _text(c.get("serial"), f"certificates[{i}].serial"), c.get("issuer")
        if serial is None or not serial or len(serial) > 40 or any(ch not in "0123456789abcdefABCDEF" for ch in serial):
            raise _Malformed(f"certificates[{i}].serial is not a hexadecimal serial")
        if not isinstance(issuer, str) or not issuer:
            raise _Malformed(f"certificates[{i}].issuer is not a name")
        said["certificates"].append(
            {
                "serial": serial.upper(),
                "issuer": issuer[:_MAX_TEXT],
                "status": _text(c.get("status"), f"certificates[{i}].status"),
                "revoked_at": _text(c.get("revoked_at"), f"certificates[{i}].revoked_at"),
                "revocation_reason": _text(c.get("revocation_reason"), f"certificates[{i}].revocation_reason"),
            }
        )
    return said


def _reason_name(reason: crl.CrlReason | None) -> str:
    """An entry without a reason code is ``unspecified`` (RFC 5280 §5.3.1)."""
    return reason.rfc_name if reason is not None else crl.CrlReason.UNSPECIFIED.rfc_name


def _newest_crl(rows: list[peer_views.CrlRow], service_id: str) -> peer_views.CrlRow | None:
    mine = [r for r in rows if r.service_id == service_id]
    return max(mine, key=lambda r: r.this_update) if mine else None


def _decide(
    tx: Any,
    snap: _PeerSnapshot,
    crl_rows: list[peer_views.CrlRow],
    serial: int,
    issuer: tl.Service,
    now: dt.datetime,
    reasons: _Reasons,
    *,
    label: str,
) -> dict[str, Any]:
    """What the peer's CRLs of ``issuer`` say about ``serial``: revoked, hold, good or unknown."""
    out: dict[str, Any] = {"issuer_service": issuer.id, "status": "unknown"}
    if issuer.status is not tl.ServiceStatus.GRANTED:
        reasons.add(_SERVICE_NOT_GRANTED, service=issuer.id, status=issuer.status.value)
        return out
    found = peer_crls.lookup(tx, issuer.sha256, serial)
    newest = _newest_crl(crl_rows, issuer.id)
    if found is not None and found.entry.reason is not crl.CrlReason.REMOVE_FROM_CRL:
        source = {
            "url": found.crl_url,
            "number": found.number,
            "this_update": _iso(found.this_update),
            "next_update": _iso(found.next_update),
        }
        released = (
            found.entry.reason is crl.CrlReason.CERTIFICATE_HOLD
            and newest is not None
            and newest.kind == "full"
            and newest.this_update > found.this_update
        )
        if not released:
            hold = found.entry.reason is crl.CrlReason.CERTIFICATE_HOLD
            out.update(
                status="hold" if hold else "revoked",
                revoked_at=_iso(found.entry.revoked_at),
                revocation_reason=_reason_name(found.entry.reason),
                crl=source,
            )
            if not hold and label != "holder":
                reasons.add(
                    _CA_REVOKED,
                    service=label,
                    url=found.crl_url,
                    at=_iso(found.entry.revoked_at),
                    reason=_reason_name(found.entry.reason),
                )
            if not hold:
                return out
    if newest is None:
        reasons.add(_NO_CRL, service=issuer.id)
        return out
    out.setdefault(
        "crl",
        {
            "url": newest.url,
            "number": newest.number,
            "this_update": _iso(newest.this_update),
            "next_update": _iso(newest.next_update),
        },
    )
    if newest.next_update is None or now > newest.next_update:
        reasons.add(_CRL_STALE, url=newest.url, at=_iso(newest.next_update) or "—")
        out["status"] = "unknown"
        return out
    if out["status"] == "unknown":
        out["status"] = "good"
    return out


def _issuers(trust_list: tl.TrustList, subject: str) -> list[tl.Service]:
    return [
        s
        for s in trust_list.services
        if s.role in (tl.ServiceRole.ROOT, tl.ServiceRole.ISSUING_CA) and str(s.certificate.subject) == subject
    ]


def _check_certificates(
    ctx: ServiceContext, snap: _PeerSnapshot, said: dict[str, Any], now: dt.datetime, reasons: _Reasons
) -> list[dict[str, Any]]:
    """Each certificate the peer named, decided from its CRLs (and its CA's, on the root's CRL)."""
    assert snap.trust_list is not None
    trust_list = snap.trust_list
    crl_rows = peer_views.peer_crls(ctx, _ACTOR, snap.name)
    by_id = {s.id: s for s in trust_list.services}
    out = []
    with reading(ctx, _ACTOR) as tx:
        for c in said["certificates"]:
            entry: dict[str, Any] = {"serial": c["serial"], "issuer": c["issuer"], "status": "unknown"}
            candidates = _issuers(trust_list, c["issuer"])
            if not candidates:
                reasons.add(_ISSUER_NOT_LISTED, serial=c["serial"], issuer=c["issuer"][:120])
                out.append(entry)
                continue
            # a re-keyed CA may share its subject: good only if every such CA's CRL says so
            decisions = []
            for issuer in candidates:
                d = _decide(tx, snap, crl_rows, int(c["serial"], 16), issuer, now, reasons, label="holder")
                parent = by_id.get(issuer.issuer) if issuer.issuer else None
                if d["status"] in ("good", "hold") and parent is not None:
                    up = _decide(tx, snap, crl_rows, issuer.certificate.serial, parent, now, reasons, label=issuer.id)
                    if up["status"] == "revoked":
                        d = {**up, "issuer_service": issuer.id, "ca_revoked": True}
                    elif up["status"] == "unknown" or (up["status"] == "hold" and d["status"] == "good"):
                        d = {**d, "status": up["status"]}
                decisions.append(d)
            revoked = [d for d in decisions if d["status"] == "revoked"]
            chosen = revoked[0] if revoked else next((d for d in decisions if d["status"] != "good"), decisions[0])
            entry.update(chosen)
            out.append(entry)
    return out


def _verdict(said: dict[str, Any], certs: list[dict[str, Any]], now: dt.datetime, reasons: _Reasons) -> str:
    """Revoked on a CRL beats everything the peer says; any doubt is unknown; the peer's word
    alone never makes a seal revoked (unsigned), nor its CRL alone a seal active."""
    if any(c["status"] == "revoked" for c in certs):
        return "revoked"
    if any(c["status"] == "unknown" for c in certs):
        return "unknown"
    peer_says = said.get("status")
    if peer_says not in _STATUSES:
        reasons.add(_PEER_SAYS_UNKNOWN, said=str(peer_says)[:40])
        return "unknown"
    if peer_says == "revoked":
        reasons.add(_PEER_SAYS_REVOKED, said=(_SAID_ZH[peer_says], peer_says))
        return "unknown"
    if any(c["status"] == "hold" for c in certs) or peer_says == "suspended":
        return "suspended"
    end = _time(said.get("valid_end"))
    if peer_says == "expired" or (end is not None and now > end):
        return "expired"
    return "active"


def _time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def peer_seal_status(ctx: ServiceContext, es_id: str) -> dict[str, Any] | None:
    """The status of the peer's seal ``es_id`` (validated by the caller), or None when its area
    code is no admitted peer's (or our own: we never ask a peer about our area)."""
    area = es_id[:6]
    if area == ctx.settings.area_code:
        return None
    snap = _snapshot(ctx, area)
    if snap is None:
        return None
    now = ctx.clock.now()
    reasons = _Reasons(snap.who)
    tl_ = snap.trust_list
    status_url = _status_url(tl_, es_id) if tl_ is not None else None
    answer: dict[str, Any] = {
        "es_id": es_id,
        "source": "peer",
        "status": "unknown",
        "authority": {
            "area_code": snap.area_code,
            "name_zh": snap.name_zh,
            "name_en": snap.name_en,
            "peer": snap.name,
            "state": snap.state,
        },
        "list": None
        if snap.sequence is None
        else {
            "sequence": snap.sequence,
            "sha256": snap.sha256,
            "issued_at": _iso(snap.issued_at),
            "next_update": _iso(snap.next_update),
            "fetched_at": _iso(snap.fetched_at),
        },
        "status_url": status_url,
        "peer_said": None,
        "crl_says": [],
        "type": None,
        "name": None,
        "holder": None,
        "algorithm": None,
        "valid_start": None,
        "valid_end": None,
        "revoked_at": None,
        "revocation_reason": None,
        "suspended_at": None,
        "superseded_by": None,
        "certificates": [],
        "reasons": reasons.items,
        "checked_at": _iso(now),
    }
    since, why = _iso(snap.state_since), snap.state_reason or ""
    if snap.conflict:
        reasons.add(_TWO_PEERS, area=area)
        return answer
    if snap.state == "suspended":
        reasons.add(_SUSPENDED, since=since, reason=why)
        return answer
    if snap.state == "withdrawn":
        reasons.add(_WITHDRAWN, since=since, reason=why)
        return answer
    if snap.unreadable:
        reasons.add(_BAD_LIST)
        return answer
    if tl_ is None or snap.next_update is None:
        reasons.add(_NO_LIST)
        return answer
    if now >= snap.next_update:
        reasons.add(_LIST_EXPIRED, sequence=snap.sequence, at=_iso(snap.next_update))
        return answer
    if status_url is None:
        reasons.add(_NO_STATUS_API)
        return answer
    try:
        got = fetch(status_url, max_bytes=MAX_STATUS_BYTES, timeout=STATUS_TIMEOUT)
        said = _parse_answer(got.body)
    except FetchError as exc:
        assert exc.message is not None
        error = (exc.message.format("zh", **exc.params), exc.message.format("en", **exc.params))
        reasons.add(_UNREACHABLE, error=error)
        return answer
    except _Malformed as exc:
        reasons.add(_NOT_JSON, error=str(exc))
        return answer
    if (said.get("es_id") or "").upper() != es_id:
        reasons.add(_OTHER_SEAL, said=str(said.get("es_id"))[:40])
        return answer
    answer["peer_said"] = said
    for key in ("type", "name", "holder", "algorithm", "valid_start", "valid_end", "superseded_by"):
        answer[key] = said.get(key)
    if not said["certificates"]:
        reasons.add(_NO_CERTIFICATES)
        return answer
    certs = _check_certificates(ctx, snap, said, now, reasons)
    answer["crl_says"] = certs
    answer["certificates"] = [
        {
            "serial": c["serial"],
            "issuer": c["issuer"],
            "status": c["status"],
            "revoked_at": c.get("revoked_at"),
            "revocation_reason": c.get("revocation_reason"),
            "crl": (c.get("crl") or {}).get("url"),
        }
        for c in certs
    ]
    answer["status"] = _verdict(said, certs, now, reasons)
    if answer["status"] == "revoked":
        first = min((c for c in certs if c["status"] == "revoked"), key=lambda c: c["revoked_at"] or "")
        answer["revoked_at"], answer["revocation_reason"] = first["revoked_at"], first["revocation_reason"]
    elif answer["status"] == "suspended":
        held = [c["revoked_at"] for c in certs if c["status"] == "hold" and c.get("revoked_at")]
        answer["suspended_at"] = min(held) if held else said.get("suspended_at")
    return answer
