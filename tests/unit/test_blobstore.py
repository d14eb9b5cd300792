"""Pinned reads of the S3 blob store, on a stand-in client: every request, a resumed range too, is pinned."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError, ResponseStreamingError

from dms.clients.blobstore import BlobPin, BlobStat, LocalBlobStore, S3BlobStore, UploadChanged

DATA = bytes(range(256)) * 40
PIN = BlobPin("upl-1", '"etag-1"', "version-1")


class BrokenBody:
    """A response stream that breaks after `fail_after` bytes (None: it never breaks)."""

    def __init__(self, data: bytes, fail_after: int | None) -> None:
        self.data, self.fail_after, self.closed = data, fail_after, False

    def iter_chunks(self, size: int) -> Iterator[bytes]:
        cut = len(self.data) if self.fail_after is None else self.fail_after
        for start in range(0, cut, 1000):
            yield self.data[start : min(start + 1000, cut)]
        if self.fail_after is not None:
            raise ResponseStreamingError(error="connection reset")

    def close(self) -> None:
        self.closed = True


class StandInS3:
    """get_object that answers the object from the requested offset, breaking the streams it is told to."""

    def __init__(self, breaks: list[int | None], replaced_after: int | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.breaks = breaks
        self.replaced_after = replaced_after

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.replaced_after is not None and len(self.calls) > self.replaced_after:
            raise ClientError({"Error": {"Code": "PreconditionFailed"}}, "GetObject")
        start = int(kwargs["Range"][len("bytes=") : -1]) if "Range" in kwargs else 0
        rest = DATA[start:]
        return {
            "ContentLength": len(rest),
            "Body": BrokenBody(rest, self.breaks.pop(0) if self.breaks else None),
        }


def test_a_pinned_download_resumes_a_broken_stream_with_a_pinned_range_read() -> None:
    client = StandInS3(breaks=[3000, 2500])
    store = S3BlobStore("bucket", "blobs", client)
    with store.local_copy("uploads/upl-1/a.csv", PIN) as path:
        assert path.read_bytes() == DATA
    assert [call.get("Range") for call in client.calls] == [None, "bytes=3000-", "bytes=5500-"]
    assert all((c["IfMatch"], c["VersionId"]) == ('"etag-1"', "version-1") for c in client.calls)
    assert all(c["Key"] == "blobs/uploads/upl-1/a.csv" for c in client.calls)


def test_a_file_replaced_during_a_pinned_download_is_refused() -> None:
    client = StandInS3(breaks=[3000], replaced_after=1)
    store = S3BlobStore("bucket", "", client)
    with pytest.raises(UploadChanged) as refused, store.local_copy("uploads/upl-1/a.csv", PIN):
        pytest.fail("a replaced file must not be handed to the reader")
    assert (refused.value.code, refused.value.http_status) == ("UPLOAD_CHANGED", 409)
    assert "upload upl-1 changed after it was completed" in refused.value.message


def test_a_pinned_stream_read_asks_for_the_pinned_object_only() -> None:
    client = StandInS3(breaks=[])
    S3BlobStore("bucket", "", client).open_read("k.csv", BlobPin("upl-1", '"e"'))
    assert client.calls == [{"Bucket": "bucket", "Key": "k.csv", "IfMatch": '"e"'}]


def test_an_unpinned_read_asks_for_whatever_is_there() -> None:
    client = StandInS3(breaks=[])
    S3BlobStore("bucket", "", client).open_read("k.csv")
    assert client.calls == [{"Bucket": "bucket", "Key": "k.csv"}]


def test_a_pin_is_recorded_only_where_the_store_has_an_identity(tmp_path: Any) -> None:
    store = LocalBlobStore(tmp_path)
    store.put_bytes("uploads/upl-1/a.csv", b"a\n")
    local = store.stat("uploads/upl-1/a.csv")
    assert local == BlobStat(2) and BlobPin.of("upl-1", local.pin_fields()) is None
    s3 = BlobStat(2, '"e"', "v")
    assert BlobPin.of("upl-1", s3.pin_fields()) == BlobPin("upl-1", '"e"', "v")
