"""Mapping specs: every check check_mapping makes, and compile_mapping raising with every problem."""

from __future__ import annotations

from typing import Any

import pytest

from dms.pipeline.prepare.compile import check_mapping, compile_mapping
from dms.pipeline.prepare.spec import MappingError
from tests.unit.pipeline.prepare.describes import ACCOUNT, CONTACT, TASK


def codes(problems, severity: str = "error") -> list[str]:
    return [p.code for p in problems if p.severity == severity]


def spec(operation: str = "insert", *fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"object": "Account", "operation": operation, "fields": list(fields), **extra}


NAME = {"target": "Name", "source": "Company"}
COLUMNS = ["Company", "legacy id", "tier", "founded", "acct_ref", "a", "b", "Id"]


def test_a_good_spec_has_no_problems() -> None:
    good = spec(
        "upsert",
        NAME,
        {"target": "Legacy_Id__c", "source": "legacy id"},
        {
            "target": "Tier__c",
            "source": "tier",
            "transforms": [{"op": "map", "values": {"G": "Gold"}, "else": "keep"}],
        },
        {"target": "Founded__c", "source": "founded", "format": "%d/%m/%Y"},
        {"target": "Description", "constant": "Migrated by DMS"},
        {"target": "Phone", "source": "a", "default": "n/a"},
        {"target": "BillingStreet", "concat": ["a", "b"], "separator": " "},
        {"target": "Parent.Legacy_Id__c", "source": "acct_ref"},
        external_id="Legacy_Id__c",
        blank_means="null",
    )
    assert check_mapping(good, ACCOUNT, COLUMNS, parent_describes={"Account": ACCOUNT}) == []


def test_unknown_field_with_suggestion() -> None:
    problems = check_mapping(spec("insert", NAME, {"target": "BillingCty", "source": "a"}), ACCOUNT, COLUMNS)
    assert codes(problems) == ["UNKNOWN_FIELD"]
    assert "did you mean BillingCity" in problems[0].message


def test_unknown_source_column_with_suggestion() -> None:
    problems = check_mapping(spec("insert", {"target": "Name", "source": "company"}), ACCOUNT, COLUMNS)
    assert codes(problems) == ["UNKNOWN_COLUMN"]
    assert "'Company'" in problems[0].message


@pytest.mark.parametrize(
    ("operation", "target", "code", "severity"),
    [
        ("insert", "CreatedDate", "FIELD_NOT_CREATEABLE", "error"),
        ("insert", "Rating_Formula__c", "FIELD_NOT_CREATEABLE", "error"),
        ("update", "Region_Code__c", "FIELD_NOT_UPDATEABLE", "error"),
        ("upsert", "Region_Code__c", "FIELD_NOT_UPDATEABLE", "warning"),
        ("upsert", "CreatedDate", "FIELD_NOT_WRITABLE", "error"),
    ],
)
def test_targets_must_be_writable_for_the_operation(operation, target, code, severity) -> None:
    fields = [NAME, {"target": target, "source": "a"}]
    if operation != "insert":
        fields.append({"target": "Id" if operation == "update" else "Legacy_Id__c", "source": "Id"})
    problems = check_mapping(
        spec(operation, *fields, external_id="Legacy_Id__c" if operation == "upsert" else None),
        ACCOUNT,
        COLUMNS,
    )
    assert code in codes(problems, severity)


def test_upsert_needs_a_real_mapped_external_id() -> None:
    assert "MISSING_EXTERNAL_ID" in codes(check_mapping(spec("upsert", NAME), ACCOUNT, COLUMNS))
    not_mapped = check_mapping(spec("upsert", NAME, external_id="Legacy_Id__c"), ACCOUNT, COLUMNS)
    assert "MISSING_EXTERNAL_ID" in codes(not_mapped)
    not_external = check_mapping(
        spec("upsert", NAME, {"target": "AccountNumber", "source": "a"}, external_id="AccountNumber"),
        ACCOUNT,
        COLUMNS,
    )
    assert "NOT_AN_EXTERNAL_ID" in codes(not_external)


