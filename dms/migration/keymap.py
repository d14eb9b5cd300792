"""A step's key map, durable and bounded: legacy key -> source row, Salesforce Id or why there is none.

It lives in the blob store (S3 in production), not in Redis: a Redis flush or a dead worker loses nothing.
Each loaded chunk writes one part (`write_part`), from that chunk's final results, so it is written the same
exactly-once way they are: a redelivered chunk writes the same part again, byte for byte the same rows. A
part holds one record batch per hash bucket of the key. Once the step is loaded, `compact` gathers each
bucket from every part into one bucket file, one bucket in memory at a time, and finds keys given twice. A
lookup reads only the buckets its keys hash to; a child step grouped by parent (its chunks cut in parent key
order) touches a few buckets per chunk, so no worker ever holds a whole map of 10 million keys.
"""

from __future__ import annotations

import contextlib
import json
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dms.clients.blobstore import BlobStore
from dms.migration.references import KEY_MAP_SCHEMA

ROWS_PER_BUCKET = 200_000  # a bucket file is read whole by a lookup: ~10 MB at 50 bytes a key
MAX_BUCKETS = 4096
BUCKET_METADATA = b"dms.buckets"  # a part's schema metadata: bucket number -> its record batch


def bucket_count(expected_rows: int) -> int:
    """How many buckets a step of about this many rows gets (fixed when the plan is made)."""
    return max(1, min(MAX_BUCKETS, -(-max(expected_rows, 0) // ROWS_PER_BUCKET)))


def buckets_of(keys: pa.Array, buckets: int) -> np.ndarray:
    """Each key's bucket, from a hash of its text that every process computes alike."""
    if buckets == 1:
        return np.zeros(len(keys), dtype=np.int64)
    data = keys.cast(pa.string()).fill_null("").to_pylist()
    # CRC-32 of the UTF-8 bytes: the same in every process and version (Python's hash() is salted), C speed.
    hashes = np.fromiter((zlib.crc32(text.encode()) for text in data), dtype=np.int64, count=len(data))
    return hashes % buckets


@dataclass(frozen=True)
class Duplicate:
    """A key given by two rows of one step: a reference to it could mean either."""

    key: str
    rows: tuple[int, ...]


class KeyMapStore:
    """The key maps of one plan's steps, under `plans/<plan_id>/keys/` in the blob store."""

    def __init__(self, blobs: BlobStore, plan_id: str, cache_buckets: int = 8) -> None:
        self.blobs = blobs
        self.prefix = f"plans/{plan_id}/keys"
        self._cache: OrderedDict[tuple[str, str, int], pa.Table] = OrderedDict()
        self.cache_buckets = cache_buckets

    def _map_dir(self, step: str, key_column: str) -> str:
        # The column's name in hex: any column name makes a safe blob key.
        return f"{self.prefix}/{step}/{key_column.encode().hex()}"

    def _part_key(self, step: str, key_column: str, chunk: int, attempt: int) -> str:
        return f"{self._map_dir(step, key_column)}/parts/{attempt:03d}-{chunk:06d}.arrow"

    def _bucket_key(self, step: str, key_column: str, bucket: int) -> str:
        return f"{self._map_dir(step, key_column)}/buckets/{bucket:04d}.arrow"

    def write_part(
        self, step: str, key_column: str, chunk: int, entries: pa.Table, buckets: int, attempt: int = 1
    ) -> None:
        """Store one chunk's entries of one attempt of the step (KEY_MAP_SCHEMA; rows without a key left
        out), split by bucket. A later attempt's entry for a row replaces an earlier one's."""
        entries = entries.select(KEY_MAP_SCHEMA.names).cast(KEY_MAP_SCHEMA)
        entries = entries.filter(pc.invert(pc.is_null(entries["key"])))
        bucket = buckets_of(entries["key"].combine_chunks(), buckets)
        order = np.argsort(bucket, kind="stable")
        entries, bucket = entries.take(pa.array(order)), bucket[order]
        present = np.unique(bucket)
        metadata = {BUCKET_METADATA: json.dumps({"buckets": buckets, "batches": present.tolist()}).encode()}
        schema = KEY_MAP_SCHEMA.with_metadata(metadata)
        starts = np.searchsorted(bucket, present, side="left")
        ends = np.searchsorted(bucket, present, side="right")
        with self.blobs.open_write(self._part_key(step, key_column, chunk, attempt)) as out:
            with pa.ipc.new_file(out, schema) as writer:
                for start, end in zip(starts, ends, strict=True):
                    writer.write_table(entries.slice(int(start), int(end - start)), max_chunksize=1 << 30)

    def compact(self, step: str, key_column: str, buckets: int) -> list[Duplicate]:
        """Gather every part into bucket files, one bucket in memory at a time; the keys given twice."""
        parts = sorted(self.blobs.list(f"{self._map_dir(step, key_column)}/parts/"))
        duplicates: list[Duplicate] = []
        with contextlib.ExitStack() as stack:
            readers = [
                pa.ipc.open_file(pa.memory_map(str(stack.enter_context(self.blobs.local_copy(p)))))
                for p in parts
            ]
            indexes = [_batch_index(r.schema) for r in readers]
            attempts = [int(p.rsplit("/", 1)[-1].split("-", 1)[0]) for p in parts]
            for bucket in range(buckets):
                pieces = [
                    pa.Table.from_batches([r.get_batch(index[bucket])]).append_column(
                        "attempt", pa.array([attempt] * r.get_batch(index[bucket]).num_rows, pa.int32())
                    )
                    for r, index, attempt in zip(readers, indexes, attempts, strict=True)
                    if bucket in index
                ]
                table = _latest_per_row(pieces)
                duplicates.extend(_duplicates(table))
                with self.blobs.open_write(self._bucket_key(step, key_column, bucket)) as out:
                    with pa.ipc.new_file(out, KEY_MAP_SCHEMA) as writer:
                        writer.write_table(table)
        return duplicates

    def lookup(self, step: str, key_column: str, keys: pa.Array, buckets: int) -> pa.Table:
        """The entries of these keys (each at most once: the first row given it), from their buckets only."""
        keys = pc.unique(keys.cast(pa.string()).drop_null())
        bucket = buckets_of(keys, buckets)
        found = []
        for b in np.unique(bucket).tolist():
            table = self._bucket(step, key_column, int(b))
            wanted = keys.filter(pa.array(bucket == b))
            hits = table.filter(pc.is_in(table["key"], value_set=wanted))
            found.append(_first_per_key(hits))
        return pa.concat_tables(found) if found else KEY_MAP_SCHEMA.empty_table()

    def _bucket(self, step: str, key_column: str, bucket: int) -> pa.Table:
        cache_key = (step, key_column, bucket)
        if cache_key in self._cache:
            self._cache.move_to_end(cache_key)
            return self._cache[cache_key]
        with self.blobs.open_read(self._bucket_key(step, key_column, bucket)) as handle:
            table = pa.ipc.open_file(pa.BufferReader(handle.read())).read_all()
        self._cache[cache_key] = table
        while len(self._cache) > self.cache_buckets:
            self._cache.popitem(last=False)
        return table

    def entries(self, step: str, key_column: str, buckets: int) -> Iterator[pa.Table]:
        """Every bucket of a compacted map, one at a time (for rehearsal reports and results)."""
        for bucket in range(buckets):
            yield self._bucket(step, key_column, bucket)


def _batch_index(schema: pa.Schema) -> dict[int, int]:
    """bucket -> record batch number, from a part's metadata."""
    meta = json.loads((schema.metadata or {}).get(BUCKET_METADATA, b'{"batches": []}'))
    return {int(bucket): i for i, bucket in enumerate(meta["batches"])}


def _latest_per_row(pieces: list[pa.Table]) -> pa.Table:
    """One bucket's entries from every attempt, sorted by key then row: per (key, row), the latest attempt's
    entry (a row that failed and loaded on a retry has its Id, not its old error)."""
    if not pieces:
        return KEY_MAP_SCHEMA.empty_table()
    table = pa.concat_tables(pieces).sort_by(
        [("key", "ascending"), ("row", "ascending"), ("attempt", "descending")]
    )
    if table.num_rows > 1:
        keys, rows = table["key"].combine_chunks(), table["row"].combine_chunks()
        first = np.ones(table.num_rows, dtype=bool)
        same_key = pc.equal(keys.slice(1), keys.slice(0, len(keys) - 1))
        same_row = pc.equal(rows.slice(1), rows.slice(0, len(rows) - 1))
        first[1:] = ~pc.and_(same_key, same_row).to_numpy(zero_copy_only=False)
        table = table.filter(pa.array(first))
    return table.select(KEY_MAP_SCHEMA.names).cast(KEY_MAP_SCHEMA)


def _duplicates(sorted_table: pa.Table) -> list[Duplicate]:
    keys = sorted_table["key"].to_pylist()
    rows = sorted_table["row"].to_pylist()
    found: list[Duplicate] = []
    i = 0
    while i < len(keys):
        j = i + 1
        while j < len(keys) and keys[j] == keys[i]:
            j += 1
        if j - i > 1:
            found.append(Duplicate(keys[i], tuple(rows[i:j])))
        i = j
    return found


def _first_per_key(table: pa.Table) -> pa.Table:
    """One entry per key (the earliest row), as a bucket is sorted by key then row."""
    if table.num_rows < 2:
        return table
    keys = table["key"].combine_chunks()
    first = np.ones(table.num_rows, dtype=bool)
    first[1:] = pc.not_equal(keys.slice(1), keys.slice(0, len(keys) - 1)).to_numpy(zero_copy_only=False)
    return table.filter(pa.array(first))
