"""Standard objects a multi-object migration touches, their relationships in describe, and how writes and
queries follow them (polymorphic Who/What, self-references, master-detail, record types, Organization)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from localorg.ids import to_18
from localorg.testing import running_localorg


def _fields(describe: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in describe["fields"]}


def _error(exc: pytest.ExceptionInfo[Any]) -> dict[str, Any]:
    return exc.value.content[0]  # type: ignore[no-any-return]


def _account_with_opportunity(sf: Any) -> tuple[str, str]:
    account = sf.Account.create({"Name": "Acme"})["id"]
    opportunity = sf.Opportunity.create(
        {"Name": "Deal", "StageName": "Prospecting", "CloseDate": "2024-06-30", "AccountId": account}
    )["id"]
    return account, opportunity


def test_opportunity_describe_has_the_fields_of_a_real_org(sf: Any) -> None:
    fields = _fields(sf.Opportunity.describe())
    stage, close = fields["StageName"], fields["CloseDate"]
    assert (stage["type"], stage["nillable"], stage["defaultedOnCreate"]) == ("picklist", False, False)
    assert "Closed Won" in [p["value"] for p in stage["picklistValues"]]
    assert (close["type"], close["nillable"]) == ("date", False)
    assert (
        fields["AccountId"]["referenceTo"] == ["Account"]
        and fields["AccountId"]["relationshipName"] == "Account"
    )
    assert (fields["Amount"]["type"], fields["Amount"]["precision"], fields["Amount"]["scale"]) == (
        "currency",
        18,
        2,
    )
    assert fields["Probability"]["type"] == "percent"
    assert {"Type", "LeadSource", "IsClosed", "IsWon", "RecordTypeId"} <= set(fields)
    assert fields["IsWon"]["createable"] is False and fields["IsWon"]["updateable"] is False
    with pytest.raises(SalesforceMalformedRequest) as missing:
        sf.Opportunity.create({"Name": "No stage"})
    assert _error(missing)["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert set(_error(missing)["fields"]) == {"StageName", "CloseDate"}


def test_opportunity_closed_and_won_follow_the_stage(sf: Any) -> None:
    _, opportunity = _account_with_opportunity(sf)
    assert sf.Opportunity.get(opportunity)["IsClosed"] is False
    sf.Opportunity.update(opportunity, {"StageName": "Closed Won"})
    record = sf.Opportunity.get(opportunity)
    assert (record["IsClosed"], record["IsWon"]) == (True, True)


def test_task_and_event_who_and_what_are_polymorphic_in_describe(sf: Any) -> None:
    for describe in (sf.Task.describe(), sf.Event.describe()):
        fields = _fields(describe)
        who, what = fields["WhoId"], fields["WhatId"]
        assert who["polymorphicForeignKey"] is True and who["referenceTo"] == ["Contact", "Lead"]
        assert who["relationshipName"] == "Who" and what["relationshipName"] == "What"
        assert what["polymorphicForeignKey"] is True
        assert {"Account", "Opportunity", "Case", "Campaign"} <= set(what["referenceTo"])
        assert fields["OwnerId"]["referenceTo"] == ["Group", "User"]
    assert _fields(sf.Contact.describe())["AccountId"]["polymorphicForeignKey"] is False
    contact_children = {
        (r["childSObject"], r["field"]): r["relationshipName"]
        for r in sf.Contact.describe()["childRelationships"]
    }
    assert contact_children[("Task", "WhoId")] == "Tasks" and contact_children[("Event", "WhoId")] == "Events"
    assert contact_children[("OpportunityContactRole", "ContactId")] == "OpportunityContactRoles"


def test_polymorphic_references_accept_each_listed_type_and_nothing_else(sf: Any) -> None:
    account, opportunity = _account_with_opportunity(sf)
    contact = sf.Contact.create({"LastName": "Lee", "AccountId": account})["id"]
    lead = sf.Lead.create({"LastName": "Ray", "Company": "Ray Co"})["id"]
    assert sf.Task.create({"Subject": "Call", "WhoId": contact, "WhatId": opportunity})["success"]
    assert sf.Task.create({"Subject": "Mail", "WhoId": lead})["success"]
    assert sf.Event.create({"Subject": "Visit", "WhatId": account, "DurationInMinutes": 30})["success"]
    with pytest.raises(SalesforceMalformedRequest) as wrong_type:
        sf.Task.create({"Subject": "x", "WhatId": contact})
    assert (_error(wrong_type)["errorCode"], _error(wrong_type)["fields"]) == (
        "FIELD_INTEGRITY_EXCEPTION",
        ["WhatId"],
    )
    with pytest.raises(SalesforceMalformedRequest) as missing:
        sf.Task.create({"Subject": "x", "WhoId": "003000000000009AAA"})
    assert _error(missing)["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"
    # A listed object localorg does not model (Campaign, 701): there is nothing to check it against.
    assert sf.Task.create({"Subject": "Campaign", "WhatId": to_18("7015L0000000001")})["success"]


def test_who_and_what_relationship_queries_name_each_records_own_type(sf: Any) -> None:
    account, opportunity = _account_with_opportunity(sf)
    contact = sf.Contact.create({"FirstName": "Ann", "LastName": "Lee", "AccountId": account})["id"]
    lead = sf.Lead.create({"LastName": "Ray", "Company": "Ray Co"})["id"]
    sf.Task.create({"Subject": "1 call", "WhoId": contact, "WhatId": opportunity})
    sf.Task.create({"Subject": "2 mail", "WhoId": lead, "WhatId": account})
    sf.Task.create({"Subject": "3 note"})
    records = sf.query(
        "SELECT Subject, Who.Name, Who.Type, What.Name, Owner.Name FROM Task ORDER BY Subject"
    )["records"]
    assert [r["Who"] and (r["Who"]["attributes"]["type"], r["Who"]["Name"]) for r in records] == [
        ("Contact", "Ann Lee"),
        ("Lead", "Ray"),
        None,
    ]
    assert records[0]["What"]["attributes"]["type"] == "Opportunity" and records[0]["What"]["Name"] == "Deal"
    assert records[1]["What"]["attributes"]["url"].endswith(f"/sobjects/Account/{account}")
    assert records[0]["Owner"]["attributes"]["type"] == "User"
    leads = sf.query("SELECT Subject FROM Task WHERE Who.Type = 'Lead'")["records"]
    assert [r["Subject"] for r in leads] == ["2 mail"]


def test_self_references_query_their_parent(sf: Any) -> None:
    account_fields = _fields(sf.Account.describe())
    assert (account_fields["ParentId"]["referenceTo"], account_fields["ParentId"]["relationshipName"]) == (
        ["Account"],
        "Parent",
    )
    assert _fields(sf.Contact.describe())["ReportsToId"]["relationshipName"] == "ReportsTo"
    children = {r["relationshipName"]: r for r in sf.Account.describe()["childRelationships"]}
    assert (children["ChildAccounts"]["childSObject"], children["ChildAccounts"]["field"]) == (
        "Account",
        "ParentId",
    )
    parent = sf.Account.create({"Name": "Group"})["id"]
    sf.Account.create({"Name": "Subsidiary", "ParentId": parent})
    rows = sf.query("SELECT Name, Parent.Name FROM Account ORDER BY Name")["records"]
    assert [(r["Name"], r["Parent"] and r["Parent"]["Name"]) for r in rows] == [
        ("Group", None),
        ("Subsidiary", "Group"),
    ]
    boss = sf.Contact.create({"LastName": "Boss"})["id"]
    sf.Contact.create({"LastName": "Report", "ReportsToId": boss})
    reports = sf.query("SELECT LastName, ReportsTo.LastName FROM Contact WHERE ReportsToId != null")[
        "records"
    ]
    assert [(r["LastName"], r["ReportsTo"]["LastName"]) for r in reports] == [("Report", "Boss")]
    with pytest.raises(SalesforceMalformedRequest) as wrong:
        sf.Account.create({"Name": "Bad", "ParentId": boss})
    assert _error(wrong)["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"


def test_master_detail_is_described_required_and_cascades_on_delete(sf: Any) -> None:
    master = _fields(sf.Invoice__c.describe())["Account__c"]
    assert (master["type"], master["referenceTo"], master["relationshipName"]) == (
        "reference",
        ["Account"],
        "Account__r",
    )
    assert (
        master["cascadeDelete"],
        master["nillable"],
        master["relationshipOrder"],
        master["updateable"],
    ) == (
        True,
        False,
        0,
        False,
    )
    assert "OwnerId" not in _fields(sf.Invoice__c.describe())
    children = {r["relationshipName"]: r for r in sf.Account.describe()["childRelationships"]}
    assert (
        children["Invoices__r"]["cascadeDelete"] is True
        and children["Invoices__r"]["childSObject"] == "Invoice__c"
    )
    assert children["Contacts"]["cascadeDelete"] is False
    with pytest.raises(SalesforceMalformedRequest) as missing:
        sf.Invoice__c.create({"Amount__c": 10})
    assert (_error(missing)["errorCode"], _error(missing)["fields"]) == (
        "REQUIRED_FIELD_MISSING",
        ["Account__c"],
    )
    kept_account = sf.Account.create({"Name": "Kept"})["id"]
    account, opportunity = _account_with_opportunity(sf)
    kept = sf.Invoice__c.create({"Account__c": kept_account, "Amount__c": 5})["id"]
    for amount in (10, 20):
        sf.Invoice__c.create({"Account__c": account, "Amount__c": amount})
    contact = sf.Contact.create({"LastName": "Lee", "AccountId": account})["id"]
    sf.OpportunityContactRole.create(
        {"OpportunityId": opportunity, "ContactId": contact, "Role": "Decision Maker"}
    )
    rows = sf.query("SELECT Account__r.Name, Status__c FROM Invoice__c WHERE Account__c = '" + account + "'")
    assert [(r["Account__r"]["Name"], r["Status__c"]) for r in rows["records"]] == [("Acme", "Draft")] * 2
    sf.Account.delete(account)
    assert [r["Id"] for r in sf.query("SELECT Id FROM Invoice__c")["records"]] == [kept]
    deleted = sf.query_all("SELECT Id FROM Invoice__c WHERE IsDeleted = true", include_deleted=True)
    assert deleted["totalSize"] == 2
    # The contact stays (a lookup); deleting it deletes its opportunity contact roles.
    assert sf.query("SELECT COUNT() FROM OpportunityContactRole")["totalSize"] == 1
    sf.Contact.delete(contact)
    assert sf.query("SELECT COUNT() FROM OpportunityContactRole")["totalSize"] == 0


def test_schema_file_master_detail_and_restricted_delete(tmp_path: Path) -> None:
    schema = tmp_path / "schema.yaml"
    schema.write_text(
        "objects:\n"
        "  Project__c:\n"
        "    fields:\n"
        "      - {name: Account__c, type: reference, referenceTo: Account, restrictedDelete: true}\n"
        "  Milestone__c:\n"
        "    labelPlural: Milestones\n"
        "    fields:\n"
        "      - {name: Project__c, type: masterDetail, referenceTo: Project__c}\n"
    )
    with running_localorg(schema=str(schema), workdir=str(tmp_path / "run")) as handle:
        sf = handle.salesforce()
        children = {r["relationshipName"]: r for r in sf.Project__c.describe()["childRelationships"]}
        assert children["Milestones__r"]["cascadeDelete"] is True
        account = sf.Account.create({"Name": "Client"})["id"]
        project = sf.Project__c.create({"Name": "P", "Account__c": account})["id"]
        sf.Milestone__c.create({"Name": "M1", "Project__c": project})
        with pytest.raises(SalesforceMalformedRequest) as restricted:
            sf.Account.delete(account)
        assert _error(restricted)["errorCode"] == "DELETE_FAILED"
        assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 1
        sf.Project__c.delete(project)
        assert sf.query("SELECT COUNT() FROM Milestone__c")["totalSize"] == 0
        sf.Account.delete(account)


def test_record_type_id_must_be_an_active_record_type_of_the_object(sf: Any) -> None:
    record_type = _fields(sf.RecordType.describe())
    assert {"Name", "DeveloperName", "SobjectType", "IsActive"} <= set(record_type)
    rt_field = _fields(sf.Account.describe())["RecordTypeId"]
    assert (rt_field["referenceTo"], rt_field["relationshipName"]) == (["RecordType"], "RecordType")
    business = sf.RecordType.create(
        {"Name": "Business", "DeveloperName": "Business", "SobjectType": "Account", "IsActive": True}
    )["id"]
    assert business.startswith("012")
    retired = sf.RecordType.create(
        {"Name": "Old", "DeveloperName": "Old", "SobjectType": "Account", "IsActive": False}
    )["id"]
    for_contacts = sf.RecordType.create(
        {"Name": "Partner", "DeveloperName": "Partner", "SobjectType": "Contact", "IsActive": True}
    )["id"]
    account = sf.Account.create({"Name": "Typed", "RecordTypeId": business})["id"]
    typed = sf.query(f"SELECT RecordType.DeveloperName FROM Account WHERE Id = '{account}'")["records"]
    assert typed[0]["RecordType"]["DeveloperName"] == "Business"
    for wrong in (retired, for_contacts):
        with pytest.raises(SalesforceMalformedRequest) as refused:
            sf.Account.create({"Name": "Wrong", "RecordTypeId": wrong})
        assert (_error(refused)["errorCode"], _error(refused)["fields"]) == (
            "INVALID_CROSS_REFERENCE_KEY",
            ["RecordTypeId"],
        )
    assert sf.Contact.create({"LastName": "P", "RecordTypeId": for_contacts})["success"]


def test_organization_is_one_read_only_row_that_survives_reset(org: Any, sf: Any) -> None:
    describe = sf.Organization.describe()
    assert (describe["createable"], describe["updateable"], describe["deletable"], describe["queryable"]) == (
        False,
        False,
        False,
        True,
    )
    assert "IsDeleted" not in _fields(describe) and "OwnerId" not in _fields(describe)
    soql = "SELECT Id, Name, IsSandbox, InstanceName, OrganizationType, NamespacePrefix, TrialExpirationDate FROM Organization"
    rows = sf.query(soql)["records"]
    assert len(rows) == 1 and rows[0]["Id"].startswith("00D")
    assert (rows[0]["IsSandbox"], rows[0]["NamespacePrefix"], rows[0]["OrganizationType"]) == (
        True,
        None,
        "Developer Edition",
    )
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Organization.create({"Name": "Another"})
    assert _error(refused)["errorCode"] == "INVALID_TYPE_FOR_OPERATION"
    org.reset()
    assert sf.query(soql)["records"][0]["Id"] == rows[0]["Id"]


def test_is_person_account_is_false_and_read_only(sf: Any) -> None:
    field = _fields(sf.Account.describe())["IsPersonAccount"]
    assert (field["type"], field["createable"], field["updateable"]) == ("boolean", False, False)
    account = sf.Account.create({"Name": "Company"})["id"]
    assert sf.Account.get(account)["IsPersonAccount"] is False
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Account.create({"Name": "Person", "IsPersonAccount": True})
    assert _error(refused)["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_polymorphic_parent_by_external_id_names_its_type(sf: Any) -> None:
    account = sf.Account.create({"Name": "Acme", "Legacy_Id__c": "A-1"})["id"]
    task = sf.Task.create(
        {"Subject": "Call", "What": {"attributes": {"type": "Account"}, "Legacy_Id__c": "A-1"}}
    )
    assert sf.Task.get(task["id"])["WhatId"] == account
    with pytest.raises(SalesforceMalformedRequest) as untyped:
        sf.Task.create({"Subject": "Call", "What": {"Legacy_Id__c": "A-1"}})
    assert (_error(untyped)["errorCode"], _error(untyped)["fields"]) == ("INVALID_FIELD", ["What"])
