"""Verification for relying parties: the pure verifier (:mod:`registry.pki.verify`) with this
registry's trust.

Trust anchors are this registry's root CAs plus any other authority's roots placed in the trust
directory (``REGISTRY_TRUST_DIR``, default ``instance/trust``)::

    trust/anchors/*.pem|*.cer|*.crt|*.der         roots we accept (e.g. a peer region's)
    trust/intermediates/*.pem|...                 their issuing CAs, if seals don't carry them
    trust/crls/*.crl|*.pem                        their CRLs, for revocation status

Revocation status of certificates issued by this registry's CAs comes from its own database, as
committed at the moment of the check (not from a published CRL that may lag by seconds); other
authorities' certificates are looked up in the CRLs of the trust directory, and reported as
undecided when there is none. A seal of this registry (its esID is ours and our seal maker signed
it) is also checked against the registry's own record of it.

No login, no state change, no audit event: verification only reads.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine, text

from ..domain.errors import M, ValidationError
from ..pki import crl, der, ofd, ses
from ..pki import verify as pv
from ..pki.x509 import Certificate, CertificateError
from .context import ServiceContext
from .peers import crls as peer_crls
from .peers import lists as peer_lists
from .verify_peers import Listing, add_peers, peer_vouch

__all__ = ["verify_file", "TrustStore", "trust_store", "VerifyLimits"]

_CERT_SUFFIXES = (".pem", ".cer", ".crt", ".der")
_CRL_SUFFIXES = (".crl", ".pem", ".der")
_STORE_TTL = 30.0  # seconds: new authorities and trust-directory changes are seen this soon


@dataclass
class _ForeignCrl:
    parsed: crl.ParsedCrl
    revoked: dict[int, crl.CrlEntry]
    name: str


@dataclass
class TrustStore:
    """What the verifier trusts, loaded once per process (refreshed every 30 s)."""

    anchors: dict[bytes, Certificate] = field(default_factory=dict)  # DER → cert
    intermediates: dict[bytes, Certificate] = field(default_factory=dict)
    ours: dict[bytes, int] = field(default_factory=dict)  # our CA cert DER → authority id
    our_makers: set[bytes] = field(default_factory=set)  # our seal-maker cert DERs
    crls: list[_ForeignCrl] = field(default_factory=list)
    peer_listed: dict[bytes, Listing] = field(default_factory=dict)  # a peer's CA or maker cert DER → its listing
    problems: list[str] = field(default_factory=list)  # unreadable trust files
    built: float = 0.0
    _subjects: dict[object, list[Certificate]] | None = field(default=None, repr=False, compare=False)

    def by_subject(self, name: object) -> list[Certificate]:
        index = self._subjects
        if index is None:  # built on first use, after the store is filled (it is not changed later)
            index = {}
            for c in (*self.anchors.values(), *self.intermediates.values()):
                index.setdefault(c.subject, []).append(c)
            self._subjects = index
        return list(index.get(name, ()))


def _read_certs(path: Path) -> list[Certificate]:
    data = path.read_bytes()
    if b"-----BEGIN" in data:
        out = []
        for block in data.split(b"-----END CERTIFICATE-----")[:-1]:
            out.append(Certificate.from_pem(block + b"-----END CERTIFICATE-----"))
        return out
    return [Certificate.from_der(data)]


def _files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)


def _build_store(ctx: ServiceContext) -> TrustStore:
    store = TrustStore(built=time.monotonic())
    with ctx.reader() as session:
        rows = session.execute(text("SELECT id, kind, certificate_der FROM authorities")).all()
    for aid, kind, cert_der in rows:
        cert = Certificate.from_der(bytes(cert_der))
        store.ours[cert.der] = aid
        (store.anchors if kind == "root" else store.intermediates)[cert.der] = cert
        if kind == "seal-maker":
            store.our_makers.add(cert.der)
    base = ctx.settings.trust_dir
    for folder, target in (("anchors", store.anchors), ("intermediates", store.intermediates)):
        for path in _files(base / folder, _CERT_SUFFIXES):
            try:
                for cert in _read_certs(path):
                    target[cert.der] = cert
            except (CertificateError, der.DERError, OSError, ValueError) as exc:
                store.problems.append(f"{path}: {exc}")
    add_peers(ctx, store.peer_listed, store.ours, store.anchors, store.intermediates, store.problems)
    for path in _files(base / "crls", _CRL_SUFFIXES):
        try:
            parsed = crl.parse_crl(path.read_bytes())
            store.crls.append(_ForeignCrl(parsed, {e.serial: e for e in parsed.entries()}, path.name))
        except (crl.CrlError, OSError, ValueError) as exc:
            store.problems.append(f"{path}: {exc}")
    return store


_store_lock = threading.Lock()


def trust_store(ctx: ServiceContext) -> TrustStore:
    key = peer_lists.TRUST_STORE_KEY
    store: TrustStore = ctx.cached(key, lambda: _build_store(ctx))
    if time.monotonic() - store.built > _STORE_TTL:
        with _store_lock:
            store = ctx.cached(key, lambda: _build_store(ctx))
            if time.monotonic() - store.built > _STORE_TTL:
                ctx.forget(key)
                store = ctx.cached(key, lambda: _build_store(ctx))
    return store


_UNKNOWN_HERE = "本系统登记数据中没有此证书 / not in this registry's records"
# Both branches of the UNION name their column types (PostgreSQL resolves NULLs and enums by branch).
_STATUS_SQL = (
    "SELECT 'c', c.issuer_id, c.serial, CAST(c.status AS VARCHAR(16)), r.revoked_at, r.reason, "
    "CAST(NULL AS VARCHAR(32)), CAST(NULL AS TIMESTAMP) "
    "FROM certificates c LEFT JOIN revocations r ON r.certificate_id = c.id WHERE "
)
_SEAL_SQL = (
    "SELECT 's', NULL, s.es_id, CAST(s.status AS VARCHAR(16)), s.revoked_at, NULL, s.revocation_reason, "
    "(SELECT min(r.revoked_at) FROM revocations r JOIN certificates c ON c.id = r.certificate_id "
    " WHERE c.seal_id = s.id) FROM seals s WHERE s.es_id = :es_id"
)


_Query = Callable[[str, dict[str, object]], Sequence[Sequence[object]]]


class _Trust:
    """A :class:`registry.pki.verify.TrustSource` over the database, for one verification.

    :meth:`prefetch` loads everything a signature or seal of ours needs (the statuses of the
    certificates our roots issued, the signer certificate's, the seal's record) in one statement,
    so the verifier costs one round trip to the database. ``query(sql, params)`` runs one
    read-only statement (``:name`` parameters) and returns its rows."""

    def __init__(self, store: TrustStore, query: _Query, now: dt.datetime, own: tuple[str, str] = ("", "")) -> None:
        self.store = store
        self.query = query
        self.now = now
        self.own = own  # (area code, name): what "own" vouching names
        self._peer_crl: dict[str, tuple[str, int | None, dt.datetime | None, dt.datetime | None]] = {}
        self._peer_rows: dict[tuple[str, int], tuple[peer_crls.HeldCrl | None, peer_crls.Found | None]] = {}
        self._status: dict[tuple[int, str], pv.Status] = {}
        self._crl_ok: dict[int, bool] = {}
        self._complete: set[int] = set()  # issuers whose every certificate status is loaded
        self._seals: dict[str, pv.SealRecord] = {}

    # -- chain -----------------------------------------------------------------------------------

    def issuers(self, cert: Certificate) -> list[Certificate]:
        found = self.store.by_subject(cert.issuer)
        aki = cert.authority_key_id
        if aki is not None:
            found.sort(key=lambda c: c.subject_key_id != aki)  # matching key ids first
        return found

    def is_anchor(self, cert: Certificate) -> bool:
        return cert.der in self.store.anchors

    def _our_issuer(self, cert: Certificate) -> int | None:
        for issuer in self.issuers(cert):
            aid = self.store.ours.get(issuer.der)
            if aid is not None:
                return aid
        return None

    # -- one round trip --------------------------------------------------------------------------

    def prefetch(self, signer: Certificate | None = None, seal: ses.Seal | None = None) -> None:
        """Statuses of every certificate our roots issued (a handful of CA and seal-maker
        certificates), of ``signer`` if one of our CAs issued it, and our record of ``seal`` if our
        seal maker made it, in one statement; or, for a signer and seal maker of peers, the CRL
        status of every certificate on their paths that a peer lists the issuer of, in one
        statement (:meth:`_prefetch_peers`)."""
        signer_ours = signer is not None and self._our_issuer(signer) is not None
        seal_ours = seal is not None and seal.maker_cert in self.store.our_makers
        if not signer_ours and not seal_ours:
            # nothing of ours on the paths (a peer's, or the trust directory's): our statuses are
            # not needed, and loaded on demand if a path turns out to touch them after all
            self._prefetch_peers(signer, seal)
            return
        roots = [aid for cert_der, aid in self.store.ours.items() if cert_der in self.store.anchors]
        parts: list[str] = []
        params: dict[str, object] = {}
        with_roots = bool(roots) and not self._complete.issuperset(roots)
        if with_roots:
            parts.append(_STATUS_SQL + f"c.issuer_id IN ({', '.join(f':r{i}' for i in range(len(roots)))})")
            params.update({f"r{i}": r for i, r in enumerate(roots)})
        if signer is not None:
            issuer_id = self._our_issuer(signer)
            serial = format(signer.serial, "x")
            if issuer_id is not None and issuer_id not in roots and (issuer_id, serial) not in self._status:
                parts.append(_STATUS_SQL + "c.issuer_id = :issuer AND c.serial = :serial")
                params.update(issuer=issuer_id, serial=serial)
                self._status[(issuer_id, serial)] = pv.Status.unknown(_UNKNOWN_HERE)
        if seal is not None and seal.maker_cert in self.store.our_makers and seal.es_id not in self._seals:
            parts.append(_SEAL_SQL)
            params["es_id"] = seal.es_id
            self._seals[seal.es_id] = pv.SealRecord("revoked", None, "not in this registry's records")
        if not parts:
            return
        rows = self.query(" UNION ALL ".join(parts), params)
        if with_roots:
            self._complete.update(roots)
        for kind, iid, key, status, revoked_at, reason, reason_name, held_at in cast(Sequence[_StatusRow], rows):
            if kind == "c":
                self._status[(iid, key)] = _db_status(status, revoked_at, reason)
            else:
                status = str(getattr(status, "value", status))
                when = _utc(revoked_at) if status == "revoked" else _utc(held_at) if status == "suspended" else None
                self._seals[key] = pv.SealRecord(status, when, reason_name)

    def status(self, cert: Certificate, issuer: Certificate) -> pv.Status:
        issuer_id = self.store.ours.get(issuer.der)
        if issuer_id is not None:
            serial = format(cert.serial, "x")
            if (issuer_id, serial) not in self._status:
                if issuer_id in self._complete:
                    return pv.Status.unknown(_UNKNOWN_HERE)
                self.prefetch(signer=cert)
            return self._status.get((issuer_id, serial)) or pv.Status.unknown(_UNKNOWN_HERE)
        listing = self.store.peer_listed.get(issuer.der)
        if listing is not None:
            return self._peer_status(cert, issuer, listing)
        return self._crl_status(cert, issuer)

    def _peer_path(self, cert: Certificate) -> list[tuple[Certificate, Listing]]:
        """``cert`` and the certificates above it, each with the listing of the peer-listed
        issuer that would speak for its status, as far as peers list them."""
        out: list[tuple[Certificate, Listing]] = []
        for _ in range(8):  # paths are short; a loop in a peer's list must not hang us
            issuer = next((c for c in self.issuers(cert) if c.der in self.store.peer_listed), None)
            if issuer is None:
                break
            out.append((cert, self.store.peer_listed[issuer.der]))
            if issuer.der in self.store.anchors or issuer.der == cert.der:
                break
            cert = issuer
        return out

    def _prefetch_peers(self, signer: Certificate | None, seal: ses.Seal | None) -> None:
        start: list[Certificate] = []
        if signer is not None:
            start.append(signer)
        maker = self.store.peer_listed.get(seal.maker_cert) if seal is not None else None
        if maker is not None:
            start.append(maker.service.certificate)
        wanted: list[tuple[str, int]] = []
        for first in start:
            for cert, listing in self._peer_path(first):
                key = (listing.service.sha256, cert.serial)
                if key not in self._peer_rows and key not in wanted:
                    wanted.append(key)
        if wanted:
            self._load_peer_status(wanted)

    def _load_peer_status(self, wanted: Sequence[tuple[str, int]]) -> None:
        sql, params = peer_crls.status_sql(wanted)
        rows = self.query(sql, params)
        for i, key in enumerate(wanted):
            held, found = peer_crls.read_status(rows, i, key[1])
            self._peer_rows[key] = (held, found)
            if held is not None:
                self._peer_crl[key[0]] = (held.url, held.number, held.this_update, held.next_update)

    def _peer_status(self, cert: Certificate, issuer: Certificate, listing: Listing) -> pv.Status:
        """From the peer's CRLs as the refresher stored them (only the URLs its list names, only
        signed by the listed CA): revoked or held if an entry says so, good if a CRL of that CA is
        held, unknown if none is yet. Freshness is judged against the signing time in :meth:`vouch`."""
        key = (listing.service.sha256, cert.serial)
        if key not in self._peer_rows:
            self._load_peer_status([key])
        held, found = self._peer_rows[key]
        if found is not None:
            entry = found.entry
            source = f"{listing.peer} CRL {found.crl_url} #{found.number}"
            reason = entry.reason.rfc_name if entry.reason is not None else None
            if entry.reason is crl.CrlReason.CERTIFICATE_HOLD:
                return pv.Status("hold", entry.revoked_at, reason, source)
            return pv.Status("revoked", entry.revoked_at, reason, source)
        if held is None:
            return pv.Status.unknown(
                f"尚未取得{listing.name_zh}为“{issuer.subject}”列出的 CRL / no CRL of '{issuer.subject}' "
                f"from peer {listing.peer} ({listing.area_code}) yet"
            )
        return pv.Status("good", source=f"{listing.peer} CRL {held.url} #{held.number}")

    # -- who vouches ---------------------------------------------------------------------------

    def vouch(self, path: Sequence[Certificate], role: str, seal: object | None, at: dt.datetime) -> pv.Vouch:
        """Who vouches for ``path`` (which reached an anchor): us, a peer (within the scope of its
        list, while it is admitted and its list and CRLs are fresh), or the trust directory."""
        anchor = path[-1]
        if anchor.der in self.store.ours:
            return pv.Vouch({"authority": self.own[0], "name_zh": self.own[1], "basis": "own"})
        listing = self.store.peer_listed.get(anchor.der)
        if listing is None:
            return pv.Vouch({"basis": "directory", "anchor": str(anchor.subject)})
        return peer_vouch(self.store.peer_listed, self._peer_crl, self.now, path, role, seal, at, listing)

    def _crl_status(self, cert: Certificate, issuer: Certificate) -> pv.Status:
        best: _ForeignCrl | None = None
        for i, fc in enumerate(self.store.crls):
            if fc.parsed.issuer_der != issuer.subject_der and fc.parsed.issuer_der != cert.issuer_der:
                continue
            if fc.parsed.is_delta:
                continue
            if i not in self._crl_ok:
                self._crl_ok[i] = _crl_verifies(fc.parsed.der, issuer.der)
            if self._crl_ok[i] and (best is None or fc.parsed.this_update > best.parsed.this_update):
                best = fc
        if best is None:
            return pv.Status.unknown(
                f"没有签发者“{issuer.subject}”的可用 CRL / no usable CRL from '{issuer.subject}' in the trust directory"
            )
        stale = best.parsed.next_update is not None and best.parsed.next_update < self.now
        source = f"CRL {best.name} #{best.parsed.number} ({best.parsed.this_update:%Y-%m-%d %H:%M}Z)"
        if stale:  # a CRL past its nextUpdate no longer says "good" (mutual-recognition.md §2.3)
            assert best.parsed.next_update is not None
            return pv.Status.unknown(
                f"{source} 已过下次更新时间 {best.parsed.next_update:%Y-%m-%d %H:%M}Z，请稍后再试 / "
                f"past its nextUpdate {best.parsed.next_update:%Y-%m-%d %H:%M}Z: try later"
            )
        entry = best.revoked.get(cert.serial)
        if entry is None:
            return pv.Status("good", source=source)
        reason = entry.reason.rfc_name if entry.reason is not None else None
        if entry.reason is crl.CrlReason.CERTIFICATE_HOLD:
            return pv.Status("hold", entry.revoked_at, reason, source)
        return pv.Status("revoked", entry.revoked_at, reason, source)

    # -- seals -----------------------------------------------------------------------------------

    def seal_record(self, seal: ses.Seal) -> pv.SealRecord | None:
        if seal.maker_cert not in self.store.our_makers:
            return None
        if seal.es_id not in self._seals:
            self.prefetch(seal=seal)
        return self._seals[seal.es_id]


def _utc(t: dt.datetime | str | None) -> dt.datetime | None:
    if t is None:
        return None
    if isinstance(t, str):  # SQLite through a text() query returns the stored text
        t = dt.datetime.fromisoformat(t)
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


# One row of the prefetch: kind ("c" certificate, "s" seal), issuer id, serial or esID, status,
# revoked at, reason code, reason name, held at (times as datetimes, or text from SQLite).
_StatusRow = tuple[str, int, str, object, dt.datetime | str | None, int | None, str | None, dt.datetime | str | None]


def _db_status(status: object, revoked_at: dt.datetime | str | None, reason: int | None) -> pv.Status:
    status = getattr(status, "value", status)
    source = "本系统登记数据 / this registry's records"
    if status == "good" or revoked_at is None:
        return pv.Status("good", source=source)
    name = crl.CrlReason(int(reason)).rfc_name if reason is not None else None
    return pv.Status("hold" if status == "hold" else "revoked", _utc(revoked_at), name, source)


def _crl_verifies(crl_der: bytes, issuer_der: bytes) -> bool:
    try:
        return crl.parse_crl(crl_der).verify_signature(Certificate.from_der(issuer_der).public_key)
    except (crl.CrlError, CertificateError, ValueError):
        return False


class _Connection:
    """One thread's DBAPI connection for the verifier, detached from the pool (it is this thread's
    for good) and closed with the object: when the thread ends, the reader goes, or it failed."""

    __slots__ = ("proxy", "dbapi", "pid")

    def __init__(self, engine: Engine, autocommit: bool) -> None:
        self.proxy = engine.raw_connection()
        self.proxy.rollback()
        dbapi = self.proxy.driver_connection  # sqlite3 or psycopg: the DBAPI connection itself
        if dbapi is None:  # only a connection already closed has none
            raise RuntimeError("the pool handed out a closed connection")
        self.dbapi: Any = dbapi
        self.proxy.detach()  # closing it now closes the DBAPI connection
        if autocommit:  # psycopg; sqlite3 connections run without a transaction already (db.session)
            self.dbapi.autocommit = True
        self.pid = os.getpid()

    def __del__(self) -> None:
        try:
            if self.pid == os.getpid():  # never a parent's connection in a forked worker
                self.proxy.close()
        except Exception:  # noqa: BLE001 - it is being thrown away (or the interpreter is)
            pass


class _Reader:
    """Runs the verifier's read-only statements on a DBAPI connection each thread keeps for them,
    in autocommit: one statement per verification and nothing else — no pool checkout, no
    BEGIN/ROLLBACK, no statement compilation (psycopg prepares a statement after a few uses). Each
    statement sees what is committed when it runs. A database error drops the thread's connection
    and runs that statement through SQLAlchemy instead; the next statement opens another."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.engine = ctx.engine
        self.local = threading.local()
        self.named = ctx.engine.dialect.name == "sqlite"  # sqlite3 reads :name; psycopg %(name)s
        self.driver_sql: dict[str, str] = {}

    def __call__(self, sql: str, params: dict[str, object]) -> Sequence[Sequence[object]]:
        local = self.local
        try:
            conn = getattr(local, "conn", None)
            if conn is None or conn.pid != os.getpid():  # first use in this thread, or a forked worker
                if conn is not None:
                    _INHERITED.append(conn)  # the parent's: never closed (or freed) from here
                conn = local.conn = _Connection(self.engine, autocommit=not self.named)
            driver_sql = self.driver_sql.get(sql)
            if driver_sql is None:
                driver_sql = self.driver_sql[sql] = sql if self.named else _PARAM_RE.sub(r"%(\1)s", sql)
            cur = conn.dbapi.cursor()
            try:
                cur.execute(driver_sql, params)
                return cur.fetchall()
            finally:
                cur.close()
        except Exception:  # noqa: BLE001 - e.g. a dropped connection
            local.conn = None
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as sa_conn:
                return sa_conn.execute(text(sql), params).all()


