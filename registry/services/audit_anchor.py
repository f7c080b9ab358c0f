"""Audit checkpoints: the hash chain's head anchored outside the database.

The chain (:mod:`registry.services.audit`) finds any edit, removal or insertion, but not someone
who writes to the database, cuts off the last events and moves the head back, or rewrites every
event with recomputed hashes: the chain alone cannot tell. A checkpoint can. It is a small JSON
file under ``<publish dir>/audit/``::

    {"v":1,"checkpoint":N,"seq":S,"hash":H,"made_at":"2026-12-03T06:00:00Z","signer":"sm2-root",
     "certificate":"<base64 DER of the signer's certificate>","signature":"<base64 DER SM2 signature>"}

numbered 1, 2, 3 ... (``checkpoint-00000001.json``), signed with SM2/SM3 by the registry's SM2 root
key (the key that signs the CA certificates and their CRL) over the canonical JSON of every field
but ``signature`` (sorted keys, no spaces, UTF-8). It is written at the end of every CRL publish run
whose chain head moved, and by ``registry audit checkpoint``.

Why the root key and not an HMAC key file: the root's private key is in the database only wrapped
by the key-encryption key (``kek.json`` or ``REGISTRY_KEK``, never in the database), so whoever can
write the database cannot sign a checkpoint; and a signature, unlike an HMAC, is checked with the
public certificate alone, so checkpoints can be copied anywhere (they hold no secret: a sequence
number and a hash) and checked by an outside auditor without being given a key.

Before signing, the part of the chain since the newest checkpoint is checked (hashes and links up
to the head): a checkpoint never blesses a chain that already disagrees with the previous one.

``registry audit verify`` (and the auditor's page) then compares the chain with the newest
checkpoint: its signature must verify with the certificate it carries, that certificate must be
the database's SM2 root certificate, the chain must reach the checkpoint's ``seq`` and the event at
that number must have the checkpoint's hash.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from ..db.models import AuditChainHead, AuditEvent, Authority
from ..domain.errors import Conflict, M
from ..pki import x509
from .context import Actor, ServiceContext
from .core import audit_chain, authorities
from .core.tx import reading

SIGNER = "sm2-root"
DIRECTORY = "audit"
_ACTOR = Actor.system("audit-checkpoint")
_NAME = re.compile(r"^checkpoint-(\d{8,})\.json$")
MAX_FILE_BYTES = 64 * 1024

# problem kinds (audit_chain.ChainProblem.kind)
CHECKPOINT_AHEAD = "checkpoint-ahead"  # the chain is shorter than a checkpoint recorded
CHECKPOINT_MISMATCH = "checkpoint-mismatch"  # the event at the checkpoint's number has another hash
CHECKPOINT_INVALID = "checkpoint-invalid"  # the checkpoint file is unreadable or not signed by our root


@dataclass(frozen=True)
class Checkpoint:
    number: int
    seq: int
    hash: str
    made_at: str
    signer: str
    certificate_der: bytes
    path: Path

    def __str__(self) -> str:
        return f"checkpoint {self.number} (seq {self.seq}, made {self.made_at})"


class CheckpointError(Conflict):
    """A checkpoint cannot be made or read; the message says why."""


def directory(ctx: ServiceContext) -> Path:
    return ctx.settings.publish_dir / DIRECTORY


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _files(folder: Path) -> list[tuple[int, Path]]:
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return sorted(found)


def read_checkpoint(path: Path) -> Checkpoint:
    """Parse a checkpoint file and check its signature with the certificate it carries (whether
    that certificate is the registry's root is the caller's check)."""
    bad = M(
        "audit_anchor.unreadable",
        "{file} is not a valid audit checkpoint ({reason})",
        "{file} 不是有效的审计检查点（{reason}）",
    )
    try:
        raw = path.read_bytes()[: MAX_FILE_BYTES + 1]
    except OSError as exc:
        raise CheckpointError(bad, file=path.name, reason=exc.strerror or str(exc)) from None
    try:
        data = json.loads(raw.decode("utf-8"))
        if len(raw) > MAX_FILE_BYTES or not isinstance(data, dict) or data.get("v") != 1:
            raise ValueError("not a version 1 checkpoint")
        signature = base64.b64decode(data.pop("signature"), validate=True)
        cert_der = base64.b64decode(data["certificate"], validate=True)
        number, seq, hash_, made_at, signer = (
            data["checkpoint"],
            data["seq"],
            data["hash"],
            data["made_at"],
            data["signer"],
        )
        if not (
            isinstance(number, int)
            and isinstance(seq, int)
            and isinstance(hash_, str)
            and re.fullmatch(r"[0-9a-f]{64}", hash_)
            and isinstance(made_at, str)
            and isinstance(signer, str)
        ):
            raise ValueError("a field has the wrong type")
        cert = x509.Certificate.from_der(cert_der)
    except (ValueError, KeyError, TypeError, RecursionError, binascii.Error, x509.CertificateError) as exc:
        reason = "unreadable" if isinstance(exc, RecursionError) else str(exc)[:200]
        raise CheckpointError(bad, file=path.name, reason=reason) from None
    if not cert.public_key.verify(_canonical(data), signature):
        raise CheckpointError(
            M(
                "audit_anchor.bad_signature",
                "{file}: the signature does not verify with the certificate it carries (forged or altered)",
                "{file}：签名无法用其所附证书验证（伪造或被篡改）",
            ),
            file=path.name,
        )
    return Checkpoint(number, seq, hash_, made_at, signer, cert_der, path)


def newest_checkpoint(ctx: ServiceContext) -> Checkpoint | None:
    files = _files(directory(ctx))
    return read_checkpoint(files[-1][1]) if files else None


def _root_certificate_der(ctx: ServiceContext) -> bytes | None:
    with ctx.reader() as s:
        return s.scalar(select(Authority.certificate_der).where(Authority.name == SIGNER, Authority.active.is_(True)))


def make_checkpoint(ctx: ServiceContext) -> Checkpoint | None:
    """Write a new signed checkpoint of the chain head, or return None when the newest one already
    records the head. Callers hold :func:`registry.services.crl_publish.publish_lock` (one writer
    per publish directory, so numbers are not handed out twice)."""
    opts: dict[str, Any] = {}
    if ctx.engine.dialect.name == "postgresql":
        opts["isolation_level"] = "REPEATABLE READ"
    newest = newest_checkpoint(ctx)
    with ctx.engine.connect().execution_options(**opts) as conn, conn.begin():
        head = conn.execute(
            select(AuditChainHead.last_seq, AuditChainHead.last_hash).where(AuditChainHead.id == 1)
        ).first()
        if head is None:
            raise CheckpointError(
                M(
                    "audit_anchor.no_head",
                    "the audit chain head is missing: run `registry audit verify`",
                    "审计链头缺失：请运行 `registry audit verify`",
                )
            )
        head_seq, head_hash = int(head[0]), str(head[1])
        if newest is not None and newest.seq == head_seq and newest.hash == head_hash:
            return None
        if newest is not None:
            problem = _segment_problem(conn, newest, head_seq, head_hash)
        else:
            report = audit_chain.walk(audit_chain.rows(conn), head)
            problem = None if report.ok else report.summary()
        if problem is not None:
            raise CheckpointError(
                M("audit_anchor.refused", "no checkpoint was written: {problem}", "未写入检查点：{problem}"),
                problem=problem,
            )
    with reading(ctx, _ACTOR) as tx:
        auth = authorities.load(tx, SIGNER)
    number = (newest.number if newest is not None else 0) + 1
    number = max([number] + [n + 1 for n, _p in _files(directory(ctx))])
    body = {
        "v": 1,
        "checkpoint": number,
        "seq": head_seq,
        "hash": head_hash,
        "made_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "signer": SIGNER,
        "certificate": base64.b64encode(auth.certificate.der).decode("ascii"),
    }
    signature = auth.signer.sign(_canonical(body))
    text = json.dumps(dict(body, signature=base64.b64encode(signature).decode("ascii")), indent=1) + "\n"
    folder = directory(ctx)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"checkpoint-{number:08d}.json"
    tmp = folder / f".{path.name}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        os.fchmod(fh.fileno(), 0o644)  # public: a sequence number and a hash, signed
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.link(tmp, path)  # never replaces an existing checkpoint
    tmp.unlink()
    return Checkpoint(number, head_seq, head_hash, str(body["made_at"]), SIGNER, auth.certificate.der, path)


def _segment_problem(conn: Connection, cp: Checkpoint, head_seq: int, head_hash: str) -> str | None:
    """Check the events from the checkpoint's number to the head: hashes and links."""
    if head_seq < cp.seq:
        return f"the chain head is at seq {head_seq}, before {cp}"
    expected, prev = cp.seq, None
    for r in audit_chain.rows(conn, from_seq=cp.seq):
        if r.seq != expected or r.computed is None or r.computed != r.hash:
            return f"event {expected} does not match its hash or is missing"
        if expected == cp.seq:
            if r.hash != cp.hash:
                return f"event {cp.seq} is not the event {cp} recorded"
        elif r.prev_hash != prev:
            return f"event {expected} is not chained to event {expected - 1}"
        expected, prev = expected + 1, r.hash
    if expected - 1 != head_seq or prev != head_hash:
        return f"the log ends at seq {expected - 1}, but the chain head says {head_seq}"
    return None


