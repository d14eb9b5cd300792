"""REST sObject resources: describe, CRUD, upsert by external id, errors in Salesforce's shapes, limits."""

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)

from localorg.ids import to_18


def _error(exc: pytest.ExceptionInfo[Any]) -> dict[str, Any]:
    return exc.value.content[0]  # type: ignore[no-any-return]


def test_describe_has_salesforce_shape_and_default_custom_fields(sf: Any) -> None:
    account = sf.Account.describe()
    assert account["name"] == "Account" and account["keyPrefix"] == "001"
    fields = {f["name"]: f for f in account["fields"]}
    legacy = fields["Legacy_Id__c"]
    assert (legacy["externalId"], legacy["unique"], legacy["length"], legacy["type"]) == (
        True,
        True,
        50,
        "string",
    )
    assert fields["Tier__c"]["restrictedPicklist"] is True
    assert [p["value"] for p in fields["Tier__c"]["picklistValues"]] == ["Gold", "Silver", "Bronze"]
    assert fields["Founded__c"]["type"] == "date"
    for key in (
        "name",
        "label",
        "type",
        "length",
        "nillable",
        "defaultedOnCreate",
        "createable",
        "updateable",
        "unique",
        "externalId",
        "idLookup",
        "picklistValues",
        "restrictedPicklist",
        "referenceTo",
        "relationshipName",
        "precision",
        "scale",
    ):
        assert key in fields["Name"], key
    contact = {f["name"]: f for f in sf.Contact.describe()["fields"]}
    assert contact["AccountId"]["referenceTo"] == ["Account"]
    assert contact["AccountId"]["relationshipName"] == "Account"
    assert contact["Legacy_Id__c"]["externalId"] is True
    stage = {f["name"]: f for f in sf.Opportunity.describe()["fields"]}["StageName"]
    assert stage["restrictedPicklist"] is True and stage["nillable"] is False


def test_describe_global_lists_standard_objects_with_key_prefixes(sf: Any) -> None:
    prefixes = {o["name"]: o["keyPrefix"] for o in sf.describe()["sobjects"]}
    assert prefixes | {"Account": "001"} == prefixes
    assert {prefixes[n] for n in ("Account", "Contact", "Lead", "Opportunity", "Case", "User")} == {
        "001",
        "003",
        "00Q",
        "006",
        "500",
        "005",
    }


def test_create_get_update_delete_round_trip(sf: Any) -> None:
    created = sf.Account.create(
        {"Name": "Acme", "AnnualRevenue": 1200000, "Founded__c": "1999-12-31", "Employees_Verified__c": True}
    )
    assert created == {"id": created["id"], "success": True, "errors": []}
    record_id = created["id"]
    assert len(record_id) == 18 and record_id.startswith("001") and to_18(record_id[:15]) == record_id
    record = sf.Account.get(record_id)
    assert record["Name"] == "Acme" and record["AnnualRevenue"] == 1200000.0
    assert record["Founded__c"] == "1999-12-31" and record["Employees_Verified__c"] is True
    assert record["IsDeleted"] is False and record["OwnerId"].startswith("005")
    assert record["CreatedDate"].endswith("+0000") and record["CreatedDate"] == record["SystemModstamp"]
    assert sf.Account.get(record_id[:15])["Id"] == record_id
    assert sf.Account.update(record_id, {"Name": "Acme Corp", "Phone": None}) == 204
    updated = sf.Account.get(record_id)
    assert updated["Name"] == "Acme Corp" and updated["Founded__c"] == "1999-12-31"
    assert updated["LastModifiedDate"] >= record["LastModifiedDate"]
    assert sf.Account.delete(record_id) == 204
    with pytest.raises(SalesforceResourceNotFound) as gone:
        sf.Account.get(record_id)
    assert _error(gone)["errorCode"] == "ENTITY_IS_DELETED"
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get("001000000000000AAA")


