"""sObject Tree: nested parent-child records created in one all-or-nothing request."""

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest


def _account(ref: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"attributes": {"type": "Account", "referenceId": ref}, "Name": name, **extra}


def _contact(ref: str, last_name: str, **extra: Any) -> dict[str, Any]:
    return {"attributes": {"type": "Contact", "referenceId": ref}, "LastName": last_name, **extra}


def _tree_error(http: Any, obj: str, records: list[Any]) -> dict[str, Any]:
    response = http.post(f"{http.base_url}/composite/tree/{obj}", json={"records": records})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["hasErrors"] is True
    return body  # type: ignore[no-any-return]


def test_tree_creates_parents_and_children_and_lists_them_level_by_level(sf: Any) -> None:
    records = [
        _account(
            "acme",
            "Acme",
            Contacts={"records": [_contact("ann", "Ann"), _contact("bob", "Bob")]},
            Opportunities={
                "records": [
                    {
                        "attributes": {"type": "Opportunity", "referenceId": "deal"},
                        "Name": "Deal",
                        "StageName": "Prospecting",
                        "CloseDate": "2024-09-30",
                    }
                ]
            },
            Invoices__r={
                "records": [{"attributes": {"type": "Invoice__c", "referenceId": "inv1"}, "Amount__c": 99}]
            },
        ),
        _account("globex", "Globex", ChildAccounts={"records": [_account("globex_eu", "Globex EU")]}),
    ]
    body = sf.restful("composite/tree/Account", method="POST", json={"records": records})
    assert body["hasErrors"] is False
    refs = [r["referenceId"] for r in body["results"]]
    assert refs == ["acme", "globex", "ann", "bob", "deal", "inv1", "globex_eu"]
    ids = {r["referenceId"]: r["id"] for r in body["results"]}
    assert ids["acme"].startswith("001") and ids["ann"].startswith("003") and ids["deal"].startswith("006")
    contacts = sf.query("SELECT LastName, Account.Name FROM Contact ORDER BY LastName")["records"]
    assert [(c["LastName"], c["Account"]["Name"]) for c in contacts] == [("Ann", "Acme"), ("Bob", "Acme")]
    assert sf.Opportunity.get(ids["deal"])["AccountId"] == ids["acme"]
    assert sf.Invoice__c.get(ids["inv1"])["Account__c"] == ids["acme"]
    assert sf.Account.get(ids["globex_eu"])["ParentId"] == ids["globex"]


def test_a_failing_record_fails_the_whole_tree_and_nothing_is_written(sf: Any, http: Any) -> None:
    records = [
        _account(
            "a1", "Good", Contacts={"records": [_contact("c1", "Fine"), _contact("c2", "Bad", Email="123")]}
        ),
        _account("a2", "Also good"),
    ]
    body = _tree_error(http, "Account", records)
    assert body["results"] == [
        {
            "referenceId": "c2",
            "errors": [
                {
                    "statusCode": "INVALID_EMAIL_ADDRESS",
                    "message": "Email: invalid email address: 123",
                    "fields": ["Email"],
                }
            ],
        }
    ]
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 0


def test_duplicate_reference_ids_are_reported_once_per_instance(sf: Any, http: Any) -> None:
    body = _tree_error(
        http,
        "Account",
        [_account("same", "A", Contacts={"records": [_contact("same", "C")]}), _account("b", "B")],
    )
    assert [(r["referenceId"], r["errors"][0]["statusCode"]) for r in body["results"]] == [
        ("same", "INVALID_INPUT"),
        ("same", "INVALID_INPUT"),
    ]
    assert "Duplicate ReferenceId" in body["results"][0]["errors"][0]["message"]
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0


def test_more_than_200_records_are_refused(sf: Any, http: Any) -> None:
    roots = [_account(f"a{i}", f"A{i}") for i in range(150)]
    roots[0]["Contacts"] = {"records": [_contact(f"c{i}", f"C{i}") for i in range(51)]}
    body = _tree_error(http, "Account", roots)
    assert [r["errors"][0]["statusCode"] for r in body["results"]] == ["INVALID_INPUT"]
    assert "200" in body["results"][0]["errors"][0]["message"]
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0
    exactly = [_account(f"a{i}", f"A{i}") for i in range(200)]
    ok = http.post(f"{http.base_url}/composite/tree/Account", json={"records": exactly})
    assert ok.status_code == 201 and len(ok.json()["results"]) == 200


def test_record_type_must_match_the_url_object(http: Any) -> None:
    body = _tree_error(http, "Account", [_contact("c1", "Lee")])
    assert [(r["referenceId"], r["errors"][0]["statusCode"]) for r in body["results"]] == [
        ("c1", "INVALID_TYPE")
    ]
    nested = _tree_error(http, "Account", [_account("a1", "A", Contacts={"records": [_account("a2", "B")]})])
    assert [r["referenceId"] for r in nested["results"]] == ["a2"]


def test_trees_deeper_than_five_levels_are_refused(sf: Any, http: Any) -> None:
    def chain(depth: int) -> dict[str, Any]:
        record = _account(f"level{depth}", f"Level {depth}")
        if depth < 6:
            record["ChildAccounts"] = {"records": [chain(depth + 1)]}
        return record

    body = _tree_error(http, "Account", [chain(1)])
    assert [(r["referenceId"], r["errors"][0]["statusCode"]) for r in body["results"]] == [
        ("level6", "INVALID_INPUT")
    ]
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0
    five = chain(2)  # levels 2..6 make a tree of five levels
    created = sf.restful("composite/tree/Account", method="POST", json={"records": [five]})
    assert len(created["results"]) == 5


def test_unknown_fields_and_objects(sf: Any, http: Any) -> None:
    body = _tree_error(http, "Account", [_account("a1", "A"), _account("a2", "B", Nope__c=1)])
    assert [(r["referenceId"], r["errors"][0]["statusCode"]) for r in body["results"]] == [
        ("a2", "INVALID_FIELD")
    ]
    missing = http.post(f"{http.base_url}/composite/tree/Nope__c", json={"records": []})
    assert missing.status_code == 404 and missing.json()[0]["errorCode"] == "NOT_FOUND"
    with pytest.raises(SalesforceMalformedRequest) as bad:
        sf.restful("composite/tree/Account", method="POST", json={"things": []})
    assert bad.value.content[0]["errorCode"] == "JSON_PARSER_ERROR"
