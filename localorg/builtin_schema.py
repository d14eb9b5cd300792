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
    "Organization": "00D",
    "OpportunityContactRole": "00K",
    "Lead": "00Q",
    "Task": "00T",
    "Event": "00U",
    "RecordType": "012",
    "Case": "500",
}
# What an activity can be about (Task/Event WhatId): localorg models Account, Opportunity and Case; ids of
# the others are accepted as they are, since there are no records to check them against.
_WHAT_TARGETS = [
    "Account",
    "Asset",
    "Campaign",
    "Case",
    "Contract",
    "Opportunity",
    "Order",
    "Product2",
    "Solution",
]
_WHO_TARGETS = ["Contact", "Lead"]
_CLOSED_STAGES = ("Closed Won", "Closed Lost")


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
    name: str, label: str, plural: str, body: list[Field], owner: bool = True, **kw: Any
) -> SObjectType:
    head, tail = system_fields(owner, deletable=kw.get("deletable", True))
    obj = SObjectType(
        name=name, label=label, label_plural=plural, key_prefix=STANDARD_PREFIXES[name], custom=False, **kw
    )
    for fld in head + body + tail:
        obj.add_field(fld)
    return obj


def standard_objects() -> list[SObjectType]:
    """The standard objects localorg models, with their usual fields and relationships."""
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
            make_reference(
                "ParentId",
                "Account",
                "Parent",
                label="Parent Account ID",
                child_relationship_name="ChildAccounts",
            ),
            _record_type_id(),
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
            # Person accounts are not enabled in localorg: the field is there and always false.
            make_field("IsPersonAccount", "boolean", "Is Person Account", createable=False, updateable=False),
        ],
    )
    contact = _standard_object(
        "Contact",
        "Contact",
        "Contacts",
        [
            make_reference("MasterRecordId", "Contact", "MasterRecord", createable=False, updateable=False),
            make_reference("AccountId", "Account", "Account", child_relationship_name="Contacts"),
            _record_type_id(),
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
            _record_type_id(),
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
            make_reference("AccountId", "Account", "Account", child_relationship_name="Opportunities"),
            _record_type_id(),
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
            # Derived from the stage, as in Salesforce (where the stage's settings decide).
            make_field(
                "IsClosed",
                "boolean",
                "Closed",
                createable=False,
                updateable=False,
                sql_expression=f'"StageName" IN {_CLOSED_STAGES!r}',
            ),
            make_field(
                "IsWon",
                "boolean",
                "Won",
                createable=False,
                updateable=False,
                sql_expression=f'"StageName" = {_CLOSED_STAGES[0]!r}',
            ),
            make_field(
                "ExpectedRevenue", "currency", precision=18, scale=2, createable=False, updateable=False
            ),
            make_field("TotalOpportunityQuantity", "double", "Quantity", precision=18, scale=2),
            make_field(
                "HasOpportunityLineItem", "boolean", "Has Line Item", createable=False, updateable=False
            ),
            make_field("LastActivityDate", "date", createable=False, updateable=False),
            make_field("FiscalYear", "int", createable=False, updateable=False, digits=4),
            make_field("FiscalQuarter", "int", createable=False, updateable=False, digits=1),
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
            make_reference(
                "ContactId", "Contact", "Contact", label="Contact ID", child_relationship_name="Cases"
            ),
            make_reference(
                "AccountId", "Account", "Account", label="Account ID", child_relationship_name="Cases"
            ),
            make_reference(
                "ParentId", "Case", "Parent", label="Parent Case ID", child_relationship_name="Cases"
            ),
            _record_type_id(),
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
    return [account, contact, lead, opportunity, case, user, *_related_objects(), *_setup_objects()]


def _record_type_id() -> Field:
    return make_reference("RecordTypeId", "RecordType", "RecordType", label="Record Type ID")


def _activity_fields(child_relationship: str) -> list[Field]:
    """Who and What of a Task or Event: polymorphic lookups listing every object they may point at."""
    return [
        make_field(
            "WhoId",
            "reference",
            "Name ID",
            reference_to=list(_WHO_TARGETS),
            relationship_name="Who",
            child_relationship_name=child_relationship,
        ),
        make_field(
            "WhatId",
            "reference",
            "Related To ID",
            reference_to=list(_WHAT_TARGETS),
            relationship_name="What",
            child_relationship_name=child_relationship,
        ),
        make_field("Subject", "combobox", length=255),
        make_field("ActivityDate", "date", "Due Date Only"),
        make_field("Description", "textarea", length=32000),
        make_field("IsReminderSet", "boolean", "Reminder Set"),
        make_field("ReminderDateTime", "datetime", "Reminder Date/Time"),
        _record_type_id(),
    ]


def _activity_owner() -> Field:
    # Activities can belong to a queue (Group) as well as a user.
    return make_field(
        "OwnerId",
        "reference",
        "Assigned To ID",
        reference_to=["Group", "User"],
        relationship_name="Owner",
        nillable=False,
        defaulted_on_create=True,
    )


def _related_objects() -> list[SObjectType]:
    """OpportunityContactRole, Task and Event: the records a multi-object migration moves with its parents."""
    contact_role = _standard_object(
        "OpportunityContactRole",
        "Opportunity Contact Role",
        "Opportunity Contact Roles",
        [
            make_reference(
                "OpportunityId",
                "Opportunity",
                "Opportunity",
                label="Opportunity ID",
                nillable=False,
                updateable=False,
                cascade_delete=True,
                child_relationship_name="OpportunityContactRoles",
            ),
            make_reference(
                "ContactId",
                "Contact",
                "Contact",
                label="Contact ID",
                nillable=False,
                cascade_delete=True,
                child_relationship_name="OpportunityContactRoles",
            ),
            make_field(
                "Role",
                "picklist",
                values=[
                    "Business User",
                    "Decision Maker",
                    "Economic Buyer",
                    "Economic Decision Maker",
                    "Evaluator",
                    "Executive Sponsor",
                    "Influencer",
                    "Technical Buyer",
                    "Other",
                ],
            ),
            make_field("IsPrimary", "boolean", "Primary"),
        ],
        owner=False,
    )
    task = _standard_object(
        "Task",
        "Task",
        "Tasks",
        [
            *_activity_fields("Tasks"),
            make_field(
                "Status",
                "picklist",
                nillable=False,
                values=["Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred"],
                default="Not Started",
            ),
            make_field(
                "Priority", "picklist", nillable=False, values=["High", "Normal", "Low"], default="Normal"
            ),
            make_field(
                "IsHighPriority",
                "boolean",
                "High Priority",
                createable=False,
                updateable=False,
                sql_expression="\"Priority\" = 'High'",
            ),
            make_field(
                "IsClosed",
                "boolean",
                "Closed",
                createable=False,
                updateable=False,
                sql_expression="\"Status\" = 'Completed'",
            ),
            make_field("Type", "picklist", values=["Call", "Email", "Meeting", "Other"]),
            make_field(
                "TaskSubtype",
                "picklist",
                "Task Subtype",
                updateable=False,
                values=["Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn"],
            ),
            make_field("CallDurationInSeconds", "int", "Call Duration", digits=8),
            make_field("CallType", "picklist", values=["Internal", "Inbound", "Outbound"]),
            make_field("CallDisposition", "string", "Call Result", length=255),
            make_field(
                "CompletedDateTime", "datetime", "Completed Date/Time", createable=False, updateable=False
            ),
        ],
    )
    task.add_field(_activity_owner())
    event = _standard_object(
        "Event",
        "Event",
        "Events",
        [
            *_activity_fields("Events"),
            make_field("Location", "string", length=255),
            make_field("IsAllDayEvent", "boolean", "All-Day Event"),
            make_field("ActivityDateTime", "datetime", "Due Date Time"),
            make_field("DurationInMinutes", "int", "Duration", digits=8),
            make_field("StartDateTime", "datetime", "Start Date Time"),
            make_field("EndDateTime", "datetime", "End Date Time"),
            make_field("IsPrivate", "boolean", "Private"),
            make_field(
                "ShowAs", "picklist", "Show Time As", values=["Busy", "OutOfOffice", "Free"], default="Busy"
            ),
            make_field("Type", "picklist", values=["Call", "Email", "Meeting", "Other"]),
            make_field("EventSubtype", "picklist", "Event Subtype", updateable=False, values=["Event"]),
        ],
    )
    event.add_field(_activity_owner())
    return [contact_role, task, event]


def _setup_objects() -> list[SObjectType]:
    """RecordType and Organization: setup data that clients read when they connect or map record types."""
    record_type = _standard_object(
        "RecordType",
        "Record Type",
        "Record Types",
        [
            make_field("Name", "string", "Record Type Name", length=80, nillable=False, name_field=True),
            make_field("DeveloperName", "string", "Record Type Name", length=80, nillable=False),
            make_field("NamespacePrefix", "string", length=15, createable=False, updateable=False),
            make_field("Description", "string", length=255),
            make_field("BusinessProcessId", "reference", reference_to=["BusinessProcess"]),
            # Any object name: the list of objects that can have record types is the org's.
            make_field(
                "SobjectType", "picklist", "SObject Type Name", length=40, nillable=False, updateable=False
            ),
            make_field("IsActive", "boolean", "Active"),
            make_field("IsPersonType", "boolean", "Is Person Type", createable=False, updateable=False),
        ],
        owner=False,
        deletable=False,
        searchable=False,
    )
    organization = _standard_object(
        "Organization",
        "Organization",
        "Organizations",
        [
            make_field("Name", "string", length=80, nillable=False, name_field=True),
            make_field("Division", "string", length=80),
            *_address(""),
            make_field("Phone", "phone", length=40),
            make_field("Fax", "phone", length=40),
            make_field("PrimaryContact", "string", length=80),
            make_field(
                "DefaultLocaleSidKey", "picklist", "Locale", length=40, nillable=False, values=["en_US"]
            ),
            make_field("TimeZoneSidKey", "picklist", "Time Zone", length=40, nillable=False, values=["GMT"]),
            make_field(
                "LanguageLocaleKey", "picklist", "Language", length=40, nillable=False, values=["en_US"]
            ),
            make_field("IsSandbox", "boolean", "Is Sandbox"),
            make_field("InstanceName", "string", length=5),
            make_field(
                "OrganizationType",
                "picklist",
                "Edition",
                length=40,
                values=[
                    "Team Edition",
                    "Professional Edition",
                    "Enterprise Edition",
                    "Developer Edition",
                    "Personal Edition",
                    "Unlimited Edition",
                    "Contact Manager Edition",
                    "Base Edition",
                ],
            ),
            make_field("NamespacePrefix", "string", length=15),
            make_field("TrialExpirationDate", "datetime"),
        ],
        owner=False,
        deletable=False,
        createable=False,
        updateable=False,
        searchable=False,
    )
    for fld in organization.fields.values():
        fld.createable = fld.updateable = False
    return [record_type, organization]


def build_schema(extra_documents: Iterable[tuple[Any, str]] = (), describes: Iterable[Any] = ()) -> Schema:
    """Standard objects + DMS defaults + schema documents + imported describes, in that order."""
    schema = Schema(standard_objects())
    apply_schema_document(schema, DEFAULT_SCHEMA, "built-in default schema")
    for document, source in extra_documents:
        apply_schema_document(schema, document, source)
    for describe in describes:
        schema.add(object_from_describe(describe, "imported describe"))
    return schema
