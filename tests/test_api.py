"""The REST Task API over real HTTP: uvicorn serves the same FastAPI app `app.py` mounts (and the
local store's signed-URL routes), on SQLite and MariaDB; files go to the presigned URLs with real
PUTs; a worker runs the queued task. Covers every endpoint, the error shape with its codes, and
every endpoint answering 404 to another user's token."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from api import API_PREFIX, build_api
from core import tokens, users
from core.services import Services, build_services
from storage.keys import task_prefix
from storage.local import LocalObjectStore
from storage.routes import storage_routes
from tests.conftest import CHROMIUM, make_settings
from tests.docs_pages import check_docs_page
from tests.storage_servers import listening_socket, serve_asgi, socket_url

pytestmark = pytest.mark.timeout(120)

CSV = b"id,name,amount\n1,Ann,10\n2,Bob,\n3,Cy,7\n"
FILES = {"primary": {"filename": "people.csv", "size_bytes": len(CSV)}}
PASSWORD_HASH = users.hash_password("password123")  # once: bcrypt is slow on purpose


@dataclass
class Api:
    """A running API with two users, each holding a token."""

    services: Services
    base: str
    ann: users.UserView
    ann_token: str
    bob_token: str

    def client(self, token: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base + API_PREFIX, headers=headers, timeout=30)


@pytest.fixture
def api(tmp_path: Path, db_url: str) -> Iterator[Api]:
    sock = listening_socket()
    settings = make_settings(tmp_path / "data", db_url, PUBLIC_BASE_URL=socket_url(sock))
    services = build_services(settings, migrate=False)
    assert isinstance(services.store, LocalObjectStore)
    app = Starlette(
        routes=[*storage_routes(services.store), Mount(API_PREFIX, app=build_api(lambda: services))]
    )
    ann = users.create_user(services.factory, "ann", password_hash=PASSWORD_HASH, credits=100)
    bob = users.create_user(services.factory, "bob", password_hash=PASSWORD_HASH, credits=100)
    ann_token, _ = tokens.create_token(services.factory, ann.id, "tests")
    bob_token, _ = tokens.create_token(services.factory, bob.id, "tests")
    with serve_asgi(app, sock) as base:
        yield Api(services, base, ann, ann_token, bob_token)


def uploaded_task(client: httpx.Client, content: bytes = CSV, **body: Any) -> dict[str, Any]:
    """A task created and uploaded through the API, as a script would do it."""
    created = client.post("/tasks", json={"tool_id": "profile-my-data", "files_metadata": FILES, **body})
    assert created.status_code == 201, created.text
    task = created.json()
    urls = client.post(f"/tasks/{task['task_id']}/upload-urls")
    assert urls.status_code == 200, urls.text
    upload = urls.json()["upload_urls"]["primary"]
    put = httpx.put(upload["url"], content=content, headers=upload["headers"], timeout=30)
    assert put.status_code in (200, 201, 204), put.text
    return task


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error_code"] == code
    assert isinstance(body["message"], str) and body["message"]
    return body


# ---- the whole flow ------------------------------------------------------------------------
def test_the_whole_flow_from_create_to_delete(api: Api) -> None:
    with api.client(api.ann_token) as client:
        tools = client.get("/tools").json()["tools"]
        assert "profile-my-data" in {t["id"] for t in tools}

        task = uploaded_task(client, agents=["types", "completeness"], parameters={"top_values": 5})
        assert task["status"] == "created" and task["agents"] == ["types", "completeness"]
        task_id = task["task_id"]

        queued = client.post(f"/tasks/{task_id}/process")
        assert queued.status_code == 202 and queued.json()["status"] == "queued"
        assert api.services.worker("api-test").run_once() == task_id

        done = client.get(f"/tasks/{task_id}").json()
        assert done["status"] == "completed" and done["progress"] == 100
        assert done["agents_completed"] == ["types", "completeness"]

        downloads = client.get(f"/tasks/{task_id}/downloads").json()["downloads"]
        by_name = {d["filename"]: d for d in downloads}
        assert {"report.json", "report.xlsx"} <= set(by_name)
        report = httpx.get(by_name["report.json"]["url"], timeout=30)
        assert report.status_code == 200
        assert json.loads(report.content)["task_id"] == task_id
        assert int(report.headers["content-length"]) == by_name["report.json"]["size_bytes"]

        assert client.post(f"/tasks/{task_id}/cancel").json()["error_code"] == "INVALID_STATE"
        prefix = task_prefix(api.ann.id, task_id)
        assert list(api.services.store.list(prefix))
        deleted = client.delete(f"/tasks/{task_id}")
        assert deleted.status_code == 204 and deleted.content == b""
        assert list(api.services.store.list(prefix)) == []  # inputs and outputs are gone
        assert_error(client.get(f"/tasks/{task_id}"), 404, "TASK_NOT_FOUND")


def test_cancel_a_queued_task_then_delete_it(api: Api) -> None:
    with api.client(api.ann_token) as client:
        task_id = uploaded_task(client)["task_id"]
        client.post(f"/tasks/{task_id}/process")
        assert_error(client.delete(f"/tasks/{task_id}"), 409, "INVALID_STATE")  # still queued
        cancelled = client.post(f"/tasks/{task_id}/cancel")
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        assert api.services.worker("api-test").run_once() is None  # nothing left to run
        assert client.delete(f"/tasks/{task_id}").status_code == 204


def test_listing_filters_and_pages(api: Api) -> None:
    with api.client(api.ann_token) as client:
        ids = [uploaded_task(client)["task_id"] for _ in range(3)]
        client.post(f"/tasks/{ids[0]}/cancel")
        page = client.get("/tasks", params={"limit": 2}).json()
        assert (page["total"], page["limit"], page["offset"], page["has_more"]) == (3, 2, 0, True)
        last = client.get("/tasks", params={"limit": 2, "offset": 2}).json()
        assert (len(last["tasks"]), last["has_more"]) == (1, False)
        everything = client.get("/tasks", params={"limit": 200}).json()["tasks"]
        # MariaDB keeps whole seconds, so tasks made in one second have no "newest" among them:
        # pages must still be consecutive slices of one order.
        assert [t["task_id"] for t in page["tasks"] + last["tasks"]] == [t["task_id"] for t in everything]
        assert {t["task_id"] for t in everything} == set(ids)
        cancelled = client.get("/tasks", params={"status": "cancelled"}).json()
        assert [t["task_id"] for t in cancelled["tasks"]] == [ids[0]] and cancelled["total"] == 1
        assert client.get("/tasks", params={"tool": "profile-my-data"}).json()["total"] == 3
        assert client.get("/tasks", params={"tool": "clean-my-data"}).json()["total"] == 0


def test_openapi_document_is_served_under_the_prefix(api: Api) -> None:
    schema = httpx.get(api.base + API_PREFIX + "/openapi.json", timeout=10).json()
    assert set(schema["paths"]) == {
        "/tools",
        "/tasks",
        "/tasks/{task_id}",
        "/tasks/{task_id}/upload-urls",
        "/tasks/{task_id}/process",
        "/tasks/{task_id}/downloads",
        "/tasks/{task_id}/cancel",
    }
    assert set(schema["paths"]["/tasks/{task_id}"]) == {"get", "delete"}
    assert "HTTPBearer" in schema["components"]["securitySchemes"]


# ---- the docs pages, offline ---------------------------------------------------------------
@pytest.fixture(scope="module")
def docs_site(sqlite_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API mounted as `app.py` mounts it, served by uvicorn (the docs need no database rows)."""
    sock = listening_socket()
    settings = make_settings(tmp_path_factory.mktemp("docs") / "data", sqlite_url)
    services = build_services(settings, migrate=False)
    app = Starlette(routes=[Mount(API_PREFIX, app=build_api(lambda: services))])
    with serve_asgi(app, sock) as base:
        yield base


