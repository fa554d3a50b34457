"""Every setting of the product, read once from the environment (or `.streamlit/secrets.toml`).

One home for configuration: each module asks `get_settings()` instead of reading the
environment itself, and a wrong value fails at start-up with a message naming the setting.
"""

from __future__ import annotations

import os
import re
import secrets
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from core.errors import ConfigurationError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SECRETS_TOML = PROJECT_ROOT / ".streamlit" / "secrets.toml"

STORAGE_BACKENDS = ("local", "s3")
REGISTRATION_POLICIES = ("open", "approval", "closed")
EXECUTORS = ("process", "rq")
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


@dataclass(frozen=True)
class Settings:
    """Validated settings; see the README's settings table for what each one means."""

    data_dir: Path
    database_url: str
    storage_backend: str = "local"
    public_base_url: str = "http://localhost:8501"
    max_upload_bytes: int = 2 * 1024**3
    upload_url_expiry_seconds: int = 3600
    download_url_expiry_seconds: int = 3600
    executor: str = "process"
    redis_url: str | None = None
    rq_queue: str = "dq-tasks"
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_bucket: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    heartbeat_seconds: float = 5.0
    stale_after_seconds: float = 60.0
    signing_secret: str = field(default="", repr=False)
    cookie_key: str = field(default="", repr=False)
    registration: str = "approval"
    signup_credits: int = 100
    login_max_attempts: int = 5
    lockout_minutes: int = 15

    @property
    def objects_dir(self) -> Path:
        return self.data_dir / "objects"

    @property
    def is_embedded_database(self) -> bool:
        return self.database_url.startswith("sqlite")


def _read_secrets_toml() -> dict[str, object]:
    if not SECRETS_TOML.exists():
        return {}
    with SECRETS_TOML.open("rb") as fh:
        return {k.upper(): v for k, v in tomllib.load(fh).items() if not isinstance(v, dict)}


def _int(name: str, raw: str | None, default: int, minimum: int = 1) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(str(raw).replace("_", ""))
    except ValueError:
        raise ConfigurationError(f"Setting {name} must be a whole number, got {raw!r}.") from None
    if value < minimum:
        raise ConfigurationError(f"Setting {name} must be at least {minimum}, got {value}.")
    return value


def _choice(name: str, raw: str | None, default: str, allowed: tuple[str, ...]) -> str:
    value = (raw or default).strip().lower()
    if value not in allowed:
        raise ConfigurationError(f"Setting {name} must be one of {', '.join(allowed)}; got {raw!r}.")
    return value


def _generated_secret(data_dir: Path, configured: str | None, name: str) -> str:
    """Use the configured secret, or generate one once and keep it under the data folder."""
    if configured:
        return configured
    path = data_dir / "secrets" / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(value)
    os.chmod(tmp, 0o600)
    try:
        os.link(tmp, path)  # atomic: two processes starting at once agree on one key
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text().strip()


