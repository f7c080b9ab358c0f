"""Settings from the environment (stdlib only). Every variable is listed in docs/configuration.md.

No secret has a default: the Flask secret key and the key-encryption key live in files under the
instance directory that ``registry init`` creates with mode 0600, unless given in the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypedDict


class ConfigError(SystemExit):
    """A setting that cannot be used; the message names the variable and what it must be.

    A SystemExit on purpose: a process started with a bad setting stops with that one line (exit
    status 1) whatever starts it — the command line, gunicorn, a test — and no generic ``except
    Exception`` on the way swallows it. Catch it by this name where a caller can do better."""


def _int(env: dict[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


@dataclass(frozen=True)
class Settings:
    instance_path: Path
    database_url: str
    base_url: str = "http://127.0.0.1:5000"
    crl_base_url: str = ""
    crl_shards: int = 16
    publish_dir: Path = Path()
    seal_validity_days: int = 730
    vendor_id: str = "SZAMR-RA"
    area_code: str = "440300"
    authority_name: str = "深圳市市场监督管理局"
    authority_name_en: str = "Shenzhen Administration for Market Regulation"
    seal_font: str | None = None
    policy_oid: str = "1.3.6.1.4.1.61156.1.1"
    kek_hex: str | None = None
    secret_key: str | None = None
    max_picture_bytes: int = 512 * 1024
    session_idle_minutes: int = 15  # staff sessions end after this long without a request
    session_max_hours: int = 12  # and this long after sign-in, however active (absolute)
    secure_cookies: bool = False  # cookies only over HTTPS (default: on for an https base URL)
    login_max_failures: int = 5  # wrong passwords or codes before the account locks
    login_lock_minutes: int = 15
    elicence_cert: Path = Path()  # the e-licence issuer certificate the portal trusts
    elicence_key: Path = Path()  # the demo issuer's key (registry licence credential)
    trust_dir: Path = Path()  # other authorities' anchors, intermediates and CRLs
    verify_max_bytes: int = 32 * 1024 * 1024  # largest file the public verifier accepts
    crl_validity_hours: int = 24
    crl_keep_expired: bool = False
    crl_publish_interval: int = 2
    trust_list_validity_days: int = 7  # our trust list's next_update − issued_at; republished at half
    peer_refresh_seconds: int = 300  # how often the refresher fetches each peer's trust list
    ocsp_url: str = ""
    ocsp_validity_hours: int = 24
    ocsp_live_concurrency: int = 4
    renewal_window_days: int = 60  # the portal renews a seal this many days before validEnd
    # argon2id parameters for new password hashes (RFC 9106; the defaults are argon2-cffi's, its
    # "first recommended" profile). A stored hash carries its own parameters, so changing these
    # never locks anyone out: old hashes still verify, new ones use the new cost.
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4
    # e-mail notifications (registry.services.notify); no SMTP host: notices accumulate, nothing is sent
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"  # starttls | tls (implicit, SMTPS) | none
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_timeout: int = 30
    mail_from: str = ""
    notify_timezone: str = "Asia/Shanghai"  # whose calendar day "one digest per day" and reminders count
    display_timezone: str = "Asia/Shanghai"  # times on pages and in e-mails (labelled); UTC in the API and exports
    notify_reminder_days: tuple[int, ...] = (30, 7, 1)

    @property
    def secret_key_file(self) -> Path:
        return self.instance_path / "secret_key"

    @property
    def kek_file(self) -> Path:
        return self.instance_path / "kek.json"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def with_overrides(self, **kw: Any) -> Settings:
        return replace(self, **kw)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        instance = Path(env.get("REGISTRY_INSTANCE_PATH") or Path.cwd() / "instance").resolve()
        db_url = env.get("REGISTRY_DATABASE_URL") or f"sqlite:///{instance / 'registry.db'}"
        base = (env.get("REGISTRY_BASE_URL") or "http://127.0.0.1:5000").rstrip("/")
        area = env.get("REGISTRY_AREA_CODE") or "440300"
        if not (len(area) == 6 and area.isdigit()):
            raise ConfigError(f"REGISTRY_AREA_CODE must be a 6-digit GB/T 2260 code, got {area!r}")
        argon2_lanes = _int(env, "REGISTRY_ARGON2_PARALLELISM", 4, 1, 64)
        argon2_memory = _int(env, "REGISTRY_ARGON2_MEMORY_KIB", 65536, 8, 4 * 1024 * 1024)
        if argon2_memory < 8 * argon2_lanes:
            raise ConfigError(
                f"REGISTRY_ARGON2_MEMORY_KIB must be at least 8 × REGISTRY_ARGON2_PARALLELISM "
                f"({8 * argon2_lanes}), got {argon2_memory}"
            )
        return cls(
            instance_path=instance,
            database_url=db_url,
            base_url=base,
            crl_base_url=(env.get("REGISTRY_CRL_BASE_URL") or f"{base}/crl").rstrip("/"),
            crl_shards=_int(env, "REGISTRY_CRL_SHARDS", 16, 1, 4096),
            publish_dir=Path(env.get("REGISTRY_PUBLISH_DIR") or instance / "publish").resolve(),
            seal_validity_days=_int(env, "REGISTRY_SEAL_VALIDITY_DAYS", 730, 1, 3650),
            vendor_id=env.get("REGISTRY_VENDOR_ID") or "SZAMR-RA",
            area_code=area,
            authority_name=env.get("REGISTRY_AUTHORITY_NAME") or "深圳市市场监督管理局",
            authority_name_en=env.get("REGISTRY_AUTHORITY_NAME_EN") or "Shenzhen Administration for Market Regulation",
            seal_font=env.get("REGISTRY_SEAL_FONT") or None,
            policy_oid=env.get("REGISTRY_POLICY_OID") or "1.3.6.1.4.1.61156.1.1",
            kek_hex=env.get("REGISTRY_KEK") or None,
            secret_key=env.get("REGISTRY_SECRET_KEY") or None,
            max_picture_bytes=_int(env, "REGISTRY_MAX_PICTURE_BYTES", 512 * 1024, 1024, 16 * 1024 * 1024),
            session_idle_minutes=_int(env, "REGISTRY_SESSION_IDLE_MINUTES", 15, 1, 24 * 60),
            session_max_hours=_int(env, "REGISTRY_SESSION_MAX_HOURS", 12, 1, 24 * 7),
            secure_cookies=_bool(env, "REGISTRY_SECURE_COOKIES", base.startswith("https://")),
            login_max_failures=_int(env, "REGISTRY_LOGIN_MAX_FAILURES", 5, 1, 100),
            login_lock_minutes=_int(env, "REGISTRY_LOGIN_LOCK_MINUTES", 15, 1, 24 * 60),
            elicence_cert=Path(env.get("REGISTRY_ELICENCE_CERT") or instance / "elicence" / "issuer.pem").resolve(),
            elicence_key=Path(env.get("REGISTRY_ELICENCE_KEY") or instance / "elicence" / "issuer.key").resolve(),
            trust_dir=Path(env.get("REGISTRY_TRUST_DIR") or instance / "trust").resolve(),
            verify_max_bytes=_int(env, "REGISTRY_VERIFY_MAX_BYTES", 32 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
            crl_validity_hours=_int(env, "REGISTRY_CRL_VALIDITY_HOURS", 24, 1, 24 * 31),
            crl_keep_expired=(env.get("REGISTRY_CRL_KEEP_EXPIRED") or "").lower() in ("1", "true", "yes"),
            crl_publish_interval=_int(env, "REGISTRY_CRL_PUBLISH_INTERVAL", 2, 0, 3600),
            trust_list_validity_days=_int(env, "REGISTRY_TRUST_LIST_VALIDITY_DAYS", 7, 1, 90),
            peer_refresh_seconds=_int(env, "REGISTRY_PEER_REFRESH_SECONDS", 300, 5, 86400),
            ocsp_url=(env.get("REGISTRY_OCSP_URL") or f"{base}/ocsp").rstrip("/"),
            ocsp_validity_hours=_int(env, "REGISTRY_OCSP_VALIDITY_HOURS", 24, 1, 24 * 7),
            ocsp_live_concurrency=_int(env, "REGISTRY_OCSP_LIVE_CONCURRENCY", 4, 0, 256),
            renewal_window_days=_int(env, "REGISTRY_RENEWAL_WINDOW_DAYS", 60, 1, 3650),
            argon2_time_cost=_int(env, "REGISTRY_ARGON2_TIME_COST", 3, 1, 100),
            argon2_memory_kib=argon2_memory,
            argon2_parallelism=argon2_lanes,
            **_mail_settings(env, base),
        )


class _MailSettings(TypedDict):
    smtp_host: str
    smtp_port: int
    smtp_security: str
    smtp_username: str | None
    smtp_password: str | None
    smtp_timeout: int
    mail_from: str
    notify_timezone: str
    display_timezone: str
    notify_reminder_days: tuple[int, ...]


def _mail_settings(env: dict[str, str], base: str) -> _MailSettings:
    """REGISTRY_SMTP_*, REGISTRY_MAIL_FROM and REGISTRY_NOTIFY_* (the notification job)."""
    from urllib.parse import urlsplit
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    security = (env.get("REGISTRY_SMTP_SECURITY") or "starttls").strip().lower()
    if security not in ("starttls", "tls", "none"):
        raise ConfigError(f"REGISTRY_SMTP_SECURITY must be starttls, tls or none, got {security!r}")
    default_port = {"starttls": 587, "tls": 465, "none": 25}[security]
    zone = (env.get("REGISTRY_NOTIFY_TIMEZONE") or "Asia/Shanghai").strip()
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"REGISTRY_NOTIFY_TIMEZONE: unknown time zone {zone!r} (an IANA name such as "
            "Asia/Shanghai; install the tzdata package if the system has no zone files)"
        ) from None
    display = (env.get("REGISTRY_DISPLAY_TIMEZONE") or "Asia/Shanghai").strip()
    try:
        ZoneInfo(display)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"REGISTRY_DISPLAY_TIMEZONE: unknown time zone {display!r} (an IANA name such as Asia/Shanghai)"
        ) from None
    raw_days = env.get("REGISTRY_NOTIFY_REMINDER_DAYS") or "30,7,1"
    try:
        days = tuple(sorted({int(d) for d in raw_days.split(",") if d.strip()}, reverse=True))
    except ValueError:
        raise ConfigError(
            f"REGISTRY_NOTIFY_REMINDER_DAYS must be whole numbers separated by commas, got {raw_days!r}"
        ) from None
    if not days or not all(1 <= d <= 365 for d in days):
        raise ConfigError(f"REGISTRY_NOTIFY_REMINDER_DAYS must name 1 to 365 days, got {raw_days!r}")
    return {
        "smtp_host": (env.get("REGISTRY_SMTP_HOST") or "").strip(),
        "smtp_port": _int(env, "REGISTRY_SMTP_PORT", default_port, 1, 65535),
        "smtp_security": security,
        "smtp_username": env.get("REGISTRY_SMTP_USERNAME") or None,
        "smtp_password": env.get("REGISTRY_SMTP_PASSWORD") or None,
        "smtp_timeout": _int(env, "REGISTRY_SMTP_TIMEOUT", 30, 1, 600),
        "mail_from": (env.get("REGISTRY_MAIL_FROM") or "").strip()
        or f"noreply@{urlsplit(base).hostname or 'localhost'}",
        "notify_timezone": zone,
        "display_timezone": display,
        "notify_reminder_days": days,
    }
