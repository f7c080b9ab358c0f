"""``registry peer``: admitting another region's registry under dual control, refreshing its
trust list, suspending, resuming and withdrawing it (docs/mutual-recognition.md).

The person named (``--proposer``, ``--approver``, ``--by``) proves they are at the console as at
the counter (``registry seal issue``): their password and a code from their authenticator, read
from REGISTRY_PROPOSER_PASSWORD / _CODE, REGISTRY_APPROVER_PASSWORD / _CODE or REGISTRY_BY_PASSWORD /
_CODE when set (scripted use), prompted otherwise. The step is then theirs, checked against their
roles: an admin proposes, a different admin or reviewer approves, an admin suspends, resumes or
withdraws."""

from __future__ import annotations

import datetime as dt
import json

import click

from ..domain import trust_list as tl
from ..services import counter_auth, peers
from ..services.context import Actor
from .base import State, main, pass_state, secret


@main.group("peer")
def peer_group() -> None:
    """Other regions' registries whose trust lists we read."""


def _person(state: State, username: str, role: str, env: str) -> Actor:
    """The staff member ``username``, signed in here with password and code."""
    ctx = state.ctx
    counter_auth.check_eligible(ctx, username, role)
    password = secret(f"REGISTRY_{env}_PASSWORD", f"Password of {username}")
    code = secret(f"REGISTRY_{env}_CODE", f"Code of {username}")
    return counter_auth.confirm(ctx, state.actor, username, role, code, password=password)


def _t(value: dt.datetime | None) -> str:
    return tl.format_time(value.replace(microsecond=0)) if value is not None else "—"


@peer_group.command("add")
@click.argument("name")
@click.option("--trust-list", "url", required=True, help="URL of the peer's list.jws.")
@click.option("--area-code", required=True, help="The peer's 6-digit area code (e.g. 110000).")
@click.option(
    "--fingerprint",
    "fingerprints",
    multiple=True,
    required=True,
    help="SHA-256 of a list-signing key's SubjectPublicKeyInfo, read out of band (repeatable).",
)
@click.option("--proposer", required=True, help="The admin proposing it: signs in here (password and code).")
@pass_state
def add_cmd(state: State, name: str, url: str, area_code: str, fingerprints: tuple[str, ...], proposer: str) -> None:
    """Propose admitting a peer: fetch its list, verify it under the fingerprints, and show what
    would be trusted. Another person approves it (registry peer approve). Prints the name last."""
    peers.check_proposal(state.ctx, name, url, area_code, list(fingerprints))  # before any code is asked for
    actor = _person(state, proposer, "peer-proposer", "PROPOSER")
    p = peers.propose(state.ctx, actor, name, url, area_code, list(fingerprints))
    click.echo(f"proposed {p.name}: {p.operator_zh} ({p.operator_en}), area {p.area_code}")
    click.echo(f"  list {p.sequence} sha256 {p.sha256}, issued {_t(p.issued_at)}, next update {_t(p.next_update)}")
    for kid in p.signed_by:
        click.echo(f"  signed by pinned key {kid.removeprefix('sha256:')}")
    click.echo(f"  services {len(p.services)}, trust anchors (granted roots) {p.anchors}")
    for s in p.services:
        scope = " ".join(f"{k}={','.join(v) if isinstance(v, list) else v}" for k, v in s.constraints.items())
        click.echo(f"    {s.id:22} {s.role:11} {s.alg:6} {s.status:9} {s.sha256[:16]}… {scope}".rstrip())
    for c in p.crls:
        if c.reachable:
            click.echo(f"  CRL {c.url}: reachable, number {c.number}, next update {_t(c.next_update)}")
        else:
            click.echo(f"  CRL {c.url}: NOT reachable ({c.error})")
    click.echo(p.name)


