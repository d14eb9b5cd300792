"""Raw uploads and result files: a local directory in development, S3 in production."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import urlparse

from dms.errors import DMSError, NotFound


class BlobStore(Protocol):
    """What the pipeline needs of a blob store. Keys are relative paths like `uploads/<id>/data.csv`."""

    def put_file(self, key: str, path: str | os.PathLike[str]) -> None: ...
    def put_bytes(self, key: str, data: bytes) -> None: ...
    def open_read(self, key: str) -> IO[bytes]: ...
    def open_write(self, key: str) -> contextlib.AbstractContextManager[IO[bytes]]: ...
    def local_copy(self, key: str) -> contextlib.AbstractContextManager[Path]: ...
    def exists(self, key: str) -> bool: ...
    def size(self, key: str) -> int: ...
    def delete(self, key: str) -> None: ...
    def list(self, prefix: str) -> list[str]: ...


def _check_key(key: str) -> str:
    """Refuse keys that could escape the store (absolute paths, `..`)."""
    parts = Path(key).parts
    if not key or key.startswith("/") or ".." in parts:
        raise DMSError(f"Invalid blob key {key!r}.", code="INVALID_BLOB_KEY")
    return key


class LocalBlobStore:
    """Blobs as files under one directory; writes are atomic (temp file + rename)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        """The file that holds a key."""
        return self.root / _check_key(key)

    def put_file(self, key: str, path: str | os.PathLike[str]) -> None:
        with self.open_write(key) as out, open(path, "rb") as src:
            shutil.copyfileobj(src, out, 1024 * 1024)

    def put_bytes(self, key: str, data: bytes) -> None:
        with self.open_write(key) as out:
            out.write(data)

    def open_read(self, key: str) -> IO[bytes]:
        try:
            return open(self.path(key), "rb")
        except FileNotFoundError as exc:
            raise NotFound(f"Blob {key} does not exist.") from exc

    @contextlib.contextmanager
    def open_write(self, key: str) -> Iterator[IO[bytes]]:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                yield out
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    @contextlib.contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        path = self.path(key)
        if not path.exists():
            raise NotFound(f"Blob {key} does not exist.")
        yield path

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def size(self, key: str) -> int:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError as exc:
            raise NotFound(f"Blob {key} does not exist.") from exc

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(key).unlink()

    def list(self, prefix: str) -> list[str]:
        base = self.root / prefix
        folder = base if base.is_dir() else base.parent
        if not folder.exists():
            return []
        keys = (str(p.relative_to(self.root)) for p in folder.rglob("*") if p.is_file())
        return sorted(k for k in keys if k.startswith(prefix) and not Path(k).name.startswith(".tmp-"))


class S3BlobStore:
    """Blobs as objects under `s3://bucket/prefix/`; large files stream by multipart upload."""

    def __init__(self, bucket: str, prefix: str, client: Any) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client

    def object_key(self, key: str) -> str:
        """The S3 object key that holds a blob key."""
        _check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put_file(self, key: str, path: str | os.PathLike[str]) -> None:
        self.client.upload_file(str(path), self.bucket, self.object_key(key))

    def put_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.object_key(key), Body=data)

    def open_read(self, key: str) -> IO[bytes]:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))["Body"]  # type: ignore[no-any-return]
        except self.client.exceptions.NoSuchKey as exc:
            raise NotFound(f"Blob {key} does not exist.") from exc

    @contextlib.contextmanager
    def open_write(self, key: str) -> Iterator[IO[bytes]]:
        # Spool to a temp file, then one managed (multipart) upload: an S3 object appears whole or not at all.
        with tempfile.TemporaryFile() as spool:
            yield spool  # type: ignore[misc]
            spool.seek(0)
            self.client.upload_fileobj(spool, self.bucket, self.object_key(key))

    @contextlib.contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="dms-blob-") as tmp:
            path = Path(tmp) / Path(key).name
            try:
                self.client.download_file(self.bucket, self.object_key(key), str(path))
            except Exception as exc:  # botocore raises ClientError 404 here, not NoSuchKey
                if _is_missing(exc):
                    raise NotFound(f"Blob {key} does not exist.") from exc
                raise
            yield path

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
            return True
        except Exception as exc:
            if _is_missing(exc):
                return False
            raise

    def size(self, key: str) -> int:
        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))["ContentLength"])
        except Exception as exc:
            if _is_missing(exc):
                raise NotFound(f"Blob {key} does not exist.") from exc
            raise

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))

    def list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        strip = len(self.prefix) + 1 if self.prefix else 0
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(
            Bucket=self.bucket, Prefix=self.object_key(prefix) if prefix else self.prefix
        ):
            keys.extend(obj["Key"][strip:] for obj in page.get("Contents", []))
        return sorted(keys)

    def presigned_upload(
        self, key: str, expires: int = 3600, max_bytes: int = 10 * 1024**3
    ) -> dict[str, Any]:
        """A presigned POST a browser can send a large file with, bypassing the web tier's 10 MB cap."""
        return dict(
            self.client.generate_presigned_post(
                self.bucket,
                self.object_key(key),
                Conditions=[["content-length-range", 1, max_bytes]],
                ExpiresIn=expires,
            )
        )


def _is_missing(exc: Exception) -> bool:
    """Whether a botocore error says the object does not exist (head/download raise a bare 404)."""
    return getattr(exc, "response", {}).get("Error", {}).get("Code") in ("404", "NoSuchKey")


def blob_store_from_url(url: str, settings: Mapping[str, Any] | None = None) -> LocalBlobStore | S3BlobStore:
    """`file://relative/or/absolute/dir` or `s3://bucket/prefix`."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalBlobStore(parsed.netloc + parsed.path if parsed.netloc else parsed.path)
    if parsed.scheme == "s3":
        import boto3  # only an s3:// store needs it: a local store never pays its import

        settings = settings or {}
        client = boto3.client(
            "s3", region_name=settings.get("AWS_REGION"), endpoint_url=settings.get("S3_ENDPOINT_URL") or None
        )
        return S3BlobStore(parsed.netloc, parsed.path, client)
    raise DMSError(f"BLOB_STORE_URL {url!r} must start with file:// or s3://.", code="CONFIGURATION_ERROR")
