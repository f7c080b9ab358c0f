"""``registry serve``: the portal under gunicorn (or Flask's development server), with the CRL
publisher beside it."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import click

from .base import main


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--dev", is_flag=True, help="Use Flask's single-process development server instead.")
@click.option("--no-publisher", is_flag=True, help="Do not run the CRL publisher next to the portal.")
def serve(host: str, port: int, workers: int, dev: bool, no_publisher: bool) -> None:
    """Run the portal with gunicorn (the same server as `gunicorn 'registry.wsgi:app'`), and the
    CRL publisher (`registry crl daemon`) beside it."""
    from ..web import create_app  # the web layer (Flask) only for the command that serves it

    os.umask(0o077)  # the database's WAL/SHM, CRL temp files, logs: not readable by other local users
    app = create_app()  # fail here, with a clear message, before forking workers
    click.echo(
        f"portal on http://{host}:{port}/  ({'development server' if dev else f'gunicorn, {workers} workers'}; "
        "Ctrl-C to stop)"
    )
    publisher = (
        None
        if no_publisher
        else subprocess.Popen([sys.executable, "-c", "from registry.cli import main; main()", "crl", "daemon"])
    )
    try:
        if dev:
            app.run(host=host, port=port, debug=False, use_reloader=False)
        else:
            _gunicorn(app, host, port, workers)
    finally:
        if publisher is not None:
            publisher.terminate()
            publisher.wait(timeout=10)


def _gunicorn(app: Any, host: str, port: int, workers: int) -> None:
    from gunicorn.app.base import BaseApplication  # only needed to serve (and only on POSIX)

    class _Server(BaseApplication):
        def load_config(self) -> None:
            def post_fork(_server: Any, _worker: Any) -> None:
                # never share a pooled database connection across processes
                app.extensions["registry"].engine.dispose(close=False)

            for key, value in {
                "bind": f"{host}:{port}",
                "workers": workers,
                "accesslog": "-",
                "timeout": 60,
                "graceful_timeout": 10,
                "post_fork": post_fork,
            }.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return app

    _Server().run()
