"""Old name of :mod:`registry.services.crls.publish` and :mod:`registry.services.crls.files`,
kept for the callers that import it (the CLI, the admin's CRL views, audit checkpoints)."""

from __future__ import annotations

from .crls.files import (
    LOCK_NAME,
    LOCK_WAIT_SECONDS,
    STALE_TEMP_SECONDS,
    clean_stale_temp_files,
    crl_number_of_file,
    publish_lock,
    relative_path,
    write_atomically,
)
from .crls.publish import Published, crl_issuers, pending, publish, run_publisher

__all__ = [
    "LOCK_NAME",
    "LOCK_WAIT_SECONDS",
    "STALE_TEMP_SECONDS",
    "Published",
    "clean_stale_temp_files",
    "crl_issuers",
    "crl_number_of_file",
    "pending",
    "publish",
    "publish_lock",
    "relative_path",
    "run_publisher",
    "write_atomically",
]
