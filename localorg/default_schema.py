"""The custom fields every localorg ships with, written in the schema-file format (see docs/localorg.md)."""

from __future__ import annotations

from typing import Any

_LEGACY_ID = {
    "name": "Legacy_Id__c",
    "type": "string",
    "label": "Legacy Id",
    "length": 50,
    "externalId": True,
    "unique": True,
}

DEFAULT_SCHEMA: dict[str, Any] = {
    "objects": {
        "Account": {
            "fields": [
                _LEGACY_ID,
                {
                    "name": "Tier__c",
                    "type": "picklist",
                    "label": "Tier",
                    "restricted": True,
                    "values": ["Gold", "Silver", "Bronze"],
                },
                {"name": "Founded__c", "type": "date", "label": "Founded"},
                {
                    "name": "Revenue_Band__c",
                    "type": "picklist",
                    "label": "Revenue Band",
                    "values": ["<1M", "1M-10M", "10M-100M", ">100M"],
                },
                {"name": "Employees_Verified__c", "type": "boolean", "label": "Employees Verified"},
                {
                    "name": "Credit_Limit__c",
                    "type": "currency",
                    "label": "Credit Limit",
                    "precision": 16,
                    "scale": 2,
                },
                {"name": "Score__c", "type": "double", "label": "Score", "precision": 5, "scale": 2},
                {"name": "Last_Audit__c", "type": "datetime", "label": "Last Audit"},
                {"name": "Primary_Email__c", "type": "email", "label": "Primary Email", "length": 80},
                {"name": "Notes__c", "type": "textarea", "label": "Notes", "length": 1000},
            ]
        },
        "Contact": {
            "fields": [
                _LEGACY_ID,
                {
                    "name": "Preferred_Channel__c",
                    "type": "picklist",
                    "label": "Preferred Channel",
                    "restricted": True,
                    "values": ["Email", "Phone", "Mail"],
                },
                {"name": "Consent_Date__c", "type": "date", "label": "Consent Date"},
            ]
        },
        "Lead": {"fields": [_LEGACY_ID]},
        "Opportunity": {"fields": [_LEGACY_ID]},
        "Case": {"fields": [_LEGACY_ID]},
        # A custom master-detail child: migrations must load Accounts before their Invoices.
        "Invoice__c": {
            "label": "Invoice",
            "labelPlural": "Invoices",
            "nameField": {"type": "autoNumber"},
            "fields": [
                {
                    "name": "Account__c",
                    "type": "masterDetail",
                    "label": "Account",
                    "referenceTo": "Account",
                    "relationshipName": "Account__r",
                },
                {"name": "Amount__c", "type": "currency", "label": "Amount", "precision": 16, "scale": 2},
                {"name": "Invoice_Date__c", "type": "date", "label": "Invoice Date"},
                {
                    "name": "Status__c",
                    "type": "picklist",
                    "label": "Status",
                    "values": ["Draft", "Sent", "Paid", "Void"],
                    "default": "Draft",
                },
                _LEGACY_ID,
            ],
        },
    }
}
