"""What the portal's seal services need: an authorised person with grants (the legal representative
is ``tests.support.portal.legal``), seals issued on a CSR, pictures, the renewal window."""

from __future__ import annotations

import datetime as dt
import io

from PIL import Image
from sqlalchemy import select

from registry.db.models import EnterprisePerson, Seal, SealGrant
from registry.pki.keys import Algorithm, PrivateKey
from registry.services import seals
from registry.services.context import ServiceContext
from registry.services.portal_access import Principal
from tests.support.data import ADMIN, SHENZHEN_USCC
from tests.support.pki import csr_for
from tests.support.portal import legal


def person(ctx: ServiceContext, grants: dict[str, str], uscc: str = SHENZHEN_USCC, username: str = "wang") -> Principal:
    """An authorised person of the enterprise with these grants (esID → hold/manage)."""
    lr = legal(ctx, uscc)
    now = ctx.clock.now()
    with ctx.transaction() as s:
        p = EnterprisePerson(
            enterprise_id=lr.enterprise_id,
            username=username,
            display_name="王会计",
            email="",
            password_hash="x",
            must_change_password=False,
            active=True,
            created_at=now,
            created_by="test",
            totp_enabled=True,
        )
        s.add(p)
        s.flush()
        for code, authority in grants.items():
            seal_id = s.scalar(select(Seal.id).where(Seal.es_id == code))
            s.add(SealGrant(person_id=p.id, seal_id=seal_id, authority=authority, granted_at=now, granted_by="test"))
        pid = p.id
    return Principal(
        enterprise_id=lr.enterprise_id,
        uscc=lr.uscc,
        enterprise_name=lr.enterprise_name,
        person="王会计",
        person_id=pid,
        username=username,
    )


def issue(
    ctx: ServiceContext, uscc: str = SHENZHEN_USCC, seal_type: str = "finance", alg: Algorithm = Algorithm.SM2
) -> tuple[str, PrivateKey]:
    key, req = csr_for(uscc, alg)
    r = seals.issue_seal(
        ctx,
        ADMIN,
        seals.IssueRequest(
            uscc=uscc, seal_type=seal_type, key=seals.KeyMaterial(csr=req), operator="olivia", approver="rita"
        ),
    )
    return r.es_id, key


def png(size: int = 128) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (size, size), (200, 16, 46, 255)).save(out, format="PNG")
    return out.getvalue()


def into_window(ctx: ServiceContext, code: str, days_left: int = 30) -> None:
    with ctx.reader() as s:
        end = s.scalar(select(Seal.valid_end).where(Seal.es_id == code))
    ctx.clock.at = end - dt.timedelta(days=days_left)  # type: ignore[attr-defined]
