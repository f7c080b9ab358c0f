"""``registry licence``: electronic business licence data (imports, licence events, the demo
e-licence credential)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..services import elicence, licences
from .base import State, main, pass_state, read_file


@main.group()
def licence() -> None:
    """Electronic business licence data."""


@licence.command("import")
@click.argument("file")
@pass_state
def licence_import(state: State, file: str) -> None:
    """Import a CSV or JSON Lines licence file; bad rows are reported, good rows kept."""
    data = read_file(file, "licence file", 64 * 1024 * 1024)
    report = licences.import_licences(state.ctx, state.actor, data, Path(file).name)
    for err in report.errors:
        click.echo(f"{file}: {err}", err=True)
    click.echo(
        f"created {len(report.created)}, updated {len(report.updated)}, "
        f"unchanged {len(report.unchanged)}, rejected {len(report.errors)}"
    )
    if report.errors and not report.good:
        sys.exit(2)


@licence.command("credential")
@click.argument("uscc")
@click.option("--challenge", help="The challenge the portal's sign-in page shows (default: a new one, printed).")
@pass_state
def licence_credential(state: State, uscc: str, challenge: str | None) -> None:
    """Play the e-licence app: a signed credential for USCC answering the portal's challenge (demo
    issuer). The credential is the last line of output."""
    if not challenge:
        challenge = elicence.new_challenge()
        click.echo(f"challenge: {challenge}")
    click.echo(elicence.demo_credential(state.ctx, uscc, challenge))


@licence.command("set-status")
@click.argument("uscc")
@click.argument("status", type=click.Choice(["active", "cancelled", "revoked"]))
@click.option("--name", help="New registered name (a change revokes the seals: affiliationChanged).")
@click.option("--legal-representative", help="New legal representative (same effect).")
@click.option("--entity-type", help="New entity type (same effect).")
@pass_state
def licence_set_status(
    state: State, uscc: str, status: str, name: str | None, legal_representative: str | None, entity_type: str | None
) -> None:
    """A licence event: cancellation or revocation revokes every seal (cessationOfOperation); a
    change of name, legal representative or entity type revokes them (affiliationChanged) and opens
    re-issue applications."""
    change = licences.set_licence_status(
        state.ctx,
        state.actor,
        uscc,
        status,
        name=name,
        legal_representative=legal_representative,
        entity_type=entity_type,
    )
    if not change.changes:
        click.echo(f"{change.uscc}: nothing changed")
    for field_name, (old, new) in change.changes.items():
        click.echo(f"{change.uscc}: {field_name} {old} → {new}")
    for es_id in change.revoked_seals:
        click.echo(f"revoked {es_id}")
    click.echo(change.uscc)
