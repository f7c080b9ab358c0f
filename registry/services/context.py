"""What every service needs: settings, a session factory, a clock and the key-encryption keys."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar, cast

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ..config import ConfigError, Settings
from ..db.session import make_engine, make_session_factory
from ..domain.errors import M, ValidationError
from ..domain.roles import Role
from . import passwords

_T = TypeVar("_T")


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC).replace(microsecond=0)


@dataclass
class FrozenClock:
    """A clock for tests: returns ``at`` until moved with :meth:`advance`."""

    at: dt.datetime

    def now(self) -> dt.datetime:
        return self.at

    def advance(self, **kw: float) -> None:
        self.at = self.at + dt.timedelta(**kw)


@dataclass(frozen=True)
class Actor:
    """Who is acting: a staff user, an enterprise, or the system (scheduler, CLI operator)."""

    name: str
    kind: str = "staff"  # staff | enterprise | system
    roles: frozenset[Role] = frozenset()
    user_id: int | None = None

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(name=name, kind="system", roles=frozenset(Role))

    @classmethod
    def command_line(cls) -> Actor:
        """Whoever runs the ``registry`` command, as ``cli:<OS user>`` with every role: the command
        line is the operator's console, trusted like the machine it runs on; what needs two people
        (``registry seal issue``) asks both to prove they are present (:mod:`.counter_auth`)."""
        try:
            who = getpass.getuser()
        except Exception:  # noqa: BLE001 - no passwd entry in some containers
            who = str(os.getuid())
        return cls.system(f"cli:{who}")


class NoKeyRing(ConfigError):
    """No key-encryption key: neither REGISTRY_KEK nor the instance's key file (``registry init``
    makes it). Read-only uses (pages, verification) run without one; a bad REGISTRY_KEK is another
    matter (a :class:`ConfigError`)."""


class KeyRing:
    """Key-encryption keys by id; new blobs are wrapped with ``current``."""

    def __init__(self, keys: dict[str, bytes], current: str) -> None:
        if current not in keys:
            raise ValueError(f"current key-encryption key {current!r} is not in the key ring")
        self.keys = keys
        self.current = current

    @classmethod
    def load(cls, settings: Settings, *, create: bool = False) -> KeyRing:
        if settings.kek_hex:
            try:
                kek = bytes.fromhex(settings.kek_hex)
            except ValueError:
                raise ConfigError("REGISTRY_KEK must be 64 hexadecimal characters") from None
            if len(kek) != 32:
                raise ConfigError("REGISTRY_KEK must be 64 hexadecimal characters (32 bytes)")
            return cls({"env": kek}, "env")
        path = settings.kek_file
        if not path.exists():
            if not create:
                raise NoKeyRing(f"no key-encryption key at {path}: run `registry init` first or set REGISTRY_KEK")
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            kid = "k" + dt.datetime.now(dt.UTC).strftime("%Y%m%d")
            _write_secret(path, json.dumps({"current": kid, "keys": {kid: secrets.token_hex(32)}}))
        data = json.loads(path.read_text())
        return cls({k: bytes.fromhex(v) for k, v in data["keys"].items()}, data["current"])


def _write_secret(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def load_or_create_secret_key(settings: Settings) -> str:
    if settings.secret_key:
        return settings.secret_key
    path = settings.secret_key_file
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            _write_secret(path, secrets.token_hex(32))
        except FileExistsError:
            pass
    return path.read_text().strip()


@dataclass
class ServiceContext:
    """The composition root handed to every service function."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    read_session_factory: sessionmaker[Session]
    clock: Clock
    keyring: KeyRing | None
    _cache: dict[object, object] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def create(
        cls, settings: Settings, *, clock: Clock | None = None, create_keys: bool = False, engine: Engine | None = None
    ) -> ServiceContext:
        engine = engine or make_engine(settings.database_url)
        passwords.configure(
            time_cost=settings.argon2_time_cost,
            memory_kib=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        try:
            keyring = KeyRing.load(settings, create=create_keys)
        except NoKeyRing:
            if create_keys:
                raise
            keyring = None  # read-only uses (web pages, verification) do not need the keys
        return cls(
            settings,
            engine,
            make_session_factory(engine, write=True),
            make_session_factory(engine, write=False),
            clock or SystemClock(),
            keyring,
        )

    def require_keyring(self) -> KeyRing:
        if self.keyring is None:
            raise ValidationError(
                M(
                    "context.no_key_encryption_key",
                    "no key-encryption key at {kek_file}: run `registry init` first or set REGISTRY_KEK",
                    "{kek_file} 处没有密钥加密密钥：请先运行 `registry init` 或设置 REGISTRY_KEK",
                ),
                kek_file=self.settings.kek_file,
            )
        return self.keyring

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write session committed once at the end, rolled back on any exception."""
        with self.session_factory() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A read-only session; closing it ends the transaction but leaves loaded objects readable."""
        with self.read_session_factory() as session:
            yield session

    def forget(self, key: object) -> None:
        """Drop a cached value whose source changed (e.g. an authority that was deactivated)."""
        with self._lock:
            self._cache.pop(key, None)

    def cached(self, key: object, factory: Callable[[], _T]) -> _T:
        """Process-local cache for immutable derived values (decrypted CA keys, parsed certs)."""
        with self._lock:
            if key not in self._cache:
                self._cache[key] = factory()
            return cast(_T, self._cache[key])  # each key is only ever filled by factories of one type