ASSETS = API_PREFIX + "/docs-assets/"


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("/docs", {"swagger-ui.css", "swagger-ui-bundle.js", "favicon.png"}),
        ("/redoc", {"redoc.standalone.js", "favicon.png"}),
    ],
)
def test_docs_pages_load_everything_from_this_host(docs_site: str, page: str, expected: set[str]) -> None:
    answers = check_docs_page(docs_site + API_PREFIX + page)
    assets = {path.removeprefix(ASSETS) for path in answers if path.startswith(ASSETS)}
    assert assets == expected
    assert set(answers) - {ASSETS + name for name in expected} == {API_PREFIX + "/openapi.json"}
    assert answers[API_PREFIX + "/openapi.json"].json()["info"]["title"].startswith("Data-quality")


def test_docs_assets_outside_the_bundle_are_not_found(docs_site: str) -> None:
    for path in ("nothing.js", "../factory.py", "%2e%2e/__init__.py", ""):
        assert_error(httpx.get(f"{docs_site}{ASSETS}{path}", timeout=10), 404, "NOT_FOUND")


# ---- isolation -----------------------------------------------------------------------------
TASK_ENDPOINTS = [
    ("GET", "/tasks/{id}"),
    ("POST", "/tasks/{id}/upload-urls"),
    ("POST", "/tasks/{id}/process"),
    ("GET", "/tasks/{id}/downloads"),
    ("POST", "/tasks/{id}/cancel"),
    ("DELETE", "/tasks/{id}"),
]


