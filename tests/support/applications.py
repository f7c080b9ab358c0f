"""Staff actors as the services see them, and an application submitted at the counter."""

from __future__ import annotations

from registry.pki import x509
from registry.pki.csr import build_csr
from registry.pki.keys import Algorithm, PrivateKey
from registry.services import applications, seals
from registry.services.context import Actor, ServiceContext
from registry.services.users import staff_actors
from tests.support.data import SHENZHEN_USCC


def staff_actor(ctx: ServiceContext, name: str) -> Actor:
    """The staff member as the services see them (their roles from the database)."""
    with ctx.reader() as s:
        return staff_actors(s, {name: "test"})[name]


def csr_for(uscc: str, alg: Algorithm = Algorithm.SM2) -> tuple[PrivateKey, bytes]:
    """A fresh key and a PEM CSR naming the enterprise."""
    key = PrivateKey.generate(alg)
    return key, build_csr(key, x509.Name.build(C="CN", CN="测试", organizationIdentifier=uscc)).encode()


def submit(ctx: ServiceContext, uscc: str = SHENZHEN_USCC, channel: str = "counter") -> int:
    """A contract-seal application on a CSR, submitted by olivia (operator); its id."""
    _key, csr = csr_for(uscc)
    return applications.submit(
        ctx,
        staff_actor(ctx, "olivia"),
        uscc=uscc,
        seal_type="contract",
        key=seals.KeyMaterial(csr=csr),
        channel=channel,
    )
