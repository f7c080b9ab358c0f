"""Issuing seals, the staff use case: an application under dual control (or an approved one, or
break-glass at the command line), checked for the caller's ``seal.issue`` permission first, then
issued by the building block :mod:`registry.services.core.issuance`; and reading one seal (show,
export). The names of the issuance block and of :mod:`~registry.services.core.pictures` are
re-exported here, where the web, the CLI, the tests and the benchmarks use them."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from ..db.models import Seal
from ..domain.errors import M, PermissionDenied
from ..domain.roles import Permission, require
from .context import Actor, ServiceContext
from .core.issuance import MAX_BATCH as MAX_BATCH
from .core.issuance import IssueRequest as IssueRequest
from .core.issuance import IssueResult as IssueResult
from .core.issuance import KeyMaterial as KeyMaterial
from .core.issuance import issue as _issue
from .core.issue_requests import check_batch_size
from .core.pictures import draw_picture as draw_picture
from .core.pictures import licence_picture_problems as licence_picture_problems
from .core.pictures import picture_problem as picture_problem
from .core.pictures import seal_picture as seal_picture
from .core.seals import SealFiles as SealFiles
from .core.seals import find_seal as find_seal_in
from .core.seals import seal_by_code, seal_files
from .core.tx import joined
from .renewal import renew_seal as renew_seal
from .renewal import renewal_key_algorithm as renewal_key_algorithm
from .renewal import renewal_request as renewal_request


def issue_seal(ctx: ServiceContext, actor: Actor, req: IssueRequest) -> IssueResult:
    """Issue one seal at the counter: the application is submitted, reviewed by ``req.operator``,
    approved by ``req.approver`` (a different person with the reviewer role) and issued, in one
    transaction with one audit event per transition. Every check runs before the first write."""
    return issue_seals(ctx, actor, [req])[0]


def issue_seals(ctx: ServiceContext, actor: Actor, reqs: list[IssueRequest]) -> list[IssueResult]:
    """Issue several seals in one transaction, all or nothing: an enterprise's standard set of
    four, or the batch for enterprises newly registered by the licence authority. Each seal gets
    the same checks, rows and audit events as :func:`issue_seal`; a refused request names its
    position and nothing at all is written. The caller needs ``seal.issue`` (an operator's role;
    the command line's actor holds every role); a break-glass request must come from the command
    line."""
    require(actor.name, actor.roles, Permission.SEAL_ISSUE)
    check_batch_size(reqs)
    prepared: list[IssueRequest] = []
    for req in reqs:
        if req.break_glass is not None:
            from .counter_auth import check_reason

            if not (actor.kind == "system" and actor.name.startswith("cli:") and req.channel == "cli"):
                raise PermissionDenied(
                    M(
                        "seal.break_glass_cli_only",
                        "break-glass issuance is only for the command line on the server",
                        "紧急授权签发仅限服务器上的命令行",
                    )
                )
            req = replace(req, break_glass=check_reason(req.break_glass))
        prepared.append(req)
    return _issue(ctx, actor, prepared)


# ----------------------------------------------------------------------------------------------
# Reading


def find_seal(session: Session, code: str) -> Seal:
    """:func:`registry.services.core.seals.find_seal` for a caller holding a bare session (the CLI,
    the tests): the seal with esID ``code``, or NotFound."""
    return seal_by_code(session, code)


def show_seal(ctx: ServiceContext, code: str) -> dict[str, Any]:
    """Everything a person or script needs to know about one seal, as plain data."""
    with ctx.reader() as session:
        seal = find_seal(session, code)
        now = ctx.clock.now()
        certs = []
        for c in seal.certificates:
            certs.append(
                {
                    "serial": c.serial,
                    "issuer": c.issuer.name,
                    "subject": c.subject,
                    "shard": c.shard,
                    "status": c.status.value,
                    "not_before": c.not_before.isoformat(),
                    "not_after": c.not_after.isoformat(),
                    "key_sha256": c.key_fingerprint,
                }
            )
        return {
            "es_id": seal.es_id,
            "type": seal.seal_type.code,
            "type_name": seal.seal_type.english,
            "type_name_zh": seal.seal_type.chinese,
            "name": seal.name,
            "uscc": seal.enterprise.uscc,
            "enterprise": seal.enterprise.name,
            "algorithm": seal.algorithm.value,
            "status": seal.effective_status(now),
            "valid_start": seal.valid_start.isoformat(),
            "valid_end": seal.valid_end.isoformat(),
            "created_at": seal.created_at.isoformat(),
            "maker": seal.maker.name,
            "picture": {"type": "PNG", "width_mm": seal.picture_width_mm, "height_mm": seal.picture_height_mm},
            "ses_sha256": hashlib.sha256(seal.ses_der).hexdigest(),
            "certificates": certs,
            "application_id": seal.application_id,
        }


def export_seal(ctx: ServiceContext, code: str) -> SealFiles:
    """seal.esl (DER SESeal), the holder certificate, the issuing chain, and the seal-maker chain."""
    with ctx.reader() as session:
        tx = joined(ctx, session)
        return seal_files(tx, find_seal_in(tx, code))
