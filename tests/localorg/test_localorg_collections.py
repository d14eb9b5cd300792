"""Composite sObject Collections: create, update, upsert, delete, retrieve, allOrNone."""

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest


def _account(name: str | None, legacy: str | None = None, **extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"attributes": {"type": "Account"}, **extra}
    if name is not None:
        record["Name"] = name
    if legacy is not None:
        record["Legacy_Id__c"] = legacy
    return record


def test_create_reports_each_record_and_keeps_the_good_ones(sf: Any) -> None:
    records = [_account(f"A{i}", f"L{i}") for i in range(198)] + [
        _account(None),
        _account("Bad", Tier__c="X"),
    ]
    results = sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": records})
    assert len(results) == 200
    assert all(r["success"] and r["id"].startswith("001") for r in results[:198])
    assert results[198] == {
        "success": False,
        "errors": [
            {
                "statusCode": "REQUIRED_FIELD_MISSING",
                "message": "Required fields are missing: [Name]",
                "fields": ["Name"],
            }
        ],
    }
    assert results[199]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 198


def test_all_or_none_rolls_back_every_record_across_object_types(sf: Any) -> None:
    records = [
        _account("Good", "G1"),
        {"attributes": {"type": "Contact"}, "LastName": "Fine"},
        {"attributes": {"type": "Contact"}, "FirstName": "No last name"},
    ]
    results = sf.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": records})
    assert [r["success"] for r in results] == [False, False, False]
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[2]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 0


def test_more_than_200_records_is_refused(sf: Any) -> None:
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.restful(
            "composite/sobjects", method="POST", json={"records": [_account(f"A{i}") for i in range(201)]}
        )
    assert refused.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"


def test_update_with_ids_and_unknown_ids(sf: Any) -> None:
    created = sf.restful(
        "composite/sobjects", method="POST", json={"records": [_account("One"), _account("Two")]}
    )
    ids = [r["id"] for r in created]
    updates = [
        {"attributes": {"type": "Account"}, "id": ids[0], "Name": "Uno"},
        {"attributes": {"type": "Account"}, "id": "001000000000009AAA", "Name": "Ghost"},
        {"attributes": {"type": "Account"}, "id": ids[1], "Name": ""},
    ]
    results = sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": False, "records": updates})
    assert results[0] == {"id": ids[0], "success": True, "errors": []}
    assert results[1]["errors"][0]["statusCode"] == "INVALID_CROSS_REFERENCE_KEY"
    assert results[2]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    names = {r["Id"]: r["Name"] for r in sf.query("SELECT Id, Name FROM Account")["records"]}
    assert names == {ids[0]: "Uno", ids[1]: "Two"}


def test_upsert_by_external_id_reports_created_flags(sf: Any) -> None:
    sf.Account.create({"Name": "Existing", "Legacy_Id__c": "E1"})
    records = [
        _account("Updated", "e1"),
        _account("New", "N1"),
        _account("Dup A", "D"),
        _account("Dup B", "d"),
    ]
    results = sf.restful(
        "composite/sobjects/Account/Legacy_Id__c",
        method="PATCH",
        json={"allOrNone": False, "records": records},
    )
    assert [r.get("created") for r in results[:2]] == [False, True]
    assert all(r["success"] for r in results[:2])
    assert [r["errors"][0]["statusCode"] for r in results[2:]] == ["DUPLICATE_EXTERNAL_ID"] * 2
    names = sorted(r["Name"] for r in sf.query("SELECT Name FROM Account")["records"])
    assert names == ["New", "Updated"]


def test_delete_and_retrieve(sf: Any) -> None:
    created = sf.restful(
        "composite/sobjects",
        method="POST",
        json={"records": [_account("One", Phone="1"), _account("Two", Phone="2")]},
    )
    ids = [r["id"] for r in created]
    fetched = sf.restful(
        "composite/sobjects/Account",
        method="GET",
        params={"ids": ",".join(ids + ["001000000000009AAA"]), "fields": "Name,Phone"},
    )
    assert [(r["Name"], r["Phone"]) for r in fetched[:2]] == [("One", "1"), ("Two", "2")]
    assert fetched[2] is None
    deleted = sf.restful(
        "composite/sobjects",
        method="DELETE",
        params={"ids": ",".join(ids + ["001000000000009AAA"]), "allOrNone": "false"},
    )
    assert [r["success"] for r in deleted] == [True, True, False]
    assert deleted[0]["id"] == ids[0]
    again = sf.restful("composite/sobjects", method="DELETE", params={"ids": ids[0], "allOrNone": "true"})
    assert again[0]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0


def test_contact_rows_reference_accounts_by_external_id(sf: Any) -> None:
    sf.Account.create({"Name": "Parent", "Legacy_Id__c": "ACC-1"})
    records = [
        {
            "attributes": {"type": "Contact"},
            "LastName": "Kid",
            "Legacy_Id__c": "C-1",
            "Account": {"attributes": {"type": "Account"}, "Legacy_Id__c": "ACC-1"},
        },
        {
            "attributes": {"type": "Contact"},
            "LastName": "Lost",
            "Legacy_Id__c": "C-2",
            "Account": {"Legacy_Id__c": "ACC-404"},
        },
    ]
    results = sf.restful(
        "composite/sobjects/Contact/Legacy_Id__c",
        method="PATCH",
        json={"allOrNone": False, "records": records},
    )
    assert results[0]["success"] is True
    assert results[1]["errors"][0]["statusCode"] == "INVALID_FIELD"
    kid = sf.query("SELECT Account.Legacy_Id__c FROM Contact")["records"][0]
    assert kid["Account"]["Legacy_Id__c"] == "ACC-1"
