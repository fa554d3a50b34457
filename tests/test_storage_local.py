"""The local store's own guarantees, over real HTTP: a signed URL is the only key to the files.

Every rejected request must answer with a JSON error and leave nothing behind (no object, no
temp file), and nothing may ever be written outside the store's folder.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import anyio
import pytest
import requests
from starlette.applications import Starlette

from core.errors import StorageError
from storage.local import TEMP_PREFIX, LocalObjectStore
from storage.routes import storage_routes
from tests.storage_servers import listening_socket, serve_asgi, socket_url

pytestmark = pytest.mark.timeout(30)

SECRET = "local-test-secret"
LIMIT = 64 * 1024
HTTP_TIMEOUT = 10


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalObjectStore]:
    sock = listening_socket()
    store = LocalObjectStore(tmp_path_factory.mktemp("local") / "objects", SECRET, socket_url(sock), LIMIT)
    with serve_asgi(Starlette(routes=storage_routes(store)), sock):
        yield store


@pytest.fixture
def key() -> str:
    return f"users/1/tasks/{uuid.uuid4().hex}/inputs/data.csv"


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def _with_path_key(url: str, key: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/storage/objects/{quote(key, safe='/')}"))


def _temp_files(store: LocalObjectStore) -> list[Path]:
    return [p for p in store.root.rglob(f"{TEMP_PREFIX}*")]


def _assert_rejected(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error_code"] == code
    assert body["message"] and SECRET not in response.text


def _put(url: str, data: bytes = b"a,b\n1,2\n", content_type: str = "text/csv") -> requests.Response:
    return requests.put(url, data=data, headers={"Content-Type": content_type}, timeout=HTTP_TIMEOUT)


# --------------------------------------------------------------------------- forged and altered URLs


def test_valid_upload_is_stored_under_blobs_with_a_metadata_sidecar(
    store: LocalObjectStore, key: str
) -> None:
    response = _put(store.presign_upload(key, "text/csv").url)
    assert response.status_code == 200, response.text
    assert response.json() == {"key": key, "size": 8}
    assert (store.root / "blobs" / key).read_bytes() == b"a,b\n1,2\n"
    assert (store.root / "meta" / f"{key}.json").is_file()
    assert [i.key for i in store.list(key.rsplit("/", 1)[0] + "/")] == [key]
    assert _temp_files(store) == []


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda url: _with_query(url, sig="0" * 64), id="forged-signature"),
        pytest.param(lambda url: _with_query(url, sig="not-hex"), id="malformed-signature"),
        pytest.param(lambda url: _with_query(url, ct="text/html"), id="tampered-content-type"),
        pytest.param(
            lambda url: _with_query(url, expires=str(int(time.time()) + 99_999)), id="tampered-expiry"
        ),
        pytest.param(lambda url: _with_query(url, expires="0" + _query(url)["expires"]), id="padded-expiry"),
        pytest.param(
            lambda url: url.split("?")[0] + "?" + url.split("?")[1].replace("&sig=", "&x="), id="no-sig"
        ),
        pytest.param(lambda url: url + "&sig=" + "1" * 64, id="duplicated-sig"),
    ],
)
def test_altered_upload_url_is_refused_and_writes_nothing(store: LocalObjectStore, key: str, tamper) -> None:
    url = tamper(store.presign_upload(key, "text/csv").url)
    content_type = _query(url).get("ct", "text/csv")
    _assert_rejected(_put(url, content_type=content_type), 403, "SIGNATURE_INVALID")
    assert not store.exists(key)
    assert not (store.root / "blobs" / key).exists()


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def test_url_for_one_key_cannot_write_another(store: LocalObjectStore, key: str) -> None:
    other = key.replace("data.csv", "other.csv")
    url = _with_path_key(store.presign_upload(key, "text/csv").url, other)
    _assert_rejected(_put(url), 403, "SIGNATURE_INVALID")
    assert not store.exists(other) and not store.exists(key)


def test_url_signed_with_another_secret_is_refused(store: LocalObjectStore, key: str, tmp_path: Path) -> None:
    impostor = LocalObjectStore(tmp_path, "some-other-secret", store.base_url, LIMIT)
    _assert_rejected(_put(impostor.presign_upload(key, "text/csv").url), 403, "SIGNATURE_INVALID")
    assert not store.exists(key)


def test_expired_url_is_refused(store: LocalObjectStore, key: str) -> None:
    """A store whose clock runs two hours behind mints URLs that expired an hour ago."""
    past = LocalObjectStore(store.root, SECRET, store.base_url, LIMIT, clock=lambda: time.time() - 7200)
    _assert_rejected(_put(past.presign_upload(key, "text/csv", expires_in=3600).url), 403, "URL_EXPIRED")
    assert not store.exists(key)

    store.write(key, b"already here", "text/csv")
    expired_get = requests.get(past.presign_download(key, "d.csv").url, timeout=HTTP_TIMEOUT)
    _assert_rejected(expired_get, 403, "URL_EXPIRED")


def test_download_url_cannot_upload_and_upload_url_cannot_download(store: LocalObjectStore, key: str) -> None:
    get_url = store.presign_download(key, "data.csv").url
    _assert_rejected(_put(get_url), 403, "SIGNATURE_INVALID")
    assert not store.exists(key)

    put_url = store.presign_upload(key, "text/csv").url
    assert _put(put_url).status_code == 200
    _assert_rejected(requests.get(put_url, timeout=HTTP_TIMEOUT), 403, "SIGNATURE_INVALID")


def test_download_with_tampered_filename_is_refused(store: LocalObjectStore, key: str) -> None:
    store.write(key, b"x", "text/csv")
    url = _with_query(store.presign_download(key, "data.csv").url, filename="evil.exe")
    _assert_rejected(requests.get(url, timeout=HTTP_TIMEOUT), 403, "SIGNATURE_INVALID")


# --------------------------------------------------------------------------- content type and size


def test_content_type_header_must_match_the_signed_one(store: LocalObjectStore, key: str) -> None:
    url = store.presign_upload(key, "text/csv").url
    _assert_rejected(_put(url, content_type="text/html"), 403, "CONTENT_TYPE_MISMATCH")
    no_header = requests.put(url, data=b"x", timeout=HTTP_TIMEOUT)
    _assert_rejected(no_header, 403, "CONTENT_TYPE_MISMATCH")
    assert not store.exists(key)


def test_upload_over_the_limit_by_content_length_is_413(store: LocalObjectStore, key: str) -> None:
    _assert_rejected(
        _put(store.presign_upload(key, "text/csv").url, b"x" * (LIMIT + 1)), 413, "FILE_TOO_LARGE"
    )
    assert not store.exists(key)
    assert _temp_files(store) == []


def test_upload_over_the_limit_while_streaming_is_413(store: LocalObjectStore, key: str) -> None:
    """Without Content-Length (chunked), the limit is enforced on the bytes actually received."""

    def chunks() -> Iterator[bytes]:
        for _ in range(LIMIT // 4096 + 2):
            yield b"y" * 4096

    url = store.presign_upload(key, "text/csv").url
    response = requests.put(url, data=chunks(), headers={"Content-Type": "text/csv"}, timeout=HTTP_TIMEOUT)
    _assert_rejected(response, 413, "FILE_TOO_LARGE")
    assert not store.exists(key)
    assert _temp_files(store) == []


def test_upload_of_exactly_the_limit_is_accepted(store: LocalObjectStore, key: str) -> None:
    assert _put(store.presign_upload(key, "text/csv").url, b"z" * LIMIT).status_code == 200
    assert store.info(key).size == LIMIT


def test_failed_upload_keeps_the_previous_version(store: LocalObjectStore, key: str) -> None:
    store.write(key, b"old,version\n", "text/csv")
    _assert_rejected(
        _put(store.presign_upload(key, "text/csv").url, b"n" * (LIMIT + 10)), 413, "FILE_TOO_LARGE"
    )
    with store.open_read(key) as fh:
        assert fh.read() == b"old,version\n"


def test_interrupted_upload_leaves_nothing(store: LocalObjectStore, key: str) -> None:
    """The client promises 1,000 bytes, sends 100 and hangs up: no object, no temp file."""
    parts = urlsplit(store.presign_upload(key, "text/csv").url)
    request = (
        f"PUT {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "Content-Type: text/csv\r\nContent-Length: 1000\r\n\r\n"
    ).encode() + b"q" * 100
    with socket.create_connection((parts.hostname, parts.port), timeout=HTTP_TIMEOUT) as conn:
        conn.sendall(request)
        time.sleep(0.2)  # let the server start spooling before the connection drops
    deadline = time.monotonic() + 5
    while _temp_files(store) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _temp_files(store) == []
    assert not store.exists(key)


# --------------------------------------------------------------------------- downloads


def test_download_headers(store: LocalObjectStore, key: str) -> None:
    store.write(key, "a;b\nä;ö\n".encode("cp1252"), "text/csv")
    got = requests.get(store.presign_download(key, 'Q3 "final" €.csv').url, timeout=HTTP_TIMEOUT)
    assert got.status_code == 200
    assert got.headers["content-type"] == "text/csv"  # as stored: no charset we do not know
    assert got.headers["content-length"] == "8"
    assert got.headers["content-disposition"] == (
        "attachment; filename=\"Q3 _final_ _.csv\"; filename*=UTF-8''Q3%20%22final%22%20%E2%82%AC.csv"
    )
    assert got.headers["x-content-type-options"] == "nosniff"


def test_head_answers_size_without_body(store: LocalObjectStore, key: str) -> None:
    store.write(key, b"12345", "text/csv")
    head = requests.head(store.presign_download(key, "data.csv").url, timeout=HTTP_TIMEOUT)
    assert head.status_code == 200
    assert head.headers["content-length"] == "5"
    assert head.content == b""


def test_download_of_a_missing_object_is_404_json(store: LocalObjectStore, key: str) -> None:
    _assert_rejected(
        requests.get(store.presign_download(key, "x.csv").url, timeout=HTTP_TIMEOUT), 404, "OBJECT_NOT_FOUND"
    )


def test_cors_preflight_and_origin_echo(store: LocalObjectStore, key: str) -> None:
    url = store.presign_upload(key, "text/csv").url
    origin = "http://localhost:8501"
    preflight = requests.options(
        url,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=HTTP_TIMEOUT,
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == origin
    assert "PUT" in preflight.headers["access-control-allow-methods"]
    assert "GET" in preflight.headers["access-control-allow-methods"]
    assert preflight.headers["access-control-allow-headers"].lower() == "content-type"
    assert not store.exists(key)

    put = requests.put(
        url, data=b"x", headers={"Content-Type": "text/csv", "Origin": origin}, timeout=HTTP_TIMEOUT
    )
    assert put.status_code == 200
    assert put.headers["access-control-allow-origin"] == origin


# --------------------------------------------------------------------------- keys and the file system


@pytest.mark.parametrize(
    "raw_path",
    [
        "/storage/objects/..%2F..%2Fescape.txt",
        "/storage/objects/users/%2e%2e/%2e%2e/escape.txt",
        "/storage/objects/users/..%5C..%5Cescape.txt",
        "/storage/objects/%2Fetc%2Fescape.txt",
        "/storage/objects/users//escape.txt",
        "/storage/objects/users/a%00b",
    ],
)
def test_traversal_paths_are_refused_even_with_a_valid_signature(
    store: LocalObjectStore, raw_path: str
) -> None:
    """A correct HMAC for a hostile key (as if the secret leaked) still cannot escape the store."""
    from urllib.parse import unquote

    hostile_key = unquote(raw_path.removeprefix("/storage/objects/"))
    expires = str(int(time.time()) + 600)
    sig = store._sign("PUT", hostile_key, expires, "text/csv")  # what a valid URL would carry
    query = urlencode({"method": "PUT", "expires": expires, "ct": "text/csv", "sig": sig}, quote_via=quote)
    parts = urlsplit(store.base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=HTTP_TIMEOUT) as conn:
        conn.sendall(
            f"PUT {raw_path}?{query} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: text/csv\r\n"
            "Content-Length: 4\r\nConnection: close\r\n\r\nevil".encode()
        )
        reply = conn.recv(65536).decode("latin-1")
    status = int(reply.split(" ", 2)[1])
    assert status in (400, 403, 404), reply
    assert not (store.root.parent / "escape.txt").exists()
    assert not list(store.root.parent.rglob("escape.txt"))


@pytest.mark.parametrize(
    "bad_key",
    [
        "",
        "/abs",
        "a/../b",
        "..",
        "a//b",
        "a/",
        "a\\b",
        "a/./b",
        "a\x00b",
        "line\nbreak",
        f"a/{TEMP_PREFIX}x",
        "x" * 251,
    ],
)
def test_invalid_keys_are_refused_by_every_operation(store: LocalObjectStore, bad_key: str) -> None:
    operations = [
        lambda: store.presign_upload(bad_key, "text/csv"),
        lambda: store.presign_download(bad_key, "x.csv"),
        lambda: store.write(bad_key, b"x"),
        lambda: store.info(bad_key),
        lambda: store.open_read(bad_key),
        lambda: store.delete(bad_key),
        lambda: store.exists(bad_key),
    ]
    for operation in operations:
        with pytest.raises(StorageError) as caught:
            operation()
        assert caught.value.code == "INVALID_KEY"


def test_symlinked_folder_cannot_lead_outside(store: LocalObjectStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    link = store.root / "blobs" / f"link-{uuid.uuid4().hex}"
    link.symlink_to(outside, target_is_directory=True)
    (outside / "victim.csv").write_bytes(b"not ours")
    try:
        for operation in (
            lambda: store.write(f"{link.name}/x.csv", b"x"),
            lambda: store.open_read(f"{link.name}/victim.csv"),
            lambda: list(store.list(f"{link.name}/")),
            lambda: store.delete_prefix(f"{link.name}/"),
        ):
            with pytest.raises(StorageError) as caught:
                operation()
            assert caught.value.code == "INVALID_KEY"
        assert [p.name for p in outside.iterdir()] == ["victim.csv"]
    finally:
        link.unlink()


def test_invalid_content_type_is_refused(store: LocalObjectStore, key: str) -> None:
    for bad in ("text/csv\r\nSet-Cookie: a=b", "csv", "", "tëxt/csv"):
        with pytest.raises(StorageError) as caught:
            store.presign_upload(key, bad)
        assert caught.value.code == "INVALID_CONTENT_TYPE"


def test_a_key_cannot_be_both_file_and_folder(store: LocalObjectStore, key: str) -> None:
    store.write(key, b"file")
    with pytest.raises(StorageError) as caught:
        store.write(f"{key}/child", b"x")
    assert caught.value.code == "KEY_CONFLICT"
    with pytest.raises(StorageError) as caught:
        store.write(key.rsplit("/", 1)[0], b"x")
    assert caught.value.code == "KEY_CONFLICT"
    with store.open_read(key) as fh:
        assert fh.read() == b"file"


# --------------------------------------------------------------------------- housekeeping


def test_delete_prefix_removes_empty_folders(store: LocalObjectStore) -> None:
    task = f"users/2/tasks/{uuid.uuid4().hex}"
    for name in ("inputs/a.csv", "inputs/b.csv", "outputs/deep/r.json"):
        store.write(f"{task}/{name}", b"x")
    assert store.delete_prefix(f"{task}/") == 3
    assert not (store.root / "blobs" / task).exists()
    assert not (store.root / "meta" / task).exists()
    assert (store.root / "blobs").is_dir()


def test_delete_removes_empty_folders_but_not_the_root(store: LocalObjectStore) -> None:
    key = f"solo-{uuid.uuid4().hex}/a/b.csv"
    store.write(key, b"x")
    store.delete(key)
    assert not (store.root / "blobs" / key.split("/")[0]).exists()
    assert not (store.root / "meta" / key.split("/")[0]).exists()
    assert (store.root / "blobs").is_dir() and (store.root / "meta").is_dir()


def test_temp_files_never_appear_in_listings(store: LocalObjectStore) -> None:
    folder = f"tmpcheck-{uuid.uuid4().hex}"
    store.write(f"{folder}/real.csv", b"x")
    (store.root / "blobs" / folder / f"{TEMP_PREFIX}abandoned").write_bytes(b"partial")
    assert [i.key for i in store.list(f"{folder}/")] == [f"{folder}/real.csv"]


def test_info_modified_is_utc_and_follows_the_file(store: LocalObjectStore, key: str) -> None:
    store.write(key, b"x")
    os.utime(store.blob_path(key), (1_700_000_000, 1_700_000_000))
    modified = store.info(key).modified
    assert modified.tzinfo == UTC
    assert modified.timestamp() == 1_700_000_000


def test_open_read_returns_a_regular_file(store: LocalObjectStore, key: str) -> None:
    store.write(key, b"abc")
    with store.open_read(key) as fh:
        assert fh.fileno() >= 0 and fh.seekable()
        fh.seek(1)
        assert fh.read() == b"bc"


def test_receive_upload_directly_counts_bytes(store: LocalObjectStore, key: str) -> None:
    async def body() -> AsyncIterator[bytes]:
        for part in (b"ab", b"", b"cd"):
            yield part

    info = anyio.run(store.receive_upload, key, "text/plain", body(), 4)
    assert (info.size, info.content_type) == (4, "text/plain")

    with pytest.raises(StorageError) as caught:
        anyio.run(store.receive_upload, key, "text/plain", body(), 10)
    assert caught.value.code == "UPLOAD_INCOMPLETE"
    with store.open_read(key) as fh:
        assert fh.read() == b"abcd"


def test_repr_hides_the_secret(store: LocalObjectStore) -> None:
    assert SECRET not in repr(store)


def test_a_linked_snapshot_survives_the_objects_replacement_and_deletion(
    store: LocalObjectStore, key: str, tmp_path: Path
) -> None:
    """`save_to(may_link=True)` gives a run its input without copying it; since objects are
    replaced by rename, the snapshot keeps the bytes it was taken with."""
    store.write(key, b"a,b\n1,2\n")
    snapshot = tmp_path / "input.csv"
    store.save_to(key, snapshot, may_link=True)
    assert snapshot.stat().st_ino == store.blob_path(key).stat().st_ino  # linked, not copied
    store.write(key, b"a,b\n3,4\n")
    store.delete(key)
    assert snapshot.read_bytes() == b"a,b\n1,2\n"
    copy = tmp_path / "copy.csv"
    store.write(key, b"x\n")
    store.save_to(key, copy)
    assert copy.stat().st_ino != store.blob_path(key).stat().st_ino


def test_a_file_handed_over_is_stored_without_a_copy(
    store: LocalObjectStore, key: str, tmp_path: Path
) -> None:
    scratch = tmp_path / "out.csv"
    scratch.write_bytes(b"a,b\n1,2\n")
    store.write(key, scratch, "text/csv")
    blob = store.blob_path(key)
    assert blob.read_bytes() == b"a,b\n1,2\n"
    assert os.stat(blob).st_ino == os.stat(scratch).st_ino  # same filesystem: linked
    assert os.stat(blob).st_mode & 0o777 == 0o600
    scratch.unlink()  # the caller lets go of its name; the object stays
    assert store.info(key).content_type == "text/csv"
    assert blob.read_bytes() == b"a,b\n1,2\n"
    assert not list(store.blob_path(key).parent.glob(f"{TEMP_PREFIX}*"))


def test_a_file_handed_over_is_copied_when_it_cannot_be_linked(
    store: LocalObjectStore, key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(*_: object) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_links)
    scratch = tmp_path / "out.csv"
    scratch.write_bytes(b"x\n")
    store.write(key, scratch, "text/csv")
    assert store.blob_path(key).read_bytes() == b"x\n"
    assert os.stat(store.blob_path(key)).st_ino != os.stat(scratch).st_ino
    assert not list(store.blob_path(key).parent.glob(f"{TEMP_PREFIX}*"))