@peer_group.command("approve")
@click.argument("name")
@click.option("--approver", required=True, help="A different admin or reviewer: signs in here (password and code).")
@pass_state
def approve_cmd(state: State, name: str, approver: str) -> None:
    """Admit a proposed peer (dual control: not the person who proposed it)."""
    peers.check_approver(state.ctx, name, approver)  # refused before any code is asked for
    actor = _person(state, approver, "peer-approver", "APPROVER")
    peer = peers.approve(state.ctx, actor, name)
    click.echo(f"{peer.name} admitted by {actor.name} (proposed by {peer.proposed_by})")


def _state_command(action: str, doc: str) -> None:
    @peer_group.command(action, help=doc)
    @click.argument("name")
    @click.option("--by", "by", required=True, help="The admin deciding it: signs in here (password and code).")
    @click.option("--reason", required=True, help="Why (one line, kept in the audit log).")
    @pass_state
    def command(state: State, name: str, by: str, reason: str) -> None:
        actor = _person(state, by, "peer-manager", "BY")
        peer = peers.change_state(state.ctx, actor, name, action, reason)
        click.echo(f"{peer.name} {peer.state} by {actor.name}: {reason}")


_state_command("suspend", "Suspend a peer: what only it vouches for becomes indeterminate; its list is still fetched.")
_state_command("resume", "Resume a suspended peer.")
_state_command("withdraw", "Withdraw a peer: no longer trusted nor fetched; its lists are kept.")


@peer_group.command("refresh")
@click.argument("name", required=False)
@pass_state
def refresh_cmd(state: State, name: str | None) -> None:
    """Fetch every active or suspended peer's list and the CRLs it names now (or the named peer's);
    one line per peer, and one per CRL stored, refused or failed."""
    for r in peers.refresh(state.ctx, state.actor, name):
        for line in r.lines():
            click.echo(line)


@peer_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable.")
@pass_state
def list_cmd(state: State, as_json: bool) -> None:
    """Every peer: state, list in force, last fetch, alerts."""
    views = peers.list_peers(state.ctx, state.actor)
    if as_json:
        click.echo(json.dumps([v.as_json() for v in views], ensure_ascii=False, indent=2))
        return
    if not views:
        click.echo("no peers")
    for v in views:
        seq = f"list {v.sequence}" if v.sequence is not None else "no list"
        alerts = f" alerts: {', '.join(v.alerts)}" if v.alerts else ""
        click.echo(
            f"{v.name:16} {v.area_code} {v.state:9} {seq:10} next update {_t(v.next_update)} "
            f"last success {_t(v.last_success_at)}{alerts}"
        )


@peer_group.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable.")
@pass_state
def show_cmd(state: State, name: str, as_json: bool) -> None:
    """One peer in full: its keys, the list in force and its services, the last error."""
    v = peers.show_peer(state.ctx, state.actor, name)
    if as_json:
        click.echo(json.dumps(v.as_json(), ensure_ascii=False, indent=2))
        return
    click.echo(f"{v.name}: {v.operator_zh or '?'} ({v.area_code}), {v.state} since {_t(v.state_since)} by {v.state_by}")
    if v.state_reason:
        click.echo(f"  reason: {v.state_reason}")
    click.echo(f"  trust list {v.trust_list_url}")
    click.echo(f"  proposed by {v.proposed_by} at {_t(v.proposed_at)}; approved by {v.approved_by or '—'}")
    for kid, source in v.keys:
        click.echo(f"  key {kid.removeprefix('sha256:')} ({source})")
    if v.sequence is not None:
        click.echo(f"  list {v.sequence} sha256 {v.sha256}, issued {_t(v.issued_at)}, next update {_t(v.next_update)}")
    for s in v.services:
        click.echo(f"    {s.id:22} {s.role:11} {s.alg:6} {s.status}")
    click.echo(f"  last fetch {_t(v.last_fetch_at)}, last success {_t(v.last_success_at)}")
    if v.last_error:
        click.echo(f"  last error ({v.last_error_code}) at {_t(v.last_error_at)}: {v.last_error}")
    if v.alerts:
        click.echo(f"  alerts: {', '.join(v.alerts)}")