@pytest.mark.parametrize(
    ("obj", "record", "code", "fields"),
    [
        ("Lead", {"FirstName": "Ann"}, "REQUIRED_FIELD_MISSING", ["LastName", "Company"]),
        ("Account", {"Name": "x" * 256}, "STRING_TOO_LONG", ["Name"]),
        (
            "Account",
            {"Name": "A", "Tier__c": "Platinum"},
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            ["Tier__c"],
        ),
        (
            "Opportunity",
            {"Name": "O", "StageName": "Won!", "CloseDate": "2024-01-01"},
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            ["StageName"],
        ),
        (
            "Account",
            {"Name": "A", "Primary_Email__c": "not-an-email"},
            "INVALID_EMAIL_ADDRESS",
            ["Primary_Email__c"],
        ),
        ("Account", {"Name": "A", "Nope__c": 1}, "INVALID_FIELD", ["Nope__c"]),
        ("Account", {"Name": "A", "Founded__c": "31/12/1999"}, "JSON_PARSER_ERROR", []),
        (
            "Account",
            {"Name": "A", "CreatedDate": "2020-01-01T00:00:00Z"},
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            ["CreatedDate"],
        ),
        ("Contact", {"LastName": "L", "AccountId": "not-an-id"}, "MALFORMED_ID", ["AccountId"]),
        (
            "Contact",
            {"LastName": "L", "AccountId": "001000000000009AAA"},
            "INVALID_CROSS_REFERENCE_KEY",
            ["AccountId"],
        ),
    ],
)
def test_invalid_records_are_rejected_with_salesforce_codes(
    sf: Any, obj: str, record: dict[str, Any], code: str, fields: list[str]
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as rejected:
        getattr(sf, obj).create(record)
    error = _error(rejected)
    assert error["errorCode"] == code
    assert error["fields"] == fields
    assert error["message"]
    assert sf.query(f"SELECT COUNT() FROM {obj}")["totalSize"] == 0


def test_unique_external_id_is_case_insensitive(sf: Any) -> None:
    first = sf.Account.create({"Name": "A", "Legacy_Id__c": "ABC-1"})
    with pytest.raises(SalesforceMalformedRequest) as duplicate:
        sf.Account.create({"Name": "B", "Legacy_Id__c": "abc-1"})
    assert _error(duplicate)["errorCode"] == "DUPLICATE_VALUE"
    assert first["id"] in _error(duplicate)["message"]


def test_upsert_by_external_id_creates_then_updates(sf: Any) -> None:
    assert sf.Account.upsert("Legacy_Id__c/L-1", {"Name": "First"}) == 201
    assert sf.Account.upsert("Legacy_Id__c/L-1", {"Name": "Second"}) == 204
    records = sf.query("SELECT Name, Legacy_Id__c FROM Account")["records"]
    assert [(r["Name"], r["Legacy_Id__c"]) for r in records] == [("Second", "L-1")]
    assert sf.Account.get_by_custom_id("Legacy_Id__c", "l-1")["Name"] == "Second"


def test_lookup_by_non_unique_id_lookup_field_answers_300_on_several_matches(sf: Any) -> None:
    sf.Contact.create({"LastName": "One", "Email": "same@example.com"})
    sf.Contact.create({"LastName": "Two", "Email": "same@example.com"})
    with pytest.raises(SalesforceMoreThanOneRecord) as several:
        sf.Contact.get_by_custom_id("Email", "same@example.com")
    assert len(several.value.content) == 2
    assert all(url.startswith("/services/data/v62.0/sobjects/Contact/003") for url in several.value.content)


def test_parent_reference_by_external_id_in_rest_json(sf: Any) -> None:
    account = sf.Account.create({"Name": "Parent", "Legacy_Id__c": "P-1"})
    contact = sf.Contact.create({"LastName": "Child", "Account": {"Legacy_Id__c": "P-1"}})
    assert sf.Contact.get(contact["id"])["AccountId"] == account["id"]
    with pytest.raises(SalesforceMalformedRequest) as missing:
        sf.Contact.create({"LastName": "Orphan", "Account": {"Legacy_Id__c": "P-404"}})
    assert "Foreign key external ID: P-404 not found" in _error(missing)["message"]


def test_defaults_and_computed_fields_are_filled(sf: Any) -> None:
    lead = sf.Lead.create({"LastName": "Lovelace", "FirstName": "Ada", "Company": "Engines"})
    record = sf.Lead.get(lead["id"])
    assert record["Status"] == "Open - Not Contacted"
    assert record["Name"] == "Ada Lovelace"
    assert record["IsConverted"] is False
    case = sf.Case.get(sf.Case.create({"Subject": "Broken"})["id"])
    assert case["Status"] == "New" and case["Priority"] == "Medium" and case["CaseNumber"].isdigit()


def test_limits_count_every_api_request(sf: Any) -> None:
    before = sf.limits()["DailyApiRequests"]
    sf.query("SELECT COUNT() FROM Account")
    sf.Account.describe()
    after = sf.limits()["DailyApiRequests"]
    assert before["Max"] == after["Max"]
    assert before["Remaining"] - after["Remaining"] == 3
    assert sf.api_usage["api-usage"].used == after["Max"] - after["Remaining"]


def test_unknown_object_and_unknown_route_are_not_found(sf: Any, http: Any) -> None:
    response = http.get(http.base_url + "/sobjects/Nope__c/describe")
    assert response.status_code == 404
    assert response.json()[0]["errorCode"] == "NOT_FOUND"
    assert http.get(http.base_url + "/no/such/thing").status_code == 404
    assert http.put(http.base_url + "/sobjects/Account/describe").status_code == 405


def test_malformed_json_body_is_a_json_parser_error(http: Any) -> None:
    response = http.post(
        http.base_url + "/sobjects/Account/", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
