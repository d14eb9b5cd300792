"""A basic SOSL through simple-salesforce's search and quick_search, and parameterizedSearch."""

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest


def _load(sf: Any) -> dict[str, str]:
    ids = {
        "acme": sf.Account.create({"Name": "Acme Corp", "Phone": "555-0100"})["id"],
        "acme_eu": sf.Account.create({"Name": "Acme Europe", "Industry": "Banking"})["id"],
        "globex": sf.Account.create({"Name": "Globex"})["id"],
    }
    ids["ann"] = sf.Contact.create({"FirstName": "Ann", "LastName": "Lee", "Email": "ann@acme.example"})["id"]
    ids["bob"] = sf.Contact.create({"LastName": "Bob", "Email": "bob@globex.example", "Phone": "555-0199"})[
        "id"
    ]
    ids["lead"] = sf.Lead.create({"LastName": "Acme Buyer", "Company": "Initech"})["id"]
    return ids


def _found(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(r["attributes"]["type"], r["Id"]) for r in result["searchRecords"]]


def test_find_in_all_fields_returning_objects_with_fields_where_and_limit(sf: Any) -> None:
    ids = _load(sf)
    result = sf.search(
        "FIND {acme} IN ALL FIELDS RETURNING Account(Id, Name WHERE Industry = null ORDER BY Name), Contact(Id, Email)"
    )
    assert _found(result) == [("Account", ids["acme"]), ("Contact", ids["ann"])]
    account = result["searchRecords"][0]
    assert account["Name"] == "Acme Corp"
    assert account["attributes"]["url"] == f"/services/data/v62.0/sobjects/Account/{ids['acme']}"
    assert result["searchRecords"][1]["Email"] == "ann@acme.example"
    limited = sf.search("FIND {acme} RETURNING Account(Name ORDER BY Name DESC LIMIT 1)")
    assert [r["Name"] for r in limited["searchRecords"]] == ["Acme Europe"]


def test_quick_search_looks_in_every_searchable_object(sf: Any) -> None:
    ids = _load(sf)
    found = set(_found(sf.quick_search("acme")))
    assert found == {
        ("Account", ids["acme"]),
        ("Account", ids["acme_eu"]),
        ("Contact", ids["ann"]),
        ("Lead", ids["lead"]),
    }
    assert all(set(r) == {"attributes", "Id"} for r in sf.quick_search("acme")["searchRecords"])


def test_scopes_wildcards_and_word_groups(sf: Any) -> None:
    ids = _load(sf)
    assert _found(sf.search("FIND {555-0199} IN PHONE FIELDS RETURNING Contact, Account")) == [
        ("Contact", ids["bob"])
    ]
    assert _found(sf.search("FIND {acme} IN EMAIL FIELDS RETURNING Contact, Account")) == [
        ("Contact", ids["ann"])
    ]
    assert _found(sf.search("FIND {acme} IN NAME FIELDS RETURNING Contact, Account(Id ORDER BY Name)")) == [
        ("Account", ids["acme"]),
        ("Account", ids["acme_eu"]),
    ]
    assert _found(sf.search("FIND {glob*} RETURNING Account")) == [("Account", ids["globex"])]
    assert _found(sf.search("FIND {acme corp} RETURNING Account")) == [("Account", ids["acme"])]
    both = sf.search("FIND {globex OR europe} RETURNING Account(Id ORDER BY Name)")
    assert _found(both) == [("Account", ids["acme_eu"]), ("Account", ids["globex"])]
    assert len(sf.search("FIND {acme} RETURNING Account, Contact, Lead LIMIT 2")["searchRecords"]) == 2


@pytest.mark.parametrize(
    ("sosl", "code"),
    [
        ("acme", "MALFORMED_SEARCH"),
        ("FIND acme", "MALFORMED_SEARCH"),
        ("FIND {acme} IN EVERY FIELDS", "MALFORMED_SEARCH"),
        ("FIND {acme} RETURNING Account(Id) WITH SNIPPET", "MALFORMED_SEARCH"),
        ("FIND {acme} RETURNING Account(Id WHERE)", "MALFORMED_SEARCH"),
        ("FIND {acme} RETURNING Nope__c", "INVALID_TYPE"),
        ("FIND {acme} RETURNING Account(Nope__c)", "INVALID_FIELD"),
        ("FIND {a}", "INVALID_SEARCH"),
    ],
)
def test_unsupported_or_bad_sosl_is_refused_with_salesforce_codes(sf: Any, sosl: str, code: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.search(sosl)
    assert refused.value.content[0]["errorCode"] == code


def test_parameterized_search(sf: Any, http: Any) -> None:
    ids = _load(sf)
    response = http.get(
        f"{http.base_url}/parameterizedSearch",
        params={"q": "acme", "sobject": "Account", "Account.fields": "Id,Name", "Account.limit": "1"},
    )
    assert response.status_code == 200, response.text
    records = response.json()["searchRecords"]
    assert len(records) == 1 and records[0]["Id"] in {ids["acme"], ids["acme_eu"]} and "Name" in records[0]
    everything = http.get(f"{http.base_url}/parameterizedSearch", params={"q": "acme", "in": "EMAIL"})
    assert [r["Id"] for r in everything.json()["searchRecords"]] == [ids["ann"]]
    bad_scope = http.get(f"{http.base_url}/parameterizedSearch", params={"q": "acme", "in": "EVERYWHERE"})
    assert bad_scope.status_code == 400 and bad_scope.json()[0]["errorCode"] == "INVALID_SEARCH_SCOPE"
    missing = http.get(f"{http.base_url}/parameterizedSearch")
    assert missing.status_code == 400 and missing.json()[0]["errorCode"] == "MISSING_ARGUMENT"