def test_another_users_token_gets_404_on_every_endpoint(api: Api) -> None:
    with api.client(api.ann_token) as ann, api.client(api.bob_token) as bob:
        task_id = uploaded_task(ann)["task_id"]
        before = ann.get(f"/tasks/{task_id}").json()
        for method, path in TASK_ENDPOINTS:
            answer = bob.request(method, path.format(id=task_id))
            missing = bob.request(method, path.format(id="00000000-0000-0000-0000-000000000000"))
            assert_error(answer, 404, "TASK_NOT_FOUND")
            assert answer.json() == missing.json()  # indistinguishable from a task that does not exist
        listed = bob.get("/tasks").json()
        assert listed["total"] == 0 and listed["tasks"] == []
        assert ann.get(f"/tasks/{task_id}").json() == before  # nothing bob did changed it
        assert list(api.services.store.list(task_prefix(api.ann.id, task_id)))


# ---- errors --------------------------------------------------------------------------------
def test_authentication_errors(api: Api) -> None:
    with api.client(None) as anonymous:
        body = assert_error(anonymous.get("/tasks"), 401, "AUTH_REQUIRED")
        assert "Account page" in body["message"]
        assert anonymous.get("/tools").headers["www-authenticate"] == "Bearer"
    with api.client("dq_made-up") as forged:
        assert_error(forged.get("/tasks"), 401, "INVALID_TOKEN")
    token, view = tokens.create_token(api.services.factory, api.ann.id, "short-lived")
    with api.client(token) as client:
        assert client.get("/tasks").status_code == 200
        tokens.revoke_token(api.services.factory, api.ann.id, view.id)
        assert_error(client.get("/tasks"), 401, "INVALID_TOKEN")
    users.set_flags(api.services.factory, api.ann.id, is_active=False)
    with api.client(api.ann_token) as client:
        assert_error(client.get("/tools"), 403, "ACCOUNT_INACTIVE")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"tool_id": "polish-my-data", "files_metadata": FILES}, 422, "UNKNOWN_TOOL"),
        (
            {"tool_id": "profile-my-data", "agents": ["telepathy"], "files_metadata": FILES},
            422,
            "UNKNOWN_AGENT",
        ),
        ({"tool_id": "profile-my-data", "agents": [], "files_metadata": FILES}, 422, "NO_AGENTS"),
        (
            {"tool_id": "profile-my-data", "parameters": {"x": 1}, "files_metadata": FILES},
            422,
            "UNKNOWN_PARAMETER",
        ),
        (
            {"tool_id": "profile-my-data", "parameters": {"top_values": "many"}, "files_metadata": FILES},
            422,
            "INVALID_PARAMETER",
        ),
        ({"tool_id": "profile-my-data", "files_metadata": {}}, 422, "MISSING_FILE_SLOT"),
        (
            {"tool_id": "profile-my-data", "files_metadata": {"extra": {"filename": "a.csv"}}},
            422,
            "UNKNOWN_FILE_SLOT",
        ),
        (
            {"tool_id": "profile-my-data", "files_metadata": {"primary": {"filename": "a.exe"}}},
            422,
            "INVALID_FILE_TYPE",
        ),
        (
            {
                "tool_id": "profile-my-data",
                "files_metadata": {"primary": {"filename": "a.csv", "size_bytes": 10**13}},
            },
            413,
            "FILE_TOO_LARGE",
        ),
        (
            {"tool_id": "profile-my-data", "files_metadata": {"primary": {"filename": ""}}},
            422,
            "INVALID_FILES",
        ),
        ({"tool_id": "profile-my-data"}, 422, "INVALID_REQUEST"),
        ({"tool_id": 5, "files_metadata": "x"}, 422, "INVALID_REQUEST"),
    ],
)
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the mapping does not depend on the database
def test_creation_errors(api: Api, body: dict[str, Any], status: int, code: str) -> None:
    with api.client(api.ann_token) as client:
        assert_error(client.post("/tasks", json=body), status, code)
        assert client.get("/tasks").json()["total"] == 0  # nothing half-made is left behind


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_request_errors_name_the_field(api: Api) -> None:
    with api.client(api.ann_token) as client:
        body = assert_error(
            client.post("/tasks", content=b"{not json", headers={"content-type": "application/json"}),
            422,
            "INVALID_REQUEST",
        )
        assert body["errors"]
        body = assert_error(client.get("/tasks", params={"limit": 0}), 422, "INVALID_REQUEST")
        assert body["errors"][0]["field"] == "query.limit"
        assert_error(client.get("/tasks", params={"status": "sleeping"}), 422, "INVALID_FILTER")
        assert_error(client.get("/tasks", params={"tool": "nope"}), 422, "UNKNOWN_TOOL")
        assert_error(client.get("/no-such-endpoint"), 404, "NOT_FOUND")
        assert_error(client.put("/tasks"), 405, "METHOD_NOT_ALLOWED")


