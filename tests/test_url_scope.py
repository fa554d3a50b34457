"""The links the task service hands out: each names one object of the caller's own task, allows one
method, and expires after the configured time, on the local store and on S3.

The local store's own checks (a tampered, re-targeted, foreign or expired URL writes nothing) are
in test_storage_local; here the URLs come from the service, as the browser and the API get them.
On S3 the bucket checks the signature; moto does not, so these tests check what the URL asks the
bucket to allow: one key, the method, the signed headers and the expiry.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import pytest

from core import users
from core.errors import StorageError
from core.services import Services, build_services
from storage.keys import task_prefix
from storage.local import LocalObjectStore
from tests.conftest import make_settings
from tests.storage_servers import moto_s3

CSV = b"id,name\n1,Ann\n2,Bob\n"
UPLOAD_SECONDS, DOWNLOAD_SECONDS = 900, 600
EXPIRIES = {
    "UPLOAD_URL_EXPIRY_SECONDS": str(UPLOAD_SECONDS),
    "DOWNLOAD_URL_EXPIRY_SECONDS": str(DOWNLOAD_SECONDS),
}
PASSWORD_HASH = users.hash_password("password123")  # once: bcrypt is slow on purpose


def completed_task(services: Services, username: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    user = users.create_user(services.factory, username, password_hash=PASSWORD_HASH, credits=100)
    task = services.tasks.create_task(
        user.id,
        "profile-my-data",
        ["types"],
        None,
        {"primary": {"filename": "people.csv", "size_bytes": len(CSV)}},
    )
    url = services.tasks.issue_upload_urls(user.id, task["task_id"])["primary"]
    services.store.write(url["key"], CSV, url["headers"]["Content-Type"])
    services.tasks.start_processing(user.id, task["task_id"])
    assert services.worker("scope").run_once() == task["task_id"]
    return user.id, services.tasks.get_task(user.id, task["task_id"])


def query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


# ---- the local store ------------------------------------------------------------------------
@pytest.fixture
def local(tmp_path: Path) -> Services:
    return build_services(make_settings(tmp_path / "data", f"sqlite:///{tmp_path / 'app.db'}", **EXPIRIES))


def shifted(services: Services, seconds: float) -> LocalObjectStore:
    """The same store with a clock `seconds` ahead: what the server will think later."""
    store = services.store
    assert isinstance(store, LocalObjectStore)
    return LocalObjectStore(
        store.root,
        services.settings.signing_secret,
        store.base_url,
        store.max_upload_bytes,
        clock=lambda: time.time() + seconds,
    )


def local_key(url: str) -> str:
    return unquote(urlsplit(url).path.removeprefix("/storage/objects/"))


def test_local_links_from_the_service_open_one_object_for_one_method_until_they_expire(
    local: Services,
) -> None:
    store = local.store
    assert isinstance(store, LocalObjectStore)
    ann_id, ann_task = completed_task(local, "ann")
    bob_id, bob_task = completed_task(local, "bob")
    upload = local.tasks.issue_upload_urls(
        bob_id,
        local.tasks.create_task(
            bob_id, "profile-my-data", ["types"], None, {"primary": {"filename": "more.csv", "size_bytes": 3}}
        )["task_id"],
    )["primary"]
    downloads = local.tasks.get_downloads(ann_id, ann_task["task_id"])
    assert {d["filename"] for d in downloads} >= {"report.json"}

    links = [("PUT", upload["url"], UPLOAD_SECONDS)] + [
        ("GET", d["url"], DOWNLOAD_SECONDS) for d in downloads
    ]
    elsewhere = [
        *bob_task["input_keys"].values(),
        *bob_task["output_keys"].values(),
        *ann_task["input_keys"].values(),
        task_prefix(ann_id, ann_task["task_id"]) + "outputs/extra.csv",
    ]
    for method, url, lifetime in links:
        key, signed = local_key(url), query(url)
        store.verify_signature(method, key, signed)  # valid for its own object and method
        other_method = "GET" if method == "PUT" else "PUT"
        for attempt, target in [(other_method, key)] + [(method, k) for k in elsewhere if k != key]:
            with pytest.raises(StorageError) as info:
                store.verify_signature(attempt, target, signed)
            assert info.value.code == "SIGNATURE_INVALID", (method, key, attempt, target)
        shifted(local, lifetime - 5).verify_signature(method, key, signed)  # still valid just before
        with pytest.raises(StorageError) as info:
            shifted(local, lifetime + 5).verify_signature(method, key, signed)
        assert info.value.code == "URL_EXPIRED"


# ---- S3 (moto standing in for B2) -----------------------------------------------------------
@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_s3() as endpoint:
        yield endpoint


@pytest.fixture
def on_s3(tmp_path: Path, s3_endpoint: str) -> Services:
    bucket = f"dq-{uuid.uuid4().hex[:12]}"
    settings = make_settings(
        tmp_path / "data",
        f"sqlite:///{tmp_path / 'app.db'}",
        STORAGE_BACKEND="s3",
        S3_ENDPOINT_URL=s3_endpoint,
        S3_REGION="us-east-1",
        S3_BUCKET=bucket,
        S3_ACCESS_KEY_ID="testing",
        S3_SECRET_ACCESS_KEY="testing-secret",
        **EXPIRIES,
    )
    services = build_services(settings)
    services.store.client.create_bucket(Bucket=bucket)  # type: ignore[attr-defined]
    return services


def test_s3_links_from_the_service_name_one_object_and_expire_as_set(on_s3: Services) -> None:
    bucket = on_s3.settings.s3_bucket
    ann_id, task = completed_task(on_s3, "ann")
    fresh = on_s3.tasks.create_task(
        ann_id,
        "profile-my-data",
        ["types"],
        None,
        {"primary": {"filename": "../../x/more.csv", "size_bytes": 3}},
    )
    upload = on_s3.tasks.issue_upload_urls(ann_id, fresh["task_id"])["primary"]
    downloads = on_s3.tasks.get_downloads(ann_id, task["task_id"])
    links = [("PUT", upload["url"], upload["key"], UPLOAD_SECONDS)]
    links += [("GET", d["url"], task["output_keys"][d["filename"]], DOWNLOAD_SECONDS) for d in downloads]
    assert upload["key"].startswith(task_prefix(ann_id, fresh["task_id"]) + "inputs/")
    for method, url, key, lifetime in links:
        parts, signed = urlsplit(url), query(url)
        assert parts.path == f"/{bucket}/{quote(key, safe='/~')}", (parts.path, key)  # this object only
        assert signed["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256" and signed["X-Amz-Signature"]
        assert int(signed["X-Amz-Expires"]) == lifetime
        headers = signed["X-Amz-SignedHeaders"].split(";")
        assert headers == (["content-type", "host"] if method == "PUT" else ["host"])
        assert "prefix" not in {name.lower() for name in signed}  # no listing, no folder-wide grant
