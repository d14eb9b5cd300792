"""Raw uploads and result files: a local directory in development, S3 in production.

An upload's file is read pinned: `complete` records the object's identity (a BlobPin: its ETag, and its
VersionId on a versioned bucket) and every later read asks S3 for exactly that object (`IfMatch`, and
`VersionId` when there is one). A presigned POST stays valid until it expires, so whoever holds its fields can
send another file to the same key after DMS checked the first; a pinned read then fails with UPLOAD_CHANGED
(or, on a versioned bucket, still reads the version that was completed) instead of reading the new file.
Pinning costs one HEAD when the upload completes; copying every upload to a key no POST policy names would
cost a server-side copy of up to 5 GB inside the `complete` request (API Gateway gives a request 29 s).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import urlparse

from dms.errors import Conflict, DMSError, NotFound

COPY_BLOCK_BYTES = 1024 * 1024
PINNED_DOWNLOAD_ATTEMPTS = 5  # as many as boto3's managed download makes when a response stream breaks


@dataclass(frozen=True)
class BlobPin:
    """The one object an upload's reads may read: the upload's file as it was when the upload completed."""

    upload_id: str
    etag: str
    version_id: str | None = None

    @classmethod
    def of(cls, upload_id: str, fields: Mapping[str, Any]) -> BlobPin | None:
        """The pin recorded in an upload record or a job's source (`blob_etag`, `blob_version_id`), if any: a
        local blob store records none (nothing but DMS writes to it)."""
        etag = fields.get("blob_etag")
        return cls(upload_id, etag, fields.get("blob_version_id") or None) if etag else None


@dataclass(frozen=True)
class BlobStat:
    """A blob's size and identity, from one look (so the size checked is the size of the object pinned)."""

    size: int
    etag: str | None = None
    version_id: str | None = None

    def pin_fields(self) -> dict[str, str | None]:
        """What an upload record keeps of the identity, for BlobPin.of."""
        return {"blob_etag": self.etag, "blob_version_id": self.version_id}


class UploadChanged(Conflict):
    """A pinned read found another object under the upload's key: it was replaced after it was completed."""

    code = "UPLOAD_CHANGED"

    def __init__(self, pin: BlobPin) -> None:
        super().__init__(
            f"The file of upload {pin.upload_id} changed after it was completed; upload it again.",
            upload_id=pin.upload_id,
        )


class BlobStore(Protocol):
    """What the pipeline needs of a blob store. Keys are relative paths like `uploads/<id>/data.csv`.

    Reads given a pin read that object or raise UploadChanged; a store that only DMS writes may ignore it."""

    def put_file(self, key: str, path: str | os.PathLike[str]) -> None: ...
    def put_bytes(self, key: str, data: bytes) -> None: ...
    def open_read(self, key: str, pin: BlobPin | None = None) -> IO[bytes]: ...
    def open_write(self, key: str) -> contextlib.AbstractContextManager[IO[bytes]]: ...
    def local_copy(self, key: str, pin: BlobPin | None = None) -> contextlib.AbstractContextManager[Path]: ...
    def exists(self, key: str) -> bool: ...
    def size(self, key: str) -> int: ...
    def stat(self, key: str) -> BlobStat: ...
    def delete(self, key: str) -> None: ...
    def list(self, prefix: str) -> list[str]: ...


def _check_key(key: str) -> str:
    """Refuse keys that could escape the store (absolute paths, `..`)."""
    parts = Path(key).parts
    if not key or key.startswith("/") or ".." in parts:
        raise DMSError(f"Invalid blob key {key!r}.", code="INVALID_BLOB_KEY")
    return key


