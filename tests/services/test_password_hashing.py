"""Password hashes follow the argon2id parameters of the settings; stored hashes verify whatever
the current parameters are (each hash carries its own)."""

from __future__ import annotations

from pathlib import Path

import pytest
from argon2 import extract_parameters

from registry.config import Settings
from registry.services import passwords


@pytest.fixture(autouse=True)
def _restore():
    yield
    passwords.configure(time_cost=1, memory_kib=8, parallelism=1)


def test_new_hashes_use_the_configured_parameters_and_old_ones_still_verify() -> None:
    passwords.configure(time_cost=2, memory_kib=1024, parallelism=2)
    old = passwords.hash_password("correct horse battery staple")
    p = extract_parameters(old)
    assert (p.time_cost, p.memory_cost, p.parallelism) == (2, 1024, 2)

    passwords.configure(time_cost=1, memory_kib=64, parallelism=1)
    new = passwords.hash_password("correct horse battery staple")
    p = extract_parameters(new)
    assert (p.time_cost, p.memory_cost, p.parallelism) == (1, 64, 1)
    assert passwords.verify_password(old, "correct horse battery staple")
    assert passwords.verify_password(new, "correct horse battery staple")
    assert not passwords.verify_password(old, "wrong horse battery staple")


def test_settings_default_to_argon2_cffi_recommended_parameters_and_read_the_environment(tmp_path: Path) -> None:
    default = Settings.from_env({"REGISTRY_INSTANCE_PATH": str(tmp_path)})
    assert (default.argon2_time_cost, default.argon2_memory_kib, default.argon2_parallelism) == (3, 65536, 4)
    cheap = Settings.from_env(
        {
            "REGISTRY_INSTANCE_PATH": str(tmp_path),
            "REGISTRY_ARGON2_TIME_COST": "1",
            "REGISTRY_ARGON2_MEMORY_KIB": "8",
            "REGISTRY_ARGON2_PARALLELISM": "1",
        }
    )
    assert (cheap.argon2_time_cost, cheap.argon2_memory_kib, cheap.argon2_parallelism) == (1, 8, 1)
    with pytest.raises(SystemExit, match="REGISTRY_ARGON2_MEMORY_KIB must be between"):
        Settings.from_env({"REGISTRY_INSTANCE_PATH": str(tmp_path), "REGISTRY_ARGON2_MEMORY_KIB": "1"})
    with pytest.raises(SystemExit, match="at least 8 × REGISTRY_ARGON2_PARALLELISM"):
        Settings.from_env({"REGISTRY_INSTANCE_PATH": str(tmp_path), "REGISTRY_ARGON2_MEMORY_KIB": "16"})
