"""``registry user``: staff accounts."""

from __future__ import annotations

import click

from ..domain.roles import Role
from ..services import users
from .base import State, main, pass_state


@main.group()
def user() -> None:
    """Staff accounts."""


@user.command("add")
@click.argument("name")
@click.option(
    "--role", "roles", multiple=True, required=True, help="operator, reviewer, admin or auditor (repeatable)."
)
@click.option("--display-name", default="")
@pass_state
def user_add(state: State, name: str, roles: tuple[str, ...], display_name: str) -> None:
    """Create a staff account; prints its one-time password, then its username on the last line."""
    parsed = [Role.parse(r) for r in roles]
    u, password = users.add_user(state.ctx, state.actor, name, parsed, display_name)
    click.echo(f"one-time password: {password}")
    click.echo(u.username)
