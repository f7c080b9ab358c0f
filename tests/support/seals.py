"""Seals issued through the services for the demo enterprise (or another), keys generated."""

from __future__ import annotations

from typing import Any

from registry.services import seals
from registry.services.context import ServiceContext
from tests.support.data import ADMIN, SHENZHEN_USCC


def issue(ctx: ServiceContext, seal_type: str = "finance") -> seals.IssueResult:
    """A seal of the demo enterprise (Shenzhen), default algorithm."""
    return seals.issue_seal(
        ctx,
        ADMIN,
        seals.IssueRequest(
            uscc=SHENZHEN_USCC,
            seal_type=seal_type,
            key=seals.KeyMaterial(generate=True),
            operator="olivia",
            approver="rita",
        ),
    )


def issue_es_id(ctx: ServiceContext, uscc: str = SHENZHEN_USCC, seal_type: str = "finance") -> str:
    """A seal of this enterprise; its esID."""
    return seals.issue_seal(
        ctx,
        ADMIN,
        seals.IssueRequest(
            uscc=uscc, seal_type=seal_type, key=seals.KeyMaterial(generate=True), operator="olivia", approver="rita"
        ),
    ).es_id


def issue_with_algorithm(ctx: ServiceContext, alg: str, seal_type: str = "finance") -> seals.IssueResult:
    """A seal of the demo enterprise whose keys are of this algorithm."""
    return seals.issue_seal(
        ctx,
        ADMIN,
        seals.IssueRequest(
            uscc=SHENZHEN_USCC,
            seal_type=seal_type,
            key=seals.KeyMaterial(generate=True),
            operator="olivia",
            approver="rita",
            algorithm=alg,
        ),
    )


def issue_with(ctx: ServiceContext, **kw: Any) -> seals.IssueResult:
    """A seal of the demo enterprise, with these fields of the request instead of the defaults."""
    args = dict(
        uscc=SHENZHEN_USCC,
        seal_type="finance",
        key=seals.KeyMaterial(generate=True),
        operator="olivia",
        approver="rita",
    )
    args.update(kw)
    return seals.issue_seal(ctx, ADMIN, seals.IssueRequest(**args))
