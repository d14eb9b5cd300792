"""Bulk-CSV-shaped rows as sObject Collections JSON."""

from __future__ import annotations

from dms.pipeline.apis.collections import item_error, json_record

KINDS = {"Active__c": "boolean", "Employees": "int", "Rate__c": "percent", "Name": "string"}


def test_values_take_the_json_type_of_their_field() -> None:
    names = ["Name", "Active__c", "Employees", "Rate__c"]
    assert json_record("Account", names, ["Acme", "TRUE", "12", "2.5"], KINDS) == {
        "attributes": {"type": "Account"},
        "Name": "Acme",
        "Active__c": True,
        "Employees": 12,
        "Rate__c": 2.5,
    }


def test_empty_is_left_out_and_the_null_marker_sets_null() -> None:
    record = json_record("Account", ["Name", "Employees"], ["", "#N/A"], KINDS)
    assert record == {"attributes": {"type": "Account"}, "Employees": None}


def test_a_relationship_column_becomes_a_nested_reference() -> None:
    record = json_record("Contact", ["Account.Legacy_Id__c"], ["A-1"], KINDS)
    assert record["Account"] == {"Legacy_Id__c": "A-1"}


def test_a_failed_item_gives_its_first_code_and_every_message_and_field() -> None:
    item = {
        "success": False,
        "errors": [
            {"statusCode": "REQUIRED_FIELD_MISSING", "message": "Name missing", "fields": ["Name"]},
            {"statusCode": "STRING_TOO_LONG", "message": "Site too long", "fields": ["Site"]},
        ],
    }
    assert item_error(item) == ("REQUIRED_FIELD_MISSING", "Name missing; Site too long", "Name;Site")
    assert item_error({"success": False}) == ("UNKNOWN_ERROR", "", "")
