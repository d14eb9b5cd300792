"""A live sample of a mapping: the first rows' source values beside what each field rule makes of them.

The mapping editor shows it while a person sets a format, separators, boolean tokens or a value map. It runs
the pipeline's own `prepare` (no second implementation), one field rule at a time, so each cell shows its
own outcome even when another field would reject the row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from dms.errors import Translate
from dms.pipeline.columns import as_array
from dms.pipeline.describe import ObjectDescribe
from dms.pipeline.model import ROW_COLUMN
from dms.pipeline.prepare.automap import apply_profiles
from dms.pipeline.prepare.chunk import prepare
from dms.pipeline.prepare.compile import compile_for_sample
from dms.pipeline.prepare.infer import profile_columns
from dms.pipeline.prepare.options import PrepareOptions
from dms.pipeline.prepare.spec import FieldRule
from dms.pipeline.prepare.text import to_text


def sample_mapping(
    table: pa.Table,
    spec: Mapping[str, Any],
    describe: ObjectDescribe | Mapping[str, Any],
    *,
    rows: int,
    parent_describes: Mapping[str, Any] | None = None,
    translate: Translate = str,
) -> dict[str, Any]:
    """The first `rows` rows of `table` (a file's head) through each field rule of `spec` (its problems in
    `translate`'s language).

    Formats the head makes plain are filled in first, as a job's plan does (from the same rows), so the
    sample parses what the load will parse. Lookups are not looked up in the org: a sample spends no calls.
    """
    effective = apply_profiles(spec, profile_columns(table)) if isinstance(spec.get("fields"), list) else spec
    columns = [c for c in table.column_names if c != ROW_COLUMN]
    compiled = compile_for_sample(effective, describe, columns, parent_describes=parent_describes)
    head = table.slice(0, rows)
    options = PrepareOptions(parent_describes=parent_describes or {})
    # Readers number every row (__row__); a bare table is numbered from 1 under its header, as prepare does.
    numbers = (
        [int(n) for n in head.column(ROW_COLUMN).to_pylist()]
        if ROW_COLUMN in head.column_names
        else list(range(1, head.num_rows + 1))
    )
    read = [c for c in columns if any(c == r.source or c in r.concat for r in compiled.rules)]
    texts = {c: to_text(as_array(head.column(c))).to_pylist() for c in read}
    cells: list[dict[str, dict[str, Any]]] = [{} for _ in numbers]  # per row: target -> value and errors
    sampled = [
        {"row": row, "values": {c: texts[c][i] for c in read}, "fields": cells[i]}
        for i, row in enumerate(numbers)
    ]
    fields = []
    for rule in compiled.rules:
        outcome = _rule_outcome(head, dataclasses.replace(compiled, rules=[rule]), rule, describe, options)
        for row, row_cells in zip(numbers, cells, strict=True):
            row_cells[rule.target.header] = outcome.get(row, {"value": None, "errors": []})
        invalid = sum(1 for cell in outcome.values() if cell["errors"])
        fields.append(
            {
                "target": rule.target.header,
                "source": rule.column_label,
                "rule": effective["fields"][rule.position],
                "valid": len(numbers) - invalid,
                "invalid": invalid,
            }
        )
    return {
        "object": compiled.object,
        "operation": str(compiled.operation),
        "columns": read,
        "fields": fields,
        "rows": sampled,
        "problems": [problem.to_dict(translate) for problem in compiled.problems],
    }


def _rule_outcome(
    head: pa.Table,
    one_rule: Any,
    rule: FieldRule,
    describe: ObjectDescribe | Mapping[str, Any],
    options: PrepareOptions,
) -> dict[int, dict[str, Any]]:
    """Each row's value as it would be sent for this one rule (Bulk API text), or its errors."""
    prepared = prepare(head, one_rule, describe, options)
    header = rule.target.header
    outcome: dict[int, dict[str, Any]] = {}
    sent = zip(
        prepared.table.column(ROW_COLUMN).to_pylist(), prepared.table.column(header).to_pylist(), strict=True
    )
    for row, value in sent:
        outcome[int(row)] = {"value": value, "errors": []}
    for error in prepared.errors:
        cell = outcome.setdefault(error.row, {"value": None, "errors": []})
        cell["errors"].append({"code": error.code, "message": error.message})
    return outcome
