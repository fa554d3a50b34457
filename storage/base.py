"""The `ObjectStore` protocol every storage backend implements.

The task engine only speaks this interface, so the embedded default (files on disk, URLs signed
by the app) and production (B2 through the S3 API) are interchangeable, and one contract test
suite checks both.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

COPY_CHUNK = 1024 * 1024


def copy_stream(source: BinaryIO, target: BinaryIO) -> None:
    """Copy `source` from its current position to its end into `target`.

    Between two files on disk the kernel copies (`sendfile`): no bytes pass through Python,
    which halves the time of a copy of a few hundred megabytes. Anything else (a network body,
    an in-memory buffer) is copied in 1 MiB chunks."""
    try:
        source_fd, target_fd = source.fileno(), target.fileno()
        start, size = source.tell(), os.fstat(source_fd).st_size
    except (AttributeError, OSError, ValueError):
        shutil.copyfileobj(source, target, COPY_CHUNK)
        return
    target.flush()
    offset = start
    while offset < size:
        sent = os.sendfile(target_fd, source_fd, offset, size - offset)
        if sent == 0:
            break
        offset += sent
    source.seek(offset)
    target.seek(0, os.SEEK_END)


@dataclass(frozen=True)
class PresignedRequest:
    """Everything a client needs to make one signed HTTP request without our credentials."""

    url: str
    method: str
    headers: dict[str, str] = field(default_factory=dict)
    expires_at: datetime | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "url": self.url,
            "method": self.method,
            "headers": dict(self.headers),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    content_type: str
    modified: datetime


@runtime_checkable
class ObjectStore(Protocol):
    """Operations the product needs from object storage; keys are `/`-separated strings."""

    def presign_upload(self, key: str, content_type: str, expires_in: int = 3600) -> PresignedRequest:
        """A PUT the client makes with exactly the returned headers."""
        ...

    def presign_download(self, key: str, filename: str, expires_in: int = 3600) -> PresignedRequest:
        """A GET that downloads the object under `filename`."""
        ...

    def exists(self, key: str) -> bool: ...

    def info(self, key: str) -> ObjectInfo:
        """Size, stored content type and modification time (UTC).

        Raises `StorageError` with code `OBJECT_NOT_FOUND` if absent.
        """
        ...

    def open_read(self, key: str) -> BinaryIO:
        """A binary file over the object's bytes, read without loading the whole object.

        Raises `StorageError` with code `OBJECT_NOT_FOUND` if absent; close it (or use `with`).
        """
        ...

    def write(
        self, key: str, data: bytes | BinaryIO | Path, content_type: str = "application/octet-stream"
    ) -> None:
        """Store bytes, a binary file (streamed) or a local file; readers never see a
        half-written object.

        A `Path` is a file the caller hands over: it must not change it afterwards, only remove
        it. A store on the same disk may then keep the file's bytes instead of copying them
        (a hard link), which spares a second copy of a large output.
        """
        ...

    def save_to(self, key: str, path: Path, *, may_link: bool = False) -> None:
        """Put the object's bytes in the local file `path`.

        With `may_link`, a store on this machine's disk may hard-link instead of copying: only
        for private scratch files that nobody edits, since a link shares the stored bytes.
        Raises `StorageError` with code `OBJECT_NOT_FOUND` if absent.
        """
        ...

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object under `prefix` (a plain string prefix), in key order, lazily.

        Pages through listings of any size. S3 listings carry no content type, so there it is
        guessed from the key's extension; `info()` always returns the stored one.
        """
        ...

    def delete(self, key: str) -> None:
        """Remove the object; deleting a missing object is not an error (as on S3)."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under `prefix`; returns how many were deleted.

        An empty prefix is refused (`INVALID_KEY`) so a bug cannot wipe the whole store.
        """
        ...
