"""Hand-written describe JSON for Account, Contact and Task, in the shape /sobjects/{Obj}/describe returns."""

from __future__ import annotations

import copy
from typing import Any

_FIELD_DEFAULTS: dict[str, Any] = {
    "aggregatable": True,
    "autoNumber": False,
    "byteLength": 0,
    "calculated": False,
    "caseSensitive": False,
    "createable": True,
    "custom": False,
    "defaultValue": None,
    "defaultedOnCreate": False,
    "dependentPicklist": False,
    "digits": 0,
    "externalId": False,
    "filterable": True,
    "groupable": True,
    "idLookup": False,
    "length": 0,
    "nameField": False,
    "nillable": True,
    "picklistValues": [],
    "precision": 0,
    "referenceTo": [],
    "relationshipName": None,
    "restrictedPicklist": False,
    "scale": 0,
    "soapType": "xsd:string",
    "sortable": True,
    "unique": False,
    "updateable": True,
}


def field(name: str, label: str, type_: str, **overrides: Any) -> dict[str, Any]:
    """One describe field entry with Salesforce's defaults for the keys not given."""
    entry = dict(_FIELD_DEFAULTS, name=name, label=label, type=type_)
    entry["custom"] = name.endswith("__c")
    if type_ in ("string", "textarea", "phone", "url", "email", "picklist", "multipicklist"):
        entry["byteLength"] = overrides.get("length", 0) * 3
    entry.update(overrides)
    return entry


