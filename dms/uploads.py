"""Uploads: raw files into the blob store, a record of each in Cloudant, and a preview of what they hold.

Two ways in. Inline: the web tier streams the request body to the blob store (capped by
MAX_INLINE_UPLOAD_BYTES, because API Gateway caps a request body at 10 MB). Presigned: the client asks for a
presigned POST, sends the file straight to S3 (or, with a local blob store, to the web tier's own endpoint,
which takes the same form), then calls `complete`. Either way jobs reference the upload's `blob_key`.

A presigned upload comes with a token: a random secret of which the record keeps only the SHA-256 and the
expiry (UPLOAD_PRESIGN_EXPIRES_SECONDS). It is single-use: the local endpoint takes the file once with it (a
second send, or one after `complete`, is refused), and `complete` needs it, so nobody who merely learns an
upload's id can complete it, or replace its file after it was previewed.

S3's presigned POST is not single-use: it stays valid until it expires. So `complete` records the object's
identity (ETag, and VersionId on a versioned bucket), and every read of the file after it (the preview, the
mapping suggestion, the jobs' plan, rebuild and retry) is pinned to it: a file sent again with the same form
is refused with UPLOAD_CHANGED, never read in place of the one completed (dms/clients/blobstore.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import os
import re
import secrets
import tempfile
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import pyarrow as pa

from dms.clients.blobstore import BlobPin, BlobStat, BlobStore
from dms.clients.docstore import DocumentStore, new_document_id
from dms.errors import Conflict, DMSError, NotFound, Text
from dms.pipeline.distinct import count_values, value_counts_view
from dms.pipeline.model import ROW_COLUMN
from dms.pipeline.prepare import PROFILE_ROWS, profile_columns
from dms.pipeline.source import (
    ReadLimits,
    ReadOptions,
    RowProblem,
    Sample,
    detect_format,
    read_chunks,
    read_head,
    sniff,
)
from dms.row_messages import (
    CELL_CUT_SHORT,
    CELLS_CUT_SHORT,
    PREVIEW_HEAD,
    THE_FIRST,
    UNREADABLE_ROW,
    UNREADABLE_ROWS,
)
from dms.upload_errors import UploadError, UploadNotReady, UploadTokenInvalid, UploadTooLarge

log = logging.getLogger(__name__)

COPY_BLOCK_BYTES = 1024 * 1024
MAX_FILENAME_CHARS = 120
PREVIEW_ROWS = 20
UNREADABLE_ROWS_LISTED = 10
# Text formats preview from the head of the file alone, so a 5 GB CSV on S3 is never fetched whole for it.
PREVIEW_HEAD_FORMATS = ("csv", "ndjson")
UPLOAD_ID_PATTERN = re.compile(r"^upl-[0-9A-Za-z]{1,40}-[0-9a-f]{6,32}$")
_UNSAFE_KEY_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class UploadLimits:
    """The caps every way in enforces."""

    max_inline_bytes: int
    max_upload_bytes: int
    presign_expires_seconds: int = 3600
    preview_head_bytes: int = 4 * 1024 * 1024
    allow_pickle: bool = False
    read: ReadLimits = field(default_factory=ReadLimits)
    preview_max_cell_chars: int = 1000

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> UploadLimits:
        """The limits configured for this deployment."""
        return cls(
            max_inline_bytes=int(settings["MAX_INLINE_UPLOAD_BYTES"]),
            max_upload_bytes=int(settings.get("MAX_UPLOAD_BYTES") or 5 * 1024**3),
            presign_expires_seconds=int(settings.get("UPLOAD_PRESIGN_EXPIRES_SECONDS") or 3600),
            preview_head_bytes=int(settings.get("UPLOAD_PREVIEW_HEAD_BYTES") or 4 * 1024 * 1024),
            allow_pickle=bool(settings.get("ALLOW_PICKLE_UPLOADS")),
            read=ReadLimits.from_settings(settings),
            preview_max_cell_chars=int(settings["UPLOAD_PREVIEW_MAX_CELL_CHARS"]),
        )


@dataclass
class PresignedUpload:
    """Where and how to send the file: a multipart POST of `fields` plus the file as the `file` field.

    `url` is None for a local blob store: the web tier fills in its own upload endpoint.
    """

    upload: dict[str, Any]
    url: str | None
    token: str  # single-use; `complete` needs it (and the local endpoint, as the `token` field)
    fields: dict[str, str] = field(default_factory=dict)
    expires_at: str = ""
    local: bool = False


def utc_now() -> str:
    """The current time as an ISO 8601 UTC string (what the records store)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def display_filename(name: str) -> str:
    """The name as a person gave it, minus any path, control characters and excess length."""
    base = re.split(r"[\\/]", name or "")[-1]
    cleaned = "".join(ch for ch in unicodedata.normalize("NFC", base) if unicodedata.category(ch)[0] != "C")
    cleaned = cleaned.strip().strip(".") or "upload"
    return _shorten(cleaned, MAX_FILENAME_CHARS)


