"""The published CRL files: where each lives under the publish directory, its number read without
parsing it, written atomically (never replacing a CRL by one whose number is not higher), the
machine-wide publish lock, and the clean-up of temporary files a killed publisher left.

Publishers on one machine take an exclusive ``flock`` on ``<publish dir>/.publish.lock`` for the
whole run, so two runs started together (the daemon, "publish now" in the admin, ``registry crl
publish``) take turns instead of one failing: the second waits for the first (at most
:data:`LOCK_WAIT_SECONDS`). Under that lock a run removes only temporary files that cannot belong to a
live publisher: those whose process is gone, or older than :data:`STALE_TEMP_SECONDS`.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ...domain.errors import Conflict, M
from ...pki import crl

__all__ = [
    "LOCK_NAME",
    "LOCK_WAIT_SECONDS",
    "STALE_TEMP_SECONDS",
    "clean_stale_temp_files",
    "crl_number_of_file",
    "publish_lock",
    "relative_path",
    "write_atomically",
]

#: A temporary file this old is removed even if its process number is alive (it was reused).
STALE_TEMP_SECONDS = 3600
#: How long a run waits for another run on this machine to finish before giving up with Conflict.
LOCK_WAIT_SECONDS = 300.0
LOCK_NAME = ".publish.lock"
_TEMP_PID = re.compile(r"\.(\d+)\.(\d+)\.tmp$")


def relative_path(issuer: str, kind: str, shard: int | None) -> str:
    """Where a CRL lives under the publish directory (and under ``REGISTRY_CRL_BASE_URL``)."""
    if kind == "full":
        return f"{issuer}.crl"
    if kind == "delta":
        return f"{issuer}-delta.crl"
    return f"{issuer}/shard-{shard}.crl"


def crl_number_of_file(path: Path) -> int | None:
    """The cRLNumber of a published CRL file, read without walking its entries; None if absent.
    The file is mapped, not read: only the pages holding its headers and extensions are touched
    (a 1,000,000-entry CRL is 49 MB; reading it took 49 MB more memory and ~30 ms per publish)."""
    try:
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            return crl.peek(mapped)[0]
    except FileNotFoundError:
        return None
    except (crl.CrlError, ValueError):  # ValueError: an empty file cannot be mapped
        return None  # an unreadable file is replaced


def _temp_copy(path: Path, data: bytes) -> Path:
    """``data`` in a temporary file beside ``path``, world-readable, fsynced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as fh:
        os.fchmod(fh.fileno(), 0o644)  # public files: readable by a static server under another user
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return tmp


def _fsync_dir(folder: Path) -> None:
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_public_file(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (temp file, fsync, rename, fsync the directory):
    a reader sees the old file or the new one, never part of either (the trust list's files)."""
    tmp = _temp_copy(path, data)
    try:
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)


def write_atomically(path: Path, data: bytes, number: int) -> None:
    """temp file in the same directory → fsync → refuse if the published number is not lower →
    rename over → fsync the directory. A publisher killed at any point leaves the old file served."""
    tmp = _temp_copy(path, data)
    hold = os.environ.get("REGISTRY_TEST_HOLD_BEFORE_RENAME")
    if hold:  # tests only: stop between write and rename so a test can kill the publisher here
        Path(hold).write_text(str(tmp))
        time.sleep(120)
    try:
        current = crl_number_of_file(path)
        if current is not None and current >= number:
            raise Conflict(
                M(
                    "crl_publish.number_not_higher",
                    "{file}: refusing to replace CRL number {current} with {number}",
                    "{file}：拒绝用编号 {number} 替换编号为 {current} 的 CRL",
                ),
                file=path.name,
                current=current,
                number=number,
            )
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)


@contextmanager
def publish_lock(publish_dir: Path, wait: float | None = None) -> Iterator[None]:
    """Hold the publish directory's lock file (``flock``, exclusive) for the block, waiting for
    another holder for at most ``wait`` seconds (:data:`LOCK_WAIT_SECONDS`). The kernel releases the
    lock when its holder exits, so a killed publisher never leaves it held."""
    publish_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(publish_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        limit = time.monotonic() + (LOCK_WAIT_SECONDS if wait is None else wait)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= limit:
                    raise Conflict(
                        M(
                            "crl_publish.lock_busy",
                            "another CRL publish run on this server has been running for more than "
                            "{seconds:.0f} s; try again later",
                            "本服务器上另一次 CRL 发布已运行超过 {seconds:.0f} 秒，请稍后再试",
                        ),
                        seconds=LOCK_WAIT_SECONDS if wait is None else wait,
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def clean_stale_temp_files(publish_dir: Path, now: float | None = None) -> int:
    """Remove temporary files left by a publisher that died before renaming: those whose process
    (the number in the name) is gone, and any older than :data:`STALE_TEMP_SECONDS`. Called under
    :func:`publish_lock`, so no live publisher on this machine is writing; a file of a live process
    elsewhere (another machine sharing the directory) is left until it is stale."""
    n = 0
    if not publish_dir.exists():
        return 0
    now = time.time() if now is None else now
    for tmp in publish_dir.rglob(".*.tmp"):
        try:
            age = now - tmp.stat().st_mtime
        except FileNotFoundError:
            continue
        m = _TEMP_PID.search(tmp.name)
        dead = m is not None and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1)))
        if dead or age > STALE_TEMP_SECONDS:
            tmp.unlink(missing_ok=True)
            n += 1
    return n
