"""The verifier's view of peers (mutual-recognition.md §2.4): what their lists in force name
(:func:`add_peers`, into the trust store) and who vouches for a path that reached a peer's root
(:func:`peer_vouch`): scope, disclosure, the status of each service at the time, the peer's own
state, and the freshness of its list and CRLs. Used by :mod:`registry.services.verify`."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ..db.trust_models import Peer, PeerList
from ..domain import trust_list as tl
from ..pki import verify as pv
from ..pki.x509 import Certificate
from .context import ServiceContext
from .peers import lists as peer_lists

__all__ = ["Listing", "add_peers", "peer_vouch"]


@dataclass(frozen=True)
class Listing:
    """One certificate a peer's list in force names: the peer, the service, and the list."""

    peer: str
    area_code: str
    name_zh: str
    state: str  # active | suspended | withdrawn
    state_since: dt.datetime
    state_reason: str | None
    service: tl.Service
    sequence: int
    issued_at: dt.datetime
    next_update: dt.datetime
    fetched_at: dt.datetime
    sha256: str
    # the peers that list this same certificate, when more than one does (then none vouches for it)
    conflict: tuple[str, ...] = ()

    def list_json(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "issued_at": tl.format_time(self.issued_at),
            "fetched_at": tl.format_time(self.fetched_at.replace(microsecond=0)),
            "sha256": self.sha256,
        }


def add_peers(
    ctx: ServiceContext,
    listed: dict[bytes, Listing],
    ours: dict[bytes, int],
    anchors: dict[bytes, Certificate],
    intermediates: dict[bytes, Certificate],
    problems: list[str],
) -> None:
    """Every certificate the lists in force of our peers name (active, suspended or withdrawn:
    :meth:`_Trust.vouch` decides what each may vouch for): roots as anchors, the others as
    intermediates, each with its listing. Trust is not transitive: peers' peers are not read."""
    with ctx.reader() as session:
        rows = session.execute(
            select(Peer, PeerList)
            .join(PeerList, (PeerList.peer_id == Peer.id) & (PeerList.sequence == Peer.list_sequence))
            .where(Peer.state.in_(("active", "suspended", "withdrawn")))
            .order_by(Peer.name)
        ).all()
        for peer, held in rows:
            try:
                signed = peer_lists.read_list(held.jws)
            except peer_lists.ListProblem as exc:
                problems.append(f"peer {peer.name}: stored list {held.sequence}: {exc}")
                continue
            sch = signed.trust_list.scheme
            for svc in signed.trust_list.services:
                listing = Listing(
                    peer.name,
                    peer.area_code,
                    sch.operator.name_zh,
                    peer.state,
                    peer.state_since,
                    peer.state_reason,
                    svc,
                    held.sequence,
                    held.issued_at,
                    held.next_update,
                    held.fetched_at,
                    held.sha256,
                )
                cert = svc.certificate
                if cert.der in ours:
                    continue  # a peer listing our own certificate changes nothing
                other = listed.get(cert.der)
                if other is not None and other.peer != peer.name:
                    # two peers list the same certificate: whose scope would apply is not ours to
                    # guess, so neither vouches for it (fail closed: the certificate stays known,
                    # so that a path through it is indeterminate, naming both, not "untrusted")
                    # and the problem is reported
                    names = other.conflict or (other.peer,)
                    if peer.name not in names:
                        names = (*names, peer.name)
                        listed[cert.der] = dataclasses.replace(other, conflict=names)
                        problems.append(f"{cert.subject} is listed by {_both(names)}: trusted for neither")
                    if svc.role is tl.ServiceRole.ROOT:  # a root to either: a path may end there
                        intermediates.pop(cert.der, None)
                        anchors[cert.der] = cert
                    continue
                listed[cert.der] = listing
                target = anchors if svc.role is tl.ServiceRole.ROOT else intermediates
                target[cert.der] = cert


def _both(names: Sequence[str]) -> str:
    return f"both {names[0]} and {names[1]}" if len(names) == 2 else "each of " + ", ".join(names)


