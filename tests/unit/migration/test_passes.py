"""A pass of a plan step over one chunk: which rows it leaves out, the Ids its references get, the order it
sends them in. The key maps and result parts are real files in a local blob store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from dms.clients.blobstore import LocalBlobStore
from dms.migration.keymap import KeyMapStore
from dms.migration.passes import OWN_ID_COLUMN, StepPass, is_rehearsal_id, rehearsal_id
from dms.pipeline import results as res
from dms.pipeline.model import ROW_COLUMN
from dms.pipeline.prepare.record_ids import _bad_checksums

ACCOUNT_1, ACCOUNT_2 = "001000000000001AAA", "001000000000002AAA"
SPEC = {
    "name": "p",
    "steps": [
        {"name": "accounts", "object": "Account", "key": "LegacyId", "source": {"upload_id": "u"}},
        {
            "name": "contacts",
            "object": "Contact",
            "key": "Ref",
            "source": {"upload_id": "u"},
            "mapping": {
                "fields": [
                    {"target": "LastName", "source": "Last"},
                    {"target": "AccountId", "source": "Acct", "ref": {"step": "accounts"}},
                    {"target": "ReportsToId", "source": "Boss", "ref": {"step": "contacts"}},
                ]
            },
        },
    ],
}


@pytest.fixture()
def blobs(tmp_path: Path) -> LocalBlobStore:
    store = LocalBlobStore(tmp_path)
    keys = KeyMapStore(store, "plan-1")
    entries = pa.table(
        {"key": ["A1", "A2", "A3"], "row": [1, 2, 3], "id": [ACCOUNT_1, ACCOUNT_2, None]},
    ).append_column("error", pa.array([None, None, "REQUIRED_FIELD_MISSING: Name"], pa.string()))
    keys.write_part("accounts", "LegacyId", 0, entries, buckets=1)
    keys.compact("accounts", "LegacyId", buckets=1)
    return store


def contacts() -> pa.Table:
    return pa.table(
        {
            "Ref": ["C1", "C2", "C3", "C4", "C5"],
            "Last": ["a", "b", "c", "d", "e"],
            "Acct": ["A2", "A1", "A3", "A2", " A1 "],
            "Boss": [None, "C1", "C1", "", "C4"],
            ROW_COLUMN: pa.array([1, 2, 3, 4, 5], pa.int64()),
        }
    )


def step_pass(blobs: LocalBlobStore, kind: str, **extra: Any) -> StepPass:
    migration = {
        "plan_id": "plan-1",
        "step": "contacts",
        "pass": kind,
        "spec": SPEC,
        "buckets": {"accounts": 1},
    }
    made = StepPass.of({"migration": {**migration, **extra}}, blobs)
    assert made is not None
    return made


def success_part(blobs: LocalBlobStore, job_id: str, rows: dict[int, str]) -> None:
    lines = "".join(f"{row},{sf_id},true\r\n" for row, sf_id in rows.items())
    with blobs.open_write(res.part_key(job_id, 0, "success")) as out:
        out.write(lines.encode())


def test_a_load_pass_resolves_parents_holds_back_children_of_rows_that_did_not_load_and_groups_by_parent(
    blobs: LocalBlobStore,
) -> None:
    applied = step_pass(blobs, "load").apply(0, contacts())
    assert [(e.row, e.code) for e in applied.errors] == [(3, "PARENT_NOT_LOADED")]
    assert "row 3 of step accounts" in applied.errors[0].message
    assert applied.held_back == 1 and applied.skipped == 0
    # The deferred ReportsToId is not resolved in the load pass; rows go out grouped by their account.
    assert "__ref__ReportsToId" not in applied.table.column_names
    sent = list(
        zip(applied.table["__ref__AccountId"].to_pylist(), applied.table[ROW_COLUMN].to_pylist(), strict=True)
    )
    assert sent == [(ACCOUNT_1, 2), (ACCOUNT_1, 5), (ACCOUNT_2, 1), (ACCOUNT_2, 4)]


def test_a_retry_load_pass_leaves_out_the_rows_an_earlier_pass_loaded(blobs: LocalBlobStore) -> None:
    success_part(blobs, "job-load1", {1: "003000000000001AAA", 4: "003000000000004AAA"})
    applied = step_pass(blobs, "load", earlier_loads=["job-load1"]).apply(0, contacts())
    assert applied.skipped == 2
    assert sorted(applied.table[ROW_COLUMN].to_pylist()) == [2, 5]


def test_an_update_pass_sets_deferred_fields_of_loaded_rows_only_by_their_own_ids(
    blobs: LocalBlobStore,
) -> None:
    keys = KeyMapStore(blobs, "plan-1")
    loaded = {
        1: "003000000000001AAA",
        2: "003000000000002AAA",
        4: "003000000000004AAA",
        5: "003000000000005AAA",
    }
    entries = pa.table(
        {
            "key": [f"C{r}" for r in loaded],
            "row": list(loaded),
            "id": list(loaded.values()),
            "error": pa.array([None] * 4, pa.string()),
        }
    )
    keys.write_part("contacts", "Ref", 0, entries, buckets=1)
    keys.compact("contacts", "Ref", buckets=1)
    success_part(blobs, "job-load1", loaded)
    update = step_pass(blobs, "update", loads=["job-load1"], buckets={"accounts": 1, "contacts": 1})
    applied = update.apply(0, contacts())
    # Row 1 has no manager, row 3 did not load, row 4's manager is blank: only rows 2 and 5 are updated.
    assert applied.skipped == 3
    assert applied.table[ROW_COLUMN].to_pylist() == [2, 5]
    assert applied.table[OWN_ID_COLUMN].to_pylist() == [loaded[2], loaded[5]]
    assert applied.table["__ref__ReportsToId"].to_pylist() == [loaded[1], loaded[4]]
    assert update.mapping()["fields"][0] == {"target": "Id", "source": OWN_ID_COLUMN}


def test_a_rehearsal_id_has_its_objects_prefix_and_a_valid_checksum() -> None:
    placeholder = rehearsal_id("001")
    assert placeholder.startswith("001") and len(placeholder) == 18
    assert not _bad_checksums(pa.array([placeholder, rehearsal_id("a0B")])).any()
    assert is_rehearsal_id(placeholder) and not is_rehearsal_id(ACCOUNT_1)
