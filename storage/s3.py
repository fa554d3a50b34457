"""`S3ObjectStore`: Backblaze B2, or any S3-compatible service, through boto3.

Browsers upload and download with presigned URLs, straight to the bucket; the app itself only
lists, reads, writes and deletes. The client is configured for what B2 and other non-AWS
services accept, which since boto3 1.36 is *not* the default:

* boto3 >= 1.36 adds CRC32 checksums to every upload (`x-amz-checksum-crc32`,
  `x-amz-sdk-checksum-algorithm`, and `aws-chunked` trailers over HTTPS) and asks for checksums
  on downloads (`x-amz-checksum-mode`). B2 rejects these headers, so both settings are
  `when_required`.
* `DeleteObjects` and `PutBucketCors` *require* a checksum, and even with `when_required` boto3
  sends CRC32 there instead of the `Content-MD5` older clients sent. We swap it back to
  `Content-MD5`, which B2 and every S3 implementation accept.
* Path-style addressing when an endpoint is given, since not every provider has per-bucket
  DNS names.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import mimetypes
import re
import shlex
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlparse

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from core.errors import StorageError
from storage.base import ObjectInfo, PresignedRequest, copy_stream
from storage.local import DEFAULT_CONTENT_TYPE, content_disposition

DELETE_BATCH = 1000  # the most keys one DeleteObjects call accepts
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4 presigned URLs cannot live longer
READ_CHUNK = 1024 * 1024

_NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound"}
_DENIED_CODES = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "Forbidden"}
_B2_ENDPOINT = re.compile(r"^s3\.([a-z0-9-]+)\.backblazeb2\.com$")
_CHECKSUM_HEADERS = ("x-amz-sdk-checksum-algorithm", "x-amz-trailer")
CHECKSUM_REQUIRED_OPERATIONS = ("DeleteObjects", "PutBucketCors")

# What a browser needs to PUT a file to a presigned URL and GET a download from another origin.
CORS_METHODS = ("PUT", "GET", "HEAD")
CORS_EXPOSE_HEADERS = ("ETag", "Content-Length", "Content-Disposition")
CORS_MAX_AGE_SECONDS = 3600


def client_config(endpoint_url: str | None) -> Config:
    """The botocore configuration that keeps requests acceptable to B2 (see the module docstring)."""
    return Config(
        signature_version="s3v4",
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        s3={"addressing_style": "path"} if endpoint_url else {},
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=10,
        read_timeout=60,
    )


def region_for(endpoint_url: str | None, region: str | None) -> str | None:
    """B2 signs with the region in its host name, so derive it when S3_REGION is not set."""
    if region or not endpoint_url:
        return region
    match = _B2_ENDPOINT.match(urlparse(endpoint_url).hostname or "")
    return match.group(1) if match else "us-east-1"


def make_client(
    endpoint_url: str | None = None,
    region: str | None = None,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
) -> Any:
    """An S3 client with B2-safe settings and the `DeleteObjects` Content-MD5 fix installed."""
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region_for(endpoint_url, region),
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=client_config(endpoint_url),
    )
    install_content_md5_for_delete_objects(client)
    return client


def install_content_md5_for_delete_objects(client: Any) -> None:
    """Make `DeleteObjects` (and `PutBucketCors`) carry `Content-MD5` instead of the CRC32
    headers B2 rejects.

    Runs on `before-sign`, after botocore has added its checksum and before the request is
    signed, so the signature covers the headers actually sent. Registering twice is harmless.
    """
    for operation in CHECKSUM_REQUIRED_OPERATIONS:
        client.meta.events.register(
            f"before-sign.s3.{operation}", _use_content_md5, unique_id=f"dq-{operation}-content-md5"
        )


def _use_content_md5(request: Any, **_: Any) -> None:
    for name in list(request.headers.keys()):
        if name.lower().startswith("x-amz-checksum-") or name.lower() in _CHECKSUM_HEADERS:
            del request.headers[name]
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    digest = hashlib.md5(body, usedforsecurity=False).digest()
    del request.headers["Content-MD5"]  # no-op when absent; never send two
    request.headers["Content-MD5"] = base64.b64encode(digest).decode("ascii")


class _BodyReader(io.RawIOBase):
    """botocore's streaming body as a raw stream, so `BufferedReader` makes it a normal file."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class S3ObjectStore:
    """`ObjectStore` on one S3 bucket. Pass `client` to reuse or instrument a boto3 client."""

    transfer_config = TransferConfig(multipart_threshold=64 * 1024**2, multipart_chunksize=64 * 1024**2)

    def __init__(
        self,
        bucket: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        client: Any = None,
    ) -> None:
        if not bucket:
            raise StorageError("No bucket is configured (S3_BUCKET).", code="CONFIGURATION_ERROR")
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        if client is None:
            client = make_client(endpoint_url, region, access_key_id, secret_access_key)
        else:
            install_content_md5_for_delete_objects(client)
        self.client = client

    def __repr__(self) -> str:  # never show credentials
        return f"S3ObjectStore(bucket={self.bucket!r}, endpoint_url={self.endpoint_url!r})"

    # ----------------------------------------------------------------- presigned URLs

    def presign_upload(self, key: str, content_type: str, expires_in: int = 3600) -> PresignedRequest:
        """A PUT whose only required header is `Content-Type` (signed, so it must match)."""
        expires_in = _presign_seconds(expires_in)
        params = {"Bucket": self.bucket, "Key": key, "ContentType": content_type}
        url = self._call(
            "prepare an upload for",
            key,
            self.client.generate_presigned_url,
            "put_object",
            Params=params,
            ExpiresIn=expires_in,
            HttpMethod="PUT",
        )
        return PresignedRequest(url, "PUT", {"Content-Type": content_type}, _expires_at(expires_in))

    def presign_download(self, key: str, filename: str, expires_in: int = 3600) -> PresignedRequest:
        """A GET that the bucket answers with `Content-Disposition: attachment; filename*=...`."""
        expires_in = _presign_seconds(expires_in)
        params = {
            "Bucket": self.bucket,
            "Key": key,
            "ResponseContentDisposition": content_disposition(filename),
        }
        url = self._call(
            "prepare a download of",
            key,
            self.client.generate_presigned_url,
            "get_object",
            Params=params,
            ExpiresIn=expires_in,
            HttpMethod="GET",
        )
        return PresignedRequest(url, "GET", {}, _expires_at(expires_in))

    # ----------------------------------------------------------------- reads

    def check_bucket(self) -> None:
        """Raise a `StorageError` naming the problem unless the bucket answers to these credentials."""
        try:
            self._call("reach", self.bucket, self.client.head_bucket, Bucket=self.bucket)
        except StorageError as error:
            if error.code == "OBJECT_NOT_FOUND":  # HEAD has no body: a bare 404 is the bucket's
                message = f"The storage bucket {self.bucket!r} does not exist; check S3_BUCKET."
                raise StorageError(message, code="BUCKET_NOT_FOUND") from error
            raise

    def exists(self, key: str) -> bool:
        try:
            self.info(key)
        except StorageError as error:
            if error.code == "OBJECT_NOT_FOUND":
                return False
            raise
        return True

    def info(self, key: str) -> ObjectInfo:
        head = self._call("read", key, self.client.head_object, Bucket=self.bucket, Key=key)
        return ObjectInfo(
            key=key,
            size=int(head["ContentLength"]),
            content_type=head.get("ContentType") or DEFAULT_CONTENT_TYPE,
            modified=_utc(head["LastModified"]),
        )

    def open_read(self, key: str) -> BinaryIO:
        """A buffered binary file over the response body: bytes arrive as they are read."""
        response = self._call("read", key, self.client.get_object, Bucket=self.bucket, Key=key)
        return io.BufferedReader(_BodyReader(response["Body"]), buffer_size=READ_CHUNK)  # type: ignore[return-value]

    def save_to(self, key: str, path: Path, *, may_link: bool = False) -> None:
        """Downloaded as a stream (a remote object cannot be linked)."""
        with self.open_read(key) as reader, path.open("wb") as target:
            copy_stream(reader, target)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object under `prefix`, in key order, page by page (1,000 keys per page).

        Listings do not carry content types, so they are guessed from the key's extension;
        `info()` returns the stored one.
        """
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=self.bucket, Prefix=prefix)
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    yield ObjectInfo(
                        key=item["Key"],
                        size=int(item["Size"]),
                        content_type=mimetypes.guess_type(item["Key"])[0] or DEFAULT_CONTENT_TYPE,
                        modified=_utc(item["LastModified"]),
                    )
        except (ClientError, BotoCoreError) as error:
            raise _storage_error(error, "list", prefix) from error

    # ----------------------------------------------------------------- writes

    def write(
        self, key: str, data: bytes | BinaryIO | Path, content_type: str = DEFAULT_CONTENT_TYPE
    ) -> None:
        """Bytes go in one `PutObject`; files are streamed (multipart above 64 MB)."""
        if isinstance(data, Path):
            with data.open("rb") as source:
                self.write(key, source, content_type)
            return
        if isinstance(data, bytes | bytearray | memoryview):
            self._call(
                "write",
                key,
                self.client.put_object,
                Bucket=self.bucket,
                Key=key,
                Body=bytes(data),
                ContentType=content_type,
            )
            return
        self._call(
            "write",
            key,
            self.client.upload_fileobj,
            data,
            self.bucket,
            key,
            ExtraArgs={"ContentType": content_type},
            Config=self.transfer_config,
        )

    # ----------------------------------------------------------------- deletes

    def delete(self, key: str) -> None:
        """Remove `key`; deleting a missing object is not an error (S3 semantics)."""
        self._call("delete", key, self.client.delete_object, Bucket=self.bucket, Key=key)

    def delete_prefix(self, prefix: str) -> int:
        """Delete everything under `prefix` in batches of 1,000; returns how many were deleted.

        An empty prefix is refused: one bug passing `""` must not empty the whole bucket.
        """
        if not prefix:
            raise StorageError("Refusing to delete every object in the bucket.", code="INVALID_KEY")
        deleted, batch = 0, []
        for info in self.list(prefix):
            batch.append(info.key)
            if len(batch) == DELETE_BATCH:
                deleted += self._delete_batch(batch)
                batch = []
        if batch:
            deleted += self._delete_batch(batch)
        return deleted

    def _delete_batch(self, keys: list[str]) -> int:
        request = {"Objects": [{"Key": k} for k in keys], "Quiet": True}
        response = self._call(
            "delete", keys[0], self.client.delete_objects, Bucket=self.bucket, Delete=request
        )
        errors = response.get("Errors") or []
        if errors:
            first = errors[0]
            raise StorageError(
                f"Storage could not delete {len(errors)} of {len(keys)} files "
                f"(first: {first.get('Key')!r}, {first.get('Code')}).",
                code="DELETE_FAILED",
                deleted=len(keys) - len(errors),
            )
        return len(keys)

    # ----------------------------------------------------------------- errors

    def _call(self, action: str, key: str, function: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except (ClientError, BotoCoreError) as error:
            raise _storage_error(error, action, key) from error


def _storage_error(error: Exception, action: str, key: str) -> StorageError:
    """A readable `StorageError` from a botocore error: codes and messages only, never credentials."""
    name = key.rsplit("/", 1)[-1] or key
    if not isinstance(error, ClientError):
        return StorageError(
            f"Storage is unreachable, could not {action} {name!r} ({type(error).__name__}).",
            code="STORAGE_UNAVAILABLE",
        )
    details = error.response.get("Error", {})
    code = str(details.get("Code", ""))
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in _NOT_FOUND_CODES or (status == 404 and code != "NoSuchBucket"):
        return StorageError(f"The file {name!r} is not in storage.", code="OBJECT_NOT_FOUND", key=key)
    if code == "NoSuchBucket":
        return StorageError("The storage bucket does not exist; check S3_BUCKET.", code="BUCKET_NOT_FOUND")
    if code in _DENIED_CODES or status == 403:
        return StorageError(
            f"Storage refused to {action} {name!r}: check the S3 access key and its bucket rights ({code}).",
            code="STORAGE_ACCESS_DENIED",
        )
    message = str(details.get("Message") or code or "unknown error")
    return StorageError(
        f"Storage could not {action} {name!r}: {message} ({code or status}).", code="STORAGE_ERROR"
    )


def _presign_seconds(expires_in: int) -> int:
    if not 0 < expires_in <= MAX_PRESIGN_SECONDS:
        raise StorageError("A link must stay valid between one second and seven days.", code="INVALID_EXPIRY")
    return int(expires_in)


def _expires_at(expires_in: int) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=expires_in)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# ----------------------------------------------------------------- bucket CORS rules


def upload_cors_rules(origins: list[str]) -> list[dict[str, Any]]:
    """The S3 CORS rule browser-direct uploads and downloads need, for `origins`."""
    return [
        {
            "ID": "dq-browser-uploads",
            "AllowedOrigins": list(origins),
            "AllowedMethods": list(CORS_METHODS),
            "AllowedHeaders": ["*"],
            "ExposeHeaders": list(CORS_EXPOSE_HEADERS),
            "MaxAgeSeconds": CORS_MAX_AGE_SECONDS,
        }
    ]


def b2_cors_command(bucket: str, origins: list[str]) -> str:
    """The `b2` command setting the same rule with B2's native API, for keys refused the S3 call."""
    rules = [
        {
            "corsRuleName": "dqBrowserUploads",
            "allowedOrigins": list(origins),
            "allowedOperations": ["s3_put", "s3_get", "s3_head"],
            "allowedHeaders": ["*"],
            "exposeHeaders": [h.lower() for h in CORS_EXPOSE_HEADERS],
            "maxAgeSeconds": CORS_MAX_AGE_SECONDS,
        }
    ]
    return f"b2 bucket update --cors-rules {shlex.quote(json.dumps(rules))} {shlex.quote(bucket)}"


