"""Staff actors as the services see them, and an application submitted at the counter."""

from __future__ import annotations

from registry.services import applications, seals
from registry.services.context import Actor, ServiceContext
from registry.services.users import staff_actors
from tests.support.data import SHENZHEN_USCC
from tests.support.pki import csr_for


def staff_actor(ctx: ServiceContext, name: str) -> Actor:
    """The staff member as the services see them (their roles from the database)."""
    with ctx.reader() as s:
        return staff_actors(s, {name: "test"})[name]


def submit(ctx: ServiceContext, uscc: str = SHENZHEN_USCC, channel: str = "counter") -> int:
    """A contract-seal application on a CSR, submitted by olivia (operator); its id."""
    _key, csr = csr_for(uscc, common_name="测试")
    return applications.submit(
        ctx,
        staff_actor(ctx, "olivia"),
        uscc=uscc,
        seal_type="contract",
        key=seals.KeyMaterial(csr=csr),
        channel=channel,
    )
