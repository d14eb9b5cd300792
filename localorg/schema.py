"""The org's metadata: sObject types and fields, loaded from built-ins, schema files and real describes."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from localorg.ids import custom_key_prefix

# Field types localorg stores and validates; compound types (address, location) are described only.
SCALAR_TYPES = {
    "id",
    "string",
    "textarea",
    "email",
    "phone",
    "url",
    "picklist",
    "multipicklist",
    "combobox",
    "encryptedstring",
    "boolean",
    "int",
    "long",
    "double",
    "currency",
    "percent",
    "date",
    "datetime",
    "time",
    "reference",
    "base64",
    "anyType",
}
COMPOUND_TYPES = {"address", "location", "complexvalue"}
TEXT_TYPES = {"string", "textarea", "email", "phone", "url", "picklist", "combobox", "encryptedstring"}
NUMBER_TYPES = {"double", "currency", "percent"}
INTEGER_TYPES = {"int", "long"}
SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "long": "xsd:long",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "time": "xsd:time",
    "base64": "xsd:base64Binary",
    "anyType": "xsd:anyType",
}
# Fields the server maintains itself, whatever a schema says about them.
SYSTEM_FIELDS = {
    "Id",
    "IsDeleted",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
}
# The Name of Contact, Lead and User: SQLite computes it from FirstName and LastName.
PERSON_NAME_SQL = "trim(coalesce(\"FirstName\", '') || ' ' || coalesce(\"LastName\", ''))"
_API_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}")


class SchemaError(ValueError):
    """A schema file or describe document that cannot be used, with where and why."""


@dataclass
class Field:
    """One field of an sObject, with the attributes that drive validation and describe."""

    name: str
    type: str
    label: str = ""
    length: int = 0
    precision: int = 0
    scale: int = 0
    digits: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    defaulted_on_create: bool = False
    unique: bool = False
    case_sensitive: bool = False
    external_id: bool = False
    id_lookup: bool = False
    picklist_values: list[dict[str, Any]] = field(default_factory=list)
    restricted_picklist: bool = False
    reference_to: list[str] = field(default_factory=list)
    relationship_name: str | None = None
    # The relationship's name seen from the parent (Account.Contacts): describe's childRelationships.
    child_relationship_name: str | None = None
    cascade_delete: bool = False
    restricted_delete: bool = False
    # Set on master-detail fields only: 0 for the (first) master, 1 for a junction's second master.
    relationship_order: int | None = None
    custom: bool = False
    calculated: bool = False
    auto_number: bool = False
    name_field: bool = False
    default_value: Any = None
    # Set for Contact/Lead/User Name: a column SQLite computes from FirstName and LastName.
    sql_expression: str | None = None
    raw: dict[str, Any] | None = None

    @property
    def stored(self) -> bool:
        """Whether the field has a column of its own."""
        return self.type in SCALAR_TYPES

    @property
    def required(self) -> bool:
        """Required on create: not nillable and not defaulted by the server."""
        return (
            not self.nillable
            and not self.defaulted_on_create
            and self.createable
            and self.type != "boolean"
            and not self.auto_number
        )

    @property
    def active_picklist_values(self) -> set[str]:
        """The values a restricted picklist accepts."""
        return {str(p["value"]) for p in self.picklist_values if p.get("active", True)}

    @property
    def picklist_default(self) -> str | None:
        """The picklist value marked defaultValue, if any."""
        for p in self.picklist_values:
            if p.get("defaultValue"):
                return str(p["value"])
        return None

    def describe(self) -> dict[str, Any]:
        """This field in Salesforce's describe JSON shape."""
        if self.raw is not None:
            return copy.deepcopy(self.raw)
        is_text = self.type in TEXT_TYPES or self.type in {"multipicklist", "id", "reference"}
        return {
            "aggregatable": self.type not in {"textarea", "multipicklist"},
            "aiPredictionField": False,
            "autoNumber": self.auto_number,
            "byteLength": self.length * 3 if is_text else 0,
            "calculated": self.calculated or self.sql_expression is not None,
            "calculatedFormula": None,
            "cascadeDelete": self.cascade_delete,
            "caseSensitive": self.case_sensitive,
            "compoundFieldName": None,
            "controllerName": None,
            "createable": self.createable,
            "custom": self.custom,
            "defaultValue": self.default_value if self.type == "boolean" else None,
            "defaultValueFormula": None,
            "defaultedOnCreate": self.defaulted_on_create,
            "dependentPicklist": False,
            "deprecatedAndHidden": False,
            "digits": self.digits,
            "displayLocationInDecimal": False,
            "encrypted": False,
            "externalId": self.external_id,
            "extraTypeInfo": None,
            "filterable": self.type not in {"textarea"},
            "filteredLookupInfo": None,
            "formulaTreatNullNumberAsZero": False,
            "groupable": self.type not in {"textarea", "double", "currency", "percent", "datetime"},
            "highScaleNumber": False,
            "htmlFormatted": False,
            "idLookup": self.id_lookup,
            "inlineHelpText": None,
            "label": self.label or self.name,
            "length": self.length,
            "mask": None,
            "maskType": None,
            "name": self.name,
            "nameField": self.name_field,
            "namePointing": False,
            "nillable": self.nillable,
            "permissionable": self.nillable and self.createable,
            "picklistValues": [
                {
                    "active": p.get("active", True),
                    "defaultValue": bool(p.get("defaultValue", False)),
                    "label": p.get("label", p["value"]),
                    "validFor": None,
                    "value": p["value"],
                }
                for p in self.picklist_values
            ],
            "polymorphicForeignKey": len(self.reference_to) > 1,
            "precision": self.precision,
            "queryByDistance": False,
            "referenceTargetField": None,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "relationshipOrder": self.relationship_order,
            "restrictedDelete": self.restricted_delete,
            "restrictedPicklist": self.restricted_picklist,
            "scale": self.scale,
            "searchPrefilterable": self.type == "reference",
            "soapType": SOAP_TYPES.get(self.type, "xsd:string"),
            "sortable": self.type not in {"textarea", "multipicklist"},
            "type": self.type,
            "unique": self.unique,
            "updateable": self.updateable,
            "writeRequiresMasterRead": False,
        }


