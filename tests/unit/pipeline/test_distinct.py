"""A column's distinct values counted chunk by chunk, with bounded memory and a row limit."""

from __future__ import annotations

import pyarrow as pa

from dms.pipeline.distinct import ValueCounts, count_values, value_counts_view


def test_values_are_counted_across_chunks_most_common_first_and_blanks_apart() -> None:
    chunks = [
        pa.table({"tier": ["G", "S", "G", None, ""]}),
        pa.table({"tier": ["B", "G", " G", "S"]}),
    ]
    counts, complete = count_values(chunks, "tier")
    view = value_counts_view(counts, complete, limit=10, clip=100)
    assert complete and view["rows_read"] == 9 and view["blank"] == 2
    # " G" is its own value: a map transform compares the cell's text before any trim.
    assert view["values"] == [
        {"value": "G", "count": 3},
        {"value": "S", "count": 2},
        {"value": " G", "count": 1},
        {"value": "B", "count": 1},
    ]
    assert (view["distinct"], view["truncated"], view["capped"]) == (4, False, False)


def test_typed_cells_are_counted_as_the_text_a_map_sees() -> None:
    counts, _ = count_values([pa.table({"flag": pa.array([True, False, True])})], "flag")
    assert counts.most_common(5) == [("true", 2), ("false", 1)]


def test_past_the_tracked_values_new_values_are_counted_apart_and_the_answer_says_capped() -> None:
    counts = ValueCounts(max_tracked=2)
    counts.add(pa.array(["a", "b", "a"]))
    counts.add(pa.array(["c", "a", "d", "c"]))
    assert counts.counts == {"a": 3, "b": 1}
    assert counts.untracked_rows == 3 and counts.capped


def test_the_scan_stops_at_its_row_limit_and_says_it_is_incomplete() -> None:
    chunks = [pa.table({"c": ["x"] * 5}), pa.table({"c": ["y"] * 5}), pa.table({"c": ["z"] * 5})]
    counts, complete = count_values(iter(chunks), "c", max_rows=7)
    assert not complete and counts.rows == 7 and counts.counts == {"x": 5, "y": 2}


def test_the_list_is_cut_at_limit_and_long_values_are_clipped_for_display() -> None:
    counts, complete = count_values([pa.table({"c": ["a" * 30, "b", "b", "c"]})], "c")
    view = value_counts_view(counts, complete, limit=2, clip=10)
    assert view["values"] == [{"value": "b", "count": 2}, {"value": "a" * 10 + "…", "count": 1, "length": 30}]
    assert view["truncated"]
