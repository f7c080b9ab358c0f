"""What relying parties check: ``registry crl`` (publish, the publisher daemon), ``registry ocsp``
(the pre-signed responses) and ``registry ca`` (revoking one of our CA certificates)."""

from __future__ import annotations

from collections.abc import Iterator

import click

from ..services import crl_publish, ocsp, peers, revocation, trust_lists
from .base import State, main, pass_state


@main.group("crl")
def crl_group() -> None:
    """Certificate revocation lists."""


@crl_group.command("publish")
@click.option("--issuer", "issuers", multiple=True, help="Only this CRL issuer (repeatable), e.g. sm2-issuing.")
@click.option("--all-shards", is_flag=True, help="Re-publish every shard, not only changed or due ones.")
@pass_state
def crl_publish_cmd(state: State, issuers: tuple[str, ...], all_shards: bool) -> None:
    """Publish full, delta and shard CRLs; prints each CRL written with its number."""
    for p in crl_publish.publish(state.ctx, state.actor, list(issuers) or None, all_shards=all_shards):
        base = f" base {p.base_number}" if p.base_number is not None else ""
        click.echo(f"{p.path:36} number {p.number:<6} {p.kind:5}{base} entries {p.entries:<8} {p.size} bytes")


@crl_group.command("daemon")
@click.option(
    "--interval",
    type=click.FloatRange(0.2, 3600),
    help="Seconds between checks (default REGISTRY_CRL_PUBLISH_INTERVAL).",
)
@click.option("--max-seconds", type=click.FloatRange(0, None), default=None, help="Stop after this long.")
@pass_state
def crl_daemon(state: State, interval: float | None, max_seconds: float | None) -> None:
    """Publish within seconds of each revocation and before CRLs go stale, refresh OCSP responses,
    and republish the trust list when it changes or reaches half its validity; runs until stopped."""
    ctx = state.ctx
    refresh_ocsp, publish_list, refresh_peers = ocsp.refresher(ctx), trust_lists.refresher(ctx), peers.refresher(ctx)

    def also() -> Iterator[str]:  # OCSP at half-life; our trust list when due; peers' lists
        yield from refresh_ocsp()
        yield from publish_list()
        yield from refresh_peers()

    for line in crl_publish.run_publisher(ctx, state.actor, interval=interval, max_seconds=max_seconds, also=also):
        click.echo(line, nl=True)


@main.group("ocsp")
def ocsp_group() -> None:
    """The OCSP responder's pre-signed responses (served at /ocsp)."""


@ocsp_group.command("refresh")
@click.option(
    "--batch",
    default=500,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Responses signed per write transaction.",
)
@pass_state
def ocsp_refresh(state: State, batch: int) -> None:
    """Re-sign the responses past half their validity and sign any missing one."""
    click.echo(str(ocsp.refresh(state.ctx, batch=batch)))


@main.group("ca")
def ca_group() -> None:
    """Our CA and seal-maker certificates."""


@ca_group.command("revoke")
@click.argument("name")
@click.option(
    "--reason",
    required=True,
    help="keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation or unspecified.",
)
@pass_state
def ca_revoke(state: State, name: str, reason: str) -> None:
    """Revoke an issuing CA or seal-maker certificate (listed on the root's CRL); it stops issuing."""
    auth = revocation.revoke_authority(state.ctx, state.actor, name, reason)
    click.echo(f"revoked the certificate of {auth.name}; it no longer issues")
    click.echo(auth.name)
