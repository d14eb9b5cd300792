"""A read-only view of a Salesforce sObject describe (the JSON of /sobjects/{Obj}/describe)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dms.errors import DMSError

# Key prefixes of standard objects (stable across orgs); custom objects' prefixes come from their describe.
STANDARD_KEY_PREFIXES: dict[str, str] = {
    "Account": "001",
    "Contact": "003",
    "User": "005",
    "Opportunity": "006",
    "Lead": "00Q",
    "Case": "500",
    "Campaign": "701",
    "CampaignMember": "00v",
    "Contract": "800",
    "Order": "801",
    "Product2": "01t",
    "Pricebook2": "01s",
    "PricebookEntry": "01u",
    "Group": "00G",
    "RecordType": "012",
    "Profile": "00e",
    "UserRole": "00E",
    "Task": "00T",
    "Event": "00U",
    "Asset": "02i",
    "Note": "002",
    "Attachment": "00P",
    "Quote": "0Q0",
    "OpportunityLineItem": "00k",
    "ContentDocument": "069",
    "ContentVersion": "068",
}

TEXT_TYPES = frozenset({"string", "textarea", "encryptedstring", "combobox", "phone", "email", "url"})


class DescribeError(DMSError):
    """A describe document that does not have the shape Salesforce returns."""

    code = "INVALID_DESCRIBE"


@dataclass(frozen=True)
class FieldInfo:
    """The parts of one field's describe that loading and validation need."""

    name: str
    label: str
    type: str
    length: int
    nillable: bool
    defaulted_on_create: bool
    createable: bool
    updateable: bool
    external_id: bool
    id_lookup: bool
    unique: bool
    case_sensitive: bool
    restricted_picklist: bool
    picklist_values: tuple[str, ...]  # active values only
    reference_to: tuple[str, ...]
    relationship_name: str | None
    precision: int
    scale: int
    digits: int
    calculated: bool

    @property
    def required_on_create(self) -> bool:
        """Whether an insert must give this field a value (Salesforce fills booleans and defaulted ones)."""
        return (
            self.createable and not self.nillable and not self.defaulted_on_create and self.type != "boolean"
        )

    @classmethod
    def from_describe(cls, raw: Mapping[str, Any]) -> FieldInfo:
        """Build from one entry of describe['fields']."""
        if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str) or not raw.get("name"):
            raise DescribeError("every describe field needs a non-empty 'name'")
        picklist = raw.get("picklistValues") or []
        active = tuple(
            str(entry["value"])
            for entry in picklist
            if isinstance(entry, Mapping) and entry.get("value") is not None and entry.get("active", True)
        )
        return cls(
            name=raw["name"],
            label=str(raw.get("label") or raw["name"]),
            type=str(raw.get("type") or "string").lower(),
            length=_int(raw.get("length")),
            nillable=bool(raw.get("nillable", True)),
            defaulted_on_create=bool(raw.get("defaultedOnCreate", False)),
            createable=bool(raw.get("createable", False)),
            updateable=bool(raw.get("updateable", False)),
            external_id=bool(raw.get("externalId", False)),
            id_lookup=bool(raw.get("idLookup", False)),
            unique=bool(raw.get("unique", False)),
            case_sensitive=bool(raw.get("caseSensitive", False)),
            restricted_picklist=bool(raw.get("restrictedPicklist", False)),
            picklist_values=active,
            reference_to=tuple(str(r) for r in raw.get("referenceTo") or ()),
            relationship_name=raw.get("relationshipName") or None,
            precision=_int(raw.get("precision")),
            scale=_int(raw.get("scale")),
            digits=_int(raw.get("digits")),
            calculated=bool(raw.get("calculated", False)),
        )


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


class ObjectDescribe:
    """Fields of one sObject, found by API name (case-insensitive, as Salesforce does) or relationship."""

    def __init__(self, raw: Mapping[str, Any]):
        if not isinstance(raw, Mapping) or not isinstance(raw.get("fields"), list):
            raise DescribeError("a describe must be a JSON object with a 'fields' list")
        self.raw = raw
        self.name: str = str(raw.get("name") or "")
        self.key_prefix: str | None = raw.get("keyPrefix") or None
        self.fields: dict[str, FieldInfo] = {}
        self._by_lower: dict[str, FieldInfo] = {}
        self._by_relationship: dict[str, FieldInfo] = {}
        for entry in raw["fields"]:
            info = FieldInfo.from_describe(entry)
            self.fields[info.name] = info
            self._by_lower[info.name.lower()] = info
            if info.relationship_name:
                self._by_relationship[info.relationship_name.lower()] = info

    @classmethod
    def of(cls, describe: ObjectDescribe | Mapping[str, Any]) -> ObjectDescribe:
        """Accept a raw describe dict or an ObjectDescribe."""
        return describe if isinstance(describe, ObjectDescribe) else cls(describe)

    def field(self, name: str) -> FieldInfo | None:
        """The field with this API name, ignoring case."""
        return self._by_lower.get(name.lower())

    def relationship(self, name: str) -> FieldInfo | None:
        """The reference field whose relationshipName is `name`, ignoring case."""
        return self._by_relationship.get(name.lower())

    def required_on_create(self) -> list[FieldInfo]:
        """Fields an insert must set."""
        return [f for f in self.fields.values() if f.required_on_create]
