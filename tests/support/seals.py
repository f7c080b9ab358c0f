"""Seals issued through the services for the demo enterprise (or another), keys generated, and a
file signed with one of them.

Every helper starts from ``issue_request()``: a finance seal of the demo enterprise (Shenzhen) on a
generated key, operator olivia, approver rita, issued by the test administrator.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from registry.pki.keys import PrivateKey
from registry.services import seals, signing
from registry.services.context import ServiceContext
from tests.support.data import ADMIN, SHENZHEN_USCC


def issue_request(**fields: Any) -> seals.IssueRequest:
    """The default issue request, with these fields of it instead of the defaults."""
    args: dict[str, Any] = dict(
        uscc=SHENZHEN_USCC,
        seal_type="finance",
        key=seals.KeyMaterial(generate=True),
        operator="olivia",
        approver="rita",
    )
    args.update(fields)
    return seals.IssueRequest(**args)


def issue_with(ctx: ServiceContext, **fields: Any) -> seals.IssueResult:
    """A seal issued on ``issue_request(**fields)``."""
    return seals.issue_seal(ctx, ADMIN, issue_request(**fields))


def issue(ctx: ServiceContext, seal_type: str = "finance", *, algorithm: str | None = None) -> seals.IssueResult:
    """A seal of the demo enterprise (Shenzhen); keys of ``algorithm`` (None: the default, SM2)."""
    return issue_with(ctx, seal_type=seal_type, algorithm=algorithm)


def issue_es_id(ctx: ServiceContext, uscc: str = SHENZHEN_USCC, seal_type: str = "finance") -> str:
    """A seal of this enterprise; its esID."""
    return issue_with(ctx, uscc=uscc, seal_type=seal_type).es_id


def issue_with_algorithm(ctx: ServiceContext, alg: str, seal_type: str = "finance") -> seals.IssueResult:
    """A seal of the demo enterprise whose keys are of this algorithm."""
    return issue(ctx, seal_type, algorithm=alg)


def issue_many(ctx: ServiceContext, seal_types: Iterable[str], **fields: Any) -> list[seals.IssueResult]:
    """Seals of these types in one batch (``seals.issue_seals``: one transaction), each on
    ``issue_request(seal_type=..., **fields)``."""
    return seals.issue_seals(ctx, ADMIN, [issue_request(seal_type=t, **fields) for t in seal_types])


def sign(ctx: ServiceContext, r: seals.IssueResult, data: bytes, file_name: str) -> bytes:
    """A signature over ``data`` (named ``file_name``) with the seal ``r`` and its generated key."""
    assert r.private_key_pem, "the seal's key was not generated here"
    return signing.sign_file(
        ctx,
        seal=r.seal_der,
        key=PrivateKey.from_pem(r.private_key_pem),
        certificate=r.certificate_der,
        data=data,
        file_name=file_name,
    ).signature
