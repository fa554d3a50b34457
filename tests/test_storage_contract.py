"""One contract, two stores: every `ObjectStore` operation against the local store (served by a
real uvicorn) and the S3 store (against moto's S3 server, standing in for Backblaze B2; and against a
real B2 bucket when B2_ENDPOINT_URL, B2_BUCKET, B2_APPLICATION_KEY_ID and B2_APPLICATION_KEY are set).

Presigned URLs are used with plain `requests`, as a browser would use them. The end of the
module checks what is specific to B2: no checksum headers boto3 >= 1.36 would otherwise send.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import boto3
import pytest
import requests
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from starlette.applications import Starlette

from core.errors import ConfigurationError, StorageError
from core.settings import Settings
from storage.base import ObjectInfo, ObjectStore, PresignedRequest
from storage.factory import build_store
from storage.local import LocalObjectStore
from storage.routes import storage_routes
from storage.s3 import S3ObjectStore, client_config
from tests.storage_servers import listening_socket, moto_s3, serve_asgi, socket_url

pytestmark = pytest.mark.timeout(60)

CREDENTIALS = {"access_key_id": "testing", "secret_access_key": "testing-secret"}
UNICODE_NAME = "Résumé 数据 2024.csv"
BULK_COUNT = 1105  # more than one 1,000-key listing page and one 1,000-key delete batch
HTTP_TIMEOUT = 10


# --------------------------------------------------------------------------- servers and stores


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_s3() as endpoint:
        yield endpoint


def _new_bucket(endpoint: str) -> S3ObjectStore:
    store = S3ObjectStore(
        f"dq-{uuid.uuid4().hex[:12]}", endpoint_url=endpoint, region="us-east-1", **CREDENTIALS
    )
    store.client.create_bucket(Bucket=store.bucket)
    return store


@pytest.fixture(scope="module")
def s3_store(s3_endpoint: str) -> S3ObjectStore:
    return _new_bucket(s3_endpoint)


@pytest.fixture(scope="module")
def local_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalObjectStore]:
    sock = listening_socket()
    store = LocalObjectStore(
        tmp_path_factory.mktemp("objects"), "contract-secret", socket_url(sock), max_upload_bytes=8 * 1024**2
    )
    with serve_asgi(Starlette(routes=storage_routes(store)), sock):
        yield store


B2_SETTINGS = ("B2_ENDPOINT_URL", "B2_BUCKET", "B2_APPLICATION_KEY_ID", "B2_APPLICATION_KEY")


@pytest.fixture(scope="module")
def b2_store() -> S3ObjectStore:
    """A real Backblaze B2 bucket, only when its settings are in the environment (opt-in)."""
    if not all(os.environ.get(name) for name in B2_SETTINGS):
        pytest.skip("set " + ", ".join(B2_SETTINGS) + " to run the contract against a real B2 bucket")
    return S3ObjectStore(
        os.environ["B2_BUCKET"],
        endpoint_url=os.environ["B2_ENDPOINT_URL"],
        access_key_id=os.environ["B2_APPLICATION_KEY_ID"],
        secret_access_key=os.environ["B2_APPLICATION_KEY"],
    )


@pytest.fixture(params=["local", "s3", "b2"])
def store(request: pytest.FixtureRequest) -> ObjectStore:
    return request.getfixturevalue(f"{request.param}_store")


@pytest.fixture
def prefix() -> str:
    """A fresh folder per test: the stores are shared by the module, the objects are not."""
    return f"users/7/tasks/{uuid.uuid4().hex}/"


def _keys(store: ObjectStore, prefix: str) -> list[str]:
    return [info.key for info in store.list(prefix)]


def _disposition_filename(header: str) -> str:
    match = re.search(r"filename\*=UTF-8''([^;\s]+)", header, re.IGNORECASE)
    assert match, header
    return unquote(match.group(1))


# --------------------------------------------------------------------------- presigned URLs


def test_presigned_upload_then_download_round_trip(store: ObjectStore, prefix: str) -> None:
    key = f"{prefix}inputs/{UNICODE_NAME}"
    body = "name,city\nZoë,Zürich\n".encode() * 100

    upload = store.presign_upload(key, "text/csv", expires_in=600)
    assert isinstance(upload, PresignedRequest) and upload.method == "PUT"
    assert upload.headers == {"Content-Type": "text/csv"}
    assert upload.expires_at is not None and upload.expires_at.tzinfo is not None
    assert timedelta(0) < upload.expires_at - datetime.now(UTC) <= timedelta(seconds=601)
    put = requests.put(upload.url, data=body, headers=upload.headers, timeout=HTTP_TIMEOUT)
    assert put.status_code == 200, put.text

    download = store.presign_download(key, UNICODE_NAME)
    assert download.method == "GET"
    got = requests.get(download.url, timeout=HTTP_TIMEOUT)
    assert got.status_code == 200, got.text
    assert got.content == body
    assert got.headers["Content-Type"].startswith("text/csv")
    disposition = got.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert _disposition_filename(disposition) == UNICODE_NAME
    fallback = re.search(r'filename="([^"]*)"', disposition)
    assert fallback and fallback.group(1).isascii() and fallback.group(1).endswith(".csv")


def test_presigned_upload_needs_no_checksum_header(store: ObjectStore, prefix: str) -> None:
    """A browser sends only Content-Type; the URL must not demand anything else (B2 issue)."""
    upload = store.presign_upload(f"{prefix}inputs/a.csv", "text/csv")
    query = {name.lower() for name in parse_qs(urlparse(upload.url).query)}
    assert not {name for name in query if "checksum" in name}
    signed = parse_qs(urlparse(upload.url).query).get("X-Amz-SignedHeaders")
    if signed:  # S3: the browser can send exactly these
        assert signed == ["content-type;host"]
    put = requests.put(upload.url, data=b"a\n1\n", headers={"Content-Type": "text/csv"}, timeout=HTTP_TIMEOUT)
    assert put.status_code == 200, put.text
    assert store.info(f"{prefix}inputs/a.csv").size == 4


# --------------------------------------------------------------------------- reads


def test_exists_and_info(store: ObjectStore, prefix: str) -> None:
    key = f"{prefix}outputs/report.json"
    assert not store.exists(key)
    before = datetime.now(UTC)
    store.write(key, b'{"ok": true}', "application/json")

    assert store.exists(key)
    info = store.info(key)
    assert isinstance(info, ObjectInfo)
    assert (info.key, info.size, info.content_type) == (key, 12, "application/json")
    assert info.modified.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=2) <= info.modified <= datetime.now(UTC) + timedelta(seconds=2)


def test_open_read_streams_in_chunks(store: ObjectStore, prefix: str) -> None:
    key = f"{prefix}inputs/big.bin"
    data = hashlib.sha256(b"seed").digest() * (3 * 1024 * 1024 // 32)  # 3 MiB
    store.write(key, data)

    chunks = []
    with store.open_read(key) as fh:
        assert fh.readable()
        first = fh.read(64 * 1024)
        assert len(first) == 64 * 1024
        chunks.append(first)
        while chunk := fh.read(256 * 1024):
            chunks.append(chunk)
    assert fh.closed
    assert len(chunks) > 2
    assert b"".join(chunks) == data


def test_write_from_a_file_part_way_through_and_save_to_a_local_file(
    store: ObjectStore, prefix: str, tmp_path: Path
) -> None:
    """A file object is stored from its current position (the kernel-copy path between two
    files on disk must honour it too), and `save_to` gives back exactly the stored bytes."""
    key = f"{prefix}inputs/from-file.bin"
    data = hashlib.sha256(b"file").digest() * (2 * 1024 * 1024 // 32)  # 2 MiB
    source = tmp_path / "source.bin"
    source.write_bytes(b"HEADER" + data)
    with source.open("rb") as fh:
        assert fh.read(6) == b"HEADER"
        store.write(key, fh)
    saved = tmp_path / "saved.bin"
    store.save_to(key, saved)
    assert saved.read_bytes() == data
    with pytest.raises(StorageError) as caught:
        store.save_to(f"{prefix}inputs/missing.bin", tmp_path / "nothing.bin")
    assert caught.value.code == "OBJECT_NOT_FOUND"


def test_missing_object_errors(store: ObjectStore, prefix: str) -> None:
    key = f"{prefix}inputs/missing.csv"
    assert store.exists(key) is False
    for operation in (store.info, store.open_read):
        with pytest.raises(StorageError) as caught:
            operation(key)
        assert caught.value.code == "OBJECT_NOT_FOUND"
        assert "missing.csv" in caught.value.message


# --------------------------------------------------------------------------- writes


def test_write_bytes_and_file_objects(store: ObjectStore, prefix: str, tmp_path: Path) -> None:
    store.write(f"{prefix}a.txt", b"from bytes", "text/plain")
    store.write(f"{prefix}b.bin", io.BytesIO(b"from a stream"))
    on_disk = tmp_path / "upload.csv"
    on_disk.write_bytes(b"x;y\n" * 5000)
    with on_disk.open("rb") as fh:
        store.write(f"{prefix}c.csv", fh, "text/csv")

    with store.open_read(f"{prefix}a.txt") as fh:
        assert fh.read() == b"from bytes"
    with store.open_read(f"{prefix}b.bin") as fh:
        assert fh.read() == b"from a stream"
    with store.open_read(f"{prefix}c.csv") as fh:
        assert fh.read() == on_disk.read_bytes()
    assert store.info(f"{prefix}b.bin").content_type == "application/octet-stream"
    assert store.info(f"{prefix}c.csv").content_type == "text/csv"


def test_write_a_file_handed_over(store: ObjectStore, prefix: str, tmp_path: Path) -> None:
    scratch = tmp_path / "issue_rows.csv"
    scratch.write_bytes(b"row,value\n" * 5000)
    store.write(f"{prefix}outputs/issue_rows.csv", scratch, "text/csv")
    scratch.unlink()  # handed over: the caller removes its own name
    assert store.info(f"{prefix}outputs/issue_rows.csv").content_type == "text/csv"
    with store.open_read(f"{prefix}outputs/issue_rows.csv") as fh:
        assert fh.read() == b"row,value\n" * 5000


def test_write_replaces_content_and_content_type(store: ObjectStore, prefix: str) -> None:
    key = f"{prefix}outputs/report.xlsx"
    store.write(key, b"first version", "application/octet-stream")
    store.write(key, b"v2", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    info = store.info(key)
    assert info.size == 2
    assert info.content_type.endswith("spreadsheetml.sheet")
    assert _keys(store, prefix) == [key]


# --------------------------------------------------------------------------- listing and deleting


def test_list_is_in_key_order_and_respects_string_prefixes(store: ObjectStore, prefix: str) -> None:
    """Folders and files mixed: `a-b` < `a/c` < `a0` as strings, which a naive tree walk gets wrong."""
    names = ["a/c", "a-b", "a0", "ab/x", "a/d/e", "b", "é.csv"]
    for name in names:
        store.write(prefix + name, name.encode())
    store.write(prefix.rstrip("/") + "-neighbour/a", b"outside the prefix")

    listed = list(store.list(prefix))
    assert [i.key for i in listed] == sorted(prefix + n for n in names)
    assert {i.key: i.size for i in listed} == {prefix + n: len(n.encode()) for n in names}
    assert _keys(store, prefix + "a/") == [prefix + "a/c", prefix + "a/d/e"]
    assert _keys(store, prefix + "a") == sorted(prefix + n for n in names if n.startswith("a"))
    assert _keys(store, prefix + "zzz") == []


def test_list_pages_past_1000_keys_and_delete_prefix_batches(store: ObjectStore, prefix: str) -> None:
    bulk = f"{prefix}bulk/"
    keys = [f"{bulk}part-{n:05d}.csv" for n in range(BULK_COUNT)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda key: store.write(key, key.encode(), "text/csv"), keys))
    store.write(f"{prefix}bulk-sibling.csv", b"not under bulk/")

    listing = store.list(bulk)
    assert isinstance(listing, Iterator)  # lazy, not a list built up front
    listed = list(listing)
    assert len(listed) == BULK_COUNT
    assert [i.key for i in listed] == keys
    assert all(i.size == len(i.key.encode()) for i in listed)

    assert store.delete_prefix(bulk) == BULK_COUNT
    assert _keys(store, bulk) == []
    assert _keys(store, prefix) == [f"{prefix}bulk-sibling.csv"]


def test_delete_is_idempotent_and_removes_only_the_key(store: ObjectStore, prefix: str) -> None:
    store.write(f"{prefix}keep.csv", b"1")
    store.write(f"{prefix}drop.csv", b"2")
    store.delete(f"{prefix}drop.csv")
    assert not store.exists(f"{prefix}drop.csv")
    assert store.exists(f"{prefix}keep.csv")
    store.delete(f"{prefix}drop.csv")  # already gone: no error
    assert _keys(store, prefix) == [f"{prefix}keep.csv"]


def test_delete_prefix_counts_and_spares_neighbours(store: ObjectStore, prefix: str) -> None:
    task1 = [f"{prefix}task1/inputs/a.csv", f"{prefix}task1/outputs/r.json", f"{prefix}task1/outputs/r.xlsx"]
    task10 = [f"{prefix}task10/inputs/a.csv", f"{prefix}task10/outputs/r.json"]
    for key in task1 + task10:
        store.write(key, b"x")

    assert store.delete_prefix(f"{prefix}task1/") == 3
    assert _keys(store, prefix) == task10
    assert store.delete_prefix(f"{prefix}task1/") == 0
    with pytest.raises(StorageError) as caught:
        store.delete_prefix("")
    assert caught.value.code == "INVALID_KEY"
    assert all(store.exists(key) for key in task10)


# --------------------------------------------------------------------------- S3 / B2 specifics


def _capture_headers(client: object) -> list[tuple[str, str, dict[str, str], object]]:
    """Record every request exactly as it leaves botocore (after signing, before the socket)."""
    seen: list[tuple[str, str, dict[str, str], object]] = []

    def record(request: object, **_: object) -> None:
        headers = {k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
        seen.append((request.method, request.url, headers, request.body))

    client.meta.events.register("before-send.s3", record)
    return seen


def _checksum_headers(headers: dict[str, str]) -> set[str]:
    found = {
        h
        for h in headers
        if h.startswith("x-amz-checksum-") or h in ("x-amz-sdk-checksum-algorithm", "x-amz-trailer")
    }
    if "aws-chunked" in headers.get("content-encoding", ""):
        found.add("content-encoding: aws-chunked")
    return found


def test_s3_client_config_disables_default_checksums(s3_store: S3ObjectStore) -> None:
    config = s3_store.client.meta.config
    assert config.request_checksum_calculation == "when_required"
    assert config.response_checksum_validation == "when_required"
    assert config.signature_version == "s3v4"
    assert config.s3 == {"addressing_style": "path"}
    assert client_config(None).s3 == {}  # real AWS keeps virtual-host addressing


def test_s3_requests_carry_no_checksum_headers(s3_endpoint: str, tmp_path: Path) -> None:
    """PutObject, a multipart upload and DeleteObjects, as the bytes go out: nothing B2 rejects."""
    store = _new_bucket(s3_endpoint)
    store.transfer_config = TransferConfig(multipart_threshold=5 * 1024**2, multipart_chunksize=5 * 1024**2)
    seen = _capture_headers(store.client)

    store.write("t/small.csv", b"a,b\n", "text/csv")
    big = tmp_path / "big.bin"
    big.write_bytes(b"\x00" * (5 * 1024**2 + 1))
    with big.open("rb") as fh:
        store.write("t/big.bin", fh)
    with store.open_read("t/small.csv") as fh:
        assert fh.read() == b"a,b\n"
    assert store.delete_prefix("t/") == 2

    methods_and_urls = [(m, u) for m, u, _, _ in seen]
    assert any(m == "POST" and "uploads" in u for m, u in methods_and_urls), "multipart path not exercised"
    assert sum(1 for m, u in methods_and_urls if m == "PUT" and "partNumber=" in u) == 2
    for method, url, headers, _ in seen:
        assert not _checksum_headers(headers), (method, url, headers)
        assert "x-amz-checksum-mode" not in headers
    deletes = [(headers, body) for method, url, headers, body in seen if method == "POST" and "delete" in url]
    assert len(deletes) == 1
    headers, body = deletes[0]
    expected_md5 = hashlib.md5(body, usedforsecurity=False).digest()
    assert headers["content-md5"] == base64.b64encode(expected_md5).decode()


def test_s3_default_client_would_send_checksums(s3_endpoint: str, s3_store: S3ObjectStore) -> None:
    """The control for the test above: the capture does see the headers boto3 adds by default."""
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(s3={"addressing_style": "path"}),
    )
    seen = _capture_headers(client)
    client.put_object(Bucket=s3_store.bucket, Key="control/a.txt", Body=b"abc")
    assert "x-amz-checksum-crc32" in _checksum_headers(seen[-1][2])


def test_s3_errors_are_readable_and_keep_secrets(s3_endpoint: str) -> None:
    missing = S3ObjectStore(
        "no-such-bucket-here", endpoint_url=s3_endpoint, region="us-east-1", **CREDENTIALS
    )
    with pytest.raises(StorageError) as caught:
        list(missing.list("x/"))
    assert caught.value.code == "BUCKET_NOT_FOUND"

    closed = listening_socket()  # bound, never listening: connections are refused at once
    endpoint = socket_url(closed)
    no_retry = client_config(endpoint).merge(Config(retries={"max_attempts": 1}))
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIA-VISIBLE-ID",
        aws_secret_access_key="SECRET-MUST-NOT-LEAK",
        config=no_retry,
    )
    unreachable = S3ObjectStore("bucket", endpoint_url=endpoint, client=client)
    with pytest.raises(StorageError) as caught:
        unreachable.info("k")
    closed.close()
    assert caught.value.code == "STORAGE_UNAVAILABLE"
    assert "SECRET-MUST-NOT-LEAK" not in str(caught.value.to_dict())
    assert "SECRET-MUST-NOT-LEAK" not in repr(unreachable)


# --------------------------------------------------------------------------- factory


def test_build_store_local(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="sqlite://", signing_secret="s", max_upload_bytes=123)
    store = build_store(settings)
    assert isinstance(store, LocalObjectStore) and isinstance(store, ObjectStore)
    assert store.root == settings.objects_dir.resolve()
    assert store.max_upload_bytes == 123
    assert store.presign_upload("a/b.csv", "text/csv").url.startswith(
        "http://localhost:8501/storage/objects/a/b.csv?"
    )


def test_build_store_s3(tmp_path: Path, s3_endpoint: str) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url="sqlite://",
        storage_backend="s3",
        s3_endpoint_url=s3_endpoint,
        s3_region="us-west-004",
        s3_bucket="b2-bucket",
        s3_access_key_id="key-id",
        s3_secret_access_key="key-secret",
    )
    store = build_store(settings)
    assert isinstance(store, S3ObjectStore) and isinstance(store, ObjectStore)
    assert store.bucket == "b2-bucket"
    assert store.client.meta.region_name == "us-west-004"
    assert store.client.meta.config.request_checksum_calculation == "when_required"
    assert store.presign_upload("k", "text/csv").url.startswith(f"{s3_endpoint}/b2-bucket/k?")


def test_build_store_rejects_incomplete_settings(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="S3_BUCKET"):
        build_store(Settings(data_dir=tmp_path, database_url="sqlite://", storage_backend="s3"))
    with pytest.raises(ConfigurationError, match="SIGNING_SECRET"):
        build_store(Settings(data_dir=tmp_path, database_url="sqlite://", signing_secret=""))