def check(ctx: ServiceContext, report: audit_chain.ChainReport) -> audit_chain.ChainReport:
    """Compare a chain report with the newest checkpoint; return the report, failed if they disagree."""
    try:
        cp = newest_checkpoint(ctx)
    except CheckpointError as exc:
        return _failed(report, CHECKPOINT_INVALID, 0, str(exc))
    if cp is None:
        return (
            dataclasses.replace(report, note="; no signed checkpoint yet (`registry audit checkpoint`)")
            if report.ok
            else report
        )
    root = _root_certificate_der(ctx)
    if root != cp.certificate_der:
        return _failed(
            report,
            CHECKPOINT_INVALID,
            cp.seq,
            f"{cp} is signed by a certificate that is not the registry's {SIGNER} certificate in the "
            "database: the checkpoint or the root certificate was replaced",
        )
    if not report.ok:
        return report  # the chain's own problem comes first
    if report.head_seq is None or report.head_seq < cp.seq:
        return _failed(
            report,
            CHECKPOINT_AHEAD,
            cp.seq,
            f"the chain ends at seq {report.head_seq}, but {cp} recorded seq {cp.seq}: events were "
            "removed from the end and the chain head moved back",
        )
    with ctx.reader() as s:
        stored = s.scalar(select(AuditEvent.hash).where(AuditEvent.seq == cp.seq))
    if stored != cp.hash:
        return _failed(
            report,
            CHECKPOINT_MISMATCH,
            cp.seq,
            f"event {cp.seq} is not the event {cp} recorded (hash {cp.hash[:16]}…): the log was rewritten "
            "and re-hashed",
        )
    return audit_chain.ChainReport(
        True,
        report.events,
        report.head_seq,
        report.head_hash,
        None,
        checkpoint=cp.number,
        checkpoint_seq=cp.seq,
        note=f"; agrees with signed checkpoint {cp.number} (seq {cp.seq}, made {cp.made_at})",
    )


def _failed(report: audit_chain.ChainReport, kind: str, seq: int, message: str) -> audit_chain.ChainReport:
    return audit_chain.ChainReport(
        False, report.events, report.head_seq, report.head_hash, audit_chain.ChainProblem(kind, seq, None, message)
    )
