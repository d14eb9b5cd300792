"""`query?q=...&columns=true`: the column metadata of a SELECT list, as Salesforce answers it instead of rows."""

from __future__ import annotations

from typing import Any

from localorg.schema import INTEGER_TYPES, NUMBER_TYPES, TEXT_TYPES, Field
from localorg.soql import Column, CompiledQuery

_APEX_TYPES = {
    "id": "Id",
    "reference": "Id",
    "boolean": "Boolean",
    "int": "Integer",
    "long": "Long",
    "double": "Double",
    "percent": "Double",
    "currency": "Decimal",
    "date": "Date",
    "datetime": "Datetime",
    "time": "Time",
    "base64": "Blob",
    "anyType": "Object",
}


def _metadata(
    name: str,
    display: str,
    *,
    apex_type: str | None,
    custom: bool,
    insertable: bool = False,
    updatable: bool = False,
    text: bool = False,
    number: bool = False,
    boolean: bool = False,
    aggregate: bool = False,
) -> dict[str, Any]:
    return {
        "aggregate": aggregate,
        "apexType": apex_type,
        "booleanType": boolean,
        "columnName": name,
        "custom": custom,
        "displayName": display,
        "foreignKeyName": None,
        "insertable": insertable,
        "joinColumns": [],
        "numberType": number,
        "textType": text,
        "updatable": updatable,
    }


def _field_metadata(fld: Field, display: str, top_level: bool) -> dict[str, Any]:
    is_text = fld.type in TEXT_TYPES or fld.type == "multipicklist"
    return _metadata(
        fld.name,
        display,
        apex_type=_APEX_TYPES.get(fld.type, "String" if is_text else None),
        custom=fld.custom,
        # Only the queried object's own fields can be written back through the result.
        insertable=top_level and fld.createable,
        updatable=top_level and fld.updateable,
        text=is_text,
        number=fld.type in NUMBER_TYPES or fld.type in INTEGER_TYPES,
        boolean=fld.type == "boolean",
    )


def _add_column(columns: list[dict[str, Any]], column: Column) -> None:
    """Add one selected path; fields of the same parent share its column, nested as the records are."""
    holder = columns
    for depth, (relationship, _, _) in enumerate(column.relationships):
        parent = next((c for c in holder if c["columnName"] == relationship and c["apexType"] is None), None)
        if parent is None:
            reference_custom = relationship.endswith("__r")
            parent = _metadata(
                relationship, ".".join(column.path[: depth + 1]), apex_type=None, custom=reference_custom
            )
            holder.append(parent)
        holder = parent["joinColumns"]
    holder.append(_field_metadata(column.field, ".".join(column.path), top_level=not column.relationships))


def column_metadata(query: CompiledQuery) -> dict[str, Any]:
    """Salesforce's answer to columns=true: columnMetadata plus entityName, groupBy, idSelected, keyPrefix."""
    columns: list[dict[str, Any]] = []
    if query.count_only and query.count_alias is not None:
        columns.append(
            _metadata(
                query.count_alias,
                query.count_alias,
                apex_type="Integer",
                custom=False,
                number=True,
                aggregate=True,
            )
        )
    for column in query.columns:
        _add_column(columns, column)
    for subquery in query.subqueries:
        # A child relationship is an aggregate column whose join columns are the subquery's own.
        child = _metadata(
            subquery.relationship_name, subquery.relationship_name, apex_type=None, custom=False
        )
        child["aggregate"] = True
        child["custom"] = subquery.relationship_name.endswith("__r")
        child["joinColumns"] = column_metadata(subquery.query)["columnMetadata"]
        columns.append(child)
    return {
        "columnMetadata": columns,
        "entityName": query.obj.name,
        "groupBy": False,
        "idSelected": any(c.field.name == "Id" and not c.relationships for c in query.columns),
        "keyPrefix": query.obj.key_prefix,
    }
