"""Uploads to presigned URLs: the browser-direct component in a real Chromium, and the fallback
through the server against a real served `LocalObjectStore`.

The browser tests run `streamlit run tests/apps/direct_upload_app.py` (the component, and a
caller that presigns a PUT on the app's own embedded store) and drive Debian's Chromium with
Playwright. A failing browser test leaves a screenshot in tests/artifacts/.
"""

from __future__ import annotations

import io
import os
import random
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from core.errors import StorageError
from core.settings import PROJECT_ROOT
from storage.local import LocalObjectStore
from storage.routes import storage_routes
from tests.app_server import streamlit_app
from tests.conftest import CHROMIUM
from tests.storage_servers import listening_socket, serve_asgi, socket_url
from ui.direct_upload import UploadState, _extensions, _target
from ui.server_upload import put_to_presigned

ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"
APP = "tests/apps/direct_upload_app.py"
NO_BROWSER = not CHROMIUM.exists() and not os.environ.get("CI")


def browser_test(test: Any) -> Any:
    """Marked `browser`; skipped only where chromium is absent outside CI (CI must run it)."""
    skip = pytest.mark.skipif(NO_BROWSER, reason="Debian's chromium is not installed (make test installs it)")
    return pytest.mark.browser(skip(test))


def csv_bytes(size: int, seed: int) -> bytes:
    """`size` bytes of CSV-looking text, different for each seed."""
    rng = random.Random(seed)
    lines, total = ["id,value,label"], 0
    while total < size:
        line = f"{len(lines)},{rng.random():.6f},{rng.choice(['north', 'south', 'east', 'west'])}"
        lines.append(line)
        total += len(line) + 1
    return ("\n".join(lines) + "\n").encode()[:size]


# ---------------------------------------------------------------- the component's Python side


def test_upload_state_reads_what_the_component_reports() -> None:
    value = {
        "phase": "uploading",
        "sel": "abc",
        "name": "data.csv",
        "size": 120,
        "content_type": "text/csv",
        "bytes_sent": 60,
        "error": None,
    }
    assert UploadState.from_value(value) == UploadState(
        "uploading", "data.csv", 120, "text/csv", 60, None, selection="abc"
    )
    assert UploadState.from_value(None) == UploadState()
    assert UploadState.from_value({"phase": "exploded"}) == UploadState()
    assert UploadState.from_value('{"phase": "error", "error": "HTTP 403"}').error == "HTTP 403"
    assert UploadState.from_value({"phase": "uploaded", "size": True}).size is None


def test_a_target_is_tagged_with_the_selection_it_was_issued_for() -> None:
    target = {"url": "http://x/put", "method": "put", "headers": {"Content-Type": "text/csv"}, "key": "k"}
    assert _target(target, "sel-1") == {
        "url": "http://x/put",
        "method": "PUT",
        "headers": {"Content-Type": "text/csv"},
        "sel": "sel-1",
    }
    assert _target(target, None) is None  # nothing was selected when the caller issued it
    assert _target(None, "sel-1") is None
    assert _extensions([".CSV", "xlsx", " tsv ", ""]) == ["csv", "tsv", "xlsx"]


# ---------------------------------------------------------------- the fallback through the server


@pytest.fixture(scope="module")
def served_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalObjectStore]:
    sock = listening_socket()
    store = LocalObjectStore(
        tmp_path_factory.mktemp("fallback") / "objects", "s3cret", socket_url(sock), 10**7
    )
    with serve_asgi(Starlette(routes=storage_routes(store)), sock):
        yield store


def test_put_to_presigned_stores_bytes_and_streams_files(served_store: LocalObjectStore) -> None:
    data = csv_bytes(300_000, seed=1)
    put_to_presigned(served_store.presign_upload("fallback/a.csv", "text/csv").to_dict(), data)
    with served_store.open_read("fallback/a.csv") as stored:
        assert stored.read() == data
    assert served_store.info("fallback/a.csv").content_type == "text/csv"

    stream = io.BytesIO(csv_bytes(50_000, seed=2))
    stream.read()  # already read once (as Streamlit's UploadedFile may be): sent from the start
    put_to_presigned(served_store.presign_upload("fallback/b.csv", "text/csv").to_dict(), stream)
    with served_store.open_read("fallback/b.csv") as stored:
        assert stored.read() == stream.getvalue()


