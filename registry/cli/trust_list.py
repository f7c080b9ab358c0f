"""``registry trust-list``: the signed trust list this registry publishes for other regions
(mutual-recognition.md §2.1) — publish it now, show it, and show the fingerprints of the
list-signing keys that another region pins."""

from __future__ import annotations

import sys

import click

from ..domain import trust_list as tl
from ..services import trust_lists
from .base import CliError, State, main, parse_time, pass_state


@main.group("trust-list")
def trust_list_group() -> None:
    """Our signed trust list (trust/list.jws) and its list-signing keys."""


@trust_list_group.command("publish")
@pass_state
def publish_cmd(state: State) -> None:
    """Publish the next trust list now: numbered one above the last, signed with the ES256 and
    SM2-SM3 list-signing keys, written under <publish dir>/trust/. Prints the sequence number
    alone on the last line."""
    published = trust_lists.publish(state.ctx, state.actor)
    click.echo(
        f"trust list {published.sequence} sha256 {published.sha256} next update {tl.format_time(published.next_update)}"
    )
    click.echo(str(published.sequence))


@trust_list_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print list.json exactly as published and signed.")
@click.option(
    "--fingerprints",
    is_flag=True,
    help="Print one line per current list-signing key: ALG SHA256HEX (what another region pins).",
)
@click.option("--sequence", type=click.IntRange(1, 2**53 - 1), help="An earlier list, by its number.")
@pass_state
def show_cmd(state: State, as_json: bool, fingerprints: bool, sequence: int | None) -> None:
    """The newest trust list (or list --sequence N): operator, number, times, signing keys and
    services; with --json the exact bytes of list.json; with --fingerprints the pins."""
    if as_json and fingerprints:
        raise CliError("--json and --fingerprints are different outputs: give one of them")
    ctx = state.ctx
    if fingerprints:
        if sequence is not None:
            raise CliError("--fingerprints shows the keys in use now: it takes no --sequence")
        pins = trust_lists.fingerprints(ctx)
        if not pins:
            raise CliError("no list-signing keys yet: run `registry init` or `registry trust-list publish`")
        for alg, hexdigest in pins:
            click.echo(f"{alg} {hexdigest}")
        return
    published = trust_lists.version(ctx, sequence) if sequence is not None else trust_lists.current(ctx)
    if published is None:
        raise CliError(str(trust_lists.NO_LIST_YET.format("en")))
    if as_json:
        sys.stdout.buffer.write(published.payload)
        return
    lst = published.trust_list
    sch = lst.scheme
    click.echo(f"trust list {sch.sequence} of {sch.operator.area_code} {sch.operator.name_zh} ({sch.operator.name_en})")
    click.echo(f"  issued at    {tl.format_time(sch.issued_at)}")
    click.echo(f"  next update  {tl.format_time(sch.next_update)}")
    click.echo(f"  sha256       {published.sha256}")
    if sch.previous is not None:
        click.echo(f"  previous     {sch.previous.sequence} sha256 {sch.previous.sha256}")
    click.echo(f"  published by {published.published_by} ({published.reason})")
    click.echo("signing keys:")
    for k in sch.signing_keys:
        after = f" from {tl.format_time(k.not_before)}" if k.not_before else ""
        click.echo(f"  {k.alg:8} {k.status.value:11} {k.fingerprint}{after}")
    click.echo(f"services: {len(lst.services)}")
    for svc in lst.services:
        scope = ""
        if svc.constraints is not None:
            c = svc.constraints
            parts = [
                f"esID {c.es_id_prefix}*" if c.es_id_prefix else "",
                f"policy {','.join(c.policy_oids)}" if c.policy_oids else "",
            ]
            scope = "  " + " ".join(p for p in parts if p)
        click.echo(
            f"  {svc.id:20} {svc.role.value:11} {svc.alg:6} {svc.status.value:9} since {tl.format_time(svc.status_since)}{scope}"
        )


@trust_list_group.command("announce-keys")
@click.option(
    "--not-before",
    help="When the new keys may start signing (ISO 8601 with a zone; default now). Lists announce them until then.",
)
@pass_state
def announce_keys_cmd(state: State, not_before: str | None) -> None:
    """Step 1 of a planned rollover: make the next ES256 and SM2-SM3 list-signing keys, announced
    as `next` by the lists published from now on (still signed with the current keys). Prints the
    fingerprints another region will accept after the rollover."""
    keys = trust_lists.announce_next_keys(state.ctx, state.actor, not_before=parse_time(not_before, "--not-before"))
    for k in keys:
        click.echo(f"next {k.alg} {k.fingerprint} from {tl.format_time(k.not_before) if k.not_before else 'now'}")
    published = trust_lists.publish(state.ctx, state.actor, reason="changed")
    click.echo(f"published trust list {published.sequence} announcing them")


@trust_list_group.command("roll-over")
@pass_state
def roll_over_cmd(state: State) -> None:
    """Step 2: the announced keys become current (their not_before passed), the old ones retired;
    publishes the first list signed with the new keys alone."""
    for k in trust_lists.roll_over(state.ctx, state.actor):
        click.echo(f"current {k.alg} {k.fingerprint}")
    published = trust_lists.publish(state.ctx, state.actor, reason="changed")
    click.echo(f"published trust list {published.sequence} signed with the new keys")
