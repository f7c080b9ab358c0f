"""Servers the tests start on loopback: a free port, and waiting until one answers."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the moment of asking)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, proc: subprocess.Popen[str], *, within: float = 180.0) -> str:
    """The body of ``url`` once the server ``proc`` answers it, polling until it does.

    The bound is generous on purpose (a loaded machine can take long to boot workers): it only
    keeps a broken server from hanging the run, and says nothing about speed. A server that exits
    first fails at once, with what it printed.
    """
    deadline = time.monotonic() + within
    while True:
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"the server exited ({proc.returncode}) before answering {url}:\n{out}")
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                return str(resp.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"no answer from {url} within {within:.0f} s") from None
            time.sleep(0.2)
