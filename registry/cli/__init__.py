"""The ``registry`` command (design.md §8; the command reference is docs/cli.md).

Conventions: a command that creates something prints its identifier alone on the last line of
standard output; an error is one line on standard error and exit status 2, with nothing written.

One module per command group, each registering its commands on :data:`main` (``base.py``): the
group's one error handler, and the state (settings, service context, actor) built on first use and
handed to commands with ``pass_state``. The rules stay in ``registry.services``.
"""

from __future__ import annotations

from . import (  # noqa: F401 - they register commands
    audit,
    crl,
    instance,
    licence,
    notify,
    peer,
    seal,
    serve,
    signing,
    trust_list,
    users,
)
from .base import CliError, State, main

__all__ = ["CliError", "State", "main"]
