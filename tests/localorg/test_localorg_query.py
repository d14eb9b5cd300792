"""SOQL subset and nextRecordsUrl pagination through simple-salesforce."""

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest


def _load_accounts(sf: Any, count: int) -> None:
    records = [
        {
            "attributes": {"type": "Account"},
            "Name": f"Acme {i:04d}",
            "Legacy_Id__c": f"A{i}",
            "NumberOfEmployees": i,
            "Tier__c": ["Gold", "Silver", "Bronze"][i % 3],
            "Founded__c": f"20{i % 25:02d}-01-15",
        }
        for i in range(count)
    ]
    for start in range(0, count, 200):
        results = sf.restful(
            "composite/sobjects",
            method="POST",
            json={"allOrNone": True, "records": records[start : start + 200]},
        )
        assert all(r["success"] for r in results)


def test_query_all_iter_pages_through_nextrecordsurl(sf: Any) -> None:
    _load_accounts(sf, 2500)
    first = sf.query("SELECT Id, Name FROM Account ORDER BY Name")
    assert first["totalSize"] == 2500 and first["done"] is False and len(first["records"]) == 2000
    assert first["nextRecordsUrl"].startswith("/services/data/v62.0/query/")
    names = [r["Name"] for r in sf.query_all_iter("SELECT Id, Name FROM Account ORDER BY Name")]
    assert names == [f"Acme {i:04d}" for i in range(2500)]


def test_batch_size_header_sets_the_page_size(sf: Any) -> None:
    _load_accounts(sf, 1200)
    headers = {"Sforce-Query-Options": "batchSize=500"}
    first = sf.query("SELECT Id FROM Account", headers=headers)
    assert len(first["records"]) == 500
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    third = sf.query_more(second["nextRecordsUrl"], identifier_is_url=True)
    assert [len(second["records"]), len(third["records"]), third["done"]] == [500, 200, True]
    ids = {r["Id"] for page in (first, second, third) for r in page["records"]}
    assert len(ids) == 1200


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("NumberOfEmployees < 3", 3),
        ("NumberOfEmployees >= 57", 3),
        ("NumberOfEmployees != 5", 59),
        ("NumberOfEmployees <= 2 OR NumberOfEmployees > 58", 4),
        ("(Tier__c = 'Gold' OR Tier__c = 'Silver') AND NumberOfEmployees < 6", 4),
        ("Tier__c IN ('Gold', 'Bronze')", 40),
        ("Tier__c NOT IN ('Gold')", 40),
        ("Name LIKE 'acme 001%'", 10),
        ("Legacy_Id__c = 'a7'", 1),
        ("Founded__c > 2020-01-01", 10),
        ("Phone = null", 60),
        ("Phone != null", 0),
        ("NOT (NumberOfEmployees > 1)", 2),
    ],
)
def test_where_clause_operators(sf: Any, where: str, expected: int) -> None:
    _load_accounts(sf, 60)
    assert sf.query(f"SELECT COUNT() FROM Account WHERE {where}")["totalSize"] == expected
    records = sf.query_all(f"SELECT Id FROM Account WHERE {where}")["records"]
    assert len(records) == expected


def test_order_by_limit_offset(sf: Any) -> None:
    _load_accounts(sf, 30)
    records = sf.query(
        "SELECT Name, NumberOfEmployees FROM Account ORDER BY NumberOfEmployees DESC LIMIT 5 OFFSET 2"
    )["records"]
    assert [r["NumberOfEmployees"] for r in records] == [27, 26, 25, 24, 23]
    by_tier = sf.query("SELECT Tier__c, Name FROM Account ORDER BY Tier__c ASC, Name DESC LIMIT 2")["records"]
    assert [(r["Tier__c"], r["Name"]) for r in by_tier] == [("Bronze", "Acme 0029"), ("Bronze", "Acme 0026")]