def safe_filename(name: str) -> str:
    """The name reduced to `[A-Za-z0-9._-]` (safe as the last part of a blob key); the extension is kept."""
    ascii_name = unicodedata.normalize("NFKD", display_filename(name)).encode("ascii", "ignore").decode()
    stem, dot, ext = ascii_name.rpartition(".")
    if not dot or not re.fullmatch(r"[A-Za-z0-9]{1,16}", ext):
        stem, ext = ascii_name, ""
    stem = _UNSAFE_KEY_CHARS.sub("_", stem).strip("._-") or "upload"
    suffix = f".{ext.lower()}" if ext else ""
    return stem[: MAX_FILENAME_CHARS - len(suffix)] + suffix


def _shorten(text: str, limit: int) -> str:
    """Cut a name to `limit` characters, keeping its extension."""
    if len(text) <= limit:
        return text
    stem, ext = os.path.splitext(text)
    ext = ext[:16]
    return stem[: max(1, limit - len(ext))] + ext


def check_upload_id(upload_id: str) -> str:
    """Refuse ids that are not ours before they reach the document store."""
    if not isinstance(upload_id, str) or not UPLOAD_ID_PATTERN.match(upload_id):
        raise NotFound(
            Text("There is no upload %(upload_id)s.", upload_id=repr(str(upload_id)[:80])),
            code="UPLOAD_NOT_FOUND",
        )
    return upload_id