class LocalBlobStore:
    """Blobs as files under one directory; writes are atomic (temp file + rename).

    Pins are ignored: only DMS writes here, and an upload's single-use token already refuses a second file."""

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

    def open_read(self, key: str, pin: BlobPin | None = None) -> IO[bytes]:
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
    def local_copy(self, key: str, pin: BlobPin | None = None) -> Iterator[Path]:
        path = self.path(key)
        if not path.exists():
            raise NotFound(f"Blob {key} does not exist.")
        yield path

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def size(self, key: str) -> int:
        return self.stat(key).size

    def stat(self, key: str) -> BlobStat:
        try:
            return BlobStat(self.path(key).stat().st_size)
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

    def open_read(self, key: str, pin: BlobPin | None = None) -> IO[bytes]:
        return self._get_object(key, pin)["Body"]  # type: ignore[no-any-return]

    def _get_object(self, key: str, pin: BlobPin | None, **extra: Any) -> dict[str, Any]:
        """GetObject, of the pinned object only when there is a pin (S3 checks If-Match on every range)."""
        if pin is not None:
            extra["IfMatch"] = pin.etag
            if pin.version_id:
                extra["VersionId"] = pin.version_id
        try:
            return dict(self.client.get_object(Bucket=self.bucket, Key=self.object_key(key), **extra))
        except Exception as exc:
            code = _error_code(exc)
            if pin is not None and code in ("PreconditionFailed", "412", "NoSuchVersion"):
                raise UploadChanged(pin) from exc
            if code in ("404", "NoSuchKey"):
                raise NotFound(f"Blob {key} does not exist.") from exc
            raise

    @contextlib.contextmanager
    def open_write(self, key: str) -> Iterator[IO[bytes]]:
        # Spool to a temp file, then one managed (multipart) upload: an S3 object appears whole or not at all.
        with tempfile.TemporaryFile() as spool:
            yield spool  # type: ignore[misc]
            spool.seek(0)
            self.client.upload_fileobj(spool, self.bucket, self.object_key(key))

    @contextlib.contextmanager
    def local_copy(self, key: str, pin: BlobPin | None = None) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="dms-blob-") as tmp:
            path = Path(tmp) / Path(key).name
            if pin is not None:
                self._download_pinned(key, pin, path)
                yield path
                return
            try:
                self.client.download_file(self.bucket, self.object_key(key), str(path))
            except Exception as exc:  # botocore raises ClientError 404 here, not NoSuchKey
                if _is_missing(exc):
                    raise NotFound(f"Blob {key} does not exist.") from exc
                raise
            yield path

    def _download_pinned(self, key: str, pin: BlobPin, path: Path) -> None:
        """Download the pinned object; a broken stream resumes with a range read, pinned like the first.

        boto3's managed download takes no If-Match of ours (it pins the ETag of its own HEAD), so this one
        streams GetObject itself."""
        # Only an S3 store reads through botocore: a local store never pays its import.
        from botocore.exceptions import IncompleteReadError, ReadTimeoutError, ResponseStreamingError

        broken = (
            IncompleteReadError,
            ReadTimeoutError,
            ResponseStreamingError,
            ConnectionError,
            TimeoutError,
        )
        written, total = 0, None
        with open(path, "wb") as out:
            for attempt in range(1, PINNED_DOWNLOAD_ATTEMPTS + 1):
                if written == total:
                    return  # the stream broke after its last byte
                extra = {"Range": f"bytes={written}-"} if written else {}
                response = self._get_object(key, pin, **extra)
                total = written + int(response["ContentLength"])
                body = response["Body"]
                try:
                    for block in body.iter_chunks(COPY_BLOCK_BYTES):
                        out.write(block)
                        written += len(block)
                    return
                except broken:
                    if attempt == PINNED_DOWNLOAD_ATTEMPTS:
                        raise
                finally:
                    body.close()

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
            return True
        except Exception as exc:
            if _is_missing(exc):
                return False
            raise

    def size(self, key: str) -> int:
        return self.stat(key).size

    def stat(self, key: str) -> BlobStat:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except Exception as exc:
            if _is_missing(exc):
                raise NotFound(f"Blob {key} does not exist.") from exc
            raise
        # A bucket that was never versioned answers no VersionId; "null" names the one unversioned object.
        version = head.get("VersionId")
        return BlobStat(int(head["ContentLength"]), head.get("ETag"), version if version != "null" else None)

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


def _error_code(exc: Exception) -> str | None:
    """The S3 error code of a botocore error (None for any other exception)."""
    return getattr(exc, "response", {}).get("Error", {}).get("Code")


def _is_missing(exc: Exception) -> bool:
    """Whether a botocore error says the object does not exist (head/download raise a bare 404)."""
    return _error_code(exc) in ("404", "NoSuchKey")


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
