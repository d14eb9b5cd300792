"""`query?columns=true`: the column metadata of the SELECT list instead of records."""

from __future__ import annotations

from typing import Any

import pytest

_KEYS = {
    "aggregate",
    "apexType",
    "booleanType",
    "columnName",
    "custom",
    "displayName",
    "foreignKeyName",
    "insertable",
    "joinColumns",
    "numberType",
    "textType",
    "updatable",
}


def _columns(http: Any, soql: str, resource: str = "query") -> Any:
    response = http.get(f"{http.base_url}/{resource}", params={"q": soql, "columns": "true"})
    assert response.status_code == 200, response.text
    return response.json()


def test_columns_describe_the_select_list_instead_of_records(sf: Any, http: Any) -> None:
    sf.Account.create({"Name": "Acme"})
    body = _columns(
        http, "SELECT Id, Name, NumberOfEmployees, Employees_Verified__c, CreatedDate FROM Account"
    )
    assert set(body) == {"columnMetadata", "entityName", "groupBy", "idSelected", "keyPrefix"}
    assert (body["entityName"], body["keyPrefix"], body["idSelected"], body["groupBy"]) == (
        "Account",
        "001",
        True,
        False,
    )
    by_name = {c["columnName"]: c for c in body["columnMetadata"]}
    assert list(by_name) == ["Id", "Name", "NumberOfEmployees", "Employees_Verified__c", "CreatedDate"]
    assert all(set(c) == _KEYS for c in body["columnMetadata"])
    assert (by_name["Id"]["apexType"], by_name["Id"]["insertable"], by_name["Id"]["textType"]) == (
        "Id",
        False,
        False,
    )
    name = by_name["Name"]
    assert (name["apexType"], name["textType"], name["insertable"], name["updatable"], name["custom"]) == (
        "String",
        True,
        True,
        True,
        False,
    )
    assert (by_name["NumberOfEmployees"]["apexType"], by_name["NumberOfEmployees"]["numberType"]) == (
        "Integer",
        True,
    )
    verified = by_name["Employees_Verified__c"]
    assert (verified["booleanType"], verified["custom"], verified["apexType"]) == (True, True, "Boolean")
    created = by_name["CreatedDate"]
    assert (created["apexType"], created["insertable"], created["updatable"]) == ("Datetime", False, False)


def test_parent_fields_nest_as_join_columns(http: Any) -> None:
    body = _columns(
        http,
        "SELECT LastName, Account.Name, Account.Owner.Username, Account.Industry FROM Contact",
        "queryAll",
    )
    assert body["entityName"] == "Contact" and body["idSelected"] is False
    top = body["columnMetadata"]
    assert [c["columnName"] for c in top] == ["LastName", "Account"]
    account = top[1]
    assert (account["apexType"], account["insertable"], account["updatable"]) == (None, False, False)
    assert [c["columnName"] for c in account["joinColumns"]] == ["Name", "Owner", "Industry"]
    assert account["joinColumns"][0]["displayName"] == "Account.Name"
    owner = account["joinColumns"][1]
    assert [(c["columnName"], c["displayName"]) for c in owner["joinColumns"]] == [
        ("Username", "Account.Owner.Username")
    ]


def test_custom_relationship_and_polymorphic_columns(http: Any) -> None:
    invoice = _columns(http, "SELECT Name, Account__r.Name FROM Invoice__c")["columnMetadata"]
    assert (invoice[1]["columnName"], invoice[1]["custom"]) == ("Account__r", True)
    task = _columns(http, "SELECT Who.Name, What.Name FROM Task")["columnMetadata"]
    assert [(c["columnName"], [j["columnName"] for j in c["joinColumns"]]) for c in task] == [
        ("Who", ["Name"]),
        ("What", ["Name"]),
    ]


def test_count_with_alias_is_an_aggregate_column(http: Any) -> None:
    body = _columns(http, "SELECT COUNT(Id) total FROM Account")
    assert [(c["columnName"], c["aggregate"], c["apexType"]) for c in body["columnMetadata"]] == [
        ("total", True, "Integer")
    ]


@pytest.mark.parametrize(
    ("soql", "code"),
    [("SELECT Nope FROM Account", "INVALID_FIELD"), ("SELECT Name FROM Nope__c", "INVALID_TYPE")],
)
def test_columns_of_a_bad_query_are_refused_like_the_query(http: Any, soql: str, code: str) -> None:
    response = http.get(f"{http.base_url}/query", params={"q": soql, "columns": "true"})
    assert response.status_code == 400 and response.json()[0]["errorCode"] == code


def test_a_child_subquery_is_an_aggregate_column_of_its_own_columns(http: Any) -> None:
    body = _columns(http, "SELECT Name, (SELECT LastName, Email FROM Contacts) FROM Account")
    contacts = body["columnMetadata"][1]
    assert (contacts["columnName"], contacts["aggregate"]) == ("Contacts", True)
    assert [c["columnName"] for c in contacts["joinColumns"]] == ["LastName", "Email"]
