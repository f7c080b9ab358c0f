"""``registry notify``: e-mail digests to enterprises."""

from __future__ import annotations

import sys

import click

from ..services import notify
from .base import State, main, pass_state


@main.group("notify")
def notify_group() -> None:
    """E-mail notices to enterprises: at most one digest per enterprise per day."""


@notify_group.command("run")
@click.option(
    "--every",
    type=click.FloatRange(0.1, 86400),
    metavar="SECONDS",
    help="Run again every SECONDS until stopped (for a service); default: one pass.",
)
@click.option("--rounds", type=click.IntRange(1, None), help="With --every: stop after this many passes.")
@pass_state
def notify_run(state: State, every: float | None, rounds: int | None) -> None:
    """Collect notices (audit log since the last run, the daily expiry scan) and send each
    enterprise's digest. One pass prints what it did; exit status 1 if a digest could not be sent
    (it is retried by the next run). A second run while one holds the lease is skipped."""
    ctx = state.ctx
    if every is None:
        report = notify.run_once(ctx, state.actor)
        for line in report.lines():
            click.echo(line)
        sys.exit(1 if report.failed else 0)
    for line in notify.run_loop(ctx, state.actor, every=every, rounds=rounds):
        click.echo(line)
