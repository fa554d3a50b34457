"""A client of the REST Task API, for `python -m core run --api URL --token T`.

It does what a browser does: create the task, PUT each file straight to its presigned URL (the
app never sees the bytes), queue it, poll until it ends, then fetch every download. Errors the
API answers keep their `error_code`, so the CLI reports them like local ones.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from core.errors import DQError
from core.states import TERMINAL

API_PREFIX = "/api/v1"  # where app.py mounts the API (api.factory uses this constant)
CHUNK = 1024 * 1024


def api_base(url: str) -> str:
    """The API root for an app address given with or without `/api/v1`."""
    url = url.rstrip("/")
    return url if url.endswith(API_PREFIX) else url + API_PREFIX


class ApiClient:
    def __init__(self, url: str, token: str, timeout: float = 60) -> None:
        if not token:
            raise DQError(
                "Give a personal API token with --token or DQ_API_TOKEN (create one on your Account page).",
                code="AUTH_REQUIRED",
            )
        self.base = api_base(url)
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API call; an error answer becomes a `DQError` with the API's code and message."""
        try:
            response = self.session.request(method, self.base + path, timeout=self.timeout, **kwargs)
        except requests.RequestException as error:
            raise DQError(
                f"The API at {self.base} cannot be reached ({type(error).__name__}).", code="API_UNREACHABLE"
            ) from error
        if response.status_code == 204:
            return None
        try:
            body = response.json()
        except ValueError:
            raise DQError(
                f"The address {self.base} did not answer like the Task API (HTTP {response.status_code}).",
                code="API_UNREACHABLE",
            ) from None
        if response.status_code >= 400:
            details = {k: v for k, v in body.items() if k not in ("error_code", "message")}
            raise DQError(str(body.get("message")), code=str(body.get("error_code")), **details)
        return body


def _upload(upload: dict[str, Any], path: Path, timeout: float) -> None:
    """PUT one file to its presigned URL with exactly the headers it was signed with."""
    with path.open("rb") as fh:
        try:
            response = requests.put(upload["url"], data=fh, headers=upload["headers"], timeout=timeout)
        except requests.RequestException as error:
            raise DQError(
                f"Uploading {path.name} failed ({type(error).__name__}).", code="UPLOAD_FAILED"
            ) from error
    if response.status_code >= 300:
        raise DQError(
            f"Storage refused the upload of {path.name} (HTTP {response.status_code}).", code="UPLOAD_FAILED"
        )


def _download(url: str, target: Path, timeout: float) -> None:
    with requests.get(url, stream=True, timeout=timeout) as response:
        if response.status_code != 200:
            raise DQError(
                f"Downloading {target.name} failed (HTTP {response.status_code}).", code="DOWNLOAD_FAILED"
            )
        with target.open("wb") as fh:
            for chunk in response.iter_content(CHUNK):
                fh.write(chunk)


def _progress_line(task: dict[str, Any]) -> str:
    agent = f" {task['current_agent']}:" if task.get("current_agent") else ""
    return f"[{task['progress']:3d}%] {task['status']}{agent} {task.get('progress_message') or ''}"


def run_via_api(
    client: ApiClient,
    tool_id: str,
    paths: dict[str, Path],
    agents: list[str] | None,
    parameters: dict[str, Any],
    out: Path,
    timeout: float | None = None,
    poll_seconds: float = 0.5,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> dict[str, Any]:
    """Run one task through the API and save its downloads into `out`; returns the final task."""
    files = {slot: {"filename": p.name, "size_bytes": p.stat().st_size} for slot, p in paths.items()}
    body = {"tool_id": tool_id, "agents": agents, "parameters": parameters, "files_metadata": files}
    task = client.call("POST", "/tasks", json=body)
    task_id = task["task_id"]
    log(f"task {task_id} created")
    uploads = client.call("POST", f"/tasks/{task_id}/upload-urls")["upload_urls"]
    for slot, upload in uploads.items():
        _upload(upload, paths[slot], client.timeout)
        log(f"uploaded {paths[slot].name} ({paths[slot].stat().st_size:,} bytes)")
    try:
        task = client.call("POST", f"/tasks/{task_id}/process")
    except DQError as error:
        log(f"error {error.code}: {error.message}")
        task = client.call("GET", f"/tasks/{task_id}")
    deadline = None if timeout is None else time.monotonic() + timeout
    last = None
    while task["status"] not in TERMINAL and task["status"] != "upload_failed":
        line = _progress_line(task)
        if line != last:
            log(line)
            last = line
        if deadline is not None and time.monotonic() > deadline:
            task = client.call("POST", f"/tasks/{task_id}/cancel")
            break
        time.sleep(poll_seconds)
        task = client.call("GET", f"/tasks/{task_id}")
    log(_progress_line(task))
    out.mkdir(parents=True, exist_ok=True)
    for item in client.call("GET", f"/tasks/{task_id}/downloads")["downloads"]:
        _download(item["url"], out / Path(item["filename"]).name, client.timeout)
    return task