def test_processing_before_the_files_arrive(api: Api) -> None:
    with api.client(api.ann_token) as client:
        task_id = client.post("/tasks", json={"tool_id": "profile-my-data", "files_metadata": FILES}).json()[
            "task_id"
        ]
        client.post(f"/tasks/{task_id}/upload-urls")
        body = assert_error(client.post(f"/tasks/{task_id}/process"), 409, "FILES_NOT_FOUND")
        assert body["missing"] == ["people.csv"]
        assert client.get(f"/tasks/{task_id}").json()["status"] == "upload_failed"
        again = client.post(f"/tasks/{task_id}/upload-urls")  # the way out: fresh URLs
        assert again.status_code == 200
        assert client.get(f"/tasks/{task_id}").json()["status"] == "uploading"


# ---- the docs pages in a real browser (last in the module: Playwright holds the main thread's loop)
NO_BROWSER = not CHROMIUM.exists() and not os.environ.get("CI")


@pytest.mark.browser
@pytest.mark.skipif(NO_BROWSER, reason="Debian's chromium is not installed (make test installs it)")
def test_docs_pages_render_offline_in_a_browser(docs_site: str, browser: Any) -> None:
    """Swagger UI and ReDoc list every operation, and the browser sends no request off this host
    (ReDoc's attempt at its maker's logo is stopped by the page's Content-Security-Policy)."""
    schema = httpx.get(docs_site + API_PREFIX + "/openapi.json", timeout=10).json()
    operation_ids = {op["operationId"] for methods in schema["paths"].values() for op in methods.values()}
    operations = len(operation_ids)
    context = browser.new_context()
    context.set_default_timeout(20_000)
    sent: list[str] = []  # what reached the network: finished, or failed other than by the policy
    context.on("requestfinished", lambda request: sent.append(request.url))
    context.on("requestfailed", lambda request: request.failure == "csp" or sent.append(request.url))
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(docs_site + API_PREFIX + "/docs")
        page.locator(".opblock").nth(operations - 1).wait_for()
        assert page.locator(".opblock").count() == operations
        assert page.locator(".opblock-summary-path", has_text="/tasks/{task_id}/upload-urls").count() == 1

        page.goto(docs_site + API_PREFIX + "/redoc")
        sections = page.locator("[data-section-id^='operation/']")
        sections.nth(operations - 1).wait_for()
        shown = sections.evaluate_all("found => found.map(section => section.dataset.sectionId)")
        assert set(shown) == {f"operation/{operation_id}" for operation_id in operation_ids}
    finally:
        context.close()
    assert not errors
    bundles = {f"{docs_site}{ASSETS}{name}" for name in ("swagger-ui-bundle.js", "redoc.standalone.js")}
    assert bundles <= set(sent)
    off_host = [url for url in sent if not url.startswith((docs_site + "/", f"blob:{docs_site}/"))]
    assert not off_host, off_host
