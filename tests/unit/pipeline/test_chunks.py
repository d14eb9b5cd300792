"""The recipe's pure parts: rows an upsert would create, and what a chunk stages."""

from __future__ import annotations

import pyarrow as pa

from dms.pipeline.chunks import check_new_rows, staged_parts, without_rows
from dms.pipeline.prepare import Prepared
from dms.pipeline.source import Chunk

DESCRIBE = {
    "name": "Account",
    "fields": [
        {"name": "Name", "type": "string", "createable": True, "nillable": False},
        {"name": "Legacy_Id__c", "type": "string", "createable": True, "nillable": True, "externalId": True},
        {"name": "Active__c", "type": "boolean", "createable": True, "nillable": False},
    ],
}


def prepared(rows: list[int], keys: list[str], names: list[str | None]) -> Prepared:
    table = pa.table(
        {"__row__": pa.array(rows, pa.int64()), "Legacy_Id__c": keys, "Name": pa.array(names, pa.string())}
    )
    return Prepared(table=table, errors=[], invalid_rows=0)


def test_an_upsert_row_that_creates_a_record_must_have_the_fields_an_insert_requires() -> None:
    def lookups(object_name: str, field: str, values: set[str]) -> set[str]:
        assert (object_name, field) == ("Account", "Legacy_Id__c")
        return {"A-1"}  # A-1 exists: its row updates and may leave Name out

    result = check_new_rows(
        prepared([2, 3, 4], ["A-1", "A-2", "A-3"], [None, None, "Acme"]), DESCRIBE, "Legacy_Id__c", lookups
    )
    assert result.table.column("__row__").to_pylist() == [2, 4]
    assert [(e.row, e.field, e.code) for e in result.errors] == [(3, "Name", "REQUIRED_FIELD_MISSING")]
    assert result.invalid_rows == 1


def test_rows_that_all_exist_are_left_as_they_are() -> None:
    given = prepared([2], ["A-1"], [None])
    assert check_new_rows(given, DESCRIBE, "Legacy_Id__c", lambda *_: {"A-1"}) is given


def test_a_chunk_stages_only_its_valid_rows_with_their_original_values() -> None:
    source = pa.table({"__row__": pa.array([2, 3, 4], pa.int64()), "name": ["a", "b", "c"]})
    valid = without_rows(pa.table({"__row__": pa.array([2, 3, 4], pa.int64()), "Name": ["A", "B", "C"]}), {3})
    parts = staged_parts(Chunk(index=0, table=source, problems=[]), Prepared(valid, [], 1))
    assert parts["load"].column("Name").to_pylist() == ["A", "C"]
    assert parts["source"].column("name").to_pylist() == ["a", "c"]