_INHERITED: list[_Connection] = []
_PARAM_RE = re.compile(r":([a-z][a-z0-9_]*)")


def _reader(ctx: ServiceContext) -> _Reader:
    return ctx.cached(("verify-reader",), lambda: _Reader(ctx))


@dataclass(frozen=True)
class VerifyLimits:
    max_bytes: int
    ofd: ofd.Limits = ofd.Limits()


def verify_file(
    ctx: ServiceContext, data: bytes, *, document: bytes | None = None, at: dt.datetime | None = None
) -> pv.Report:
    """Verify a seal (``.esl``), an ``SES_Signature`` (with its ``document`` when given) or a
    sealed OFD document. Raises :class:`ValidationError` when the input cannot be read at all
    (not DER or ZIP, over the size limit, an unsafe package); every other problem is a check in
    the returned report."""
    limit = ctx.settings.verify_max_bytes
    if len(data) > limit:
        raise ValidationError(
            M(
                "verify.file_bytes_more_than",
                "the file is {n_data} bytes, more than the limit of {limit} bytes",
                "文件有 {n_data} 字节，超过上限 {limit} 字节",
            ),
            n_data=len(data),
            limit=limit,
        )
    if not data:
        raise ValidationError(M("verify.file_empty", "the file is empty", "文件为空"))
    if document is not None and len(document) > limit:
        raise ValidationError(
            M(
                "verify.document_bytes_more_than",
                "the document is {n_document} bytes, more than the limit of {limit} bytes",
                "文档有 {n_document} 字节，超过上限 {limit} 字节",
            ),
            n_document=len(document),
            limit=limit,
        )
    now = at or ctx.clock.now()
    store = trust_store(ctx)
    trust = _Trust(store, _reader(ctx), now, (ctx.settings.area_code, ctx.settings.authority_name))
    try:
        kind, parsed = pv.detect(data)
        if isinstance(parsed, ses.SesSignature):
            try:
                trust.prefetch(parsed.signer_certificate(), parsed.seal)
            except ses.SesError:
                trust.prefetch(None, parsed.seal)
        elif isinstance(parsed, ses.Seal):
            trust.prefetch(None, parsed)
        if kind == "ofd":
            if document is not None:
                raise pv.InputError(
                    M(
                        "verify.ofd_document_carries_its",
                        "an OFD document carries its own content: do not give a separate document",
                        "OFD 文档自带内容：不要另给文档",
                    )
                )
            return pv.verify_ofd(data, now, trust, ofd.Limits(max_total_bytes=max(limit * 4, 1 << 20)))
        report = pv.Report(kind=kind, checked_at=now)
        if kind == "seal":
            if document is not None:
                raise pv.InputError(
                    M(
                        "verify.seal_its_own_signs",
                        "a seal on its own signs no document: verify an electronic signature or an "
                        "OFD document instead",
                        "单独的电子印章不签署任何文档：请改为验证电子签章或 OFD 文档",
                    )
                )
            report.items.append(
                pv.verify_seal(data, now, trust, parsed=parsed if isinstance(parsed, ses.Seal) else None)
            )
        else:
            signature = parsed if isinstance(parsed, ses.SesSignature) else None
            report.items.append(pv.verify_signature(data, now, trust, document=document, parsed=signature))
        return report
    except (pv.InputError, ofd.OfdError) as exc:
        raise ValidationError.carrying(exc) from None