@pytest.mark.parametrize("operation", ["update", "delete", "hard_delete"])
def test_update_and_delete_need_the_id(operation: str) -> None:
    assert "MISSING_ID" in codes(check_mapping(spec(operation, NAME), ACCOUNT, COLUMNS))


def test_delete_ignores_other_fields_with_a_warning() -> None:
    problems = check_mapping(spec("delete", {"target": "Id", "source": "Id"}, NAME), ACCOUNT, COLUMNS)
    assert codes(problems) == [] and codes(problems, "warning") == ["FIELD_IGNORED"]
    compiled = compile_mapping(spec("delete", {"target": "Id", "source": "Id"}, NAME), ACCOUNT, COLUMNS)
    assert [r.target.header for r in compiled.rules] == ["Id"]


def test_required_fields_must_be_mapped_for_insert_only() -> None:
    problems = check_mapping(
        {"object": "Contact", "operation": "insert", "fields": [{"target": "FirstName", "source": "a"}]},
        CONTACT,
        COLUMNS,
    )
    assert codes(problems) == ["REQUIRED_FIELD_NOT_MAPPED"]
    assert "LastName" in problems[0].message
    upsert = check_mapping(
        {
            "object": "Contact",
            "operation": "upsert",
            "external_id": "Legacy_Id__c",
            "fields": [{"target": "Legacy_Id__c", "source": "a"}],
        },
        CONTACT,
        COLUMNS,
    )
    assert codes(upsert) == [] and codes(upsert, "warning") == ["REQUIRED_FIELD_NOT_MAPPED"]
    # A default or constant counts as mapped; booleans and defaulted fields are never required.
    constant = check_mapping(
        {"object": "Contact", "fields": [{"target": "LastName", "constant": "Unknown"}]}, CONTACT, COLUMNS
    )
    assert constant == []


def test_the_same_target_twice_and_a_lookup_filling_a_mapped_reference() -> None:
    twice = check_mapping(spec("insert", NAME, {"target": "name", "source": "a"}), ACCOUNT, COLUMNS)
    assert codes(twice) == ["DUPLICATE_TARGET"]
    both = check_mapping(
        {
            "object": "Contact",
            "fields": [
                {"target": "LastName", "source": "a"},
                {"target": "AccountId", "source": "b"},
                {"target": "Account.Legacy_Id__c", "source": "acct_ref"},
            ],
        },
        CONTACT,
        COLUMNS,
    )
    assert codes(both) == ["DUPLICATE_TARGET"]
    assert "AccountId" in both[0].message


def test_lookup_targets_are_checked_against_relationships_and_parents() -> None:
    base = {"object": "Contact", "fields": [{"target": "LastName", "source": "a"}]}

    def check(target: str, **kwargs):
        return check_mapping(
            {**base, "fields": base["fields"] + [{"target": target, "source": "b"}]},
            CONTACT,
            COLUMNS,
            **kwargs,
        )

    assert codes(check("Acount.Legacy_Id__c")) == ["UNKNOWN_RELATIONSHIP"]
    assert codes(check("Account.Nope__c", parent_describes={"Account": ACCOUNT})) == ["UNKNOWN_FIELD"]
    assert codes(check("Account.BillingCity", parent_describes={"Account": ACCOUNT})) == [
        "NOT_AN_EXTERNAL_ID"
    ]
    assert check("Account.Legacy_Id__c", parent_describes={"Account": ACCOUNT}) == []
    assert check("ReportsTo.Email", parent_describes={"Contact": CONTACT}) == []  # idLookup counts