def test_put_to_presigned_raises_a_storage_error_on_refusal(served_store: LocalObjectStore) -> None:
    target: dict[str, Any] = served_store.presign_upload("fallback/c.csv", "text/csv").to_dict()
    target["url"] = target["url"].replace("sig=", "sig=0")
    with pytest.raises(StorageError) as refused:
        put_to_presigned(target, b"a,b\n1,2\n")
    assert refused.value.code == "UPLOAD_FAILED"
    assert refused.value.details["status"] == 403
    assert "HTTP 403" in refused.value.message
    assert not served_store.exists("fallback/c.csv")

    wrong_type = served_store.presign_upload("fallback/d.csv", "text/csv").to_dict()
    wrong_type["headers"] = {"Content-Type": "text/plain"}
    with pytest.raises(StorageError, match="Content-Type: text/csv"):
        put_to_presigned(wrong_type, b"a\n")


def test_put_to_presigned_reports_an_unreachable_storage() -> None:
    sock = listening_socket()  # bound, never listening: the connection is refused
    url = socket_url(sock)
    sock.close()
    with pytest.raises(StorageError) as unreachable:
        put_to_presigned({"url": f"{url}/storage/objects/x.csv", "method": "PUT", "headers": {}}, b"x", 5)
    assert unreachable.value.code == "UPLOAD_FAILED"


# ---------------------------------------------------------------- the component in a browser


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, LocalObjectStore]]:
    if NO_BROWSER:
        pytest.skip("Debian's chromium is not installed")
    data_dir = tmp_path_factory.mktemp("direct-upload") / "data"
    with streamlit_app(data_dir, script=APP) as (base, _env):
        # the same folder the app's store writes to; reading needs no signature
        yield base, LocalObjectStore(data_dir / "objects", "unused-for-reading", base, 10**8)


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def open_app(page: Any, base: str, query: str = "") -> Any:
    page.goto(f"{base}/{query}")
    page.get_by_text("phase: empty", exact=True).wait_for()
    # Playwright's CSS and test-id locators pierce the component's open shadow root
    page.locator("[data-testid=direct-upload][data-phase=empty]").wait_for()  # its script has run
    return page.get_by_test_id("direct-upload-input")


def wait_phase(page: Any, phase: str, timeout: float = 20_000) -> None:
    page.get_by_text(f"phase: {phase}", exact=True).wait_for(timeout=timeout)


def shown(page: Any, label: str) -> str:
    return page.get_by_text(re.compile(rf"^{label}: ")).inner_text().split(": ", 1)[1]


def runs(page: Any) -> int:
    return int(shown(page, "runs"))


def uploads(store: LocalObjectStore) -> list[str]:
    return [info.key for info in store.list("uploads/")]


@browser_test
def test_the_browser_puts_the_file_straight_to_storage(
    app: tuple[str, LocalObjectStore], page: Any, tmp_path: Path
) -> None:
    base, store = app
    data = csv_bytes(2_500_000, seed=3)
    path = tmp_path / "sales 2024.csv"
    path.write_bytes(data)
    file_input = open_app(page, base)
    assert file_input.get_attribute("accept") == ".csv,.tsv,.txt,.xlsx"
    cdp = page.context.new_cdp_session(page)  # slow the upload so progress is visible
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 5, "downloadThroughput": -1, "uploadThroughput": 1_500_000},
    )
    file_input.set_input_files(str(path))
    status = page.get_by_test_id("direct-upload-status")
    status.filter(has_text=re.compile(r"of 2\.4 MB .* MB/s · .* left")).wait_for()
    wait_phase(page, "uploaded")
    key = shown(page, "key")
    assert key.endswith("/sales 2024.csv")
    with store.open_read(key) as stored:
        assert stored.read() == data
    assert store.info(key).content_type == "text/csv"
    assert "Uploaded" in status.inner_text()
    # first run, selected, URL issued, uploading, uploaded: progress events cause no reruns
    assert runs(page) <= 6


