"""`LocalObjectStore`: objects as files under one folder, with URLs the app signs itself.

This is the embedded default, so a single `streamlit run app.py` can take uploads and serve
downloads without any cloud account. Browsers talk to it exactly as they talk to S3: they get
a short-lived signed URL, and the app's own HTTP routes (`storage/routes.py`) check the signature
before touching a file. Layout under `root`:

* `blobs/<key>`        the object's bytes, so keys map one-to-one onto a file tree;
* `meta/<key>.json`    the content type, kept apart so a listing of `blobs/` is only objects;
* `.~tmp-*` files      transient, in the folder of their target, so `os.replace` publishes a
                       complete file atomically (never a half-written one).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import stat
import tempfile
import time
import unicodedata
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, urlencode

import anyio

from core.errors import ConfigurationError, StorageError
from storage.base import ObjectInfo, PresignedRequest, copy_stream

DEFAULT_CONTENT_TYPE = "application/octet-stream"
TEMP_PREFIX = ".~tmp-"
TEMP_FILE_MODE = 0o600  # what `tempfile.mkstemp` gives the temp files objects are published from
MAX_KEY_BYTES = 1024  # the S3 limit, so a key that works here also works on B2
MAX_SEGMENT_BYTES = 250  # NAME_MAX (255) minus room for the ".json" of the metadata sidecar
MAX_CONTENT_TYPE_LENGTH = 255
COPY_CHUNK = 1024 * 1024  # streamed uploads are written in pieces this size
SIGNATURE_VERSION = "v1"

_CONTENT_TYPE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+/[\x20-\x7e]+$")
_EXPIRES = re.compile(r"^[0-9]{1,12}$")
_SIGNATURE = re.compile(r"^[0-9a-f]{64}$")


# --------------------------------------------------------------------------- keys and headers


def validate_key(key: str) -> str:
    """Return `key` if it is a safe relative object key, else raise `StorageError(INVALID_KEY)`.

    Keys arrive from URLs, so they are hostile until proven otherwise: anything that could name
    a file outside the store (`..`, absolute paths, backslashes), confuse the file system (empty
    or over-long segments, control characters) or collide with our temp files is refused.
    """
    if not isinstance(key, str) or not key:
        raise StorageError("The storage key is empty.", code="INVALID_KEY")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise StorageError("The storage key is longer than 1,024 bytes.", code="INVALID_KEY")
    if key.startswith("/") or "\\" in key:
        raise StorageError("The storage key must be a relative path with '/' separators.", code="INVALID_KEY")
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") for ch in key):
        raise StorageError("The storage key contains control characters.", code="INVALID_KEY")
    for segment in key.split("/"):
        _validate_segment(segment)
    return key


def _validate_segment(segment: str) -> None:
    if segment in ("", ".", ".."):
        raise StorageError("The storage key has an empty, '.' or '..' path segment.", code="INVALID_KEY")
    if segment.startswith(TEMP_PREFIX):
        raise StorageError(f"Storage key segments may not start with {TEMP_PREFIX!r}.", code="INVALID_KEY")
    if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
        raise StorageError(
            f"A storage key segment is longer than {MAX_SEGMENT_BYTES} bytes.", code="INVALID_KEY"
        )


def validate_prefix(prefix: str) -> tuple[str, str]:
    """Split a listing prefix into its complete folder part and the partial name after it.

    Prefixes have S3 semantics (plain string prefixes, `""` means everything), so
    `users/1/tasks/ab` lists `users/1/tasks/abc/...` and `users/1/tasks/ab.csv` alike.
    """
    if not isinstance(prefix, str):
        raise StorageError("The storage prefix must be text.", code="INVALID_KEY")
    folder, _, partial = prefix.rpartition("/")
    if folder:
        validate_key(folder)
    if partial and ("\\" in partial or any(unicodedata.category(ch) == "Cc" for ch in partial)):
        raise StorageError("The storage prefix contains forbidden characters.", code="INVALID_KEY")
    return (f"{folder}/" if folder else ""), partial


def validate_content_type(content_type: str) -> str:
    """A content type is echoed into response headers, so only a plain `type/subtype[; params]`."""
    if (
        not isinstance(content_type, str)
        or len(content_type) > MAX_CONTENT_TYPE_LENGTH
        or not _CONTENT_TYPE.match(content_type)
    ):
        raise StorageError(
            "The content type must look like 'type/subtype' in plain ASCII.", code="INVALID_CONTENT_TYPE"
        )
    return content_type


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """A `Content-Disposition` value that names the download in every browser (RFC 6266).

    `filename*` carries the exact UTF-8 name for modern browsers; `filename` is an ASCII
    approximation for old clients. Control characters and path separators are dropped so a name
    can neither inject headers nor suggest a folder.
    """
    name = unicodedata.normalize("NFC", str(filename))
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.replace("/", "_").replace("\\", "_").strip() or "download"
    return f"{disposition}; filename=\"{_ascii_fallback(name)}\"; filename*=UTF-8''{quote(name, safe='')}"


def _ascii_fallback(name: str) -> str:
    chars = []
    for ch in unicodedata.normalize("NFKD", name):
        if unicodedata.combining(ch):
            continue
        chars.append(ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\%' else "_")
    fallback = "".join(chars).strip()
    return fallback if fallback.strip("_. ") else "download"


# --------------------------------------------------------------------------- the store


class LocalObjectStore:
    """`ObjectStore` on the local file system; see the module docstring for the layout.

    `clock` exists so tests can mint URLs that are already expired without sleeping.
    """

    def __init__(
        self,
        root: Path,
        secret: str,
        base_url: str,
        max_upload_bytes: int,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secret:
            raise ConfigurationError("Setting SIGNING_SECRET is empty; local storage URLs cannot be signed.")
        if max_upload_bytes < 0:
            raise ConfigurationError("Setting MAX_UPLOAD_MB must not be negative.")
        self.root = Path(root).resolve()
        self.blobs = self.root / "blobs"
        self.meta = self.root / "meta"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.meta.mkdir(parents=True, exist_ok=True)
        self.base_url = base_url.rstrip("/")
        self.max_upload_bytes = max_upload_bytes
        self._secret = secret.encode("utf-8")
        self._clock = clock

    def __repr__(self) -> str:  # never show the secret
        return f"LocalObjectStore(root={str(self.root)!r}, base_url={self.base_url!r})"

    # ----------------------------------------------------------------- signed URLs

    def presign_upload(self, key: str, content_type: str, expires_in: int = 3600) -> PresignedRequest:
        """A signed PUT; the signature binds method, key, expiry and content type."""
        validate_key(key)
        validate_content_type(content_type)
        expires = self._expiry(expires_in)
        query = {"method": "PUT", "expires": str(expires), "ct": content_type}
        query["sig"] = self._sign("PUT", key, query["expires"], content_type)
        return PresignedRequest(
            url=self._url(key, query),
            method="PUT",
            headers={"Content-Type": content_type},
            expires_at=datetime.fromtimestamp(expires, tz=UTC),
        )

    def presign_download(self, key: str, filename: str, expires_in: int = 3600) -> PresignedRequest:
        """A signed GET; the signature binds method, key, expiry and the download file name."""
        validate_key(key)
        expires = self._expiry(expires_in)
        query = {"method": "GET", "expires": str(expires), "filename": filename}
        query["sig"] = self._sign("GET", key, query["expires"], filename)
        return PresignedRequest(
            url=self._url(key, query),
            method="GET",
            headers={},
            expires_at=datetime.fromtimestamp(expires, tz=UTC),
        )

    def verify_signature(self, method: str, key: str, query: Mapping[str, str]) -> None:
        """Raise `StorageError` unless `query` is an unexpired signature for `method` on `key`.

        Every failure (missing field, other method, altered key/expiry/content type/file name,
        forged or expired) gives the same kind of error, and expiry is only checked once the
        signature is known to be ours, so a probe learns nothing about which part was wrong.
        """
        validate_key(key)
        method = method.upper()
        expires = query.get("expires", "")
        sig = query.get("sig", "")
        bound = query.get("ct" if method == "PUT" else "filename", "")
        if (
            query.get("method", "").upper() != method
            or not _EXPIRES.match(expires)
            or not _SIGNATURE.match(sig)
        ):
            raise StorageError("This link is not valid for this request.", code="SIGNATURE_INVALID")
        expected = self._sign(method, key, expires, bound)
        if not hmac.compare_digest(expected, sig):
            raise StorageError("This link is not valid for this request.", code="SIGNATURE_INVALID")
        if int(expires) < self._clock():
            raise StorageError("This link has expired; ask for a new one.", code="URL_EXPIRED")

    def _sign(self, method: str, key: str, expires: str, bound: str) -> str:
        canonical = "\n".join((SIGNATURE_VERSION, method, key, expires, bound))
        return hmac.new(self._secret, canonical.encode("utf-8"), hashlib.sha256).hexdigest()

    def _expiry(self, expires_in: int) -> int:
        if expires_in <= 0:
            raise StorageError("A link must stay valid for at least one second.", code="INVALID_EXPIRY")
        return int(self._clock()) + int(expires_in)

    def _url(self, key: str, query: dict[str, str]) -> str:
        return f"{self.base_url}/storage/objects/{quote(key, safe='/')}?{urlencode(query, quote_via=quote)}"

    # ----------------------------------------------------------------- paths

    def blob_path(self, key: str) -> Path:
        """The file holding `key`'s bytes, guaranteed to lie inside the store."""
        return self._inside(self.blobs, validate_key(key))

    def _meta_path(self, key: str) -> Path:
        return self._inside(self.meta, validate_key(key) + ".json")

    def _folder(self, folder: str) -> Path:
        """The blob folder of a validated prefix's folder part (`""` is the root of all blobs)."""
        return self._inside(self.blobs, folder.rstrip("/")) if folder else self.blobs

    def _inside(self, base: Path, relative: str) -> Path:
        """Belt and braces after `validate_key`: a symlinked folder must not lead outside either."""
        path = base / relative
        resolved = path.resolve()
        if resolved != base and base not in resolved.parents:
            raise StorageError("The storage key points outside the store.", code="INVALID_KEY")
        return path

    # ----------------------------------------------------------------- reads

    def exists(self, key: str) -> bool:
        try:
            return stat.S_ISREG(self.blob_path(key).stat().st_mode)
        except (FileNotFoundError, NotADirectoryError):
            return False

    def info(self, key: str) -> ObjectInfo:
        return self.stat_for_download(key)[2]

    def stat_for_download(self, key: str) -> tuple[Path, os.stat_result, ObjectInfo]:
        """Path, stat and info in one call, so the download route stats the file only once."""
        path = self.blob_path(key)
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise _not_found(key) from None
        if not stat.S_ISREG(st.st_mode):
            raise _not_found(key)
        return path, st, self._info(key, st)

    def _info(self, key: str, st: os.stat_result) -> ObjectInfo:
        return ObjectInfo(
            key=key,
            size=st.st_size,
            content_type=self._content_type(key),
            modified=datetime.fromtimestamp(st.st_mtime, tz=UTC),
        )

    def _content_type(self, key: str) -> str:
        try:
            data = json.loads(self._meta_path(key).read_text(encoding="utf-8"))
        except (FileNotFoundError, NotADirectoryError, ValueError):
            return DEFAULT_CONTENT_TYPE
        value = data.get("content_type") if isinstance(data, dict) else None
        return value if isinstance(value, str) and value else DEFAULT_CONTENT_TYPE

    def open_read(self, key: str) -> BinaryIO:
        """A plain binary file; once open it stays readable even if the object is deleted."""
        try:
            handle = self.blob_path(key).open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise _not_found(key) from None
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            handle.close()
            raise _not_found(key)
        return handle

    def save_to(self, key: str, path: Path, *, may_link: bool = False) -> None:
        """A hard link when allowed (objects are replaced by rename, never changed in place, so
        a link is a snapshot that survives the object's deletion), else a kernel copy."""
        source = self.blob_path(key)
        if may_link:
            with contextlib.suppress(OSError):  # another filesystem, or links not allowed
                os.link(source, path)
                return
        with self.open_read(key) as reader, path.open("wb") as target:
            copy_stream(reader, target)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Objects under `prefix` in key order (as S3 lists them), one folder in memory at a time."""
        folder, partial = validate_prefix(prefix)
        for key, st in self._walk(self._folder(folder), folder, partial):
            yield self._info(key, st)

    def _walk(
        self, directory: Path, key_prefix: str, partial: str = ""
    ) -> Iterator[tuple[str, os.stat_result]]:
        """Depth-first over `directory`, ordered so the emitted keys are sorted as strings.

        A folder `a` sorts as `a/`, which is where its keys fall among its siblings' keys
        (`a-b` < `a/c` < `a0`); plain name order would get that wrong.
        """
        try:
            with os.scandir(directory) as scan:
                entries = [
                    (entry.name + "/" if entry.is_dir(follow_symlinks=False) else entry.name, entry)
                    for entry in scan
                    if entry.name.startswith(partial) and not entry.name.startswith(TEMP_PREFIX)
                ]
        except (FileNotFoundError, NotADirectoryError):
            return
        entries.sort(key=lambda pair: pair[0])
        for sort_name, entry in entries:
            if sort_name.endswith("/"):
                yield from self._walk(Path(entry.path), key_prefix + sort_name)
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # deleted while we were listing
            if stat.S_ISREG(st.st_mode):
                yield key_prefix + entry.name, st

    # ----------------------------------------------------------------- writes

    def write(
        self, key: str, data: bytes | BinaryIO | Path, content_type: str = DEFAULT_CONTENT_TYPE
    ) -> None:
        """Store `data` (bytes, a binary file copied in chunks, or a file handed over) under
        `key`, atomically."""
        validate_content_type(content_type)
        target = self.blob_path(key)
        if isinstance(data, Path):
            if self._adopt(key, data, target, content_type):
                return
            with data.open("rb") as source:
                self.write(key, source, content_type)
            return

        def fill(fh: BinaryIO) -> None:
            if isinstance(data, bytes | bytearray | memoryview):
                fh.write(data)
            else:
                copy_stream(data, fh)

        tmp = self._temp_file(target)
        try:
            with tmp.open("wb") as fh:
                fill(fh)
                fh.flush()
                os.fsync(fh.fileno())
            self._publish(key, tmp, target, content_type)
        finally:
            tmp.unlink(missing_ok=True)

    def _adopt(self, key: str, source: Path, target: Path, content_type: str) -> bool:
        """Publish the handed-over file `source` under `key` by a hard link: its bytes are
        written once, where the caller wrote them (a million-line CSV is not copied again).
        Synced before it is published, like every write. False when it cannot be linked
        (another filesystem, links not allowed): the caller copies it instead."""
        tmp = self._temp_file(target)
        try:
            tmp.unlink()  # the temp file's unique name, for the link
            try:
                os.link(source, tmp)
            except OSError:
                return False
            os.chmod(tmp, TEMP_FILE_MODE)  # as private as the objects written by `write`
            with tmp.open("rb") as fh:
                os.fsync(fh.fileno())
            self._publish(key, tmp, target, content_type)
            return True
        finally:
            tmp.unlink(missing_ok=True)

    async def receive_upload(
        self,
        key: str,
        content_type: str,
        chunks: AsyncIterator[bytes],
        declared_length: int | None = None,
    ) -> ObjectInfo:
        """Stream an HTTP request body into `key`; publish it only if it is complete and in size.

        The limit is checked against `Content-Length` before any byte is read and again while
        streaming (the header can be absent or lie). Disk writes go to a worker thread in 1 MiB
        batches so a 2 GB upload never blocks the event loop that also serves the UI.
        """
        validate_content_type(content_type)
        target = self.blob_path(key)
        if declared_length is not None and declared_length > self.max_upload_bytes:
            raise _too_large(self.max_upload_bytes)
        tmp = self._temp_file(target)
        try:
            received = await self._spool(chunks, tmp)
            if declared_length is not None and received != declared_length:
                raise StorageError(
                    f"The upload stopped after {received:,} of {declared_length:,} bytes; try again.",
                    code="UPLOAD_INCOMPLETE",
                )
            await anyio.to_thread.run_sync(self._publish, key, tmp, target, content_type)
        finally:
            tmp.unlink(missing_ok=True)
        return self.info(key)

    async def _spool(self, chunks: AsyncIterator[bytes], tmp: Path) -> int:
        received = 0
        buffer = bytearray()
        fh = tmp.open("wb")
        try:
            async for chunk in chunks:
                received += len(chunk)
                if received > self.max_upload_bytes:
                    raise _too_large(self.max_upload_bytes)
                buffer += chunk
                if len(buffer) >= COPY_CHUNK:
                    await anyio.to_thread.run_sync(fh.write, bytes(buffer))
                    buffer.clear()
            if buffer:
                await anyio.to_thread.run_sync(fh.write, bytes(buffer))
            await anyio.to_thread.run_sync(_flush_and_sync, fh)
        finally:
            fh.close()
        return received

    def _publish(self, key: str, tmp: Path, target: Path, content_type: str) -> None:
        """Metadata first, then the bytes: an object is visible only once both are in place."""
        if target.is_dir():
            raise StorageError(f"The storage key {key!r} is already used as a folder.", code="KEY_CONFLICT")
        self._write_meta(key, content_type)
        try:
            os.replace(tmp, target)
        except IsADirectoryError:
            raise StorageError(
                f"The storage key {key!r} is already used as a folder.", code="KEY_CONFLICT"
            ) from None

    def _write_meta(self, key: str, content_type: str) -> None:
        meta = self._meta_path(key)
        tmp = self._temp_file(meta)
        try:
            tmp.write_text(json.dumps({"content_type": content_type}), encoding="utf-8")
            os.replace(tmp, meta)
        finally:
            tmp.unlink(missing_ok=True)

    def _temp_file(self, target: Path, attempts: int = 5) -> Path:
        """An empty temp file beside `target`, creating folders as needed.

        A concurrent `delete_prefix` may remove a just-created empty folder; we simply retry.
        """
        for attempt in range(1, attempts + 1):
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=target.parent)
            except (FileExistsError, NotADirectoryError):
                raise StorageError(
                    f"Part of the storage key {target.name!r} is already used as a file.", code="KEY_CONFLICT"
                ) from None
            except FileNotFoundError:
                if attempt == attempts:
                    raise
            else:
                os.close(fd)
                return Path(name)
        raise StorageError("Could not create a temporary file in storage.", code="STORAGE_ERROR")

    # ----------------------------------------------------------------- deletes

    def delete(self, key: str) -> None:
        """Remove `key` if present (like S3, deleting a missing object is not an error)."""
        self._delete_one(key)
        self._prune(self.blob_path(key).parent, self.blobs)
        self._prune(self._meta_path(key).parent, self.meta)

    def _delete_one(self, key: str) -> bool:
        """Unlink is atomic: the object is either fully there or gone; the sidecar follows."""
        try:
            self.blob_path(key).unlink()
            deleted = True
        except (FileNotFoundError, NotADirectoryError):
            deleted = False
        except IsADirectoryError:
            return False
        self._meta_path(key).unlink(missing_ok=True)
        return deleted

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under `prefix` and the folders it leaves empty; returns the count.

        An empty prefix is refused: one bug passing `""` must not wipe every user's files.
        """
        folder, partial = validate_prefix(prefix)
        if not folder and not partial:
            raise StorageError("Refusing to delete every object in the store.", code="INVALID_KEY")
        count = sum(self._delete_one(key) for key, _ in self._walk(self._folder(folder), folder, partial))
        for base in (self.blobs, self.meta):
            directory = base / folder if folder else base
            self._remove_empty_dirs(directory, partial)
            self._prune(directory, base)
        return count

    @staticmethod
    def _remove_empty_dirs(directory: Path, partial: str) -> None:
        """Bottom-up rmdir of the sub-folders matching `partial`; non-empty ones simply stay."""
        try:
            tops = [
                e.path
                for e in os.scandir(directory)
                if e.name.startswith(partial) and e.is_dir(follow_symlinks=False)
            ]
        except (FileNotFoundError, NotADirectoryError):
            return
        for top in tops:
            for current, _dirs, _files in os.walk(top, topdown=False):
                with contextlib.suppress(OSError):
                    os.rmdir(current)

    @staticmethod
    def _prune(directory: Path, stop: Path) -> None:
        """Remove `directory` and its empty parents, up to but excluding `stop`."""
        while directory != stop and stop in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent


def _flush_and_sync(fh: BinaryIO) -> None:
    fh.flush()
    os.fsync(fh.fileno())


def _not_found(key: str) -> StorageError:
    return StorageError(
        f"The file {key.rsplit('/', 1)[-1]!r} is not in storage.", code="OBJECT_NOT_FOUND", key=key
    )


def _too_large(limit: int) -> StorageError:
    return StorageError(
        f"The file is larger than the {_human_size(limit)} limit.", code="FILE_TOO_LARGE", limit_bytes=limit
    )


def _human_size(size: int) -> str:
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            return f"{size / factor:,.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"
