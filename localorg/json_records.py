"""REST and Collections record JSON turned into RowBatches for the write engine."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from localorg.errors import SalesforceError
from localorg.schema import SObjectType
from localorg.store import KEEP, RelationshipColumn, RowBatch, Store
from localorg.values import JsonTypeError, make_converter


def no_such_field(name: str, obj: SObjectType) -> SalesforceError:
    """The whole-request error for an unknown field in a record body."""
    return SalesforceError("INVALID_FIELD", f"No such column '{name}' on sobject of type {obj.name}", [name])


def batch_from_json(store: Store, obj: SObjectType, records: list[Any], operation: str) -> RowBatch:
    """Convert record dicts into a RowBatch; a type or field-name problem fails the whole request."""
    size = len(records)
    batch = RowBatch(size=size)
    errors = batch.errors
    ids: list[Any] = [KEEP] * size
    relationships: dict[str, RelationshipColumn] = {}
    prefixes = store.reference_prefixes
    converters: dict[str, Any] = {}
    for i, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise SalesforceError("JSON_PARSER_ERROR", f"Record {i} is not a JSON object")
        for key, value in record.items():
            if key == "attributes":
                continue
            fld = obj.field(key)
            if fld is None:
                reference = obj.relationship(key)
                if reference is not None and isinstance(value, Mapping):
                    _add_relationship(store, obj, relationships, reference.name, key, value, i, size)
                    continue
                raise no_such_field(key, obj)
            if fld.name == "Id":
                if operation == "insert":
                    raise SalesforceError("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
                ids[i] = value
                continue
            if not fld.stored:
                raise no_such_field(key, obj)
            column = batch.columns.setdefault(fld.name, [KEEP] * size)
            if value is None or value == "":
                column[i] = None
                continue
            convert = converters.get(fld.name)
            if convert is None:
                convert = converters[fld.name] = make_converter(fld, True, prefixes)
            try:
                column[i] = convert(value)
            except JsonTypeError:
                raise
            except SalesforceError as exc:
                if errors[i] is None:
                    errors[i] = exc
    batch.ids = ids
    batch.relationships = list(relationships.values())
    return batch


def _add_relationship(
    store: Store,
    obj: SObjectType,
    relationships: dict[str, RelationshipColumn],
    reference_name: str,
    key: str,
    value: Mapping[str, Any],
    row: int,
    size: int,
) -> None:
    reference = obj.field(reference_name)
    assert reference is not None
    target = store.schema.get(reference.reference_to[0]) if reference.reference_to else None
    if len(reference.reference_to) > 1:
        # A polymorphic reference (Task.What) names the parent's type: {"attributes": {"type": "Account"}, ...}.
        attributes = value.get("attributes")
        named = attributes.get("type") if isinstance(attributes, Mapping) else None
        listed = {t.lower(): t for t in reference.reference_to}
        if not isinstance(named, str) or named.lower() not in listed:
            raise SalesforceError(
                "INVALID_FIELD",
                f"{key}: a polymorphic relationship must give attributes.type, one of "
                f"{', '.join(reference.reference_to)}",
                [key],
            )
        target = store.schema.get(listed[named.lower()])
    lookup = {k: v for k, v in value.items() if k != "attributes"}
    if target is None or len(lookup) != 1:
        raise SalesforceError(
            "INVALID_FIELD", f"{key}: a relationship must name exactly one external id field", [key]
        )
    ((field_name, field_value),) = lookup.items()
    target_field = target.field(field_name)
    if target_field is None or not (target_field.external_id or target_field.id_lookup):
        raise SalesforceError(
            "INVALID_FIELD",
            f"The value provided for foreign key reference {key} is not a nested SObject "
            f"with an external id field: {field_name}",
            [key],
        )
    column = relationships.get(reference.name)
    if column is None:
        column = RelationshipColumn(reference, target, target_field, [KEEP] * size)
        relationships[reference.name] = column
    elif column.target_field.name != target_field.name or column.target is not target:
        raise SalesforceError(
            "INVALID_FIELD", f"{key}: use one parent type and external id field for every record", [key]
        )
    column.values[row] = None if field_value in (None, "") else str(field_value)
