"""Choose the object store from the settings: the one place that knows both backends."""

from __future__ import annotations

from core.errors import ConfigurationError
from core.settings import Settings
from storage.base import ObjectStore
from storage.local import LocalObjectStore


def build_store(settings: Settings) -> ObjectStore:
    """`LocalObjectStore` under `DATA_DIR/objects` by default, `S3ObjectStore` for `STORAGE_BACKEND=s3`."""
    if settings.storage_backend == "local":
        return LocalObjectStore(
            settings.objects_dir,
            settings.signing_secret,
            settings.public_base_url,
            settings.max_upload_bytes,
        )
    if settings.storage_backend == "s3":
        from storage.s3 import S3ObjectStore  # boto3 is imported only when it is used

        if not settings.s3_bucket:
            raise ConfigurationError("Setting S3_BUCKET is required when STORAGE_BACKEND=s3.")
        return S3ObjectStore(
            settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
        )
    raise ConfigurationError(
        f"Setting STORAGE_BACKEND must be local or s3; got {settings.storage_backend!r}."
    )