def test_parent_relationship_fields_are_nested(sf: Any) -> None:
    parent = sf.Account.create({"Name": "Parent Co", "Legacy_Id__c": "P"})
    sf.Contact.create({"LastName": "Child", "AccountId": parent["id"]})
    sf.Contact.create({"LastName": "Orphan"})
    records = sf.query(
        "SELECT LastName, Account.Name, Account.Owner.Username FROM Contact "
        "WHERE Account.Name != null OR LastName = 'Orphan' ORDER BY LastName"
    )["records"]
    assert records[0]["Account"]["Name"] == "Parent Co"
    assert records[0]["Account"]["attributes"]["type"] == "Account"
    assert records[0]["Account"]["Owner"]["Username"] == "dms@localorg.test"
    assert records[1]["LastName"] == "Orphan" and records[1]["Account"] is None


def test_query_all_includes_deleted_records(sf: Any) -> None:
    kept = sf.Account.create({"Name": "Kept"})
    gone = sf.Account.create({"Name": "Gone"})
    sf.Account.delete(gone["id"])
    live = sf.query("SELECT Id FROM Account")["records"]
    everything = sf.query_all("SELECT Id, IsDeleted FROM Account", include_deleted=True)["records"]
    assert [r["Id"] for r in live] == [kept["id"]]
    assert {(r["Id"], r["IsDeleted"]) for r in everything} == {(kept["id"], False), (gone["id"], True)}


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Nope FROM Account", "INVALID_FIELD"),
        ("SELECT Name FROM Nope__c", "INVALID_TYPE"),
        ("SELECT Name Account", "MALFORMED_QUERY"),
        ("SELECT Name FROM Account WHERE", "MALFORMED_QUERY"),
        ("SELECT Name FROM Account WHERE NumberOfEmployees = 'x'", "MALFORMED_QUERY"),
        ("SELECT Name FROM Account OFFSET 2001", "NUMBER_OUTSIDE_VALID_RANGE"),
    ],
)
def test_bad_queries_are_rejected_with_salesforce_codes(sf: Any, soql: str, code: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as rejected:
        sf.query(soql)
    assert rejected.value.content[0]["errorCode"] == code


def test_count_with_field_returns_an_aggregate_result(sf: Any) -> None:
    _load_accounts(sf, 7)
    result = sf.query("SELECT COUNT(Id) total FROM Account WHERE Tier__c = 'Gold'")
    assert result["records"][0]["total"] == 3


def test_child_relationship_subqueries_nest_each_parents_children(sf: Any) -> None:
    acme = sf.Account.create({"Name": "Acme"})["id"]
    sf.Account.create({"Name": "Empty"})
    for last_name in ("Zed", "Amy", "Bob"):
        sf.Contact.create({"LastName": last_name, "AccountId": acme})
    sf.Invoice__c.create({"Account__c": acme, "Amount__c": 12})
    sf.Task.create({"Subject": "Call", "WhatId": acme})
    records = sf.query(
        "SELECT Name, (SELECT LastName FROM Contacts WHERE LastName != 'Bob' ORDER BY LastName LIMIT 5), "
        "(SELECT Amount__c FROM Invoices__r), (SELECT Subject FROM Tasks) FROM Account ORDER BY Name"
    )["records"]
    contacts = records[0]["Contacts"]
    assert (contacts["totalSize"], contacts["done"]) == (2, True)
    assert [c["LastName"] for c in contacts["records"]] == ["Amy", "Zed"]
    assert contacts["records"][0]["attributes"]["type"] == "Contact"
    assert records[0]["Invoices__r"]["records"][0]["Amount__c"] == 12.0
    assert records[0]["Tasks"]["records"][0]["Subject"] == "Call"
    assert (records[1]["Name"], records[1]["Contacts"], records[1]["Tasks"]) == ("Empty", None, None)
    limited = sf.query(
        "SELECT Name, (SELECT Id FROM Contacts LIMIT 1) FROM Account WHERE Id = '" + acme + "'"
    )
    assert limited["records"][0]["Contacts"]["totalSize"] == 1


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Name, (SELECT Id FROM Nope) FROM Account", "INVALID_TYPE"),
        ("SELECT Name, (SELECT Id, (SELECT Id FROM Tasks) FROM Contacts) FROM Account", "MALFORMED_QUERY"),
        ("SELECT Name, (SELECT Nope FROM Contacts) FROM Account", "INVALID_FIELD"),
    ],
)
def test_bad_subqueries_are_refused(sf: Any, soql: str, code: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as rejected:
        sf.query(soql)
    assert rejected.value.content[0]["errorCode"] == code
