"""`python -m core run --api URL --token T` against a running app (`streamlit run app.py` with
its own worker): the CLI is a pure client of the REST API, uploading through presigned URLs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import tokens, users
from core.api_client import ApiClient, run_via_api
from core.errors import DQError
from core.services import build_services
from core.settings import PROJECT_ROOT
from storage.s3 import S3ObjectStore
from tests.app_server import streamlit_app
from tests.conftest import make_settings
from tests.docs_pages import check_docs_page
from tests.storage_servers import moto_s3

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

CSV = "id,email,amount\n1,ann@example.com,10\n2,not-an-email,12\n3,cy@example.com,\n"


@pytest.fixture(scope="module")
def running_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(base URL, token) of a running app with one user holding a token."""
    data = tmp_path_factory.mktemp("cli-api") / "data"
    services = build_services(make_settings(data, f"sqlite:///{data / 'app.db'}"))
    user = users.create_user(services.factory, "scripted", password_hash="$2b$12$" + "x" * 53, credits=500)
    token, _ = tokens.create_token(services.factory, user.id, "cli test")
    with streamlit_app(data) as (base, _env):
        yield base, token


@pytest.fixture(scope="module")
def running_s3_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, dict[str, str]]]:
    """(base URL, token, settings) of a running app whose storage is an S3 bucket (moto for B2)."""
    with moto_s3() as endpoint:
        data = tmp_path_factory.mktemp("cli-api-s3") / "data"
        extra = {
            "STORAGE_BACKEND": "s3",
            "S3_ENDPOINT_URL": endpoint,
            "S3_REGION": "us-east-1",
            "S3_BUCKET": f"dq-{uuid.uuid4().hex[:10]}",
            "S3_ACCESS_KEY_ID": "testing",
            "S3_SECRET_ACCESS_KEY": "testing-secret",
            "COOKIE_KEY": "test-cookie-key",
        }
        services = build_services(make_settings(data, f"sqlite:///{data / 'app.db'}", **extra))
        services.store.client.create_bucket(Bucket=extra["S3_BUCKET"])  # type: ignore[attr-defined]
        user = users.create_user(
            services.factory, "scripted", password_hash="$2b$12$" + "x" * 53, credits=500
        )
        token, _ = tokens.create_token(services.factory, user.id, "cli test")
        with streamlit_app(data, extra_env=extra) as (base, _env):
            yield base, token, extra


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a fresh process with a data folder of its own: nothing is shared but HTTP."""
    env = {**os.environ, "DATA_DIR": str(tmp_path / "client-data"), "PYTHONPATH": str(PROJECT_ROOT)}
    env.pop("DATABASE_URL", None)
    env.pop("DQ_API_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", "core", "run", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=180,
    )


def test_run_through_the_api_uploads_processes_and_downloads(running_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base, token = running_app
    check_api_run(base, token, tmp_path)
    assert not (tmp_path / "client-data" / "app.db").exists()  # the client never opened a database


def check_api_run(base: str, token: str, tmp_path: Path) -> None:
    """`run --api` with a token: the file goes to its presigned URL, the app's workers process
    the task, the downloads come back (used on the production path too)."""
    source = tmp_path / "contacts.csv"
    source.write_text(CSV)
    out = tmp_path / "out"
    done = run_cli(
        tmp_path, "--api", base, "--token", token, "--tool", "profile-my-data",
        "--file", f"primary={source}", "--agents", "types,patterns", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    task = json.loads(done.stdout)
    assert task["status"] == "completed" and task["agents_completed"] == ["types", "patterns"]
    assert "uploaded contacts.csv" in done.stderr and "completed" in done.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["task_id"] == task["task_id"]
    assert "INVALID_EMAIL" in {a["code"] for a in report["alerts"]}
    assert (out / "report.xlsx").stat().st_size > 0


def test_api_errors_keep_their_code_and_exit_2(running_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base, token = running_app
    source = tmp_path / "a.csv"
    source.write_text(CSV)
    common = ["--file", f"primary={source}", "--out", str(tmp_path / "out")]
    forged = run_cli(tmp_path, "--api", base, "--token", "dq_forged", "--tool", "profile-my-data", *common)
    assert forged.returncode == 2 and "error INVALID_TOKEN:" in forged.stderr
    client = ApiClient(base + "/api/v1/", token)  # the prefix may be given or left out
    with pytest.raises(DQError) as caught:
        run_via_api(client, "nope", {"primary": source}, None, {}, tmp_path / "out")
    assert caught.value.code == "UNKNOWN_TOOL" and "Known tools" in caught.value.message
    with pytest.raises(DQError) as caught:
        ApiClient(base, "")
    assert caught.value.code == "AUTH_REQUIRED"
    with pytest.raises(DQError) as caught:
        ApiClient(base + "/_stcore", token).call("GET", "/tools")  # something that is not the API
    assert caught.value.code == "API_UNREACHABLE"


def test_the_app_serves_the_api_and_its_docs(running_app) -> None:  # type: ignore[no-untyped-def]
    import requests

    base, token = running_app
    for page in ("docs", "redoc"):  # inside st.App too, every asset comes from the app, none from a CDN
        assert "/api/v1/openapi.json" in check_docs_page(f"{base}/api/v1/{page}")
    assert (
        "/tasks/{task_id}/upload-urls"
        in requests.get(f"{base}/api/v1/openapi.json", timeout=10).json()["paths"]
    )
    tools = requests.get(f"{base}/api/v1/tools", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert tools.status_code == 200 and tools.json()["tools"]
    anonymous = requests.get(f"{base}/api/v1/tasks", timeout=10)
    assert anonymous.status_code == 401 and anonymous.json()["error_code"] == "AUTH_REQUIRED"
    assert requests.get(f"{base}/_stcore/health", timeout=10).status_code == 200  # the UI is still served


def test_run_through_the_api_with_s3_storage(running_s3_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The production path: the CLI PUTs straight to the bucket through presigned S3 URLs."""
    base, token, extra = running_s3_app
    source = tmp_path / "contacts.csv"
    source.write_text(CSV)
    done = run_cli(
        tmp_path, "--api", base, "--token", token, "--tool", "profile-my-data",
        "--file", f"primary={source}", "--agents", "types", "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    task = json.loads(done.stdout)
    assert task["status"] == "completed"
    assert task["input_keys"]["primary"].endswith("/inputs/contacts.csv")
    assert json.loads((tmp_path / "out" / "report.json").read_text())["task_id"] == task["task_id"]
    bucket = S3ObjectStore(
        extra["S3_BUCKET"],
        endpoint_url=extra["S3_ENDPOINT_URL"],
        region="us-east-1",
        access_key_id="testing",
        secret_access_key="testing-secret",
    )
    with bucket.open_read(task["input_keys"]["primary"]) as fh:
        assert fh.read() == CSV.encode()  # the bytes went to the bucket, not through the app