@browser_test
def test_the_file_survives_reruns_and_a_replacement_needs_a_new_url(
    app: tuple[str, LocalObjectStore], page: Any, tmp_path: Path
) -> None:
    base, store = app
    first, second = tmp_path / "first.csv", tmp_path / "second.tsv"
    first.write_bytes(csv_bytes(40_000, seed=4))
    second.write_bytes(csv_bytes(30_000, seed=5).replace(b",", b"\t"))
    file_input = open_app(page, base, "?mode=manual")
    file_input.set_input_files(str(first))
    wait_phase(page, "selected")
    for _ in range(2):  # reruns while the component holds the file
        before = runs(page)
        page.get_by_role("button", name="Rerun").click()
        for _ in range(100):  # at least one more run (the component may add one of its own)
            if runs(page) > before:
                break
            page.wait_for_timeout(100)
        assert runs(page) > before
    hide = page.get_by_text("Hide the uploader")
    hide.click()  # the element goes away (Streamlit forgets its state), then comes back
    wait_phase(page, "hidden")
    hide.click()
    wait_phase(page, "selected")  # the page's script kept the file and tells Python again
    page.get_by_role("button", name="Issue upload URL").click()
    wait_phase(page, "uploaded")
    first_key = shown(page, "key")
    assert uploads(store).count(first_key) == 1

    file_input.set_input_files(str(second))  # replace: back to selected, the old URL is not used
    page.get_by_text("name: second.tsv", exact=True).wait_for()
    wait_phase(page, "selected")
    time.sleep(1.0)
    assert shown(page, "phase") == "selected"
    with store.open_read(first_key) as stored:
        assert stored.read() == first.read_bytes()
    page.get_by_role("button", name="Issue upload URL").click()
    wait_phase(page, "uploaded")
    second_key = shown(page, "key")
    assert second_key != first_key and second_key.endswith("/second.tsv")
    with store.open_read(second_key) as stored:
        assert stored.read() == second.read_bytes()
    assert store.info(second_key).content_type == "text/tab-separated-values"


@browser_test
def test_wrong_type_oversize_and_empty_files_are_refused_before_any_upload(
    app: tuple[str, LocalObjectStore], page: Any, tmp_path: Path
) -> None:
    base, store = app
    before = uploads(store)
    file_input = open_app(page, base, "?max=1000")
    message = page.get_by_role("alert").filter(has_text="“")
    cases = [
        (
            "invoice.pdf",
            b"%PDF-1.4 " * 10,
            "“invoice.pdf” is not an accepted file type. Choose a CSV, TSV, TXT",
        ),
        ("big.csv", csv_bytes(5_000, seed=6), "“big.csv” is 4.9 KB; the limit is 1000 bytes."),
        ("empty.csv", b"", "“empty.csv” is empty (0 bytes)."),
        ("<img src=x onerror=alert(1)>.exe", b"x", "“<img src=x onerror=alert(1)>.exe” is not an accepted"),
    ]
    for name, content, expected in cases:
        path = tmp_path / name.replace("/", "_")
        path.write_bytes(content)
        file_input.set_input_files(str(path))
        message.filter(has_text=expected).wait_for()
        page.get_by_text(f"name: {path.name}", exact=True).wait_for()
        assert shown(page, "phase") == "rejected"
        assert shown(page, "key") == "None"
    assert page.locator("img[src='x']").count() == 0  # the file name was shown as text
    assert uploads(store) == before


@browser_test
def test_a_refused_url_is_reported_at_once_with_a_retry_button(
    app: tuple[str, LocalObjectStore], page: Any, tmp_path: Path
) -> None:
    """A 403 will not turn into a 200 by waiting, so it is shown at once, not retried."""
    base, store = app
    path = tmp_path / "refused.csv"
    path.write_bytes(csv_bytes(10_000, seed=7))
    file_input = open_app(page, base, "?mode=tamper")
    file_input.set_input_files(str(path))
    status = page.get_by_test_id("direct-upload-status")
    wait_phase(page, "error", timeout=30_000)
    error = shown(page, "error")
    assert "HTTP 403" in error and "not valid" in error
    assert "HTTP 403" in status.inner_text() and "Retrying" not in status.inner_text()
    assert not store.exists(shown(page, "key"))
    retry = page.get_by_role("button", name="Retry")
    retry.click()  # the user may try again: the same URL, from the start
    wait_phase(page, "error", timeout=30_000)
    assert not store.exists(shown(page, "key"))
