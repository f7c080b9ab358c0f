"""What every command shares: the top group with the one error handler, the lazily built state
(settings, service context, command-line actor) handed to commands with :data:`pass_state`, and
the helpers for secrets, input files, private files and times."""

from __future__ import annotations

import datetime as dt
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import click
from sqlalchemy.exc import SQLAlchemyError

from ..config import Settings
from ..domain.errors import DomainError
from ..pki.keys import KeyFormatError
from ..services.context import Actor, ServiceContext

F = TypeVar("F", bound=Callable[..., Any])

#: Key in the click context's ``meta`` (shared by every nested context) under which a command
#: says what a database error means to it (see :func:`database_errors_read_as`).
_DATABASE_ERROR = "registry.database_error"


class CliError(click.ClickException):
    """A refusal: one line on standard error, exit status 2, nothing written."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"registry: error: {self.format_message()}", err=True)


def _os_error(exc: OSError) -> str:
    return f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc)


class RegistryGroup(click.Group):
    """The ``registry`` group. Every command runs inside its :meth:`invoke`, so this is the one
    place where a domain error (a refusal, a missing key-encryption key), an unreadable key or an
    operating-system error becomes one line on standard error and exit status 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (DomainError, KeyFormatError) as exc:
            raise CliError(str(exc)) from None
        except OSError as exc:
            raise CliError(_os_error(exc)) from None
        except SQLAlchemyError as exc:
            what = ctx.meta.get(_DATABASE_ERROR)
            if what is None:
                raise
            raise CliError(f"{what}: {str(exc).splitlines()[0]}") from None


def database_errors_read_as(what: str) -> Callable[[F], F]:
    """For a command whose subject is the database itself (``audit verify``): a database error is
    then a refusal, ``registry: error: <what>: <the error's first line>``, not a crash."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def callback(*args: Any, **kwargs: Any) -> Any:
            click.get_current_context().meta[_DATABASE_ERROR] = what
            return fn(*args, **kwargs)

        return cast(F, callback)

    return decorate


class State:
    """What the commands of one invocation share, each part made on first use: a command that
    needs no database (``keygen``, ``serve``, ``--help``) never reads the settings."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._ctx: ServiceContext | None = None
        self._actor: Actor | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.from_env()
        return self._settings

    def context(self, *, create_keys: bool = False) -> ServiceContext:
        """The service context, built once (``init`` asks for it with ``create_keys``)."""
        if self._ctx is None:
            self._ctx = ServiceContext.create(self.settings, create_keys=create_keys)
        return self._ctx

    @property
    def ctx(self) -> ServiceContext:
        return self.context()

    @property
    def actor(self) -> Actor:
        if self._actor is None:
            self._actor = Actor.command_line()
        return self._actor

    def close(self) -> None:
        if self._ctx is not None:
            self._ctx.engine.dispose()


pass_state = click.make_pass_decorator(State)


@click.group(cls=RegistryGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """Registration authority for enterprise electronic seals (电子印章)."""
    ctx.obj = state = State()
    ctx.call_on_close(state.close)


# -- helpers ------------------------------------------------------------------------------------


def secret(env: str, prompt: str) -> str:
    """A password or code: from the environment (scripted use, tests) or typed without echo."""
    value = os.environ.get(env)
    if value is not None:
        return value
    if not sys.stdin.isatty():
        raise CliError(f"{prompt.lower()} is needed: run in a terminal, or set {env}")
    return str(click.prompt(prompt, hide_input=True, err=True))


def read_file(path: str, what: str, limit: int = 16 * 1024 * 1024) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise CliError(f"{what} {path}: no such file")
    if p.stat().st_size > limit:
        raise CliError(f"{what} {path} is larger than {limit // 1024} KB")
    return p.read_bytes()


def write_private(path: Path, text: str) -> None:
    """A new file (never an existing one) readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def parse_time(text: str | None, what: str) -> dt.datetime | None:
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"{what} {text!r} is not an ISO 8601 time (e.g. 2026-11-20T08:00:00Z)") from None
    if value.tzinfo is None:
        raise CliError(f"{what} needs a time zone (e.g. 2026-11-20T08:00:00Z or +08:00)")
    return value