@dataclass
class SObjectType:
    """An sObject type: its name, key prefix and fields (looked up case-insensitively)."""

    name: str
    label: str
    label_plural: str
    key_prefix: str
    custom: bool
    fields: dict[str, Field] = field(default_factory=dict)
    raw: dict[str, Any] | None = None
    # Which calls the object supports (Organization: query only; RecordType: no delete).
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    searchable: bool = True

    def __post_init__(self) -> None:
        self._reindex()

    def _reindex(self) -> None:
        self._by_lower = {name.lower(): f for name, f in self.fields.items()}
        self._by_relationship = {
            f.relationship_name.lower(): f for f in self.fields.values() if f.relationship_name
        }

    def add_field(self, new_field: Field) -> None:
        """Add or replace a field."""
        existing = self._by_lower.get(new_field.name.lower())
        if existing is not None:
            del self.fields[existing.name]
        self.fields[new_field.name] = new_field
        self._reindex()

    def field(self, name: str) -> Field | None:
        """The field with this API name (any case), or None."""
        return self._by_lower.get(name.lower())

    def relationship(self, name: str) -> Field | None:
        """The reference field whose relationshipName is `name` (any case), or None."""
        return self._by_relationship.get(name.lower())

    @property
    def stored_fields(self) -> list[Field]:
        """Fields with a column, in describe order."""
        return [f for f in self.fields.values() if f.stored]

    @property
    def unique_fields(self) -> list[Field]:
        """Fields whose values must be unique among live records."""
        return [f for f in self.fields.values() if f.unique and f.stored and f.name != "Id"]

    def describe(
        self, version: str, child_relationships: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """This object in Salesforce's describe JSON shape (fields included)."""
        result = self.describe_basic(version)
        result["fields"] = [f.describe() for f in self.fields.values()]
        if self.raw is not None:
            for key in ("childRelationships", "recordTypeInfos", "supportedScopes", "namedLayoutInfos"):
                result[key] = copy.deepcopy(self.raw.get(key, []))
        else:
            result.update({"childRelationships": [], "recordTypeInfos": [], "supportedScopes": []})
        if child_relationships is not None:
            result["childRelationships"] = child_relationships
        return result

    def describe_basic(self, version: str) -> dict[str, Any]:
        """The object-level keys of describe, as describe global lists them."""
        base = f"/services/data/v{version}/sobjects/{self.name}"
        basic: dict[str, Any] = {
            "activateable": False,
            "associateEntityType": None,
            "associateParentEntity": None,
            "createable": self.createable,
            "custom": self.custom,
            "customSetting": False,
            "deepCloneable": False,
            "deletable": self.deletable,
            "deprecatedAndHidden": False,
            "feedEnabled": False,
            "hasSubtypes": False,
            "isInterface": False,
            "isSubtype": False,
            "keyPrefix": self.key_prefix,
            "label": self.label,
            "labelPlural": self.label_plural,
            "layoutable": True,
            "mergeable": self.name in {"Account", "Contact", "Lead", "Case"},
            "mruEnabled": True,
            "name": self.name,
            "queryable": True,
            "replicateable": True,
            "retrieveable": True,
            "searchable": self.searchable,
            "triggerable": True,
            "undeletable": self.deletable,
            "updateable": self.updateable,
            "urls": {
                "rowTemplate": base + "/{ID}",
                "defaultValues": base + "/defaultValues?recordTypeId&fields",
                "describe": base + "/describe",
                "sobject": base,
            },
        }
        if self.raw is not None:
            for key in basic:
                if key in self.raw and key != "urls":
                    basic[key] = copy.deepcopy(self.raw[key])
        return basic


class Schema:
    """All sObject types of the org, looked up case-insensitively by name or key prefix."""

    def __init__(self, objects: Iterable[SObjectType] = ()) -> None:
        self.objects: dict[str, SObjectType] = {}
        for obj in objects:
            self.add(obj)

    def add(self, obj: SObjectType) -> None:
        """Add or replace an sObject type."""
        existing = self.get(obj.name)
        if existing is not None:
            del self.objects[existing.name]
        self.objects[obj.name] = obj

    def get(self, name: str) -> SObjectType | None:
        """The sObject type with this name (any case), or None."""
        lowered = name.lower()
        for obj_name, obj in self.objects.items():
            if obj_name.lower() == lowered:
                return obj
        return None

    def references_to(self, parent: SObjectType) -> list[tuple[SObjectType, Field]]:
        """Every (object, reference field) that can point at records of `parent`."""
        return [
            (child, fld)
            for child in self.objects.values()
            for fld in child.fields.values()
            if fld.type == "reference" and parent.name in fld.reference_to
        ]

    def child_relationships(self, parent: SObjectType) -> list[dict[str, Any]]:
        """describe's childRelationships of `parent` (an imported describe keeps the real org's list)."""
        if parent.raw is not None and "childRelationships" in parent.raw:
            return copy.deepcopy(list(parent.raw["childRelationships"]))
        relationships: list[dict[str, Any]] = [
            {
                "cascadeDelete": fld.cascade_delete,
                "childSObject": child.name,
                "deprecatedAndHidden": False,
                "field": fld.name,
                "junctionIdListNames": [],
                "junctionReferenceTo": [],
                "relationshipName": fld.child_relationship_name,
                "restrictedDelete": fld.restricted_delete,
            }
            for child, fld in self.references_to(parent)
        ]
        return sorted(relationships, key=lambda r: (r["childSObject"], r["field"]))

    def child_relationship(self, parent: SObjectType, name: str) -> tuple[SObjectType, Field] | None:
        """The child object and its reference field behind a child relationship name (Contacts), or None."""
        for relationship in self.child_relationships(parent):
            if str(relationship.get("relationshipName") or "").lower() == name.lower():
                child = self.get(str(relationship["childSObject"]))
                fld = child.field(str(relationship["field"])) if child is not None else None
                if child is not None and fld is not None:
                    return child, fld
        return None

    def by_prefix(self, key_prefix: str) -> SObjectType | None:
        """The sObject type whose ids start with this 3-character prefix, or None."""
        for obj in self.objects.values():
            if obj.key_prefix == key_prefix:
                return obj
        return None

    def next_custom_prefix(self) -> str:
        """A key prefix not used by any object yet, in Salesforce's a00.. range."""
        used = {obj.key_prefix for obj in self.objects.values()}
        for index in range(62 * 62):
            candidate = custom_key_prefix(index)
            if candidate not in used:
                return candidate
        raise SchemaError("no free custom key prefix left")


# ---------------------------------------------------------------------------------------------------------
# Built-in standard objects.


def _picklist(values: Iterable[str], default: str | None = None) -> list[dict[str, Any]]:
    return [{"value": v, "label": v, "active": True, "defaultValue": v == default} for v in values]


def make_field(name: str, type_: str, label: str | None = None, **kw: Any) -> Field:
    """A field with Salesforce's usual attributes for its type (lengths, digits, boolean defaults)."""
    values = kw.pop("values", None)
    default = kw.pop("default", None)
    fld = Field(name=name, type=type_, label=label or label_from_name(name), **kw)
    if values is not None:
        fld.picklist_values = _picklist(values, default)
        if default is not None:
            fld.defaulted_on_create = True
    if type_ in TEXT_TYPES and type_ != "picklist" and fld.length == 0:
        fld.length = 255
    if type_ in {"picklist", "multipicklist"} and fld.length == 0:
        fld.length = 255 if type_ == "picklist" else 4099
    if type_ in {"reference", "id"}:
        fld.length = 18
    if type_ == "boolean":
        fld.nillable = False
        fld.defaulted_on_create = True
        fld.default_value = bool(default) if default is not None else False
    if type_ in INTEGER_TYPES and fld.digits == 0:
        fld.digits = 9 if type_ == "int" else 18
    if type_ in NUMBER_TYPES and fld.precision == 0:
        fld.precision, fld.scale = 18, 2 if type_ == "currency" else 0
    return fld


def label_from_name(name: str) -> str:
    """The label Salesforce derives from an API name: Legacy_Id__c -> Legacy Id, OwnerId -> Owner ID."""
    base = name[:-3] if name.endswith("__c") else name
    if base.endswith("Id") and len(base) > 2:
        base = base[:-2] + " ID"
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", base).replace("_", " ")


def make_reference(name: str, target: str, relationship: str, **kw: Any) -> Field:
    """A lookup to one object, e.g. Contact.AccountId (relationship Account)."""
    return make_field(name, "reference", reference_to=[target], relationship_name=relationship, **kw)


def system_fields(owner: bool = True, deletable: bool = True) -> tuple[list[Field], list[Field]]:
    """The fields every object has: Id and IsDeleted first; OwnerId and the audit fields last."""
    head = [
        make_field(
            "Id",
            "id",
            "Record ID",
            nillable=False,
            createable=False,
            updateable=False,
            defaulted_on_create=True,
            id_lookup=True,
        ),
    ]
    if deletable:
        head.append(make_field("IsDeleted", "boolean", "Deleted", createable=False, updateable=False))
    tail = []
    if owner:
        tail.append(
            make_reference(
                "OwnerId", "User", "Owner", label="Owner ID", nillable=False, defaulted_on_create=True
            )
        )
    tail += [
        make_field(
            "CreatedDate",
            "datetime",
            "Created Date",
            nillable=False,
            createable=False,
            updateable=False,
            defaulted_on_create=True,
        ),
        make_reference(
            "CreatedById",
            "User",
            "CreatedBy",
            label="Created By ID",
            nillable=False,
            createable=False,
            updateable=False,
            defaulted_on_create=True,
        ),
        make_field(
            "LastModifiedDate",
            "datetime",
            "Last Modified Date",
            nillable=False,
            createable=False,
            updateable=False,
            defaulted_on_create=True,
        ),
        make_reference(
            "LastModifiedById",
            "User",
            "LastModifiedBy",
            label="Last Modified By ID",
            nillable=False,
            createable=False,
            updateable=False,
            defaulted_on_create=True,
        ),
        make_field(
            "SystemModstamp",
            "datetime",
            "System Modstamp",
            nillable=False,
            createable=False,
            updateable=False,
            defaulted_on_create=True,
        ),
    ]
    return head, tail


# ---------------------------------------------------------------------------------------------------------
# Schema files (JSON or YAML) and describe documents saved from a real org.

_FIELD_KEYS = {
    # schema-file spelling -> Field attribute
    "type": "type",
    "label": "label",
    "length": "length",
    "precision": "precision",
    "scale": "scale",
    "digits": "digits",
    "nillable": "nillable",
    "createable": "createable",
    "updateable": "updateable",
    "defaultedOnCreate": "defaulted_on_create",
    "unique": "unique",
    "caseSensitive": "case_sensitive",
    "externalId": "external_id",
    "idLookup": "id_lookup",
    "restrictedPicklist": "restricted_picklist",
    "restricted": "restricted_picklist",
    "relationshipName": "relationship_name",
    "calculated": "calculated",
    "autoNumber": "auto_number",
    "nameField": "name_field",
    "defaultValue": "default_value",
    "cascadeDelete": "cascade_delete",
    "restrictedDelete": "restricted_delete",
    "relationshipOrder": "relationship_order",
    "childRelationshipName": "child_relationship_name",
}
_FIELD_TYPE_ALIASES = {
    "text": "string",
    "number": "double",
    "checkbox": "boolean",
    "dateTime": "datetime",
    "lookup": "reference",
    "integer": "int",
    "longtextarea": "textarea",
    "masterDetail": "reference",
}


def field_from_spec(spec: Mapping[str, Any], where: str) -> Field:
    """Build a Field from a schema-file entry; `where` names it in error messages."""
    if not isinstance(spec, Mapping):
        raise SchemaError(f"{where}: a field must be a mapping, got {type(spec).__name__}")
    name = spec.get("name")
    if not isinstance(name, str) or not _API_NAME.fullmatch(name):
        raise SchemaError(f"{where}: field name {name!r} is not a valid API name")
    raw_type = spec.get("type")
    if not isinstance(raw_type, str):
        raise SchemaError(f"{where}.{name}: 'type' is required")
    type_ = _FIELD_TYPE_ALIASES.get(raw_type, raw_type)
    if type_ not in SCALAR_TYPES and type_ not in COMPOUND_TYPES:
        raise SchemaError(f"{where}.{name}: unknown field type {raw_type!r}")
    kwargs: dict[str, Any] = {"custom": name.endswith("__c")}
    for key, value in spec.items():
        if key in {"name", "type", "values", "picklistValues", "referenceTo", "required", "default"}:
            continue
        attr = _FIELD_KEYS.get(key)
        if attr is None:
            raise SchemaError(f"{where}.{name}: unknown key {key!r}")
        kwargs[attr] = value
    values = spec.get("values", spec.get("picklistValues"))
    default = spec.get("default")
    reference_to = spec.get("referenceTo")
    if isinstance(reference_to, str):
        reference_to = [reference_to]
    if reference_to is not None:
        kwargs["reference_to"] = list(reference_to)
    if spec.get("required"):
        kwargs["nillable"] = False
    if raw_type == "masterDetail":
        # As Salesforce creates one: required, deleted with its master, not reparentable unless asked.
        kwargs["nillable"] = False
        kwargs.setdefault("cascade_delete", True)
        kwargs.setdefault("relationship_order", 0)
        kwargs.setdefault("updateable", False)
    if type_ == "reference" and not kwargs.get("reference_to"):
        raise SchemaError(f"{where}.{name}: a reference field needs 'referenceTo'")
    try:
        fld = make_field(name, type_, **kwargs)
    except TypeError as exc:
        raise SchemaError(f"{where}.{name}: {exc}") from exc
    if type_ == "reference" and not fld.relationship_name:
        fld.relationship_name = name[:-3] + "__r" if name.endswith("__c") else name.removesuffix("Id")
    if fld.external_id:
        fld.id_lookup = True
    if values is not None:
        if not isinstance(values, list):
            raise SchemaError(f"{where}.{name}: 'values' must be a list")
        fld.picklist_values = [
            dict(v)
            if isinstance(v, Mapping)
            else {"value": str(v), "label": str(v), "active": True, "defaultValue": str(v) == default}
            for v in values
        ]
        if default is not None:
            fld.defaulted_on_create = True
    elif default is not None and type_ == "boolean":
        fld.default_value = bool(default)
    for numeric in ("length", "precision", "scale", "digits"):
        value = getattr(fld, numeric)
        if not isinstance(value, int) or value < 0:
            raise SchemaError(f"{where}.{name}: {numeric} must be a non-negative integer")
    return fld


def apply_schema_document(schema: Schema, document: Any, source: str) -> None:
    """Add the objects and fields of a schema-file document to `schema`."""
    if not isinstance(document, Mapping) or not isinstance(document.get("objects", {}), Mapping):
        raise SchemaError(f"{source}: expected a mapping with an 'objects' mapping at the top")
    unknown = set(document) - {"objects", "describes"}
    if unknown:
        raise SchemaError(f"{source}: unknown top-level keys {sorted(unknown)} (expected objects, describes)")
    for index, describe in enumerate(document.get("describes") or []):
        if not isinstance(describe, Mapping):
            raise SchemaError(f"{source}: describes[{index}] must be a describe object")
        schema.add(object_from_describe(describe, f"{source}: describes[{index}]"))
    for obj_name, obj_spec in (document.get("objects") or {}).items():
        where = f"{source}: objects.{obj_name}"
        if not isinstance(obj_name, str) or not _API_NAME.fullmatch(obj_name):
            raise SchemaError(f"{where}: not a valid sObject API name")
        obj_spec = obj_spec or {}
        if not isinstance(obj_spec, Mapping):
            raise SchemaError(f"{where}: must be a mapping")
        obj = schema.get(obj_name)
        if obj is None:
            if not obj_name.endswith("__c"):
                raise SchemaError(f"{where}: new objects must be custom (name ending in __c)")
            obj = _new_custom_object(schema, obj_name, obj_spec, where)
            schema.add(obj)
        fields = obj_spec.get("fields", [])
        if not isinstance(fields, list):
            raise SchemaError(f"{where}.fields: must be a list")
        for index, spec in enumerate(fields):
            new_field = field_from_spec(spec, f"{where}.fields[{index}]")
            if new_field.type == "reference" and new_field.custom and not new_field.child_relationship_name:
                # Salesforce's default: the child's plural label as one word, e.g. Invoices__r.
                new_field.child_relationship_name = re.sub(r"\W", "", obj.label_plural) + "__r"
            if new_field.name in SYSTEM_FIELDS:
                raise SchemaError(f"{where}.fields[{index}]: {new_field.name} is a system field")
            obj.add_field(new_field)


def _new_custom_object(schema: Schema, name: str, spec: Mapping[str, Any], where: str) -> SObjectType:
    label = str(spec.get("label", label_from_name(name)))
    prefix = spec.get("keyPrefix") or schema.next_custom_prefix()
    if not isinstance(prefix, str) or not re.fullmatch(r"[0-9A-Za-z]{3}", prefix):
        raise SchemaError(f"{where}.keyPrefix: must be 3 letters or digits")
    if schema.by_prefix(prefix) is not None:
        raise SchemaError(f"{where}.keyPrefix: {prefix} is already used")
    obj = SObjectType(
        name=name,
        label=label,
        label_plural=str(spec.get("labelPlural", label + "s")),
        key_prefix=prefix,
        custom=True,
    )
    # A detail object has no owner of its own: its master's owner owns it.
    specs = spec.get("fields") or []
    is_detail = isinstance(specs, list) and any(
        isinstance(f, Mapping) and f.get("type") == "masterDetail" for f in specs
    )
    head, tail = system_fields(owner=not is_detail)
    name_spec = spec.get("nameField", {"type": "string", "length": 80})
    name_field = make_field(
        "Name",
        name_spec.get("type", "string"),
        f"{label} Name",
        length=int(name_spec.get("length", 80)),
        name_field=True,
        nillable=name_spec.get("type") == "autoNumber",
    )
    if name_spec.get("type") == "autoNumber":
        name_field = make_field(
            "Name",
            "string",
            f"{label} Name",
            length=30,
            nillable=False,
            createable=False,
            updateable=False,
            defaulted_on_create=True,
            auto_number=True,
            name_field=True,
        )
    for fld in [*head, name_field, *tail]:
        obj.add_field(fld)
    return obj


def load_schema_file(path: str | Path) -> Any:
    """Read a JSON or YAML document from a file, with a clear error on bad syntax."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        if str(path).endswith(".json"):
            return json.loads(text)
        return yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise SchemaError(f"{path}: cannot parse: {exc}") from exc


def object_from_describe(describe: Mapping[str, Any], source: str) -> SObjectType:
    """Build an sObject type from a describe document saved from a real org."""
    name = describe.get("name")
    if not isinstance(name, str) or not _API_NAME.fullmatch(name):
        raise SchemaError(f"{source}: not an sObject describe (missing 'name')")
    raw_fields = describe.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        raise SchemaError(f"{source}: {name} describe has no 'fields' list")
    prefix = describe.get("keyPrefix")
    if not isinstance(prefix, str) or len(prefix) != 3:
        raise SchemaError(f"{source}: {name} describe has no 3-character keyPrefix")
    obj = SObjectType(
        name=name,
        label=str(describe.get("label", name)),
        label_plural=str(describe.get("labelPlural", name)),
        key_prefix=prefix,
        custom=bool(describe.get("custom", False)),
        raw=dict(describe),
        createable=bool(describe.get("createable", True)),
        updateable=bool(describe.get("updateable", True)),
        deletable=bool(describe.get("deletable", True)),
        searchable=bool(describe.get("searchable", True)),
    )
    obj.raw.pop("fields", None)  # type: ignore[union-attr]
    has_first_last = {f.get("name") for f in raw_fields} >= {"FirstName", "LastName"}
    for index, raw in enumerate(raw_fields):
        if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
            raise SchemaError(f"{source}: {name}.fields[{index}] has no name")
        type_ = str(raw.get("type", "string"))
        fld = Field(
            name=raw["name"],
            type=type_ if type_ in SCALAR_TYPES or type_ in COMPOUND_TYPES else "anyType",
            label=str(raw.get("label", raw["name"])),
            length=int(raw.get("length") or 0),
            precision=int(raw.get("precision") or 0),
            scale=int(raw.get("scale") or 0),
            digits=int(raw.get("digits") or 0),
            nillable=bool(raw.get("nillable", True)),
            createable=bool(raw.get("createable", True)),
            updateable=bool(raw.get("updateable", True)),
            defaulted_on_create=bool(raw.get("defaultedOnCreate", False)),
            unique=bool(raw.get("unique", False)),
            case_sensitive=bool(raw.get("caseSensitive", False)),
            external_id=bool(raw.get("externalId", False)),
            id_lookup=bool(raw.get("idLookup", False)),
            picklist_values=[dict(p) for p in raw.get("picklistValues") or []],
            restricted_picklist=bool(raw.get("restrictedPicklist", False)),
            reference_to=list(raw.get("referenceTo") or []),
            relationship_name=raw.get("relationshipName"),
            custom=bool(raw.get("custom", False)),
            calculated=bool(raw.get("calculated", False)),
            auto_number=bool(raw.get("autoNumber", False)),
            name_field=bool(raw.get("nameField", False)),
            default_value=raw.get("defaultValue"),
            cascade_delete=bool(raw.get("cascadeDelete", False)),
            restricted_delete=bool(raw.get("restrictedDelete", False)),
            relationship_order=raw.get("relationshipOrder"),
            raw=dict(raw),
        )
        if fld.name == "Name" and not fld.createable and has_first_last:
            fld.sql_expression = PERSON_NAME_SQL
        obj.add_field(fld)
    if obj.field("Id") is None:
        raise SchemaError(f"{source}: {name} describe has no Id field")
    return obj


def describes_in_document(document: Any, source: str) -> list[Mapping[str, Any]]:
    """The describe documents in a file: one describe, a list of them, or {"sobjects": [...]}."""
    if isinstance(document, Mapping) and "fields" in document:
        return [document]
    if isinstance(document, Mapping) and isinstance(document.get("sobjects"), list):
        return list(document["sobjects"])
    if isinstance(document, list):
        return list(document)
    raise SchemaError(f"{source}: expected the JSON of /sobjects/<Object>/describe (or a list of them)")
