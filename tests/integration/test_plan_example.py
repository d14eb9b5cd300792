"""examples/legacy-crm through the real stack: five related objects loaded by one plan through a real worker
over SQS into localorg, then every record and every reference read back field by field with
simple-salesforce, and each step's results row by row against the README's account of the bad rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest

from dms.migration.spec import Step
from dms.pipeline.exported import restore
from tests.integration.pipeline_helpers import forget_the_example, org_client, upload
from tests.integration.test_plans import run_plan, step_rows
from tests.unit.migration.test_example_plan import EXAMPLE, INSERT, UPDATE, plan, readme_outcomes

LEGACY_KEY_FIELD = "Legacy_Id__c"  # what Account, Contact and Opportunity keep their legacy key in


def source_rows(step: Step) -> dict[int, dict[str, str]]:
    text = (EXAMPLE / step.source["file"]).read_text(encoding="utf-8-sig")
    return {n: row for n, row in enumerate(csv.DictReader(io.StringIO(text)), start=1)}


def same(org_value: Any, text: str) -> bool:
    """Whether the org holds what the file says (the file's text as the field's type reads it)."""
    text = text.strip()
    if org_value is None:
        return text == ""
    if isinstance(org_value, bool):
        return org_value == (text.lower() in ("true", "1", "yes"))
    if isinstance(org_value, (int, float)):
        return float(text) == float(org_value)
    return str(org_value) == text


@pytest.fixture(scope="module")
def example_run(client_module: Any, worker: str, localorg: Any) -> dict[str, Any]:
    forget_the_example(localorg)  # another test may have run the example into this org before
    document = plan_document(client_module)
    return run_plan(client_module, document)


@pytest.fixture(scope="module")
def client_module(app: Any, admin_token: str) -> Any:
    from tests.conftest import calling_as

    return calling_as(app, admin_token)


def plan_document(client: Any) -> dict[str, Any]:
    """plan.yaml with each step's file uploaded, as `dms plan run` sends it."""
    import yaml

    document = yaml.safe_load((EXAMPLE / "plan.yaml").read_text(encoding="utf-8"))
    for raw in document["steps"]:
        raw["source"] = {"upload_id": upload(client, EXAMPLE / raw["source"].pop("file"))}
    return dict(document)


def test_the_example_loads_every_good_record_with_every_field_and_reference_and_reports_each_bad_row(
    example_run: dict[str, Any], client_module: Any, localorg: Any
) -> None:
    outcomes = readme_outcomes()
    run = example_run
    assert run["state"] == "completed_with_errors", run
    sf = org_client(localorg)
    ids: dict[str, dict[str, str]] = {}  # step -> legacy key -> Salesforce Id, as the results say
    for step in plan().steps:
        rows = source_rows(step)
        not_loaded: dict[int, set[str]] = {}  # row -> its error codes (one per field at fault)
        for (s, kind, row, _), (code, _) in outcomes.items():
            if s == step.name and kind == INSERT:
                not_loaded.setdefault(row, set()).add(code)
        success = {int(r["source_row"]): r for r in step_rows(client_module, run, step.name, "success.csv")}
        errors = {int(r["source_row"]): r for r in step_rows(client_module, run, step.name, "errors.csv")}
        # Row by row: each row is in exactly one file, the bad ones with the README's reason.
        assert set(success) | set(errors) == set(rows), step.name
        assert not set(success) & set(errors), step.name
        assert {row: set(errors[row]["error_code"].split("; ")) for row in errors} == not_loaded, step.name
        for row, line in errors.items():
            # The row as it was (DMS's quote before a formula-like cell, e.g. +1 415..., taken off).
            assert all(restore(line[c]) == rows[row][c] for c in rows[row]), (step.name, row, line)
        if step.key:
            ids[step.name] = {rows[row][step.key]: line["salesforce_id"] for row, line in success.items()}

        fields = [
            "Id",
            *(rule["target"] for rule in step.mapping["fields"]),
            *(r.target for r in step.references),
        ]
        loaded = ",".join(f"'{line['salesforce_id']}'" for line in success.values())
        soql = f"SELECT {', '.join(fields)} FROM {step.object} WHERE Id IN ({loaded})"
        records = {r["Id"]: r for r in sf.query_all_iter(soql)}
        assert len(records) == len(success), f"{step.name}: every loaded row is one record"
        deferred_failed = {(row, f) for (s, kind, row, f) in outcomes if s == step.name and kind == UPDATE}
        for row, line in success.items():
            record, source = records[line["salesforce_id"]], rows[row]
            for rule in step.mapping["fields"]:
                org_value = record[rule["target"]]
                if rule.get("format"):  # dates as the file writes them
                    org_value = dt.date.fromisoformat(org_value).strftime(rule["format"])
                assert same(org_value, source[rule["source"]]), (step.name, row, rule["target"], org_value)
            for ref in step.references:
                value = source[ref.source].strip()
                if not value or (row, ref.target) in deferred_failed:
                    assert record[ref.target] is None, (step.name, row, ref.target)
                    continue
                pointed = dict(ref.choices)[source[ref.by]] if ref.by else ref.steps[0]
                assert record[ref.target] == ids[pointed][value], (step.name, row, ref.target)


def test_the_example_counts_per_step_add_up_as_its_readme_says(example_run: dict[str, Any]) -> None:
    outcomes = readme_outcomes()
    for step in example_run["steps"]:
        counters = step["counters"]
        not_loaded = {row for (s, kind, row, _) in outcomes if s == step["name"] and kind == INSERT}
        assert counters["total"] - counters["loaded"] == len(not_loaded), step
        assert counters["pending"] == 0 and counters["failed"] + counters["invalid"] == len(not_loaded), step
        if step["deferred"]:
            not_set = {row for (s, kind, row, _) in outcomes if s == step["name"] and kind == UPDATE}
            assert counters["deferred_not_set"] == len(not_set), step
