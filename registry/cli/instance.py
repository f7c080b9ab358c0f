"""``registry init``: the schema, the CA hierarchies, a first admin and the first CRLs."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import click

from ..config import Settings
from ..db.migrate import upgrade
from ..services import authorities, crl_publish, elicence, trust_lists, users
from ..services.context import load_or_create_secret_key
from ..services.demo import load_demo
from .base import State, main, pass_state


@main.command()
@click.option("--demo", is_flag=True, help="Also load demonstration licences and staff accounts.")
@pass_state
def init(state: State, demo: bool) -> None:
    """Bring the schema up to date, create the CA hierarchies and a first admin (idempotent)."""
    old_umask = os.umask(0o077)  # everything init creates (database, keys) is the registry's own
    try:
        _init(state, demo)
    finally:
        os.umask(old_umask)


def _init(state: State, demo: bool) -> None:
    settings = state.settings
    settings.instance_path.mkdir(parents=True, exist_ok=True, mode=0o700)
    upgrade(settings.database_url)
    click.echo(f"database: {_redact(settings.database_url)} (schema up to date)")
    for line in _tighten_permissions(settings):
        click.echo(line)
    load_or_create_secret_key(settings)
    ctx = state.context(create_keys=True)
    actor = state.actor
    created = authorities.ensure_hierarchies(ctx, actor)
    for a in authorities.list_authorities(ctx):
        mark = "created" if a.name in created else "exists"
        click.echo(f"authority {a.name:18} {mark:8} {a.subject}")
    for key in trust_lists.ensure_signing_keys(ctx, actor):
        click.echo(f"list-signing key {key.alg:8} new      {key.fingerprint}")
    if elicence.ensure_demo_issuer(ctx):
        click.echo(f"e-licence issuer (demo): new key and certificate at {settings.elicence_cert}")
    first_admin = users.ensure_first_admin(ctx, actor)
    if first_admin:
        click.echo(f"first admin: user '{first_admin[0]}', one-time password: {first_admin[1]}")
        click.echo("(shown once; it must be changed at first login)")
    else:
        click.echo("admin account exists")
    if demo:
        for line in load_demo(ctx, actor):
            click.echo(line)
    due = crl_publish.pending(ctx)
    if due:
        for p in crl_publish.publish(ctx, actor, due):
            click.echo(f"published {p.path} number {p.number}")
    else:
        click.echo("CRLs up to date")
    if trust_lists.due(ctx) is not None:
        published = trust_lists.publish(ctx, actor, reason="first" if trust_lists.current(ctx) is None else "changed")
        click.echo(f"published trust/list.jws sequence {published.sequence}")
    else:
        click.echo("trust list up to date")


def _tighten_permissions(settings: Settings) -> list[str]:
    """The instance directory 0700, the SQLite database and its WAL/SHM 0600 (an instance made by an
    older version had them readable by every local user). The publish directory holds public CRLs
    and may be served by another user's web server, so it is left as it is."""
    paths: list[tuple[Path, int]] = [(settings.instance_path, 0o700)]
    if settings.database_url.startswith("sqlite"):
        db = Path(settings.database_url.split("///", 1)[-1].split("?", 1)[0])
        paths += [(db, 0o600), (db.with_name(db.name + "-wal"), 0o600), (db.with_name(db.name + "-shm"), 0o600)]
    out = []
    for path, mode in paths:
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            continue
        if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) & 0o077:
            path.chmod(mode)
            out.append(f"permissions of {path} set to {mode:o}")
    return out


def _redact(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]+@", r"//\1:***@", url)