def test_polymorphic_lookups_name_the_parent_type() -> None:
    base = {"object": "Task", "fields": [{"target": "Subject", "source": "a"}]}
    vague = check_mapping(
        {**base, "fields": base["fields"] + [{"target": "Who.Legacy_Id__c", "source": "b"}]}, TASK, COLUMNS
    )
    assert codes(vague) == ["POLYMORPHIC_LOOKUP"]
    assert "Contact:Who.Legacy_Id__c" in vague[0].message
    typed = check_mapping(
        {**base, "fields": base["fields"] + [{"target": "Contact:Who.Legacy_Id__c", "source": "b"}]},
        TASK,
        COLUMNS,
    )
    assert typed == []


@pytest.mark.parametrize(
    ("entry", "code"),
    [
        ({"target": "Tier__c", "source": "tier", "transforms": [{"op": "shout"}]}, "INVALID_TRANSFORM"),
        (
            {"target": "Tier__c", "source": "tier", "transforms": [{"op": "map", "values": {"G": 1}}]},
            "INVALID_TRANSFORM",
        ),
        (
            {
                "target": "Tier__c",
                "source": "tier",
                "transforms": [{"op": "map", "values": {}, "else": "maybe"}],
            },
            "INVALID_TRANSFORM",
        ),
        (
            {
                "target": "Tier__c",
                "source": "tier",
                "transforms": [{"op": "split", "separator": "", "index": 0}],
            },
            "INVALID_TRANSFORM",
        ),
        (
            {
                "target": "Tier__c",
                "source": "tier",
                "transforms": [{"op": "regex_replace", "pattern": "(", "with": ""}],
            },
            "INVALID_TRANSFORM",
        ),
        (
            {"target": "Tier__c", "source": "tier", "transforms": [{"op": "trim", "extra": 1}]},
            "INVALID_TRANSFORM",
        ),
        ({"target": "Founded__c", "source": "founded", "format": "%d/%m"}, "INVALID_FORMAT"),
        ({"target": "AnnualRevenue", "source": "a", "decimal": ",", "thousands": ","}, "INVALID_FORMAT"),
        ({"target": "Last_Audit__c", "source": "a", "timezone": "Mars/Olympus"}, "INVALID_TIMEZONE"),
        ({"target": "Tier__c", "source": "tier", "constant": "Gold"}, "INVALID_SPEC"),
        ({"target": "Tier__c"}, "INVALID_SPEC"),
        ({"target": "Tier__c", "source": "tier", "defualt": "Gold"}, "UNKNOWN_KEY"),
        ({"target": "Tier__c", "constant": "Platinum"}, "INVALID_PICKLIST_VALUE"),
        (
            {"target": "Tier__c", "source": "tier", "transforms": [{"op": "map", "values": {"G": "Gld"}}]},
            "INVALID_PICKLIST_VALUE",
        ),
    ],
)
def test_malformed_field_entries(entry: dict[str, Any], code: str) -> None:
    assert code in codes(check_mapping(spec("insert", NAME, entry), ACCOUNT, COLUMNS))


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        ({"object": "Contact"}, "OBJECT_MISMATCH"),
        ({"operation": "merge"}, "INVALID_OPERATION"),
        ({"blank_means": "zero"}, "INVALID_SPEC"),
        ({"fields": "Name"}, "INVALID_SPEC"),
    ],
)
def test_malformed_specs(bad: dict[str, Any], code: str) -> None:
    assert code in codes(check_mapping({**spec("insert", NAME), **bad}, ACCOUNT, COLUMNS))


def test_not_even_an_object_is_reported_not_raised() -> None:
    assert codes(check_mapping(["Name"], ACCOUNT, COLUMNS)) == ["INVALID_SPEC"]  # type: ignore[arg-type]


def test_compile_raises_with_every_problem() -> None:
    with pytest.raises(MappingError) as caught:
        compile_mapping(spec("insert", {"target": "Nope", "source": "x"}), ACCOUNT, COLUMNS)
    body = caught.value.to_dict()
    assert body["code"] == "INVALID_MAPPING"
    assert {p["code"] for p in body["problems"]} == {"UNKNOWN_FIELD", "REQUIRED_FIELD_NOT_MAPPED"}
    assert "Account has no field Nope" in body["message"]