def cors_allows(rules: list[dict[str, Any]], origin: str, method: str, header: str = "content-type") -> bool:
    """Whether one rule lets `origin` send `method` with `header` (what a browser's preflight asks)."""

    def matches(patterns: list[str], value: str) -> bool:
        value = value.lower()
        for pattern in (p.lower() for p in patterns):
            head, star, tail = pattern.partition("*")
            if pattern == value or (star and value.startswith(head) and value.endswith(tail)):
                return True
        return False

    return any(
        matches(rule.get("AllowedOrigins", []), origin)
        and method.upper() in {m.upper() for m in rule.get("AllowedMethods", [])}
        and matches(rule.get("AllowedHeaders", []), header)
        for rule in rules
    )


def get_cors_rules(store: S3ObjectStore) -> list[dict[str, Any]]:
    """The bucket's CORS rules; none set is an empty list, not an error."""
    try:
        return list(store.client.get_bucket_cors(Bucket=store.bucket).get("CORSRules", []))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NoSuchCORSConfiguration":
            return []
        raise _storage_error(error, "read the CORS rules of", store.bucket) from error
    except BotoCoreError as error:
        raise _storage_error(error, "read the CORS rules of", store.bucket) from error


def put_cors_rules(store: S3ObjectStore, rules: list[dict[str, Any]]) -> None:
    """Replace the bucket's CORS rules (the key needs the right to change bucket settings)."""
    store._call(
        "set the CORS rules of",
        store.bucket,
        store.client.put_bucket_cors,
        Bucket=store.bucket,
        CORSConfiguration={"CORSRules": rules},
    )
