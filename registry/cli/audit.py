"""``registry audit``: the audit log's integrity check and its signed checkpoints."""

from __future__ import annotations

import sys

import click

from ..services import audit
from ..services.crls.publish import checkpoint_audit_chain
from .base import State, database_errors_read_as, main, pass_state


@main.group("audit")
def audit_group() -> None:
    """The audit log."""


@audit_group.command("verify")
@database_errors_read_as("cannot read the audit log")
@pass_state
def audit_verify(state: State) -> None:
    """Check the audit log's hash chain: every event's hash, every link, and the chain head.

    Prints one line: the chain is intact (events, head seq and hash), or the first event that was
    changed, removed or inserted behind the application's back. The chain is then compared with the
    newest signed checkpoint (`registry audit checkpoint`): it must reach the checkpoint's event and
    hold the hash it recorded. Exit status: 0 intact, 1 tampered, 2 the check could not run.
    """
    audit.require_database(state.settings)
    report = audit.verify_audit_chain(state.ctx, state.actor)
    click.echo(report.summary())
    sys.exit(0 if report.ok else 1)


@audit_group.command("checkpoint")
@pass_state
def audit_checkpoint(state: State) -> None:
    """Sign the audit chain's head (seq and hash) with the SM2 root key into a numbered checkpoint
    file under <publish dir>/audit/ (each CRL publish run does the same). `registry audit verify`
    fails if the chain later ends before a checkpoint or disagrees with it. Copy the files off the
    machine: they are public and signed."""
    cp, made = checkpoint_audit_chain(state.ctx)
    if not made:
        click.echo(f"{cp} already records the chain head: {cp.path}")
        return
    click.echo(f"{cp}: head seq {cp.seq} hash {cp.hash} signed by {cp.signer} -> {cp.path}")
