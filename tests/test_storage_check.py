"""`python -m core storage check` and `storage cors` as a user runs them (separate processes)
against moto's S3 server standing in for B2, plus the rule helpers, the B2-safe PutBucketCors
request, and an opt-in run against a real B2 bucket."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shlex
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import ConfigurationError
from core.settings import PROJECT_ROOT
from core.storage_check import check_storage, set_cors
from storage.s3 import S3ObjectStore, b2_cors_command, cors_allows, put_cors_rules, upload_cors_rules
from tests.conftest import make_settings
from tests.storage_servers import moto_s3

pytestmark = pytest.mark.timeout(120)

ORIGIN = "https://dq.example.com"
KEYS = {"S3_ACCESS_KEY_ID": "testing", "S3_SECRET_ACCESS_KEY": "testing-secret"}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_s3() as url:
        yield url


@pytest.fixture
def bucket(endpoint: str) -> S3ObjectStore:
    store = S3ObjectStore(
        f"dq-check-{uuid.uuid4().hex[:10]}",
        endpoint_url=endpoint,
        region="us-east-1",
        access_key_id=KEYS["S3_ACCESS_KEY_ID"],
        secret_access_key=KEYS["S3_SECRET_ACCESS_KEY"],
    )
    store.client.create_bucket(Bucket=store.bucket)
    return store


def s3_env(tmp_path: Path, endpoint: str, bucket_name: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("S3_", "AWS_", "DATABASE_URL"))},
        "DATA_DIR": str(tmp_path / "data"),
        "STORAGE_BACKEND": "s3",
        "S3_ENDPOINT_URL": endpoint,
        "S3_REGION": "us-east-1",
        "S3_BUCKET": bucket_name,
        "COOKIE_KEY": "test-cookie-key",
        "PUBLIC_BASE_URL": ORIGIN,
        "PYTHONPATH": str(PROJECT_ROOT),
        **KEYS,
    }


def storage_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "core", "storage", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=90,
    )


def test_check_then_cors_then_check(tmp_path: Path, endpoint: str, bucket: S3ObjectStore) -> None:
    env = s3_env(tmp_path, endpoint, bucket.bucket)
    first = storage_cli(env, "check")
    assert first.returncode == 1, first.stderr
    report = json.loads(first.stdout)
    steps = {s["name"]: s for s in report["steps"]}
    assert list(steps) == [
        "reach the bucket",
        "write",
        "read",
        "presigned PUT over HTTP",
        "presigned GET over HTTP",
        "list",
        "delete",
        "CORS rules",
    ]
    assert all(s["ok"] for name, s in steps.items() if name != "CORS rules"), report
    assert not steps["CORS rules"]["ok"] and "CORS_MISSING" in steps["CORS rules"]["detail"]
    assert f"storage cors --origin {ORIGIN}" in steps["CORS rules"]["detail"]
    assert "FAIL CORS rules" in first.stderr and "ok   presigned PUT over HTTP" in first.stderr
    assert list(bucket.list("")) == []  # no probe object is left behind

    other_rule = {
        "ID": "someone-elses",
        "AllowedOrigins": ["https://other.example"],
        "AllowedMethods": ["GET"],
    }
    put_cors_rules(bucket, [other_rule])
    cors = storage_cli(env, "cors", "--origin", ORIGIN + "/")
    assert cors.returncode == 0, cors.stderr
    rules = json.loads(cors.stdout)
    assert {r.get("ID") for r in rules} == {"someone-elses", "dq-browser-uploads"}  # theirs is kept
    assert cors_allows(rules, ORIGIN, "PUT") and cors_allows(rules, ORIGIN, "GET")

    second = storage_cli(env, "check")
    assert second.returncode == 0, second.stdout + second.stderr
    report = json.loads(second.stdout)
    assert report["ok"] is True and len(report["cors_rules"]) == 2


def test_check_names_a_missing_bucket(tmp_path: Path, endpoint: str) -> None:
    env = s3_env(tmp_path, endpoint, "no-such-bucket-anywhere")
    settings = make_settings(tmp_path / "data", f"sqlite:///{tmp_path / 'x.db'}", **env)
    report = check_storage(settings)
    assert [s.name for s in report.steps] == ["reach the bucket"] and not report.ok
    assert report.steps[0].detail.startswith("BUCKET_NOT_FOUND") and "S3_BUCKET" in report.steps[0].detail


def test_cors_prints_the_b2_command_when_the_s3_call_is_refused(tmp_path: Path, endpoint: str) -> None:
    done = storage_cli(s3_env(tmp_path, endpoint, "no-such-bucket-anywhere"), "cors", "--origin", ORIGIN)
    assert done.returncode == 1
    assert "refused" in done.stderr
    words = shlex.split(done.stdout.strip())
    assert words[:4] == ["b2", "bucket", "update", "--cors-rules"] and words[-1] == "no-such-bucket-anywhere"
    rule = json.loads(words[4])[0]
    assert rule["allowedOrigins"] == [ORIGIN]
    assert {"s3_put", "s3_get"} <= set(rule["allowedOperations"])


def test_storage_commands_need_the_s3_backend(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", f"sqlite:///{tmp_path / 'x.db'}", STORAGE_BACKEND="local")
    for command in (lambda: check_storage(settings), lambda: set_cors(settings, [ORIGIN])):
        with pytest.raises(ConfigurationError) as caught:
            command()
        assert "STORAGE_BACKEND=s3" in caught.value.message


def test_put_bucket_cors_sends_content_md5_and_no_crc32(bucket: S3ObjectStore) -> None:
    """B2 rejects the CRC32 headers boto3 puts on PutBucketCors; Content-MD5 is what it accepts."""
    seen: list[tuple[dict[str, str], bytes]] = []

    def record(request: object, **_: object) -> None:
        headers = {k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}  # type: ignore[attr-defined]
        seen.append((headers, request.body))  # type: ignore[attr-defined]

    bucket.client.meta.events.register("before-send.s3.PutBucketCors", record)
    put_cors_rules(bucket, upload_cors_rules([ORIGIN]))
    ((headers, body),) = seen
    assert not [h for h in headers if h.startswith("x-amz-checksum-") or h == "x-amz-sdk-checksum-algorithm"]
    assert (
        headers["content-md5"] == base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
    )


@pytest.mark.parametrize(
    ("origins", "origin", "method", "allowed"),
    [
        ([ORIGIN], ORIGIN, "PUT", True),
        ([ORIGIN], ORIGIN, "DELETE", False),
        ([ORIGIN], "https://evil.example", "PUT", False),
        (["https://*.example.com"], ORIGIN, "GET", True),
        (["*"], "http://localhost:8501", "PUT", True),
    ],
)
def test_cors_allows(origins: list[str], origin: str, method: str, allowed: bool) -> None:
    assert cors_allows(upload_cors_rules(origins), origin, method) is allowed


def test_b2_command_is_one_shell_safe_line() -> None:
    command = b2_cors_command("my bucket", ["https://a.example", "https://b.example"])
    words = shlex.split(command)
    assert words[-1] == "my bucket" and len(words) == 6
    assert json.loads(words[4])[0]["allowedOrigins"] == ["https://a.example", "https://b.example"]


B2_SETTINGS = ("B2_ENDPOINT_URL", "B2_BUCKET", "B2_APPLICATION_KEY_ID", "B2_APPLICATION_KEY")


@pytest.mark.skipif(
    not all(os.environ.get(name) for name in B2_SETTINGS),
    reason="set " + ", ".join(B2_SETTINGS) + " to check a real B2 bucket",
)
def test_storage_check_against_a_real_b2_bucket(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path / "data",
        f"sqlite:///{tmp_path / 'b2.db'}",
        STORAGE_BACKEND="s3",
        S3_ENDPOINT_URL=os.environ["B2_ENDPOINT_URL"],
        S3_BUCKET=os.environ["B2_BUCKET"],
        S3_ACCESS_KEY_ID=os.environ["B2_APPLICATION_KEY_ID"],
        S3_SECRET_ACCESS_KEY=os.environ["B2_APPLICATION_KEY"],
    )
    report = check_storage(settings, ORIGIN)
    failed = [s for s in report.steps if not s.ok and s.name != "CORS rules"]
    assert not failed, failed  # CORS depends on how the bucket was set up; everything else must work