def _queue_settings(executor: str, redis_url: str | None, queue: str | None) -> tuple[str | None, str]:
    """REDIS_URL and RQ_QUEUE, checked against EXECUTOR: RQ workers cannot be reached without them."""
    redis_url = (redis_url or "").strip() or None
    if executor == "rq" and redis_url is None:
        raise ConfigurationError(
            "Setting REDIS_URL is required when EXECUTOR=rq, e.g. redis://127.0.0.1:6379/0."
        )
    if redis_url is not None and not redis_url.startswith(REDIS_SCHEMES):
        raise ConfigurationError(
            f"Setting REDIS_URL must start with {', '.join(REDIS_SCHEMES)}; "
            f"got {redis_url.split(':', 1)[0]!r}."
        )
    queue = (queue or "").strip() or "dq-tasks"
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,100}", queue):
        raise ConfigurationError(
            f"Setting RQ_QUEUE may hold only letters, digits and _ . : - (at most 100); got {queue!r}."
        )
    return redis_url, queue


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Build settings from the environment, falling back to `.streamlit/secrets.toml`."""
    source: dict[str, object] = {**_read_secrets_toml(), **(os.environ if env is None else env)}

    def get(name: str) -> str | None:
        value = source.get(name)
        return None if value is None else str(value)

    data_dir = Path(get("DATA_DIR") or "data")
    if not data_dir.is_absolute():
        data_dir = (Path.cwd() / data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)

    database_url = get("DATABASE_URL") or f"sqlite:///{data_dir / 'app.db'}"
    if not database_url.startswith(("sqlite", "mysql", "mariadb")):
        raise ConfigurationError(
            "Setting DATABASE_URL must start with sqlite:// or mysql+pymysql://; "
            f"got {database_url.split(':', 1)[0]!r}."
        )

    backend = _choice("STORAGE_BACKEND", get("STORAGE_BACKEND"), "local", STORAGE_BACKENDS)
    s3_bucket = get("S3_BUCKET")
    s3_key = get("S3_ACCESS_KEY_ID") or get("AWS_ACCESS_KEY_ID")
    s3_secret = get("S3_SECRET_ACCESS_KEY") or get("AWS_SECRET_ACCESS_KEY")
    if backend == "s3":
        for name, value in (
            ("S3_BUCKET", s3_bucket),
            ("S3_ACCESS_KEY_ID", s3_key),
            ("S3_SECRET_ACCESS_KEY", s3_secret),
        ):
            if not value:
                raise ConfigurationError(f"Setting {name} is required when STORAGE_BACKEND=s3.")

    embedded = database_url.startswith("sqlite") and backend == "local"
    cookie_key = (get("COOKIE_KEY") or "").strip() or None  # blank counts as not set
    if not embedded and not cookie_key:
        raise ConfigurationError(
            "Setting COOKIE_KEY is required outside the embedded default (a shared database or S3 "
            "storage): every app instance must sign sign-in cookies with the same key."
        )
    max_mb = _int("MAX_UPLOAD_MB", get("MAX_UPLOAD_MB"), 2048)
    executor = _choice("EXECUTOR", get("EXECUTOR"), "process", EXECUTORS)
    redis_url, rq_queue = _queue_settings(executor, get("REDIS_URL"), get("RQ_QUEUE"))
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        storage_backend=backend,
        public_base_url=(get("PUBLIC_BASE_URL") or "http://localhost:8501").rstrip("/"),
        max_upload_bytes=max_mb * 1024 * 1024,
        upload_url_expiry_seconds=_int("UPLOAD_URL_EXPIRY_SECONDS", get("UPLOAD_URL_EXPIRY_SECONDS"), 3600),
        download_url_expiry_seconds=_int(
            "DOWNLOAD_URL_EXPIRY_SECONDS", get("DOWNLOAD_URL_EXPIRY_SECONDS"), 3600
        ),
        executor=executor,
        redis_url=redis_url,
        rq_queue=rq_queue,
        s3_endpoint_url=get("S3_ENDPOINT_URL") or get("AWS_ENDPOINT_URL"),
        s3_region=get("S3_REGION") or get("AWS_REGION") or get("AWS_DEFAULT_REGION"),
        s3_bucket=s3_bucket,
        s3_access_key_id=s3_key,
        s3_secret_access_key=s3_secret,
        heartbeat_seconds=float(_int("HEARTBEAT_SECONDS", get("HEARTBEAT_SECONDS"), 5)),
        stale_after_seconds=float(_int("STALE_AFTER_SECONDS", get("STALE_AFTER_SECONDS"), 60)),
        signing_secret=_generated_secret(data_dir, get("SIGNING_SECRET"), "signing_key"),
        cookie_key=_generated_secret(data_dir, cookie_key, "cookie_key"),
        registration=_choice("REGISTRATION", get("REGISTRATION"), "approval", REGISTRATION_POLICIES),
        signup_credits=_int("SIGNUP_CREDITS", get("SIGNUP_CREDITS"), 100, minimum=0),
        login_max_attempts=_int("LOGIN_MAX_ATTEMPTS", get("LOGIN_MAX_ATTEMPTS"), 5),
        lockout_minutes=_int("LOCKOUT_MINUTES", get("LOCKOUT_MINUTES"), 15),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, loaded on first use."""
    return load_settings()
