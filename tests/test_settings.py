"""Settings: sensible defaults with nothing set, and a clear message naming a wrong setting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import ConfigurationError
from core.settings import PROJECT_ROOT, load_settings


def test_embedded_defaults_need_no_settings(tmp_path: Path) -> None:
    settings = load_settings({"DATA_DIR": str(tmp_path / "d")})
    assert settings.database_url == f"sqlite:///{tmp_path / 'd' / 'app.db'}"
    assert settings.storage_backend == "local" and settings.objects_dir == tmp_path / "d" / "objects"
    assert len(settings.signing_secret) >= 32
    again = load_settings({"DATA_DIR": str(tmp_path / "d")})
    assert again.signing_secret == settings.signing_secret  # generated once, then kept
    assert (tmp_path / "d" / "secrets" / "signing_key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MAX_UPLOAD_MB": "lots"}, "MAX_UPLOAD_MB"),
        ({"MAX_UPLOAD_MB": "0"}, "MAX_UPLOAD_MB"),
        ({"STORAGE_BACKEND": "floppy"}, "STORAGE_BACKEND"),
        ({"STORAGE_BACKEND": "s3"}, "S3_BUCKET"),
        ({"STORAGE_BACKEND": "s3", "S3_BUCKET": "b"}, "S3_ACCESS_KEY_ID"),
        ({"DATABASE_URL": "postgresql://x/y"}, "DATABASE_URL"),
        ({"EXECUTOR": "carrier-pigeon"}, "EXECUTOR"),
    ],
)
def test_wrong_settings_are_named(tmp_path: Path, env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings({"DATA_DIR": str(tmp_path), **env})
    assert named in info.value.message


def test_s3_settings_accept_aws_names(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "DATA_DIR": str(tmp_path),
            "STORAGE_BACKEND": "s3",
            "S3_BUCKET": "bucket",
            "AWS_ACCESS_KEY_ID": "id",
            "AWS_SECRET_ACCESS_KEY": "secret",
            "AWS_ENDPOINT_URL": "https://s3.us-west-004.backblazeb2.com",
            "COOKIE_KEY": "k",
        }
    )
    assert settings.s3_access_key_id == "id" and settings.s3_endpoint_url.endswith("backblazeb2.com")


def test_a_shared_deployment_needs_a_cookie_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings({"DATA_DIR": str(tmp_path), "DATABASE_URL": "mysql+pymysql://root@db/x"})
    assert "COOKIE_KEY" in info.value.message
    embedded = load_settings({"DATA_DIR": str(tmp_path)})
    assert len(embedded.cookie_key) >= 32 and embedded.cookie_key != embedded.signing_secret
    assert embedded.registration == "approval"


@pytest.mark.parametrize(
    "shared",
    [
        pytest.param({"DATABASE_URL": "mysql+pymysql://root@db/x"}, id="shared-database"),
        pytest.param(
            {"STORAGE_BACKEND": "s3", "S3_BUCKET": "b", "S3_ACCESS_KEY_ID": "i", "S3_SECRET_ACCESS_KEY": "s"},
            id="s3-storage",
        ),
    ],
)
@pytest.mark.parametrize("cookie_key", [None, "", "   "], ids=["unset", "empty", "blank"])
def test_every_shared_deployment_refuses_a_missing_or_blank_cookie_key(
    tmp_path: Path, shared: dict[str, str], cookie_key: str | None
) -> None:
    env = {"DATA_DIR": str(tmp_path), **shared}
    if cookie_key is not None:
        env["COOKIE_KEY"] = cookie_key
    with pytest.raises(ConfigurationError) as info:
        load_settings(env)
    assert "COOKIE_KEY" in info.value.message
    assert load_settings({**env, "COOKIE_KEY": "a-key-every-instance-shares"}).cookie_key == (
        "a-key-every-instance-shares"
    )


def test_the_embedded_cookie_key_is_kept_per_installation(tmp_path: Path) -> None:
    """Sign-in cookies survive a restart, and never open another installation."""
    first = load_settings({"DATA_DIR": str(tmp_path / "one")}).cookie_key
    assert load_settings({"DATA_DIR": str(tmp_path / "one")}).cookie_key == first
    assert load_settings({"DATA_DIR": str(tmp_path / "two")}).cookie_key != first
    assert (tmp_path / "one" / "secrets" / "cookie_key").stat().st_mode & 0o077 == 0
    assert load_settings({"DATA_DIR": str(tmp_path / "one"), "COOKIE_KEY": " "}).cookie_key == first


def test_the_app_will_not_start_on_shared_storage_without_a_cookie_key(tmp_path: Path) -> None:
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "STORAGE_BACKEND": "s3", "S3_BUCKET": "b"}
    env.update(S3_ACCESS_KEY_ID="i", S3_SECRET_ACCESS_KEY="s", START_WORKER="0")
    for name in ("DATABASE_URL", "COOKIE_KEY"):
        env.pop(name, None)
    started = subprocess.run(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true"],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert started.returncode == 2
    assert "The app cannot start: Setting COOKIE_KEY is required" in started.stderr
