"""`python -m core storage check` and `storage cors`: is the configured bucket ready for the app?

The check does, with a probe object under `_storage-check/`, every call the app makes: reach the
bucket, write, read, a presigned PUT and a presigned GET made over real HTTP as a browser would,
list and delete; then it reads the bucket's CORS rules and says whether browsers at the app's
address may upload. Each step reports what it saw, so a wrong key, region or rule is named
rather than discovered later by a user. The probe objects are removed whatever happens.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import requests

from core.errors import ConfigurationError, DQError
from core.settings import Settings
from storage.factory import build_store
from storage.s3 import (
    S3ObjectStore,
    b2_cors_command,
    cors_allows,
    get_cors_rules,
    put_cors_rules,
    upload_cors_rules,
)

PROBE_PREFIX = "_storage-check/"
PROBE_TYPE = "text/plain"
HTTP_TIMEOUT = 30
URL_SECONDS = 300


@dataclass
class Step:
    name: str
    ok: bool
    detail: str
    ms: int


@dataclass
class CheckReport:
    bucket: str
    endpoint: str | None
    origin: str
    steps: list[Step] = field(default_factory=list)
    cors_rules: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def s3_store(settings: Settings) -> S3ObjectStore:
    store = build_store(settings)
    if not isinstance(store, S3ObjectStore):
        raise ConfigurationError(
            "These commands check an S3/B2 bucket: set STORAGE_BACKEND=s3 and the S3_* settings "
            "(the embedded default stores files on this machine and needs no bucket)."
        )
    return store


def _run(report: CheckReport, name: str, action: Callable[[], str]) -> bool:
    started = time.monotonic()
    try:
        detail, ok = action(), True
    except DQError as error:
        detail, ok = f"{error.code}: {error.message}", False
    except requests.RequestException as error:
        detail, ok = f"HTTP request failed: {type(error).__name__}: {error}", False
    except AssertionError as error:
        detail, ok = str(error), False
    report.steps.append(Step(name, ok, detail, int((time.monotonic() - started) * 1000)))
    return ok


def check_storage(settings: Settings, origin: str | None = None) -> CheckReport:
    """Exercise the bucket the settings name; the report says which step failed and why."""
    store = s3_store(settings)
    origin = (origin or settings.public_base_url).rstrip("/")
    report = CheckReport(store.bucket, store.endpoint_url, origin)
    prefix = f"{PROBE_PREFIX}{uuid.uuid4().hex}/"
    written, uploaded = prefix + "written.txt", prefix + "uploaded.txt"
    payload = f"storage check {uuid.uuid4()}".encode()
    browser_payload = payload[::-1]

    def reach() -> str:
        store.check_bucket()
        return f"bucket {store.bucket!r} answers at {store.endpoint_url or 'AWS S3'}"

    def write() -> str:
        store.write(written, payload, PROBE_TYPE)
        return f"wrote {written} ({len(payload)} bytes)"

    def read() -> str:
        with store.open_read(written) as fh:
            got = fh.read()
        assert got == payload, f"read back {len(got)} bytes that differ from what was written"
        return "read back the same bytes"

    def presigned_put() -> str:
        request = store.presign_upload(uploaded, PROBE_TYPE, expires_in=URL_SECONDS)
        answer = requests.put(
            request.url, data=browser_payload, headers=request.headers, timeout=HTTP_TIMEOUT
        )
        assert answer.status_code in (200, 201, 204), (
            f"the presigned PUT answered HTTP {answer.status_code}: {answer.text[:300]}"
        )
        info = store.info(uploaded)
        assert info.size == len(browser_payload), f"stored {info.size} bytes, sent {len(browser_payload)}"
        return f"HTTP PUT to a presigned URL stored {info.size} bytes as {info.content_type}"

    def presigned_get() -> str:
        request = store.presign_download(uploaded, "probe.txt", expires_in=URL_SECONDS)
        answer = requests.get(request.url, timeout=HTTP_TIMEOUT)
        assert answer.status_code == 200, f"the presigned GET answered HTTP {answer.status_code}"
        assert answer.content == browser_payload, "the presigned GET returned other bytes"
        disposition = answer.headers.get("content-disposition", "")
        assert "probe.txt" in disposition, f"no download file name in Content-Disposition {disposition!r}"
        return "HTTP GET of a presigned URL returned the bytes with the download file name"

    def listing() -> str:
        keys = sorted(info.key for info in store.list(prefix))
        assert keys == sorted([written, uploaded]), f"the listing shows {keys}"
        return f"listed {len(keys)} probe objects"

    def delete() -> str:
        store.delete_prefix(prefix)
        left = [info.key for info in store.list(prefix)]
        assert not left and not store.exists(written), f"still there after deleting: {left}"
        return "deleted the probe objects"

    def cors() -> str:
        report.cors_rules = get_cors_rules(store)
        if not report.cors_rules:
            raise DQError(
                f"The bucket has no CORS rules, so browsers at {origin} cannot upload to it. "
                f"Run: python -m core storage cors --origin {origin}",
                code="CORS_MISSING",
            )
        missing = [m for m in ("PUT", "GET") if not cors_allows(report.cors_rules, origin, m)]
        if missing:
            raise DQError(
                f"The bucket's CORS rules do not allow {', '.join(missing)} from {origin}. "
                f"Run: python -m core storage cors --origin {origin}",
                code="CORS_MISSING",
            )
        return f"{len(report.cors_rules)} CORS rule(s); PUT and GET from {origin} are allowed"

    try:
        if _run(report, "reach the bucket", reach):
            if _run(report, "write", write):
                _run(report, "read", read)
            if _run(report, "presigned PUT over HTTP", presigned_put):
                _run(report, "presigned GET over HTTP", presigned_get)
            _run(report, "list", listing)
            _run(report, "delete", delete)
            _run(report, "CORS rules", cors)
    finally:
        with contextlib.suppress(DQError):  # the delete step has already reported why
            store.delete_prefix(prefix)
    return report


@dataclass
class CorsResult:
    bucket: str
    origins: list[str]
    applied: bool
    rules: list[dict[str, Any]]
    message: str
    b2_command: str


def set_cors(settings: Settings, origins: list[str]) -> CorsResult:
    """Add (or replace) our browser-upload rule, keeping the bucket's other rules.

    When the S3 call is refused (a key without the right to change bucket settings, or a bucket
    with rules set in B2's own API), the result carries the equivalent `b2` command instead.
    """
    store = s3_store(settings)
    origins = [o.rstrip("/") for o in origins] or [settings.public_base_url]
    ours = upload_cors_rules(origins)
    command = b2_cors_command(store.bucket, origins)
    try:
        others = [r for r in get_cors_rules(store) if r.get("ID") != ours[0]["ID"]]
        put_cors_rules(store, others + ours)
        rules = get_cors_rules(store)
    except DQError as error:
        return CorsResult(
            store.bucket,
            origins,
            False,
            [],
            f"The S3 call was refused ({error.code}: {error.message}). Set the rule with the B2 "
            "command line instead (b2 account authorize first, with a key that may change the bucket):",
            command,
        )
    return CorsResult(
        store.bucket,
        origins,
        True,
        rules,
        f"CORS rules set on {store.bucket!r} for {', '.join(origins)}.",
        command,
    )
