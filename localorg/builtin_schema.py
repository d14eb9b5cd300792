"""The built-in schema: Salesforce's standard objects with their usual fields, plus the DMS defaults."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from localorg.default_schema import DEFAULT_SCHEMA
from localorg.schema import (
    PERSON_NAME_SQL,
    Field,
    Schema,
    SObjectType,
    apply_schema_document,
    make_field,
    make_reference,
    object_from_describe,
    system_fields,
)

STANDARD_PREFIXES = {
    "Account": "001",
    "Contact": "003",
    "User": "005",
    "Opportunity": "006",
    "Lead": "00Q",
    "Case": "500",
}


def _address(prefix: str, street_name: str = "Street") -> list[Field]:
    return [
        make_field(f"{prefix}{street_name}", "textarea", length=255),
        make_field(f"{prefix}City", "string", length=40),
        make_field(f"{prefix}State", "string", length=80),
        make_field(f"{prefix}PostalCode", "string", length=20),
        make_field(f"{prefix}Country", "string", length=80),
        make_field(f"{prefix}Latitude", "double", precision=18, scale=15),
        make_field(f"{prefix}Longitude", "double", precision=18, scale=15),
    ]


def _person_name(first_length: int = 40) -> list[Field]:
    return [
        make_field("LastName", "string", length=80, nillable=False),
        make_field("FirstName", "string", length=first_length),
        make_field("Salutation", "picklist", values=["Mr.", "Ms.", "Mrs.", "Dr.", "Prof."]),
        make_field(
            "Name",
            "string",
            "Full Name",
            length=121,
            nillable=False,
            createable=False,
            updateable=False,
            defaulted_on_create=True,
            name_field=True,
            sql_expression=PERSON_NAME_SQL,
        ),
    ]


_INDUSTRIES = [
    "Agriculture",
    "Apparel",
    "Banking",
    "Biotechnology",
    "Chemicals",
    "Communications",
    "Construction",
    "Consulting",
    "Education",
    "Electronics",
    "Energy",
    "Engineering",
    "Entertainment",
    "Environmental",
    "Finance",
    "Food & Beverage",
    "Government",
    "Healthcare",
    "Hospitality",
    "Insurance",
    "Machinery",
    "Manufacturing",
    "Media",
    "Not For Profit",
    "Recreation",
    "Retail",
    "Shipping",
    "Technology",
    "Telecommunications",
    "Transportation",
    "Utilities",
    "Other",
]
_LEAD_SOURCES = ["Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"]
_RATINGS = ["Hot", "Warm", "Cold"]


def _standard_object(
    name: str, label: str, plural: str, body: list[Field], owner: bool = True
) -> SObjectType:
    head, tail = system_fields(owner)
    obj = SObjectType(
        name=name, label=label, label_plural=plural, key_prefix=STANDARD_PREFIXES[name], custom=False
    )
    for fld in head + body + tail:
        obj.add_field(fld)
    return obj


def standard_objects() -> list[SObjectType]:
    """Account, Contact, Lead, Opportunity, Case and User with their usual fields."""
    account = _standard_object(
        "Account",
        "Account",
        "Accounts",
        [
            make_reference("MasterRecordId", "Account", "MasterRecord", createable=False, updateable=False),
            make_field(
                "Name", "string", "Account Name", length=255, nillable=False, name_field=True, id_lookup=False
            ),
            make_field(
                "Type",
                "picklist",
                "Account Type",
                values=[
                    "Prospect",
                    "Customer - Direct",
                    "Customer - Channel",
                    "Channel Partner / Reseller",
                    "Installation Partner",
                    "Technology Partner",
                    "Other",
                ],
            ),
            make_reference("ParentId", "Account", "Parent", label="Parent Account ID"),
            *_address("Billing"),
            *_address("Shipping"),
            make_field("Phone", "phone", "Account Phone", length=40),
            make_field("Fax", "phone", "Account Fax", length=40),
            make_field("AccountNumber", "string", length=40),
            make_field("Website", "url", length=255),
            make_field("Sic", "string", "SIC Code", length=20),
            make_field("Industry", "picklist", values=_INDUSTRIES),
            make_field("AnnualRevenue", "currency", precision=18, scale=0),
            make_field("NumberOfEmployees", "int", "Employees", digits=8),
            make_field("Ownership", "picklist", values=["Public", "Private", "Subsidiary", "Other"]),
            make_field("TickerSymbol", "string", length=20),
            make_field("Description", "textarea", "Account Description", length=32000),
            make_field("Rating", "picklist", "Account Rating", values=_RATINGS),
            make_field("Site", "string", "Account Site", length=80),
            make_field("AccountSource", "picklist", values=_LEAD_SOURCES),
            make_field("LastActivityDate", "date", createable=False, updateable=False),
        ],
    )
    contact = _standard_object(
        "Contact",
        "Contact",
        "Contacts",
        [
            make_reference("MasterRecordId", "Contact", "MasterRecord", createable=False, updateable=False),
            make_reference("AccountId", "Account", "Account"),
            *_person_name(),
            *_address("Other"),
            *_address("Mailing"),
            make_field("Phone", "phone", "Business Phone", length=40),
            make_field("Fax", "phone", "Business Fax", length=40),
            make_field("MobilePhone", "phone", length=40),
            make_field("HomePhone", "phone", length=40),
            make_field("OtherPhone", "phone", length=40),
            make_field("AssistantPhone", "phone", "Asst. Phone", length=40),
            make_reference("ReportsToId", "Contact", "ReportsTo"),
            make_field("Email", "email", length=80, id_lookup=True),
            make_field("Title", "string", length=128),
            make_field("Department", "string", length=80),
            make_field("AssistantName", "string", "Assistant's Name", length=40),
            make_field("LeadSource", "picklist", values=_LEAD_SOURCES),
            make_field("Birthdate", "date"),
            make_field("Description", "textarea", "Contact Description", length=32000),
            make_field("HasOptedOutOfEmail", "boolean", "Email Opt Out"),
            make_field("DoNotCall", "boolean"),
            make_field("LastActivityDate", "date", createable=False, updateable=False),
        ],
    )
    lead = _standard_object(
        "Lead",
        "Lead",
        "Leads",
        [
            make_reference("MasterRecordId", "Lead", "MasterRecord", createable=False, updateable=False),
            *_person_name(),
            make_field("Title", "string", length=128),
            make_field("Company", "string", length=255, nillable=False),
            *_address(""),
            make_field("Phone", "phone", length=40),
            make_field("MobilePhone", "phone", length=40),
            make_field("Fax", "phone", length=40),
            make_field("Email", "email", length=80, id_lookup=True),
            make_field("Website", "url", length=255),
            make_field("Description", "textarea", length=32000),
            make_field("LeadSource", "picklist", values=_LEAD_SOURCES),
            make_field(
                "Status",
                "picklist",
                "Lead Status",
                nillable=False,
                values=[
                    "Open - Not Contacted",
                    "Working - Contacted",
                    "Closed - Converted",
                    "Closed - Not Converted",
                ],
                default="Open - Not Contacted",
            ),
            make_field("Industry", "picklist", values=_INDUSTRIES),
            make_field("Rating", "picklist", values=_RATINGS),
            make_field("AnnualRevenue", "currency", precision=18, scale=0),
            make_field("NumberOfEmployees", "int", "Employees", digits=8),
            make_field("IsConverted", "boolean", "Converted"),
            make_field("ConvertedDate", "date", createable=False, updateable=False),
            make_reference(
                "ConvertedAccountId", "Account", "ConvertedAccount", createable=False, updateable=False
            ),
            make_reference(
                "ConvertedContactId", "Contact", "ConvertedContact", createable=False, updateable=False
            ),
            make_field("IsUnreadByOwner", "boolean", "Unread By Owner"),
            make_field("HasOptedOutOfEmail", "boolean", "Email Opt Out"),
            make_field("DoNotCall", "boolean"),
        ],
    )
    opportunity = _standard_object(
        "Opportunity",
        "Opportunity",
        "Opportunities",
        [
            make_reference("AccountId", "Account", "Account"),
            make_field("IsPrivate", "boolean", "Private"),
            make_field("Name", "string", length=120, nillable=False, name_field=True),
            make_field("Description", "textarea", length=32000),
            make_field(
                "StageName",
                "picklist",
                "Stage",
                nillable=False,
                restricted_picklist=True,
                values=[
                    "Prospecting",
                    "Qualification",
                    "Needs Analysis",
                    "Value Proposition",
                    "Id. Decision Makers",
                    "Perception Analysis",
                    "Proposal/Price Quote",
                    "Negotiation/Review",
                    "Closed Won",
                    "Closed Lost",
                ],
            ),
            make_field("Amount", "currency", precision=18, scale=2),
            make_field("Probability", "percent", "Probability (%)", precision=3, scale=0),
            make_field("CloseDate", "date", nillable=False),
            make_field(
                "Type",
                "picklist",
                "Opportunity Type",
                values=[
                    "Existing Customer - Upgrade",
                    "Existing Customer - Replacement",
                    "Existing Customer - Downgrade",
                    "New Customer",
                ],
            ),
            make_field("NextStep", "string", length=255),
            make_field("LeadSource", "picklist", values=_LEAD_SOURCES),
            make_field("IsClosed", "boolean", "Closed", createable=False, updateable=False),
            make_field("IsWon", "boolean", "Won", createable=False, updateable=False),
            make_field(
                "ForecastCategoryName",
                "picklist",
                "Forecast Category",
                values=["Omitted", "Pipeline", "Best Case", "Commit", "Closed"],
                default="Pipeline",
            ),
        ],
    )
    case = _standard_object(
        "Case",
        "Case",
        "Cases",
        [
            make_reference("MasterRecordId", "Case", "MasterRecord", createable=False, updateable=False),
            make_field(
                "CaseNumber",
                "string",
                "Case Number",
                length=30,
                nillable=False,
                createable=False,
                updateable=False,
                defaulted_on_create=True,
                auto_number=True,
                name_field=True,
            ),
            make_reference("ContactId", "Contact", "Contact", label="Contact ID"),
            make_reference("AccountId", "Account", "Account", label="Account ID"),
            make_reference("ParentId", "Case", "Parent", label="Parent Case ID"),
            make_field("SuppliedName", "string", "Web Name", length=80),
            make_field("SuppliedEmail", "email", "Web Email", length=80),
            make_field("SuppliedPhone", "string", "Web Phone", length=40),
            make_field("SuppliedCompany", "string", "Web Company", length=80),
            make_field(
                "Type",
                "picklist",
                "Case Type",
                values=["Mechanical", "Electrical", "Electronic", "Structural", "Other"],
            ),
            make_field(
                "Status",
                "picklist",
                nillable=False,
                values=["New", "Working", "Escalated", "Closed"],
                default="New",
            ),
            make_field(
                "Reason",
                "picklist",
                "Case Reason",
                values=[
                    "Installation",
                    "Equipment Complexity",
                    "Performance",
                    "Breakdown",
                    "Equipment Design",
                    "Feedback",
                    "Other",
                ],
            ),
            make_field("Origin", "picklist", "Case Origin", values=["Phone", "Email", "Web"]),
            make_field("Subject", "string", length=255),
            make_field("Priority", "picklist", values=["High", "Medium", "Low"], default="Medium"),
            make_field("Description", "textarea", length=32000),
            make_field("IsClosed", "boolean", "Closed", createable=False, updateable=False),
            make_field("ClosedDate", "datetime", createable=False, updateable=False),
            make_field("IsEscalated", "boolean", "Escalated"),
        ],
    )
    user = _standard_object(
        "User",
        "User",
        "Users",
        [
            make_field("Username", "string", length=80, nillable=False, unique=True, id_lookup=True),
            *_person_name(),
            make_field("CompanyName", "string", length=80),
            make_field("Division", "string", length=80),
            make_field("Department", "string", length=80),
            make_field("Title", "string", length=80),
            *_address(""),
            make_field("Email", "email", length=128, nillable=False),
            make_field("Phone", "phone", length=40),
            make_field("MobilePhone", "phone", length=40),
            make_field("Alias", "string", length=8, nillable=False),
            make_field("CommunityNickname", "string", "Nickname", length=40, unique=True),
            make_field("IsActive", "boolean", "Active", default=True),
            make_field(
                "TimeZoneSidKey",
                "picklist",
                "Time Zone",
                nillable=False,
                restricted_picklist=True,
                values=[
                    "America/Los_Angeles",
                    "America/New_York",
                    "Europe/London",
                    "Europe/Paris",
                    "Asia/Tokyo",
                    "GMT",
                ],
            ),
            make_field(
                "LocaleSidKey",
                "picklist",
                "Locale",
                nillable=False,
                restricted_picklist=True,
                values=["en_US", "en_GB", "de_DE", "fr_FR", "ja_JP"],
            ),
            make_field(
                "EmailEncodingKey",
                "picklist",
                "Email Encoding",
                nillable=False,
                restricted_picklist=True,
                values=["UTF-8", "ISO-8859-1", "Shift_JIS"],
            ),
            make_field(
                "LanguageLocaleKey",
                "picklist",
                "Language",
                nillable=False,
                restricted_picklist=True,
                values=["en_US", "de", "fr", "ja"],
            ),
            make_reference("ProfileId", "Profile", "Profile", nillable=False),
            make_field("EmployeeNumber", "string", length=20),
            make_field("FederationIdentifier", "string", "SAML Federation ID", length=512, id_lookup=True),
        ],
        owner=False,
    )
    return [account, contact, lead, opportunity, case, user]


def build_schema(extra_documents: Iterable[tuple[Any, str]] = (), describes: Iterable[Any] = ()) -> Schema:
    """Standard objects + DMS defaults + schema documents + imported describes, in that order."""
    schema = Schema(standard_objects())
    apply_schema_document(schema, DEFAULT_SCHEMA, "built-in default schema")
    for document, source in extra_documents:
        apply_schema_document(schema, document, source)
    for describe in describes:
        schema.add(object_from_describe(describe, "imported describe"))
    return schema
