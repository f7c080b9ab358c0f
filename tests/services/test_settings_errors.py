"""A bad setting stops the process with one line naming it (ConfigError, a SystemExit); a missing
key-encryption key only leaves the context without keys (read-only uses need none)."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.config import ConfigError, Settings
from registry.services.context import KeyRing, NoKeyRing, ServiceContext


def _settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env(
        {
            "REGISTRY_INSTANCE_PATH": str(tmp_path / "instance"),
            "REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}",
            "REGISTRY_SECRET_KEY": "s",
            **env,
        }
    )


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("REGISTRY_CRL_SHARDS", "many", "REGISTRY_CRL_SHARDS must be an integer, got 'many'"),
        ("REGISTRY_CRL_SHARDS", "0", "REGISTRY_CRL_SHARDS must be between 1 and 4096, got 0"),
        ("REGISTRY_AREA_CODE", "44", "REGISTRY_AREA_CODE must be a 6-digit GB/T 2260 code, got '44'"),
        ("REGISTRY_SMTP_SECURITY", "ssl", "REGISTRY_SMTP_SECURITY must be starttls, tls or none, got 'ssl'"),
    ],
)
def test_a_bad_setting_is_a_config_error_naming_it(tmp_path: Path, name: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _settings(tmp_path, **{name: value})
    assert str(caught.value) == says
    assert isinstance(caught.value, SystemExit)  # the process stops with that line, exit status 1


@pytest.mark.parametrize("kek", ["zz" * 32, "11" * 31])
def test_a_malformed_kek_stops_even_a_read_only_context(tmp_path: Path, kek: str) -> None:
    settings = _settings(tmp_path, REGISTRY_KEK=kek)
    with pytest.raises(ConfigError, match="REGISTRY_KEK must be 64 hexadecimal characters") as caught:
        ServiceContext.create(settings)
    assert not isinstance(caught.value, NoKeyRing)


def test_no_key_file_leaves_a_read_only_context_without_keys(tmp_path: Path) -> None:
    settings = _settings(tmp_path, REGISTRY_KEK="")
    with pytest.raises(NoKeyRing, match="no key-encryption key at .*registry init"):
        KeyRing.load(settings)
    ctx = ServiceContext.create(settings)
    try:
        assert ctx.keyring is None
        with pytest.raises(Exception, match="no key-encryption key") as refused:
            ctx.require_keyring()
        assert getattr(refused.value, "code", None) == "context.no_key_encryption_key"
    finally:
        ctx.engine.dispose()


def test_create_keys_makes_the_key_file(tmp_path: Path) -> None:
    settings = _settings(tmp_path, REGISTRY_KEK="")
    ctx = ServiceContext.create(settings, create_keys=True)
    try:
        assert ctx.keyring is not None and settings.kek_file.exists()
        assert oct(settings.kek_file.stat().st_mode & 0o777) == "0o600"
    finally:
        ctx.engine.dispose()