def peer_vouch(
    peer_listed: dict[bytes, Listing],
    peer_crls: dict[str, tuple[str, int | None, dt.datetime | None, dt.datetime | None]],
    now: dt.datetime,
    path: Sequence[Certificate],
    role: str,
    seal: object | None,
    at: dt.datetime,
    listing: Listing,
) -> pv.Vouch:
    """A peer's root anchors ``path``: every certificate on it must be one that same peer lists
    (§2.1: an undisclosed intermediate is indeterminate), granted at ``at``; a maker must be
    listed by it as a seal maker whose scope covers the seal (esID area code, seal type); the
    peer must be admitted now, its list and the CRLs that speak for the path fresh, and a CRL
    must not be older than ``at``."""
    failures: list[pv.Msg] = []
    undecided: list[pv.Msg] = []
    who = f"{listing.name_zh}（{listing.area_code}）"
    who_en = f"peer {listing.peer} ({listing.area_code})"
    listings = [peer_listed.get(c.der) for c in path]
    service = listings[0] if role == "seal" else next((x for x in listings[1:] if x is not None), None)
    named = service if service is not None else listing
    entry: dict[str, Any] = {
        "authority": listing.area_code,
        "name_zh": listing.name_zh,
        "basis": "peer",
        "service": named.service.id,
        "list": listing.list_json(),
    }
    conflicts = [(c, x.conflict) for c, x in zip(path, listings, strict=True) if x is not None and x.conflict]
    if conflicts:
        # whose list, scope and status would apply is not ours to guess: nothing else is judged
        entry["listed_by"] = sorted({n for _c, names in conflicts for n in names})
        return pv.Vouch(
            entry,
            (),
            tuple(
                (
                    f"证书“{c.subject}”同时被{'、'.join(names)}的信任列表列出：均不予认可",
                    f"the certificate '{c.subject}' is listed by {_both(names)}: trusted for neither",
                )
                for c, names in conflicts
            ),
        )
    if listing.state != "active":
        since = _iso_z(listing.state_since)
        word = ("暂停", "suspended") if listing.state == "suspended" else ("撤销", "withdrawn")
        undecided.append(
            (
                f"本机构已于 {since} {word[0]}对{who}的认可：{listing.state_reason or ''}",
                f"{who_en} was {word[1]} here at {since}: {listing.state_reason or ''}",
            )
        )
    if now >= listing.next_update:
        undecided.append(
            (
                f"{who}的信任列表第 {listing.sequence} 版已于 {_iso_z(listing.next_update)} 过期",
                f"the trust list #{listing.sequence} of {who_en} expired at {_iso_z(listing.next_update)}",
            )
        )
    for cert, found in zip(path[1:] if role == "seal" else path[1:], listings[1:], strict=False):
        if found is None or found.peer != listing.peer:
            undecided.append(
                (
                    f"证书“{cert.subject}”未在{who}的信任列表中披露",
                    f"the certificate '{cert.subject}' is not disclosed in the list of {who_en}",
                )
            )
    considered = [x for x in listings if x is not None and x.peer == listing.peer]
    for x in considered:
        status_at = _service_status_at(x.service, at)
        if status_at is not tl.ServiceStatus.GRANTED:
            # the file's own time falls when the peer did not vouch for the service: no proof of
            # an earlier existence can contradict what the file itself claims (as for a
            # certificate revoked before the signing time)
            failures.append(
                (
                    f"{who}列表中的服务 {x.service.id} 在 {_iso_z(at)} 的状态为 {status_at.value if status_at else '未认可'}",
                    f"the service {x.service.id} of {who_en} was "
                    f"{status_at.value if status_at else 'not granted'} at {_iso_z(at)}",
                )
            )
            continue
        ended = _ended_since(x.service, at, now)
        if ended is not None:
            # granted at the time the seal or signature states, but not now: that time is
            # self-declared (the SES verifier reads no trusted timestamp), so it cannot show the
            # seal or signature existed before the change (§2.2, DSS's proof of existence)
            status_now, changed = ended
            undecided.append(
                (
                    f"{who}列表中的服务 {x.service.id} 已于 {_iso_z(changed)} 变为 {status_now.value}；"
                    f"{_iso_z(at)} 是签章自行声明的时间（没有可信时间戳），不能证明其早于该时间",
                    f"the service {x.service.id} of {who_en} was {status_now.value} at {_iso_z(changed)}; "
                    f"{_iso_z(at)} is a self-declared time (no trusted timestamp): it cannot show that this "
                    "was made before then",
                )
            )
    if role == "seal":
        maker = listings[0]
        es_id = str(getattr(seal, "es_id", ""))
        if maker is None or maker.peer != listing.peer or maker.service.role is not tl.ServiceRole.SEAL_MAKER:
            failures.append(
                (
                    f"制章者证书未被{who}列为制章者",
                    f"the seal maker certificate is not listed as a seal maker by {who_en}",
                )
            )
        else:
            c = maker.service.constraints
            # the list's own prefix, and in any case the area code we admitted the peer with: a
            # peer's list cannot widen its makers' scope to another region's esIDs
            prefix = c.es_id_prefix if c is not None and c.es_id_prefix else listing.area_code
            if es_id[:6] != listing.area_code or not es_id.startswith(prefix):
                failures.append(
                    (
                        f"超出认可范围：印章编码 {es_id} 不属于{who}（{prefix}）",
                        f"out of scope: the esID {es_id} is not {who_en}'s ({prefix}…)",
                    )
                )
            prop = getattr(seal, "property", None)
            code = f"{getattr(prop, 'type', 0):02d}"
            if c is not None and c.seal_types is not None and code not in c.seal_types:
                failures.append(
                    (
                        f"超出认可范围：{who}的制章者不制作类型 {code} 的印章",
                        f"out of scope: the seal maker of {who_en} does not make seals of type {code}",
                    )
                )
    revocation = None
    for child, issuer in zip(path, path[1:], strict=False):
        issuer_listing = peer_listed.get(issuer.der)
        if issuer_listing is None or issuer_listing.peer != listing.peer:
            continue
        held = peer_crls.get(issuer_listing.service.sha256)
        if held is None:
            continue  # the status check already says "no CRL yet"
        url, number, this_update, next_update = held
        if revocation is None or child is path[0]:
            revocation = {
                "source": f"CRL {url} #{number}",
                "this_update": _iso_z(this_update) if this_update else None,
                "next_update": _iso_z(next_update) if next_update else None,
            }
        if next_update is not None and now > next_update:
            undecided.append(
                (
                    f"{who}的 CRL {url} 已过下次更新时间 {_iso_z(next_update)}，请稍后再试",
                    f"the CRL {url} of {who_en} is past its nextUpdate {_iso_z(next_update)}: try later",
                )
            )
        elif this_update is not None and this_update < at:
            undecided.append(
                (
                    f"{who}的 CRL {url} 签发于 {_iso_z(this_update)}，早于 {_iso_z(at)}，不能说明当时的状态",
                    f"the CRL {url} of {who_en} was issued at {_iso_z(this_update)}, before {_iso_z(at)}: "
                    "it cannot speak for that time",
                )
            )
    if revocation is not None:
        entry["revocation"] = revocation
    return pv.Vouch(entry, tuple(failures), tuple(undecided))


def _service_status_at(service: tl.Service, at: dt.datetime) -> tl.ServiceStatus | None:
    """The service's status at ``at`` from its history (its current status if it has none)."""
    if not service.history:
        return service.status if service.status_since <= at else None
    status = None
    for h in service.history:
        if h.since <= at:
            status = h.status
    return status


def _ended_since(service: tl.Service, at: dt.datetime, now: dt.datetime) -> tuple[tl.ServiceStatus, dt.datetime] | None:
    """If the service is not granted now although it was at ``at``: its status now and since when
    (the first change away from granted after ``at`` that has lasted until now)."""
    if _service_status_at(service, now) is tl.ServiceStatus.GRANTED:
        return None
    entries = service.history or (tl.HistoryEntry(service.status, service.status_since),)
    since: dt.datetime | None = None
    status = None
    for h in entries:
        if h.since > now:
            break
        if h.status is tl.ServiceStatus.GRANTED:
            since = None
        elif since is None and h.since > at:
            since, status = h.since, h.status
        elif since is not None:
            status = h.status
    if since is None or status is None:
        return None
    return status, since


def _iso_z(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
