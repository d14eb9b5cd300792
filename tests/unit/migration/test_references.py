"""A chunk's legacy keys become their parents' Ids; unknown or unloaded parents hold the child back, saying why."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from dms.migration.references import KEY_MAP_SCHEMA, ReferenceCode, resolve
from dms.migration.spec import parse_plan
from dms.pipeline.model import ROW_COLUMN

# Two parent steps' key maps: key -> (source row, Id or None, error or None).
KEY_MAPS: dict[str, dict[str, tuple[int, str | None, str | None]]] = {
    "accounts": {
        "A-1": (1, "001000000000001AAA", None),
        "A-2": (2, None, "REQUIRED_FIELD_MISSING: Name"),
    },
    "deals": {"D-1": (1, "006000000000001AAA", None)},
}
asked: list[tuple[str, str, list[Any]]] = []


def lookup(step: str, key_column: str, keys: pa.Array) -> pa.Table:
    asked.append((step, key_column, keys.to_pylist()))
    found = [(k, *KEY_MAPS[step][k]) for k in keys.to_pylist() if k in KEY_MAPS[step]]
    return pa.Table.from_pylist(
        [dict(zip(KEY_MAP_SCHEMA.names, f, strict=True)) for f in found], KEY_MAP_SCHEMA
    )


def plan() -> Any:
    def parent(name: str, obj: str) -> dict[str, Any]:
        return {"name": name, "object": obj, "key": "LegacyId", "source": {"upload_id": "up"}}

    return parse_plan(
        {
            "name": "p",
            "steps": [
                parent("accounts", "Account"),
                parent("deals", "Opportunity"),
                {
                    "name": "tasks",
                    "object": "Task",
                    "source": {"upload_id": "up"},
                    "mapping": {
                        "fields": [
                            {
                                "target": "WhatId",
                                "source": "what",
                                "ref": {"by": "kind", "steps": {"A": "accounts", "O": "deals"}},
                            },
                            {"target": "Account__c", "source": "acct", "ref": {"step": "accounts"}},
                        ]
                    },
                },
            ],
        }
    )


def chunk() -> pa.Table:
    return pa.table(
        {
            ROW_COLUMN: [10, 11, 12, 13, 14, 15],
            "what": ["A-1", "D-1", "A-2", "A-9", " ", "X-1"],
            "kind": ["A", "O", "A", "A", "A", "Z"],
            "acct": ["A-1", " A-1 ", None, "", "A-1", "A-1"],
        }
    )


def test_keys_become_ids_and_each_bad_reference_says_which_parent_and_why() -> None:
    p = plan()
    what, account = p.step("tasks").references
    asked.clear()
    resolved = resolve(p, chunk(), what, lookup)
    assert resolved.ids.to_pylist() == ["001000000000001AAA", "006000000000001AAA", None, None, None, None]
    by_row = {e.row: e for e in resolved.errors}
    assert sorted(by_row) == [12, 13, 15]  # the blank reference (row 14) is no parent, not an error
    assert by_row[12].code == ReferenceCode.PARENT_NOT_LOADED
    assert "row 2 of step accounts" in by_row[12].message and "REQUIRED_FIELD_MISSING" in by_row[12].message
    assert (
        by_row[13].code == ReferenceCode.NOT_FOUND
        and "no row of step accounts has LegacyId 'A-9'" in by_row[13].message
    )
    assert by_row[15].code == ReferenceCode.NO_STEP_FOR_VALUE and by_row[15].column == "kind"
    # One lookup per step, with each key once.
    assert sorted(asked) == [("accounts", "LegacyId", ["A-1", "A-2", "A-9"]), ("deals", "LegacyId", ["D-1"])]

    plain = resolve(p, chunk(), account, lookup)
    assert plain.ids.to_pylist() == ["001000000000001AAA"] * 2 + [None, None] + ["001000000000001AAA"] * 2
    assert plain.errors == []


def test_a_polymorphic_value_may_be_the_id_of_a_record_no_step_loads() -> None:
    """WhoId of a task: a contact the plan loads (by legacy key), or a lead already in the org (by its Id)."""
    p = parse_plan(
        {
            "name": "p",
            "steps": [
                {"name": "contacts", "object": "Contact", "key": "LegacyId", "source": {"upload_id": "up"}},
                {
                    "name": "tasks",
                    "object": "Task",
                    "source": {"upload_id": "up"},
                    "mapping": {
                        "fields": [
                            {
                                "target": "WhoId",
                                "source": "who",
                                "ref": {"by": "kind", "steps": {"C": "contacts", "L": {"object": "Lead"}}},
                            }
                        ]
                    },
                },
            ],
        }
    )
    (who,) = p.step("tasks").references
    assert who.steps == ("contacts",) and who.objects == (("L", "Lead"),)
    table = pa.table(
        {ROW_COLUMN: [1, 2, 3], "who": ["C-1", "00Q000000000001AAA", "C-1"], "kind": ["C", "L", "Q"]}
    )
    contacts = {"C-1": (1, "003000000000001AAA", None)}

    def contact_lookup(step: str, key_column: str, keys: pa.Array) -> pa.Table:
        found = [(k, *contacts[k]) for k in keys.to_pylist() if k in contacts]
        return pa.Table.from_pylist(
            [dict(zip(KEY_MAP_SCHEMA.names, f, strict=True)) for f in found], KEY_MAP_SCHEMA
        )

    resolved = resolve(p, table, who, contact_lookup)
    assert resolved.ids.to_pylist() == ["003000000000001AAA", "00Q000000000001AAA", None]
    (error,) = resolved.errors
    assert (error.row, error.code) == (3, ReferenceCode.NO_STEP_FOR_VALUE)
    assert "L -> Lead Id" in error.message


def test_a_polymorphic_choice_is_a_step_or_an_object() -> None:
    import pytest

    from dms.migration.spec import InvalidPlan

    with pytest.raises(InvalidPlan, match="or to"):
        parse_plan(
            {
                "name": "p",
                "steps": [
                    {
                        "name": "tasks",
                        "object": "Task",
                        "source": {"upload_id": "up"},
                        "mapping": {
                            "fields": [
                                {
                                    "target": "WhoId",
                                    "source": "who",
                                    "ref": {"by": "k", "steps": {"L": {"obj": "Lead"}}},
                                }
                            ]
                        },
                    }
                ],
            }
        )