def public_record(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The upload as the API shows it (no CouchDB internals)."""
    keys = (
        "filename",
        "blob_key",
        "size",
        "declared_size",
        "sha256",
        "state",
        "via",
        "created_at",
        "completed_at",
    )
    return {"id": doc["_id"], **{k: doc.get(k) for k in keys}}


class Uploads:
    """Receive, presign, complete and preview uploads; plain Python over a blob store and a document store."""

    def __init__(
        self,
        blobs: BlobStore,
        store: DocumentStore,
        limits: UploadLimits,
        owner: Mapping[str, Any] | None = None,
        visible: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        self.blobs = blobs
        self.store = store
        self.limits = limits
        self.owner = dict(owner or {})  # stamped on new records: who may see and use them
        self.visible = visible  # whether the caller may see a record; others' uploads are not found

    # -- records ---------------------------------------------------------------------------------------

    def get(self, upload_id: str) -> dict[str, Any]:
        """The upload record, or NotFound with code UPLOAD_NOT_FOUND."""
        check_upload_id(upload_id)
        try:
            doc = self.store.get(upload_id)
        except NotFound:
            doc = None
        if doc is None or (self.visible is not None and not self.visible(doc)):
            raise NotFound(
                Text("There is no upload %(upload_id)s.", upload_id=repr(upload_id)), code="UPLOAD_NOT_FOUND"
            )
        return doc

    def ready(self, upload_id: str) -> dict[str, Any]:
        """The upload record of a complete upload, or UploadNotReady."""
        doc = self.get(upload_id)
        if doc["state"] != "ready":
            raise UploadNotReady(
                Text("Upload %(upload_id)s is not complete yet; call complete first.", upload_id=upload_id)
            )
        return doc

    def _new_record(
        self, filename: str, via: str, declared_size: int | None, **token: str | None
    ) -> dict[str, Any]:
        upload_id = new_document_id("upl")
        doc = {
            **token,
            "_id": upload_id,
            "type": "upload",
            **self.owner,
            "filename": display_filename(filename),
            "blob_key": f"uploads/{upload_id}/{safe_filename(filename)}",
            "size": None,
            "declared_size": declared_size,
            "sha256": None,
            "state": "pending",
            "via": via,
            "created_at": utc_now(),
            "completed_at": None,
        }
        return self.store.create(doc)

    def _mark_ready(self, upload_id: str, stat: BlobStat, sha256: str | None) -> dict[str, Any]:
        """Record the file as complete: its size, and the identity every later read is pinned to."""

        def change(doc: dict[str, Any]) -> dict[str, Any]:
            doc.update(
                state="ready", size=stat.size, sha256=sha256, completed_at=utc_now(), **stat.pin_fields()
            )
            return doc

        return self.store.update(upload_id, change)

    # -- inline ----------------------------------------------------------------------------------------

    def check_inline_size(self, content_length: int | None) -> None:
        """Refuse a request whose declared length already exceeds the inline cap, before reading it."""
        if content_length is not None and content_length > self.limits.max_inline_bytes + 64 * 1024:
            raise self.inline_too_large(content_length)

    def inline_too_large(self, size: int | None) -> UploadTooLarge:
        """The error for a file over the inline cap, pointing at the presigned path."""
        got = Text("%(size)s bytes", size=f"{size:,}") if size is not None else Text("more than that")
        return UploadTooLarge(
            Text(
                "The file is too large to upload inline (%(got)s; the limit is %(max_inline_bytes)s "
                "bytes). Ask for a presigned upload instead: POST /api/v1/uploads/presign with {filename, "
                "size}, send the file to the URL it returns, then POST /api/v1/uploads/<id>/complete.",
                got=got,
                max_inline_bytes=f"{self.limits.max_inline_bytes:,}",
            ),
            limit=self.limits.max_inline_bytes,
        )

    def receive_inline(self, filename: str, stream: IO[bytes]) -> dict[str, Any]:
        """Stream a file into the blob store (never whole in memory) and record it; returns the record."""
        doc = self._new_record(filename, via="inline", declared_size=None)
        try:
            size, digest = self._store_stream(
                doc["blob_key"], stream, self.limits.max_inline_bytes, self.inline_too_large
            )
        except DMSError:
            self.store.delete(doc["_id"])  # refused: leave no record behind (the blob was never kept)
            raise
        # Only DMS writes an inline upload's key, but its reads are pinned all the same: one rule for every file.
        ready = self._mark_ready(doc["_id"], self.blobs.stat(doc["blob_key"]), digest)
        log.info("upload received upload=%s via=inline size=%d", doc["_id"], size)
        return public_record(ready)

    def _store_stream(
        self, key: str, stream: IO[bytes], limit: int, too_large: Callable[[int | None], UploadTooLarge]
    ) -> tuple[int, str]:
        """Copy a stream to the blob store in blocks with a running hash; nothing is kept if it is refused."""
        digest = hashlib.sha256()
        size = 0
        with self.blobs.open_write(key) as out:
            while True:
                block = stream.read(COPY_BLOCK_BYTES)
                if not block:
                    break
                size += len(block)
                if size > limit:
                    # Raising inside open_write discards the partial blob (temp file / unsent spool).
                    raise too_large(None)
                digest.update(block)
                out.write(block)
            if size == 0:
                raise UploadError(
                    Text("The file is empty (0 bytes): there is nothing to upload."), code="EMPTY_UPLOAD"
                )
        return size, digest.hexdigest()

    # -- presigned -------------------------------------------------------------------------------------

    def presign(self, filename: str, size: Any) -> PresignedUpload:
        """A pending record with a single-use token, and a presigned POST for it (S3) or the local equivalent."""
        if not isinstance(filename, str) or not filename.strip():
            raise UploadError(Text("`filename` must be a non-empty string."), code="INVALID_REQUEST")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise UploadError(
                Text("`size` must be the file's size in bytes, a positive integer."), code="INVALID_REQUEST"
            )
        if size > self.limits.max_upload_bytes:
            raise UploadTooLarge(
                Text(
                    "The file is %(size)s bytes; uploads are limited to %(max_upload_bytes)s bytes.",
                    size=f"{size:,}",
                    max_upload_bytes=f"{self.limits.max_upload_bytes:,}",
                ),
                limit=self.limits.max_upload_bytes,
            )
        expires = self.limits.presign_expires_seconds
        expires_at = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=expires)).isoformat(timespec="seconds")
        token = secrets.token_urlsafe(32)
        doc = self._new_record(
            filename,
            via="presigned",
            declared_size=size,
            token_sha256=_token_digest(token),
            token_expires_at=expires_at.replace("+00:00", "Z"),
            content_claimed_at=None,
        )
        presigned_upload = getattr(self.blobs, "presigned_upload", None)
        if presigned_upload is not None:
            # S3 enforces the declared size itself (content-length-range), so the cap holds without us.
            post = presigned_upload(doc["blob_key"], expires=expires, max_bytes=size)
            log.info("upload presigned upload=%s size=%d store=s3", doc["_id"], size)
            return PresignedUpload(public_record(doc), post["url"], token, dict(post["fields"]), expires_at)
        log.info("upload presigned upload=%s size=%d store=local", doc["_id"], size)
        return PresignedUpload(public_record(doc), None, token, {"token": token}, expires_at, local=True)

    def _check_token(self, doc: Mapping[str, Any], token: Any) -> None:
        """Refuse a token that is missing, not this upload's, or (for a pending upload) expired."""
        expected = doc.get("token_sha256")
        if not isinstance(token, str) or not token or not expected:
            raise UploadTokenInvalid(
                Text("This needs the upload's token, which the presign response gave (`token`)."),
                field="token",
            )
        if not hmac.compare_digest(_token_digest(token), expected):
            raise UploadTokenInvalid(Text("The upload token is not valid for this upload."), field="token")
        if doc["state"] == "pending" and utc_now() > (doc.get("token_expires_at") or ""):
            raise UploadTokenInvalid(
                Text("The upload token has expired; ask for a new presigned upload."),
                code="UPLOAD_TOKEN_EXPIRED",
            )

    def receive_presigned_local(self, upload_id: str, token: str, stream: IO[bytes]) -> dict[str, Any]:
        """The local stand-in for S3's presigned POST: check and spend the token, then stream the file in."""
        doc = self.get(upload_id)
        self._check_token(doc, token)
        if doc["state"] != "pending":
            raise Conflict(
                Text("Upload %(upload_id)s is already complete.", upload_id=upload_id),
                code="UPLOAD_ALREADY_COMPLETE",
            )
        limit = int(doc["declared_size"])

        def too_large(_: int | None) -> UploadTooLarge:
            return UploadTooLarge(
                Text(
                    "The file is larger than the %(limit)s bytes declared when the upload was presigned.",
                    limit=f"{limit:,}",
                ),
                limit=limit,
            )

        self._claim_content(upload_id)
        try:
            self._store_stream(doc["blob_key"], stream, limit, too_large)
        except BaseException:
            self._release_content(upload_id)  # nothing was kept: the same token may send the file again
            raise
        log.info("upload received upload=%s via=presigned-local", upload_id)
        return public_record(doc)

    def _claim_content(self, upload_id: str) -> None:
        """Spend the token's one send of the file, compare-and-set on the record: of two sends, one wins."""

        def claim(doc: dict[str, Any]) -> dict[str, Any]:
            if doc["state"] != "pending":
                raise Conflict(
                    Text("Upload %(upload_id)s is already complete.", upload_id=upload_id),
                    code="UPLOAD_ALREADY_COMPLETE",
                )
            if doc.get("content_claimed_at"):
                raise UploadTokenInvalid(
                    Text(
                        "The upload token has already been used to send this upload's file; call complete, or ask "
                        "for a new presigned upload."
                    ),
                    code="UPLOAD_TOKEN_USED",
                )
            doc["content_claimed_at"] = utc_now()
            return doc

        self.store.update(upload_id, claim)

    def _release_content(self, upload_id: str) -> None:
        def release(doc: dict[str, Any]) -> dict[str, Any]:
            doc["content_claimed_at"] = None
            return doc

        self.store.update(upload_id, release)

    def complete(self, upload_id: str, token: Any) -> dict[str, Any]:
        """Check the token and that the presigned upload's object arrived, and record its size; repeating it
        with the same token answers the same record and changes nothing."""
        doc = self.get(upload_id)
        self._check_token(doc, token)
        if doc["state"] == "ready":
            return public_record(doc)
        try:
            stat = self.blobs.stat(doc["blob_key"])  # one look: the size checked is that of the object pinned
        except NotFound:
            raise UploadNotReady(
                Text(
                    "The file for upload %(upload_id)s has not arrived in storage; send it to the presigned "
                    "URL first, then call complete.",
                    upload_id=upload_id,
                ),
            ) from None
        size = stat.size
        if size > self.limits.max_upload_bytes or size == 0:
            self.blobs.delete(doc["blob_key"])
            raise UploadTooLarge(
                Text(
                    "The uploaded object is %(size)s bytes, outside the allowed range; it was removed.",
                    size=f"{size:,}",
                )
            )
        # A presigned object is not re-read to hash it: that would pull gigabytes through the web tier.
        ready = self._mark_ready(upload_id, stat, doc.get("sha256"))
        log.info("upload completed upload=%s size=%d etag=%s", upload_id, size, stat.etag)
        return public_record(ready)

    # -- preview ---------------------------------------------------------------------------------------

    def preview(
        self,
        upload_id: str,
        *,
        format: str | None = None,
        encoding: str | None = None,
        delimiter: str | None = None,
        sheet: str | int | None = None,
        rows: int = PREVIEW_ROWS,
    ) -> dict[str, Any]:
        """Columns with inferred types, sample rows, and what was detected (format, encoding, delimiter...)."""
        doc = self.ready(upload_id)
        options = ReadOptions(
            format=format,
            encoding=encoding,
            delimiter=delimiter,
            sheet=sheet,
            allow_pickle=self.limits.allow_pickle,
            limits=self.limits.read,
        )
        with self._preview_copy(doc, format) as (path, partial):
            # Column types come from the rows a job's plan infers them from, so both read the values alike;
            # only the first `rows` of them are shown.
            sample = read_head(path, options, rows=max(rows, PROFILE_ROWS))
        info, table = sample.info, sample.table
        profiles = profile_columns(table)
        limit = self.limits.preview_max_cell_chars
        columns = []
        for name in info.columns:
            if name in profiles:
                columns.append(_clipped_profile(profiles[name].to_dict(), limit))
            else:
                columns.append({"name": name, "kind": "empty"})
        rows_shown, truncated = _json_rows(table.slice(0, rows), limit)
        warnings = list(info.warnings)
        if truncated:
            cut_short = CELLS_CUT_SHORT if len(truncated) > 1 else CELL_CUT_SHORT
            warnings.append(cut_short(count=f"{len(truncated):,}", limit=f"{limit:,}"))
        if sample.problems:
            warnings.append(_unreadable_rows(sample, partial))
        if partial:
            warnings.append(PREVIEW_HEAD(head=f"{self.limits.preview_head_bytes:,}", size=f"{doc['size']:,}"))
        return {
            "upload": public_record(doc),
            "format": info.format,
            "encoding": info.encoding,
            "encoding_confidence": info.encoding_confidence,
            "delimiter": info.delimiter,
            "sheet": info.sheet,
            "sheet_names": list(info.sheet_names),
            "columns": columns,
            "rows": rows_shown,
            "truncated": truncated,
            "warnings": warnings,
        }

    def head(self, upload_id: str, options: ReadOptions, rows: int) -> Sample:
        """The file's first `rows` rows read with these options (from the head of a large text file)."""
        doc = self.ready(upload_id)
        options = replace(options, allow_pickle=self.limits.allow_pickle, limits=self.limits.read)
        with self._preview_copy(doc, options.format) as (path, _):
            return read_head(path, options, rows=rows)

    def column_values(self, upload_id: str, column: str, options: ReadOptions, limit: int) -> dict[str, Any]:
        """A column's distinct values with the rows holding each (the most common `limit`), read over the whole
        file with these read options (up to MAX_SCANNED_ROWS rows; the answer says when it stopped short)."""
        doc = self.ready(upload_id)
        options = replace(options, allow_pickle=self.limits.allow_pickle, limits=self.limits.read)
        with self.blobs.local_copy(doc["blob_key"], BlobPin.of(doc["_id"], doc)) as path:
            info = sniff(path, options)
            if column not in info.columns:
                raise NotFound(
                    Text(
                        "The file has no column %(column)s; its columns are %(value)s.",
                        column=repr(column[:200]),
                        value=", ".join(repr(c) for c in info.columns[:50]),
                    ),
                    code="UNKNOWN_COLUMN",
                    column=column[:200],
                )
            chunks: Any = read_chunks(path, options, info)  # a generator: closed when the count stops early
            try:
                counts, complete = count_values((chunk.table for chunk in chunks), column)
            finally:
                chunks.close()
        answer = value_counts_view(counts, complete, limit, self.limits.preview_max_cell_chars)
        return {"upload_id": upload_id, "column": column, **answer}

    @contextmanager
    def _preview_copy(self, doc: Mapping[str, Any], fmt: str | None) -> Iterator[tuple[Path, bool]]:
        """A local file to preview from: the head of a large text file, else the whole blob."""
        key = doc["blob_key"]
        name = Path(key).name
        pin = BlobPin.of(doc["_id"], doc)
        with self.blobs.open_read(key, pin) as source:
            head = source.read(self.limits.preview_head_bytes + 1)
        if len(head) <= self.limits.preview_head_bytes:
            with _temporary_file(name, head) as path:  # the head is the whole file
                yield path, False
        elif (fmt or detect_format(name, head[:4096])) in PREVIEW_HEAD_FORMATS:
            with _temporary_file(name, _whole_lines(head[: self.limits.preview_head_bytes])) as path:
                yield path, True
        else:
            with self.blobs.local_copy(key, pin) as path:  # Excel, Parquet, JSON arrays need the whole file
                yield path, False

    # -- housekeeping ----------------------------------------------------------------------------------

    def sweep_stale(
        self, older_than: dt.timedelta, now: dt.datetime | None = None, lookback_days: int = 7
    ) -> int:
        """Delete pending uploads (and any partial blob) older than `older_than`; returns how many.

        Ids start with their creation day, so only the `lookback_days` days before the cutoff are read:
        each hourly run removes what went stale since the last one, and older days hold no pending uploads.
        """
        now = now or dt.datetime.now(dt.UTC)
        cutoff_time = now - older_than
        cutoff = cutoff_time.isoformat(timespec="seconds").replace("+00:00", "Z")
        days = [
            (cutoff_time - dt.timedelta(days=back)).strftime("%Y%m%d")
            for back in range(lookback_days, -1, -1)
        ]
        removed = 0
        for doc in (doc for day in days for doc in self.store.iter_all(prefix=f"upl-{day}")):
            if doc.get("state") != "pending" or (doc.get("created_at") or "") >= cutoff:
                continue
            if self.store.get(doc["_id"]).get("state") != "pending":
                continue  # completed since the listing
            self.blobs.delete(doc["blob_key"])
            try:
                self.store.delete(doc["_id"])
            except (NotFound, Conflict):
                continue  # completed or removed by someone else meanwhile
            removed += 1
            log.info("upload swept upload=%s created_at=%s", doc["_id"], doc.get("created_at"))
        return removed


def _token_digest(token: str) -> str:
    """What the record keeps of a token: its SHA-256 (the token is 256 random bits, so no salt is needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _unreadable_rows(sample: Sample, partial: bool) -> str:
    """'3 of 5 rows could not be read (rows 2, 3, 5): ...', for the rows the preview leaves out."""
    problems: list[RowProblem] = sample.problems
    of = f"{sample.rows_seen:,}" if sample.whole and not partial else THE_FIRST(count=f"{sample.rows_seen:,}")
    listed = ", ".join(str(p.row) for p in problems[:UNREADABLE_ROWS_LISTED])
    more = ", ..." if len(problems) > UNREADABLE_ROWS_LISTED else ""
    unreadable = UNREADABLE_ROWS if len(problems) > 1 else UNREADABLE_ROW
    return unreadable(count=f"{len(problems):,}", of=of, listed=listed + more, first=problems[0].message)


def _whole_lines(data: bytes) -> bytes:
    """Cut a text head after its last complete line (UTF-16 aware), so no row is half there."""
    if data.startswith(b"\xff\xfe"):
        cut = data.rfind(b"\n\x00")
        return data[: cut + 2] if cut > 0 and cut % 2 == 0 else data
    if data.startswith(b"\xfe\xff"):
        cut = data.rfind(b"\x00\n")
        return data[: cut + 2] if cut > 0 and cut % 2 == 0 else data
    cut = data.rfind(b"\n")
    return data[: cut + 1] if cut > 0 else data


@contextmanager
def _temporary_file(name: str, data: bytes) -> Iterator[Path]:
    """Bytes in a private temp file named like the upload (readers use the extension as a hint)."""
    with tempfile.TemporaryDirectory(prefix="dms-preview-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        yield path


def _json_value(value: Any) -> Any:
    """A sample cell as JSON: numbers and text as they are, everything else as its text."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else str(value)
    if isinstance(value, (dt.date, dt.time, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _clipped(value: Any, limit: int) -> tuple[Any, int | None]:
    """A JSON value with text past `limit` characters cut off behind an ellipsis, and its length if it was."""
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + "…", len(value)
    return value, None


def _clipped_profile(profile: dict[str, Any], limit: int) -> dict[str, Any]:
    """A column profile whose example values are clipped like the rows' cells."""
    for key in ("examples", "invalid_examples"):
        if profile.get(key):
            profile[key] = [_clipped(example, limit)[0] for example in profile[key]]
    return profile


def _json_rows(table: pa.Table, limit: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The sample rows as JSON objects (the source row number under `__row__`), every cell clipped to `limit`
    characters; and which cells were clipped: {row, column, length}."""
    names = table.column_names
    out = []
    truncated: list[dict[str, Any]] = []
    for row in table.to_pylist():
        shown = {}
        for name in names:
            shown[name], length = _clipped(_json_value(row.get(name)), limit)
            if length is not None:
                truncated.append({"row": row.get(ROW_COLUMN), "column": name, "length": length})
        out.append(shown)
    return out, truncated


__all__ = [
    "ROW_COLUMN",
    "PresignedUpload",
    "UploadError",
    "UploadLimits",
    "UploadNotReady",
    "UploadTokenInvalid",
    "UploadTooLarge",
    "Uploads",
    "check_upload_id",
    "display_filename",
    "public_record",
    "safe_filename",
]
