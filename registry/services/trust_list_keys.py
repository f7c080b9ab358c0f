"""Our list-signing keys (mutual-recognition.md §2.1): one SM2 (``SM2-SM3``) and one P-256
(``ES256``) key, made for signing trust lists alone (never a CA or seal-maker key), wrapped under
the KEK like the CA keys; what other regions pin (:func:`fingerprints`); a planned rollover
(:func:`announce_next_keys`, then :func:`roll_over`). Publishing is
:mod:`registry.services.trust_lists`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from ..db.trust_models import ListSigningKey
from ..domain import trust_list as tl
from ..domain.errors import Conflict, M
from ..domain.roles import Permission, require
from ..pki import jws
from ..pki.keys import Algorithm, PrivateKey, decrypt_private_key, encrypt_private_key
from .context import Actor, ServiceContext
from .core.tx import Tx, begin

__all__ = [
    "KeyInfo",
    "ensure_keys",
    "ensure_signing_keys",
    "announce_next_keys",
    "roll_over",
    "signing_keys",
    "fingerprints",
    "signers",
]

_ALGS = {jws.ES256: Algorithm.ECDSA, jws.SM2_SM3: Algorithm.SM2}


@dataclass(frozen=True)
class KeyInfo:
    alg: str
    kid: str
    status: str
    not_before: dt.datetime | None
    created_at: dt.datetime

    @property
    def fingerprint(self) -> str:
        return self.kid.removeprefix("sha256:")


def _key_info(row: ListSigningKey) -> KeyInfo:
    return KeyInfo(row.alg, row.kid, row.status, row.not_before, row.created_at)


# -- list-signing keys -------------------------------------------------------------------------


def _new_key(tx: Tx, alg: str, status: tl.KeyStatus, not_before: dt.datetime | None) -> ListSigningKey:
    """A fresh key of ``alg``, wrapped under the current KEK, stored with ``status``."""
    keyring = tx.ctx.require_keyring()
    key = PrivateKey.generate(_ALGS[alg])
    row = ListSigningKey(
        alg=alg,
        kid=jws.kid_for(key.public_key),
        spki_der=key.public_key.spki(),
        key_blob=encrypt_private_key(key, keyring.keys[keyring.current], keyring.current),
        key_kek_id=keyring.current,
        status=status.value,
        not_before=not_before,
        created_at=tx.now,
        changed_at=tx.now,
    )
    tx.session.add(row)
    tx.session.flush()
    return row


def ensure_keys(tx: Tx) -> list[KeyInfo]:
    """Make a current key of each algorithm that has none (in ``tx``, audited); returns the new ones."""
    made = []
    have = set(
        tx.session.scalars(select(ListSigningKey.alg).where(ListSigningKey.status == tl.KeyStatus.CURRENT.value))
    )
    for alg in _ALGS:
        if alg in have:
            continue
        row = _new_key(tx, alg, tl.KeyStatus.CURRENT, None)
        tx.audit("trust_list.key_created", "trust-list", alg, algorithm=alg, kid=row.kid)
        made.append(_key_info(row))
    return made


def ensure_signing_keys(ctx: ServiceContext, actor: Actor) -> list[KeyInfo]:
    """``registry init``: the two list-signing keys, made if missing (idempotent); the new ones."""
    require(actor.name, actor.roles, Permission.TRUST_LIST_PUBLISH)
    with begin(ctx, actor) as tx:
        return ensure_keys(tx)


_NEXT_EXISTS = M(
    "trust_list.next_exists",
    "a next {alg} key is announced already (from {not_before}): roll over to it first",
    "已预告下一把 {alg} 密钥（自 {not_before} 起）：请先完成轮换",
)
_NOTHING_TO_ROLL = M(
    "trust_list.nothing_to_roll",
    "no announced key is due: announce the next keys first (registry trust-list announce-keys), "
    "and roll over once their not_before has passed",
    "没有到期的预告密钥：请先预告下一把密钥（registry trust-list announce-keys），待其 not_before 到达后再轮换",
)


def announce_next_keys(ctx: ServiceContext, actor: Actor, *, not_before: dt.datetime | None = None) -> list[KeyInfo]:
    """A planned rollover, step 1: a new key of each algorithm, listed as ``next`` from
    ``not_before`` (default now) by the lists still signed with the current keys. A peer accepts
    the new key later only because a list it verified announced it."""
    require(actor.name, actor.roles, Permission.TRUST_LIST_PUBLISH)
    ctx.require_keyring()
    made = []
    with begin(ctx, actor) as tx:
        when = (not_before or tx.now).replace(microsecond=0)
        for alg in _ALGS:
            pending = tx.session.scalar(
                select(ListSigningKey).where(
                    ListSigningKey.alg == alg, ListSigningKey.status == tl.KeyStatus.NEXT.value
                )
            )
            if pending is not None:
                raise Conflict(
                    _NEXT_EXISTS, alg=alg, not_before=tl.format_time(pending.not_before or pending.created_at)
                )
            row = _new_key(tx, alg, tl.KeyStatus.NEXT, when)
            tx.audit("trust_list.key_announced", "trust-list", alg, algorithm=alg, kid=row.kid, at=when.isoformat())
            made.append(_key_info(row))
    return made


def roll_over(ctx: ServiceContext, actor: Actor) -> list[KeyInfo]:
    """A planned rollover, step 2: each announced key whose ``not_before`` has passed becomes
    current, the key it replaces retired (still listed, never signing again). Returns the new
    current keys; the next list is signed with them only."""
    require(actor.name, actor.roles, Permission.TRUST_LIST_PUBLISH)
    out = []
    with begin(ctx, actor) as tx:
        due_keys = tx.session.scalars(
            select(ListSigningKey).where(ListSigningKey.status == tl.KeyStatus.NEXT.value).order_by(ListSigningKey.alg)
        ).all()
        due_keys = [k for k in due_keys if k.not_before is None or k.not_before <= tx.now]
        if not due_keys:
            raise Conflict(_NOTHING_TO_ROLL)
        for new in due_keys:
            for old in tx.session.scalars(
                select(ListSigningKey).where(
                    ListSigningKey.alg == new.alg, ListSigningKey.status == tl.KeyStatus.CURRENT.value
                )
            ):
                old.status, old.changed_at = tl.KeyStatus.RETIRED.value, tx.now
                tx.audit("trust_list.key_retired", "trust-list", new.alg, algorithm=new.alg, kid=old.kid)
            new.status, new.changed_at = tl.KeyStatus.CURRENT.value, tx.now
            tx.audit("trust_list.key_rolled_over", "trust-list", new.alg, algorithm=new.alg, kid=new.kid)
            out.append(_key_info(new))
    return out


def signing_keys(ctx: ServiceContext) -> list[KeyInfo]:
    """Every list-signing key, current ones first (the list names them all)."""
    order = {s.value: i for i, s in enumerate(tl.KeyStatus)}
    with ctx.reader() as s:
        rows = s.scalars(select(ListSigningKey).order_by(ListSigningKey.id)).all()
        return sorted((_key_info(r) for r in rows), key=lambda k: (order.get(k.status, 9), k.alg != jws.ES256))


def fingerprints(ctx: ServiceContext) -> list[tuple[str, str]]:
    """``(alg, 64 lowercase hex)`` of each current list-signing key: what another region pins."""
    return [(k.alg, k.fingerprint) for k in signing_keys(ctx) if k.status == tl.KeyStatus.CURRENT.value]


def signers(tx: Tx) -> list[PrivateKey]:
    keyring = tx.ctx.require_keyring()
    rows = tx.session.scalars(
        select(ListSigningKey).where(ListSigningKey.status == tl.KeyStatus.CURRENT.value).order_by(ListSigningKey.alg)
    ).all()
    return [decrypt_private_key(r.key_blob, keyring.keys) for r in rows]
