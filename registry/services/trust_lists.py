"""Our trust list (mutual-recognition.md §2.1): what this registry tells other regions about itself,
signed by two list-signing keys, numbered, kept for ever and published under ``trust/``.

* **List-signing keys** (:func:`ensure_signing_keys`): one SM2 (``SM2-SM3``) and one P-256
  (``ES256``) key, made for this one purpose, wrapped under the KEK like the CA keys, never a CA or
  seal-maker key. Other regions pin their fingerprints (:func:`fingerprints`: the SHA-256 of the
  SubjectPublicKeyInfo DER, what ``registry trust-list show --fingerprints`` prints).
* **The list** (:func:`build`) names every CA and seal maker of both hierarchies, revoked ones
  too, with role, certificate, status and its history, the CRLs and OCSP responder a relying
  party must use, and scope constraints: a seal maker vouches only for esIDs of our area code and
  the standard seal types; an issuing CA for certificates under our policy OID.
* **Publishing** (:func:`publish`) takes the next sequence number (the primary key of
  ``trust_list_versions``: never handed out twice), signs the exact ``list.json`` bytes with both
  keys (JWS General JSON), commits the version, and only then writes the files
  (:func:`write_files`): ``trust/list.json``, ``list.jws``, ``list.json.sha256``, ``peers.jws`` and
  ``lists/<sequence>.jws`` / ``.json`` for every version. A crash between the commit and the files
  is repaired by the next run; a served list is always one the database holds.
* **When** (:func:`due`): at once when what the list says changes (a CA created or revoked, a key
  announced or retired: the version's ``content_sha256``), and at half its validity otherwise
  (``REGISTRY_TRUST_LIST_VALIDITY_DAYS``, 7 by default). The CRL publisher's daemon checks every
  round (:func:`refresher`), under the database lease ``trust-list``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from ..db.models import Authority, Certificate, RevocationEvent
from ..db.trust_models import ListSigningKey, Peer, PeerKey, TrustListVersion
from ..domain import trust_list as tl
from ..domain.errors import Conflict, M, NotFound
from ..domain.roles import Permission, permissions_of, require
from ..domain.seal_types import SealType
from ..pki import jws
from ..pki.keys import Algorithm
from .context import Actor, ServiceContext
from .core import leases
from .core.authorities import crl_url, delta_crl_url
from .core.tx import Tx, begin, reading
from .crls.files import publish_lock, write_public_file
from .trust_list_keys import (
    KeyInfo,
    announce_next_keys,
    ensure_keys,
    ensure_signing_keys,
    fingerprints,
    roll_over,
    signing_keys,
)
from .trust_list_keys import signers as signers_of

__all__ = [
    "LEASE",
    "KeyInfo",
    "PublishedList",
    "BeingPublished",
    "ensure_signing_keys",
    "signing_keys",
    "fingerprints",
    "announce_next_keys",
    "roll_over",
    "build",
    "due",
    "publish",
    "publish_if_due",
    "current",
    "version",
    "write_files",
    "refresher",
    "PEERS_FORMAT",
    "Overview",
    "overview",
]

LEASE = "trust-list"
LEASE_TTL = dt.timedelta(seconds=60)
PEERS_FORMAT = "cn-seal-peer-list/1"
_ROLE = {"root": tl.ServiceRole.ROOT, "issuing": tl.ServiceRole.ISSUING_CA, "seal-maker": tl.ServiceRole.SEAL_MAKER}
_SERVICE_ALG = {Algorithm.SM2: "SM2", Algorithm.ECDSA: "P-256"}

NO_LIST_YET = M(
    "trust_list.none_published",
    "no trust list has been published yet: run `registry trust-list publish`",
    "尚未发布信任列表：请运行 `registry trust-list publish`",
)
NO_SUCH_VERSION = M("trust_list.no_version", "there is no trust list number {sequence}", "没有第 {sequence} 版信任列表")


class BeingPublished(leases.LeaseHeld):
    """Another process is publishing the trust list right now."""


@dataclass(frozen=True)
class PublishedList:
    sequence: int
    issued_at: dt.datetime
    next_update: dt.datetime
    sha256: str
    reason: str
    published_by: str
    payload: bytes
    jws: bytes
    peers_jws: bytes

    @property
    def trust_list(self) -> tl.TrustList:
        return tl.parse(self.payload)


def _published(row: TrustListVersion) -> PublishedList:
    return PublishedList(
        row.sequence,
        row.issued_at,
        row.next_update,
        row.sha256,
        row.reason,
        row.published_by,
        row.payload,
        row.jws,
        row.peers_jws,
    )


# -- the list ----------------------------------------------------------------------------------


def _history(tx: Tx, auth: Authority) -> tuple[tl.ServiceStatus, dt.datetime, tuple[tl.HistoryEntry, ...]]:
    """granted since the authority was made; withdrawn since its certificate went on the root's
    CRL (an issuing CA or seal maker revoked), or since it stopped being active (a root retired)."""
    since = auth.created_at.replace(microsecond=0)
    history = [tl.HistoryEntry(tl.ServiceStatus.GRANTED, since)]
    ended: dt.datetime | None = None
    if auth.parent_id is not None:
        ended = tx.session.scalar(
            select(func.min(RevocationEvent.occurred_at))
            .join(Certificate, Certificate.id == RevocationEvent.certificate_id)
            .where(
                Certificate.issuer_id == auth.parent_id,
                Certificate.serial == auth.serial,
                RevocationEvent.kind == "listed",
            )
        )
    if ended is None and not auth.active:
        ended = auth.not_after if auth.not_after < tx.now else tx.now
    if ended is not None:
        history.append(tl.HistoryEntry(tl.ServiceStatus.WITHDRAWN, max(ended.replace(microsecond=0), since)))
    last = history[-1]
    return last.status, last.since, tuple(history)


def _services(tx: Tx) -> tuple[tl.Service, ...]:
    ctx, s = tx.ctx, tx.ctx.settings
    out = []
    rows = tx.session.scalars(select(Authority).order_by(Authority.algorithm, Authority.id)).all()
    names = {a.id: a.name for a in rows}
    for auth in rows:
        role = _ROLE[auth.kind]
        status, since, history = _history(tx, auth)
        crl: tuple[tl.CrlPoint, ...] = ()
        ocsp: tuple[tl.OcspPoint, ...] = ()
        constraints = None
        if role is not tl.ServiceRole.SEAL_MAKER:
            crl = (
                tl.CrlPoint(crl_url(ctx, auth.name), s.crl_validity_hours),
                tl.CrlPoint(delta_crl_url(ctx, auth.name), s.crl_validity_hours),
            )
            ocsp = (tl.OcspPoint(s.ocsp_url),)
        if role is tl.ServiceRole.ISSUING_CA:
            crl += (
                tl.CrlPoint(
                    f"{s.crl_base_url}/{auth.name}/shard-{{0..{s.crl_shards - 1}}}.crl",
                    s.crl_validity_hours,
                    shards=s.crl_shards,
                ),
            )
            constraints = tl.Constraints(policy_oids=(s.policy_oid,))
        if role is tl.ServiceRole.SEAL_MAKER:
            constraints = tl.Constraints(es_id_prefix=s.area_code, seal_types=tuple(t.code for t in SealType))
        out.append(
            tl.Service(
                id=auth.name,
                role=role,
                alg=_SERVICE_ALG[auth.algorithm],
                cert=auth.certificate_der,
                sha256=hashlib.sha256(auth.certificate_der).hexdigest(),
                status=status,
                status_since=since,
                issuer=names.get(auth.parent_id) if auth.parent_id is not None else None,
                history=history,
                crl=crl,
                ocsp=ocsp,
                constraints=constraints,
            )
        )
    return tuple(out)


def _keys(tx: Tx) -> tuple[tl.SigningKey, ...]:
    rows = tx.session.scalars(select(ListSigningKey).order_by(ListSigningKey.id)).all()
    return tuple(
        tl.SigningKey(
            r.kid,
            r.alg,
            r.spki_der,
            tl.KeyStatus(r.status),
            r.not_before.replace(microsecond=0) if r.not_before else None,
        )
        for r in rows
    )


def _url(ctx: ServiceContext, path: str) -> str:
    return f"{ctx.settings.base_url}/trust/{path}"


def build(tx: Tx, sequence: int, previous: PublishedList | None) -> tl.TrustList:
    """The list numbered ``sequence``, issued at ``tx.now``, naming ``previous`` (None for the first)."""
    s = tx.ctx.settings
    issued = tx.now.replace(microsecond=0)
    scheme = tl.Scheme(
        operator=tl.Operator(s.area_code, s.authority_name, s.authority_name_en),
        sequence=sequence,
        issued_at=issued,
        next_update=issued + dt.timedelta(days=s.trust_list_validity_days),
        signing_keys=_keys(tx),
        previous=None
        if previous is None
        else tl.Previous(previous.sequence, previous.sha256, _url(tx.ctx, f"lists/{previous.sequence}.jws")),
        distribution_points=(_url(tx.ctx, "list.jws"),),
    )
    return tl.TrustList(
        scheme=scheme,
        services=_services(tx),
        status_api=tl.StatusApi(f"{s.base_url}/api/v1/seals/{{esID}}", signed=False),
    )


def _content_sha256(trust_list: tl.TrustList, peers: list[dict[str, object]]) -> str:
    """The SHA-256 of what the list (and peers.json) say, apart from number, times and previous link."""
    epoch = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    bare = dataclasses.replace(
        trust_list,
        scheme=dataclasses.replace(
            trust_list.scheme, sequence=1, issued_at=epoch, next_update=epoch + dt.timedelta(days=1), previous=None
        ),
    )
    peers_json = json.dumps(peers, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(tl.to_json(bare) + b"\n" + peers_json).hexdigest()


def _peer_entries(tx: Tx) -> list[dict[str, object]]:
    """The peers we recognise (active) or have suspended, with the keys we accept for each: what a
    relying party needs to see whom we trust (never a reason for it to trust them: no transitivity)."""
    out: list[dict[str, object]] = []
    for peer in tx.session.scalars(select(Peer).where(Peer.state.in_(("active", "suspended"))).order_by(Peer.name)):
        kids = tx.session.scalars(select(PeerKey.kid).where(PeerKey.peer_id == peer.id).order_by(PeerKey.kid))
        out.append(
            {
                "name": peer.name,
                "kind": peer.kind,
                "area_code": peer.area_code,
                "trust_list": peer.trust_list_url,
                "fingerprints": [k.removeprefix("sha256:") for k in kids],
                "status": "recognised" if peer.state == "active" else "suspended",
                "since": tl.format_time(peer.state_since.replace(microsecond=0)),
            }
        )
    return out


def _peers_payload(trust_list: tl.TrustList, entries: list[dict[str, object]]) -> bytes:
    """``peers.json`` (format ``cn-seal-peer-list/1``), numbered and timed like the list it goes with."""
    sch = trust_list.scheme
    doc = {
        "format": PEERS_FORMAT,
        "operator": {
            "area_code": sch.operator.area_code,
            "name_zh": sch.operator.name_zh,
            "name_en": sch.operator.name_en,
        },
        "sequence": sch.sequence,
        "issued_at": tl.format_time(sch.issued_at),
        "next_update": tl.format_time(sch.next_update),
        "peers": entries,
    }
    return (json.dumps(doc, sort_keys=True, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


# -- publishing --------------------------------------------------------------------------------


def _newest(tx: Tx) -> TrustListVersion | None:
    return tx.session.scalar(select(TrustListVersion).order_by(TrustListVersion.sequence.desc()).limit(1))


def current(ctx: ServiceContext) -> PublishedList | None:
    """The newest list published, or None."""
    with ctx.reader() as s:
        row = s.scalar(select(TrustListVersion).order_by(TrustListVersion.sequence.desc()).limit(1))
        return _published(row) if row is not None else None


def version(ctx: ServiceContext, sequence: int) -> PublishedList:
    with ctx.reader() as s:
        row = s.get(TrustListVersion, sequence)
        if row is None:
            raise NotFound(NO_SUCH_VERSION, sequence=sequence)
        return _published(row)


def due(ctx: ServiceContext) -> str | None:
    """Why a new list is due now (``first``, ``changed``, ``half-life``), or None."""
    with reading(ctx, Actor.system("trust-list")) as tx:
        last = _newest(tx)
        if last is None:
            return "first"
        if not tx.session.scalar(select(func.count()).select_from(ListSigningKey)):
            return "changed"
        half = (last.next_update - last.issued_at) / 2
        if tx.now >= last.issued_at + half:
            return "half-life"
        draft = build(tx, last.sequence + 1, _published(last))
        return "changed" if _content_sha256(draft, _peer_entries(tx)) != last.content_sha256 else None


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


def publish(ctx: ServiceContext, actor: Actor, *, reason: str = "requested") -> PublishedList:
    """Publish the next list now (``registry trust-list publish``; the daemon with its reason)."""
    require(actor.name, actor.roles, Permission.TRUST_LIST_PUBLISH)
    ctx.require_keyring()
    with (
        publish_lock(ctx.settings.publish_dir),
        leases.lease(ctx, LEASE, _holder(), LEASE_TTL, held=BeingPublished),
    ):
        published = _publish(ctx, actor, reason)
        write_files(ctx)
    return published


def _publish(ctx: ServiceContext, actor: Actor, reason: str) -> PublishedList:
    """Number, sign and record the next list (one transaction, under the caller's lease)."""
    with begin(ctx, actor) as tx:
        ensure_keys(tx)
        last = _newest(tx)
        previous = _published(last) if last is not None else None
        sequence = (last.sequence if last is not None else 0) + 1
        trust_list = build(tx, sequence, previous)
        if previous is not None and trust_list.scheme.issued_at < previous.issued_at:
            raise Conflict(
                M(
                    "trust_list.clock_backwards",
                    "the clock reads {now}, before list {sequence}'s issue time {issued_at}: not published",
                    "时钟为 {now}，早于第 {sequence} 版列表的签发时间 {issued_at}：未发布",
                ),
                now=tl.format_time(trust_list.scheme.issued_at),
                sequence=previous.sequence,
                issued_at=tl.format_time(previous.issued_at),
            )
        payload = tl.to_json(trust_list)
        signers = signers_of(tx)
        entries = _peer_entries(tx)
        row = TrustListVersion(
            sequence=sequence,
            issued_at=trust_list.scheme.issued_at,
            next_update=trust_list.scheme.next_update,
            sha256=hashlib.sha256(payload).hexdigest(),
            content_sha256=_content_sha256(trust_list, entries),
            payload=payload,
            jws=jws.sign(payload, signers),
            peers_jws=jws.sign(_peers_payload(trust_list, entries), signers),
            reason=reason,
            published_by=actor.name[:100],
        )
        tx.session.add(row)
        tx.session.flush()
        tx.audit(
            "trust_list.published",
            "trust-list",
            sequence,
            sequence=sequence,
            sha256=row.sha256,
            trigger=reason,
            next_update=tl.format_time(row.next_update),
            services=len(trust_list.services),
        )
        published = _published(row)
    return published


def publish_if_due(ctx: ServiceContext, actor: Actor) -> PublishedList | None:
    """Publish if :func:`due` says so (the daemon); a publication under way elsewhere is skipped."""
    why = due(ctx)
    if why is None:
        return None
    try:
        return publish(ctx, actor, reason=why)
    except BeingPublished:
        return None


@dataclass(frozen=True)
class Overview:
    """The back office's trust-list page: the newest list, the keys, the past versions."""

    now: dt.datetime
    current: PublishedList | None
    keys: list[KeyInfo]
    versions: list[PublishedList]
    due: str | None

    @property
    def expired(self) -> bool:
        return self.current is not None and self.now >= self.current.next_update


def overview(ctx: ServiceContext, actor: Actor, *, versions: int = 20) -> Overview:
    """What ``/admin/trust-list`` shows. The list is public: anyone who may look at seals (and
    whoever may publish it) may see it."""
    if Permission.TRUST_LIST_PUBLISH not in permissions_of(actor.roles):
        require(actor.name, actor.roles, Permission.SEAL_VIEW)
    with ctx.reader() as s:
        rows = s.scalars(select(TrustListVersion).order_by(TrustListVersion.sequence.desc()).limit(versions)).all()
        past = [_published(r) for r in rows]
    return Overview(ctx.clock.now(), past[0] if past else None, signing_keys(ctx), past, due(ctx))


# -- files -------------------------------------------------------------------------------------


def _write(path: Path, data: bytes) -> bool:
    """Write ``data`` atomically unless the file already holds it; whether it wrote."""
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    write_public_file(path, data)
    return True


def _served_sequence(path: Path) -> int | None:
    try:
        doc = json.loads(path.read_bytes())
        return int(doc["scheme"]["sequence"])
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None


def write_files(ctx: ServiceContext) -> list[str]:
    """Bring ``trust/`` up to what the database holds: every version under ``lists/``, then the
    newest as ``list.json`` (never replacing a higher-numbered one), ``list.jws``,
    ``list.json.sha256`` and ``peers.jws``. Returns the paths written (relative to ``trust/``)."""
    root = ctx.settings.publish_dir / "trust"
    written: list[str] = []
    with ctx.reader() as s:
        have = {p.name for p in (root / "lists").glob("*.jws")} if (root / "lists").is_dir() else set()
        wanted = [n for n in s.scalars(select(TrustListVersion.sequence)) if f"{n}.jws" not in have]
        for n in wanted:
            row = s.get(TrustListVersion, n)
            assert row is not None
            for name, data in ((f"lists/{n}.json", row.payload), (f"lists/{n}.jws", row.jws)):
                if _write(root / name, data):
                    written.append(name)
        newest = s.scalar(select(TrustListVersion).order_by(TrustListVersion.sequence.desc()).limit(1))
        if newest is None:
            return written
        served = _served_sequence(root / "list.json")
        if served is not None and served > newest.sequence:
            raise Conflict(
                M(
                    "trust_list.served_is_newer",
                    "trust/list.json is list {served}, newer than the database's newest {sequence}: "
                    "the publish directory belongs to another database; nothing written",
                    "trust/list.json 为第 {served} 版，比数据库中最新的第 {sequence} 版更新："
                    "发布目录属于另一个数据库；未写入任何文件",
                ),
                served=served,
                sequence=newest.sequence,
            )
        # the signed document first: a reader that finds list.json new finds its list.jws new too
        for name, data in (
            ("list.jws", newest.jws),
            ("peers.jws", newest.peers_jws),
            ("list.json", newest.payload),
            ("list.json.sha256", f"{newest.sha256}  list.json\n".encode("ascii")),
        ):
            if _write(root / name, data):
                written.append(name)
    return written


def refresher(ctx: ServiceContext, every: float = 30.0) -> Callable[[], Iterator[str]]:
    """One round of the daemon (``registry crl daemon`` / ``serve``), at most every ``every``
    seconds: publish if due; yields a line when it published."""
    actor = Actor.system("trust-list-publisher")
    last = [float("-inf")]

    def tick() -> Iterator[str]:
        if ctx.keyring is None or time.monotonic() - last[0] < every:
            return
        last[0] = time.monotonic()
        published = publish_if_due(ctx, actor)
        if published is not None:
            yield (
                f"trust/list.jws sequence {published.sequence} ({published.reason}) "
                f"next update {tl.format_time(published.next_update)}"
            )

    return tick
