"""Uploaded files, read once and never beyond their limit: at most ``limit + 1`` bytes are read, so
a file over the limit is known to be too large without reading the rest of it.

* :func:`read` / :func:`read_storage`: the bytes and whether they are over the limit (the caller
  says so in its page: the portal's application form, the licence import);
* :func:`read_within`: the bytes, or :class:`TooLarge` (the portal's renewal CSR);
* :func:`read_upload`: the public verifier's and the API's files, within ``REGISTRY_VERIFY_MAX_BYTES``
  (413 beyond it, a coded 400 when a required file is missing or empty);
* :func:`licence_limit`: the admin licence import's limit (``REGISTRY_LICENCE_UPLOAD_MAX_BYTES``).
"""

from __future__ import annotations

from flask import current_app, request
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge

from ..domain.errors import M, ValidationError
from .context import service_context

__all__ = [
    "TooLarge",
    "read",
    "read_storage",
    "read_within",
    "read_upload",
    "licence_limit",
    "LICENCE_LIMIT_CONFIG",
    "DEFAULT_LICENCE_LIMIT",
]

LICENCE_LIMIT_CONFIG = "REGISTRY_LICENCE_UPLOAD_MAX_BYTES"
# ~13,000 rows: imported well inside the server's 60 s request timeout (gunicorn, registry serve) at
# ~1,000 new rows/s; larger files go through `registry licence import` on the server
DEFAULT_LICENCE_LIMIT = 2 * 1024 * 1024

NO_FILE = M(
    "api.no_file",
    "no file in the form field {field} (send multipart/form-data)",
    "表单字段 {field} 中没有文件（请以 multipart/form-data 发送）",
)
EMPTY_FILE = M("api.empty_file", "the uploaded {field} is empty", "上传的 {field} 为空")


class TooLarge(Exception):
    """An uploaded file over its limit."""

    def __init__(self, field: str, limit: int) -> None:
        super().__init__(f"the {field} is larger than the limit of {limit} bytes")
        self.field, self.limit = field, limit


def read_storage(storage: FileStorage, limit: int) -> tuple[bytes, bool]:
    """At most ``limit + 1`` bytes of ``storage``, and whether it is larger than ``limit``."""
    data = storage.stream.read(limit + 1)
    return data, len(data) > limit


def read(field: str, limit: int) -> tuple[bytes | None, bool]:
    """The file chosen in the form field ``field`` (see :func:`read_storage`); (None, False) when no
    file was chosen."""
    storage = request.files.get(field)
    if storage is None or not storage.filename:
        return None, False
    return read_storage(storage, limit)


def read_within(field: str, limit: int) -> bytes | None:
    """The bytes of the file chosen in ``field`` (None when none was chosen); :class:`TooLarge`
    beyond ``limit``."""
    data, too_large = read(field, limit)
    if too_large:
        raise TooLarge(field, limit)
    return data


def read_upload(field: str, required: bool) -> bytes | None:
    """The bytes of one multipart file field, within the verifier's size limit (413 beyond it)."""
    storage: FileStorage | None = request.files.get(field)
    if storage is None:
        if required:
            raise ValidationError(NO_FILE, field=repr(field))
        return None
    limit = service_context().settings.verify_max_bytes
    data, too_large = read_storage(storage, limit)
    if too_large:
        raise RequestEntityTooLarge(str(TooLarge(field, limit)))  # the 413 handler
    if not data:
        if required:
            raise ValidationError(EMPTY_FILE, field=field)
        return None
    return data


def licence_limit() -> int:
    """The largest licence file the admin portal imports (bytes)."""
    return int(current_app.config.get(LICENCE_LIMIT_CONFIG, DEFAULT_LICENCE_LIMIT))
