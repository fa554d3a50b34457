"""Settings: sensible defaults with nothing set, and a clear message naming a wrong setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigurationError
from core.settings import load_settings


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
