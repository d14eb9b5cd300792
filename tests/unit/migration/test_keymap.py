"""The key map in the blob store: parts per chunk, compacted per bucket, looked up by bucket only."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from dms.clients.blobstore import LocalBlobStore
from dms.migration.keymap import KeyMapStore, bucket_count, buckets_of
from dms.migration.references import KEY_MAP_SCHEMA


def entries(rows: range, failed: frozenset[int] = frozenset()) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "key": f"K-{r}",
                "row": r,
                "id": None if r in failed else f"001{r:015d}",
                "error": "REQUIRED_FIELD_MISSING: Name" if r in failed else None,
            }
            for r in rows
        ],
        KEY_MAP_SCHEMA,
    )


def test_parts_compact_into_buckets_and_lookups_read_only_their_buckets(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path)
    store = KeyMapStore(blobs, "plan-1")
    buckets = 7
    store.write_part("accounts", "LegacyId", 1, entries(range(1, 501), failed=frozenset({42})), buckets)
    store.write_part("accounts", "LegacyId", 2, entries(range(501, 1001)), buckets)
    # A redelivered chunk writes its part again: the same rows, not twice the rows.
    store.write_part("accounts", "LegacyId", 2, entries(range(501, 1001)), buckets)
    assert store.compact("accounts", "LegacyId", buckets) == []
    assert sum(t.num_rows for t in store.entries("accounts", "LegacyId", buckets)) == 1000

    fresh = KeyMapStore(blobs, "plan-1", cache_buckets=2)  # another worker, nothing in memory
    found = fresh.lookup(
        "accounts", "LegacyId", pa.array(["K-7", "K-42", "K-999", "K-7", "nope", None]), buckets
    )
    by_key = {r["key"]: r for r in found.to_pylist()}
    assert set(by_key) == {"K-7", "K-42", "K-999"}
    assert by_key["K-7"]["id"] == "001000000000000007" and by_key["K-42"]["id"] is None
    assert by_key["K-42"]["error"].startswith("REQUIRED_FIELD_MISSING") and by_key["K-999"]["row"] == 999
    wanted = {int(b) for b in buckets_of(pa.array(["K-7", "K-42", "K-999", "nope"]), buckets)}
    assert {b for (_, _, b) in fresh._cache} <= wanted and len(fresh._cache) <= 2


def test_a_key_given_by_two_rows_is_reported_and_the_first_row_wins(tmp_path: Path) -> None:
    store = KeyMapStore(LocalBlobStore(tmp_path), "plan-2")
    store.write_part("contacts", "Id", 1, entries(range(1, 4)), 3)
    again = entries(range(2, 3)).set_column(1, "row", pa.array([77], pa.int64()))
    store.write_part("contacts", "Id", 2, again, 3)
    (duplicate,) = store.compact("contacts", "Id", 3)
    assert (duplicate.key, duplicate.rows) == ("K-2", (2, 77))
    (hit,) = store.lookup("contacts", "Id", pa.array(["K-2"]), 3).to_pylist()
    assert hit["row"] == 2


def test_buckets_are_stable_and_sized_by_rows() -> None:
    assert (
        buckets_of(pa.array(["K-1", "Zürich", ""]), 1000).tolist()
        == buckets_of(pa.array(["K-1", "Zürich", ""]), 1000).tolist()
    )
    assert buckets_of(pa.array(["abc"]), 1000).tolist() == [891568578 % 1000]  # CRC-32 of b"abc"
    assert (bucket_count(0), bucket_count(200_000), bucket_count(200_001), bucket_count(10**10)) == (
        1,
        1,
        2,
        4096,
    )
