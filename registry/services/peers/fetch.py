"""Fetching a peer's published files over HTTP(S), defensively (mutual-recognition.md §2.2, §2.5 #11).

* a size limit, read in bounded steps (a ``Content-Length`` above it is refused before the body);
* a timeout for connecting and for each read;
* redirects followed only to the same scheme, host and port, at most three (a list that moves to
  another host is a location change a person must approve, never followed silently);
* conditional GET (``If-None-Match`` / ``If-Modified-Since``): a 304 is an answer, not an error;
* any other status, a connection failure, a body that is not complete: a :class:`FetchError` with
  a code, never an exception from the HTTP library.
"""

from __future__ import annotations

import http.client
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

from ...domain.errors import M, Message, ValidationError

__all__ = ["Fetched", "FetchError", "fetch", "MAX_REDIRECTS"]

MAX_REDIRECTS = 3
_CHUNK = 64 * 1024


class FetchError(ValidationError):
    """The file could not be fetched; ``kind`` says why (timeout, status, too_large, redirect, ...)."""

    def __init__(self, message: Message, /, *, kind: str = "unreachable", **params: Any) -> None:
        super().__init__(message, **params)
        self.kind = kind


@dataclass(frozen=True)
class Fetched:
    url: str  # after same-host redirects
    status: int  # 200, or 304 (not modified: body empty)
    body: bytes
    etag: str | None
    last_modified: str | None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


_TOO_LARGE = M(
    "peer_fetch.too_large",
    "{url}: larger than the limit of {limit} bytes",
    "{url}：超过 {limit} 字节的上限",
)
_TIMEOUT = M("peer_fetch.timeout", "{url}: no answer within {seconds} s", "{url}：{seconds} 秒内无应答")
_STATUS = M("peer_fetch.status", "{url}: the server answered HTTP {status}", "{url}：服务器返回 HTTP {status}")
_UNREACHABLE = M("peer_fetch.unreachable", "{url}: cannot connect ({error})", "{url}：无法连接（{error}）")
_REDIRECT_HOST = M(
    "peer_fetch.redirect_other_host",
    "{url}: redirected to another host ({target}); not followed",
    "{url}：被重定向到其他主机（{target}）；未跟随",
)
_TOO_MANY_REDIRECTS = M("peer_fetch.redirects", "{url}: more than {n} redirects", "{url}：重定向超过 {n} 次")
_NOT_HTTP = M("peer_fetch.not_http", "{url} is not an http or https URL", "{url} 不是 http 或 https 地址")
_TRUNCATED = M("peer_fetch.truncated", "{url}: the answer was cut short", "{url}：应答不完整")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # redirects are followed by fetch(), which checks the target first


_OPENER = urllib.request.build_opener(_NoRedirects)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, (parts.hostname or "").lower(), port


def check_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(_NOT_HTTP, kind="not_http", url=url)
    return url


def _read(fh: IO[bytes], url: str, limit: int, length: int | None) -> bytes:
    if length is not None and length > limit:
        raise FetchError(_TOO_LARGE, kind="too_large", url=url, limit=limit)
    chunks, total = [], 0
    while True:
        chunk = fh.read(_CHUNK)
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            raise FetchError(_TOO_LARGE, kind="too_large", url=url, limit=limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    if length is not None and len(body) != length:
        raise FetchError(_TRUNCATED, kind="truncated", url=url)
    return body


def fetch(
    url: str,
    *,
    max_bytes: int,
    timeout: float = 10.0,
    etag: str | None = None,
    last_modified: str | None = None,
) -> Fetched:
    """GET ``url`` (conditionally, given ``etag`` / ``last_modified``); see the module doc."""
    start = check_url(url)
    origin = _origin(start)
    current = start
    for _ in range(MAX_REDIRECTS + 1):
        headers = {"User-Agent": "registry-peer-refresher/1", "Accept-Encoding": "identity"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        request = urllib.request.Request(current, headers=headers, method="GET")
        try:
            with _OPENER.open(request, timeout=timeout) as resp:
                length = resp.headers.get("Content-Length")
                body = _read(resp, start, max_bytes, int(length) if length and length.isdigit() else None)
                return Fetched(current, resp.status, body, resp.headers.get("ETag"), resp.headers.get("Last-Modified"))
        except urllib.error.HTTPError as exc:
            if exc.code == 304:
                return Fetched(current, 304, b"", exc.headers.get("ETag") or etag, last_modified)
            if exc.code in (301, 302, 303, 307, 308):
                target = urljoin(current, exc.headers.get("Location") or "")
                if _origin(target) != origin:
                    raise FetchError(_REDIRECT_HOST, kind="redirect", url=start, target=target) from None
                current = target
                continue
            raise FetchError(_STATUS, kind="status", url=start, status=exc.code) from None
        except TimeoutError:
            raise FetchError(_TIMEOUT, kind="timeout", url=start, seconds=f"{timeout:g}") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, (TimeoutError, socket.timeout)):
                raise FetchError(_TIMEOUT, kind="timeout", url=start, seconds=f"{timeout:g}") from None
            raise FetchError(_UNREACHABLE, kind="unreachable", url=start, error=str(reason)[:200]) from None
        except (http.client.HTTPException, ConnectionError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:200]
            raise FetchError(_UNREACHABLE, kind="unreachable", url=start, error=error) from None
    raise FetchError(_TOO_MANY_REDIRECTS, kind="redirect", url=start, n=MAX_REDIRECTS)
