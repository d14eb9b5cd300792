"""sObject Tree (`POST composite/tree/{Obj}`): nested parent-child records created all or nothing."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response

from localorg.errors import SalesforceError
from localorg.json_records import batch_from_json
from localorg.rest_io import json_response, org, request_json, sobject_or_404, write_options
from localorg.schema import Field, Schema, SObjectType
from localorg.store import Store

# Salesforce's limits for one request: records across all trees, levels, and distinct record types.
MAX_TREE_RECORDS = 200
MAX_TREE_DEPTH = 5
MAX_TREE_TYPES = 5
_REFERENCE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]*")

tree_api = Blueprint("tree_api", __name__, url_prefix="/services/data/v<version>")


@dataclass
class TreeNode:
    """One record of the request: its type, fields, and the parent it hangs under (by position)."""

    reference_id: str
    obj: SObjectType
    fields: dict[str, Any]
    depth: int
    parent: int | None = None
    parent_field: Field | None = None
    record_id: str | None = None


@dataclass
class TreeFailure(Exception):
    """Errors per referenceId: the request fails as a whole and writes nothing."""

    errors: list[tuple[str, SalesforceError]] = field(default_factory=list)


def _invalid(message: str) -> SalesforceError:
    return SalesforceError("INVALID_INPUT", message)


def flatten_tree(schema: Schema, root: SObjectType, body: Any) -> list[TreeNode]:
    """Every record of the request in request order (parents before their children), checked for shape."""
    if not isinstance(body, Mapping) or not isinstance(body.get("records"), list):
        raise SalesforceError("JSON_PARSER_ERROR", "Expected a JSON object with a 'records' array")
    nodes: list[TreeNode] = []
    failure = TreeFailure()

    def visit(
        records: list[Any], obj: SObjectType, depth: int, parent: int | None, via: Field | None
    ) -> None:
        for record in records:
            if not isinstance(record, Mapping):
                raise SalesforceError("JSON_PARSER_ERROR", "Each record must be a JSON object")
            attributes = record.get("attributes")
            attributes = attributes if isinstance(attributes, Mapping) else {}
            reference_id = attributes.get("referenceId")
            if not isinstance(reference_id, str) or not reference_id:
                raise _invalid("Include a reference ID for each record in the request.")
            record_type = attributes.get("type")
            if not isinstance(record_type, str) or schema.get(record_type) is not obj:
                failure.errors.append(
                    (
                        reference_id,
                        SalesforceError(
                            "INVALID_TYPE",
                            f"The record type {record_type!r} doesn't match the type expected here ({obj.name})",
                        ),
                    )
                )
            if not _REFERENCE_ID.fullmatch(reference_id):
                failure.errors.append(
                    (
                        reference_id,
                        _invalid(
                            f"Provided referenceId ('{reference_id}') must start with a letter or a number, "
                            "and it can contain only letters, numbers and underscores ('_')."
                        ),
                    )
                )
            if depth > MAX_TREE_DEPTH:
                failure.errors.append(
                    (
                        reference_id,
                        _invalid(f"The sObject trees can be at most {MAX_TREE_DEPTH} levels deep."),
                    )
                )
            fields: dict[str, Any] = {}
            children: list[tuple[list[Any], SObjectType, Field]] = []
            for key, value in record.items():
                if key == "attributes":
                    continue
                relationship = None if obj.field(key) is not None else schema.child_relationship(obj, key)
                if relationship is None:
                    fields[key] = value
                    continue
                if not isinstance(value, Mapping) or not isinstance(value.get("records"), list):
                    raise SalesforceError(
                        "JSON_PARSER_ERROR", f'{key}: child records must be given as {{"records": [...]}}'
                    )
                children.append((value["records"], *relationship))
            if via is not None:
                fields = {k: v for k, v in fields.items() if k.lower() != via.name.lower()}
            nodes.append(TreeNode(reference_id, obj, fields, depth, parent, via))
            index = len(nodes) - 1
            for child_records, child_obj, child_field in children:
                visit(child_records, child_obj, depth + 1, index, child_field)

    visit(body["records"], root, 1, None, None)
    seen: dict[str, int] = {}
    for node in nodes:
        seen[node.reference_id] = seen.get(node.reference_id, 0) + 1
    for node in nodes:
        if seen[node.reference_id] > 1:
            failure.errors.append(
                (node.reference_id, _invalid("Duplicate ReferenceId provided in the request."))
            )
    if len(nodes) > MAX_TREE_RECORDS:
        failure.errors.append(
            (
                nodes[MAX_TREE_RECORDS].reference_id,
                _invalid(f"The request can contain at most {MAX_TREE_RECORDS} records in total."),
            )
        )
    types = list(dict.fromkeys(node.obj.name for node in nodes))
    if len(types) > MAX_TREE_TYPES:
        first_extra = next(node for node in nodes if node.obj.name == types[MAX_TREE_TYPES])
        failure.errors.append(
            (
                first_extra.reference_id,
                _invalid(f"The request can contain at most {MAX_TREE_TYPES} record types."),
            )
        )
    if failure.errors:
        raise failure
    return nodes


class _Rollback(Exception):
    pass


def create_tree(store: Store, nodes: list[TreeNode]) -> None:
    """Insert level by level (parents first) in one transaction; TreeFailure and nothing written on an error."""
    levels = sorted({node.depth for node in nodes})
    failure = TreeFailure()
    try:
        with store.transaction():
            for depth in levels:
                groups: dict[str, list[int]] = {}
                for index, node in enumerate(nodes):
                    if node.depth == depth:
                        groups.setdefault(node.obj.name, []).append(index)
                for members in groups.values():
                    _insert_group(store, nodes, members, failure)
                    if failure.errors:
                        raise _Rollback
    except _Rollback:
        raise failure from None


def _insert_group(store: Store, nodes: list[TreeNode], members: list[int], failure: TreeFailure) -> None:
    obj = nodes[members[0]].obj
    records = []
    for index in members:
        node = nodes[index]
        record = dict(node.fields)
        if node.parent is not None and node.parent_field is not None:
            record[node.parent_field.name] = nodes[node.parent].record_id
        records.append(record)
    try:
        batch = batch_from_json(store, obj, records, "insert")
    except SalesforceError:
        # A whole-request problem (unknown field, wrong JSON type): find the record that has it.
        for index, record in zip(members, records, strict=True):
            try:
                batch_from_json(store, obj, [record], "insert")
            except SalesforceError as exc:
                failure.errors.append((nodes[index].reference_id, exc))
                return
        raise
    results = store.write(obj, "insert", batch, write_options(all_or_none=True))
    for index, result in zip(members, results, strict=True):
        if result.error is not None and result.error.code != "ALL_OR_NONE_OPERATION_ROLLED_BACK":
            failure.errors.append((nodes[index].reference_id, result.error))
        nodes[index].record_id = result.id


def _failure_body(failure: TreeFailure) -> dict[str, Any]:
    return {
        "hasErrors": True,
        "results": [
            {"referenceId": reference_id, "errors": [error.record_error()]}
            for reference_id, error in failure.errors
        ],
    }


@tree_api.post("/composite/tree/<name>")
def composite_tree(version: str, name: str) -> Response:
    """Create sObject trees rooted at `name`: 201 with every record's id, or 400 with the failing ones."""
    local = org()
    root = sobject_or_404(name)
    body = request_json()
    try:
        nodes = flatten_tree(local.store.schema, root, body)
        create_tree(local.store, nodes)
    except TreeFailure as failure:
        return json_response(_failure_body(failure), 400)
    # Salesforce lists the results level by level: every root first, then the second level, and so on.
    ordered = sorted(range(len(nodes)), key=lambda i: (nodes[i].depth, i))
    results = [{"referenceId": nodes[i].reference_id, "id": nodes[i].record_id} for i in ordered]
    return json_response({"hasErrors": False, "results": results}, 201)
