"""sample_mapping(): the first rows through each field rule by prepare, cell by cell, on literal tables."""

from __future__ import annotations

import pyarrow as pa

from dms.pipeline.prepare.sample import sample_mapping
from tests.unit.pipeline.prepare.describes import ACCOUNT

HEAD = pa.table(
    {
        "__row__": pa.array([2, 3, 4], pa.int64()),
        "name": ["Acme", "", "Globex"],
        "tier": ["G", "S", "X"],
        "active": ["J", "N", "vielleicht"],
        "founded": ["31.12.2001", "01.02.2003", "13.02.2003"],
    }
)


def test_each_cell_shows_the_value_sent_or_its_own_errors_whatever_the_other_fields_say() -> None:
    spec = {
        "object": "Account",
        "operation": "insert",
        "fields": [
            {"target": "Name", "source": "name"},
            {
                "target": "Tier__c",
                "source": "tier",
                "transforms": [{"op": "map", "values": {"G": "Gold", "S": "Silver"}, "else": "error"}],
            },
            {"target": "Active__c", "source": "active", "true_values": ["J"], "false_values": ["N"]},
        ],
    }
    sample = sample_mapping(HEAD, spec, ACCOUNT, rows=3)
    rows = {r["row"]: r for r in sample["rows"]}
    assert rows[2]["values"] == {"name": "Acme", "tier": "G", "active": "J"}
    assert rows[2]["fields"]["Tier__c"] == {"value": "Gold", "errors": []}
    assert rows[2]["fields"]["Active__c"] == {"value": "true", "errors": []}
    # Row 3 has no name, yet its tier and its flag are sampled on their own.
    assert rows[3]["fields"]["Name"]["errors"][0]["code"] == "REQUIRED_FIELD_MISSING"
    assert rows[3]["fields"]["Tier__c"] == {"value": "Silver", "errors": []}
    assert rows[3]["fields"]["Active__c"] == {"value": "false", "errors": []}
    assert rows[4]["fields"]["Tier__c"]["value"] is None
    assert [e["code"] for e in rows[4]["fields"]["Tier__c"]["errors"]] == ["UNMAPPED_VALUE"]
    assert rows[4]["fields"]["Active__c"]["errors"][0]["code"] == "INVALID_BOOLEAN"
    by_target = {f["target"]: f for f in sample["fields"]}
    assert (by_target["Tier__c"]["valid"], by_target["Tier__c"]["invalid"]) == (2, 1)


def test_one_rule_is_sampled_before_the_rest_of_the_mapping_exists() -> None:
    spec = {
        "object": "Account",
        "operation": "insert",
        "fields": [{"target": "Founded__c", "source": "founded"}],
    }
    sample = sample_mapping(HEAD, spec, ACCOUNT, rows=2)
    # The format the head makes plain is filled in, as a job's plan does; only two rows are shown.
    assert sample["fields"][0]["rule"]["format"] == "%d.%m.%Y"
    assert [r["fields"]["Founded__c"]["value"] for r in sample["rows"]] == ["2001-12-31", "2003-02-01"]
    # Name is required on insert and not mapped yet: said, not a reason to refuse the sample.
    assert any(p["code"] == "REQUIRED_FIELD_NOT_MAPPED" for p in sample["problems"])


def test_a_rule_whose_entry_is_wrong_is_reported_and_left_out() -> None:
    spec = {
        "object": "Account",
        "operation": "insert",
        "fields": [
            {"target": "Name", "source": "name"},
            {
                "target": "Tier__c",
                "source": "tier",
                "transforms": [{"op": "map", "values": {"G": "Platinum"}}],
            },
            {"target": "Nope__c", "source": "tier"},
        ],
    }
    sample = sample_mapping(HEAD, spec, ACCOUNT, rows=3)
    assert [f["target"] for f in sample["fields"]] == ["Name"]
    codes = {p["code"] for p in sample["problems"]}
    assert {"INVALID_PICKLIST_VALUE", "UNKNOWN_FIELD"} <= codes
    assert sample["columns"] == ["name"]
