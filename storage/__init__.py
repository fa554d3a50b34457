"""Object storage: one `ObjectStore` protocol, a local store for the embedded default and an
S3 store for Backblaze B2 or any S3 API."""
