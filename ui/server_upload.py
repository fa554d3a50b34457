"""The fallback upload: the app server PUTs the bytes to the slot's presigned URL.

For browsers or networks where the browser-direct upload (`ui.direct_upload`) fails, e.g. a
proxy that blocks PUTs to the storage host. The bytes then pass through the app server once
(Streamlit's own uploader), so this path is bounded by Streamlit's upload size limit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, BinaryIO

import requests

from core.errors import StorageError

CODE = "UPLOAD_FAILED"
_S3_MESSAGE = re.compile(r"<Message>([^<]{1,300})</Message>")


def put_to_presigned(target: Mapping[str, Any], data: bytes | BinaryIO, timeout: float = 300) -> None:
    """Send `data` with exactly the target's method and headers; raise `StorageError` otherwise.

    `target` is a presigned request (``url``, ``method``, ``headers``) as issued by the task
    service. A file object is streamed from its start (it is rewound when it can be), never read
    into memory first. Raises `StorageError` with code ``UPLOAD_FAILED`` (and ``status`` when
    the storage answered) on a non-2xx answer, a timeout or a connection failure.
    """
    url = target.get("url")
    if not url:
        raise StorageError("There is no upload link for this file.", code=CODE)
    method = str(target.get("method") or "PUT").upper()
    headers = {str(k): str(v) for k, v in (target.get("headers") or {}).items()}
    body: bytes | BinaryIO = data
    if isinstance(data, bytearray | memoryview):
        body = bytes(data)
    elif not isinstance(data, bytes):
        _rewind(data)
    try:
        response = requests.request(method, url, data=body, headers=headers, timeout=timeout)
    except requests.Timeout as error:
        raise StorageError(f"The upload timed out after {timeout:.0f} s.", code=CODE) from error
    except requests.RequestException as error:
        raise StorageError(
            f"The storage could not be reached ({type(error).__name__}).", code=CODE
        ) from error
    if not 200 <= response.status_code < 300:
        detail = _detail(response).strip().rstrip(". ")
        raise StorageError(
            f"The storage refused the upload (HTTP {response.status_code}{': ' + detail if detail else ''}).",
            code=CODE,
            status=response.status_code,
        )


def _rewind(data: BinaryIO) -> None:
    """Start from the beginning: a Streamlit `UploadedFile` may have been read already."""
    seekable = getattr(data, "seekable", None)
    if callable(seekable) and seekable():
        data.seek(0)


def _detail(response: requests.Response) -> str:
    """The storage's own sentence: `message` of our JSON errors, `<Message>` of S3's XML."""
    text = response.text.strip()
    if not text:
        return ""
    try:
        body = json.loads(text)
    except ValueError:
        found = _S3_MESSAGE.search(text)
        return found.group(1) if found else ""
    message = body.get("message") if isinstance(body, dict) else None
    return message[:300] if isinstance(message, str) else ""