def picklist(*values: str, inactive: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """picklistValues entries as describe gives them."""
    entries = [
        {"active": True, "defaultValue": False, "label": v, "validFor": None, "value": v} for v in values
    ]
    entries += [
        {"active": False, "defaultValue": False, "label": v, "validFor": None, "value": v} for v in inactive
    ]
    return entries


_ID = {
    "createable": False,
    "updateable": False,
    "nillable": False,
    "defaultedOnCreate": True,
    "idLookup": True,
    "length": 18,
    "soapType": "tns:ID",
}

ACCOUNT: dict[str, Any] = {
    "name": "Account",
    "label": "Account",
    "keyPrefix": "001",
    "createable": True,
    "updateable": True,
    "custom": False,
    "fields": [
        field("Id", "Account ID", "id", **_ID),
        field(
            "IsDeleted",
            "Deleted",
            "boolean",
            createable=False,
            updateable=False,
            nillable=False,
            defaultedOnCreate=True,
            soapType="xsd:boolean",
        ),
        field("Name", "Account Name", "string", length=255, nillable=False, nameField=True, idLookup=True),
        field("AccountNumber", "Account Number", "string", length=40),
        field(
            "Type",
            "Account Type",
            "picklist",
            length=255,
            picklistValues=picklist("Prospect", "Customer - Direct", "Customer - Channel", "Other"),
        ),
        field(
            "ParentId",
            "Parent Account ID",
            "reference",
            length=18,
            referenceTo=["Account"],
            relationshipName="Parent",
            soapType="tns:ID",
        ),
        field("BillingStreet", "Billing Street", "textarea", length=255),
        field("BillingCity", "Billing City", "string", length=40),
        field("BillingCountry", "Billing Country", "string", length=80),
        field("BillingAddress", "Billing Address", "address", createable=False, updateable=False),
        field("Phone", "Account Phone", "phone", length=40),
        field("Website", "Website", "url", length=255),
        field(
            "Industry",
            "Industry",
            "picklist",
            length=255,
            picklistValues=picklist("Agriculture", "Banking", "Technology"),
        ),
        field("AnnualRevenue", "Annual Revenue", "currency", precision=18, scale=0, soapType="xsd:double"),
        field("NumberOfEmployees", "Employees", "int", digits=8, soapType="xsd:int"),
        field("Description", "Account Description", "textarea", length=32000),
        field(
            "OwnerId",
            "Owner ID",
            "reference",
            length=18,
            referenceTo=["User"],
            relationshipName="Owner",
            nillable=False,
            defaultedOnCreate=True,
            soapType="tns:ID",
        ),
        field(
            "CreatedDate",
            "Created Date",
            "datetime",
            createable=False,
            updateable=False,
            nillable=False,
            defaultedOnCreate=True,
            soapType="xsd:dateTime",
        ),
        field("Legacy_Id__c", "Legacy ID", "string", length=20, externalId=True, unique=True, idLookup=True),
        field(
            "Tier__c",
            "Tier",
            "picklist",
            length=255,
            restrictedPicklist=True,
            picklistValues=picklist("Gold", "Silver", "Bronze", inactive=("Platinum",)),
        ),
        field(
            "Regions__c",
            "Regions",
            "multipicklist",
            length=4099,
            restrictedPicklist=True,
            picklistValues=picklist("EMEA", "APAC", "AMER"),
        ),
        field("Founded__c", "Founded", "date", soapType="xsd:date"),
        field("Last_Audit__c", "Last Audit", "datetime", soapType="xsd:dateTime"),
        field(
            "Active__c", "Active", "boolean", nillable=False, defaultedOnCreate=True, soapType="xsd:boolean"
        ),
        field("Score__c", "Score", "double", precision=5, scale=2, soapType="xsd:double"),
        field("Discount__c", "Discount", "percent", precision=5, scale=2, soapType="xsd:double"),
        field("Opens_At__c", "Opens At", "time", soapType="xsd:time"),
        field("Billing_Email__c", "Billing Email", "email", length=80),
        field("Region_Code__c", "Région Code", "string", length=10, createable=True, updateable=False),
        field(
            "Rating_Formula__c",
            "Rating Formula",
            "string",
            length=1300,
            calculated=True,
            createable=False,
            updateable=False,
        ),
    ],
}

CONTACT: dict[str, Any] = {
    "name": "Contact",
    "label": "Contact",
    "keyPrefix": "003",
    "fields": [
        field("Id", "Contact ID", "id", **_ID),
        field("LastName", "Last Name", "string", length=80, nillable=False),
        field("FirstName", "First Name", "string", length=40),
        field("Email", "Email", "email", length=80, idLookup=True),
        field(
            "AccountId",
            "Account ID",
            "reference",
            length=18,
            referenceTo=["Account"],
            relationshipName="Account",
            soapType="tns:ID",
        ),
        field(
            "ReportsToId",
            "Reports To ID",
            "reference",
            length=18,
            referenceTo=["Contact"],
            relationshipName="ReportsTo",
            soapType="tns:ID",
        ),
        field("Birthdate", "Birthdate", "date", soapType="xsd:date"),
        field(
            "Legacy_Id__c",
            "Legacy ID",
            "string",
            length=20,
            externalId=True,
            unique=True,
            idLookup=True,
            caseSensitive=True,
        ),
        field("HasOptedOutOfEmail", "Email Opt Out", "boolean", nillable=False, defaultedOnCreate=True),
    ],
}

TASK: dict[str, Any] = {
    "name": "Task",
    "label": "Task",
    "keyPrefix": "00T",
    "fields": [
        field("Id", "Activity ID", "id", **_ID),
        field("Subject", "Subject", "combobox", length=255),
        field(
            "WhoId",
            "Name ID",
            "reference",
            length=18,
            referenceTo=["Contact", "Lead"],
            relationshipName="Who",
            soapType="tns:ID",
        ),
        field(
            "Status",
            "Status",
            "picklist",
            length=40,
            nillable=False,
            defaultedOnCreate=True,
            picklistValues=picklist("Not Started", "Completed"),
        ),
    ],
}


def describe(raw: dict[str, Any]) -> dict[str, Any]:
    """A deep copy, so a test can edit its describe freely."""
    return copy.deepcopy(raw)
