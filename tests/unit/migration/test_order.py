"""A plan's steps in dependency order: waves, self-references and loops deferred to an update pass."""

from __future__ import annotations

from typing import Any

import pytest

from dms.migration.order import order_steps
from dms.migration.spec import InvalidPlan, load_plan_text, parse_plan


def step(name: str, obj: str, *refs: tuple[str, str, Any], key: str | None = "Id") -> dict[str, Any]:
    fields = [{"target": target, "source": f"{target.lower()}_ref", "ref": ref} for target, _, ref in refs]
    return {
        "name": name,
        "object": obj,
        "source": {"upload_id": f"up-{name}"},
        "key": key,
        "mapping": {"fields": [{"target": "Name", "source": "name"}, *fields]},
    }


def ref(to: str) -> tuple[str, str, Any]:
    return ("", "", {"step": to})


def crm() -> dict[str, Any]:
    return {
        "name": "crm",
        "steps": [
            step(
                "tasks", "Task", ("WhatId", "", {"by": "what_type", "steps": {"A": "accounts", "O": "deals"}})
            ),
            step("accounts", "Account", ("ParentId", "", {"step": "accounts"})),
            step(
                "contacts",
                "Contact",
                ("AccountId", "", {"step": "accounts"}),
                ("ReportsToId", "", {"step": "contacts"}),
            ),
            step("deals", "Opportunity", ("AccountId", "", {"step": "accounts"})),
            step(
                "roles",
                "OpportunityContactRole",
                ("OpportunityId", "", {"step": "deals"}),
                ("ContactId", "", {"step": "contacts"}),
                key=None,
            ),
        ],
    }


def test_steps_load_in_waves_after_what_they_refer_to_whatever_the_plan_order() -> None:
    order = order_steps(parse_plan(crm()))
    assert order.waves == (("accounts",), ("contacts", "deals"), ("tasks", "roles"))
    assert order.load_after["tasks"] == ("accounts", "deals")  # polymorphic: every step it may point at
    assert order.load_after["roles"] == ("contacts", "deals")


def test_self_references_are_deferred_to_an_update_pass_with_a_reason() -> None:
    order = order_steps(parse_plan(crm()))
    deferred = {(d.reference.step, d.reference.target) for d in order.deferred}
    assert deferred == {("accounts", "ParentId"), ("contacts", "ReportsToId")}
    assert order.update_after == {"accounts": ("accounts",), "contacts": ("contacts",)}
    (reason,) = [d.reason for d in order.deferred_of("contacts")]
    assert "own step" in reason and "ReportsToId" in reason
    # The contacts' account is not deferred: accounts load first.
    assert "accounts" in order.load_after["contacts"]


def test_a_loop_between_steps_defers_the_reference_to_the_later_listed_step() -> None:
    plan = parse_plan(
        {
            "name": "loop",
            "steps": [
                step("accounts", "Account", ("Primary_Contact__c", "", {"step": "contacts"})),
                step("contacts", "Contact", ("AccountId", "", {"step": "accounts"})),
            ],
        }
    )
    order = order_steps(plan)
    assert [(d.reference.step, d.reference.target) for d in order.deferred] == [
        ("accounts", "Primary_Contact__c")
    ]
    assert "loop" in order.deferred[0].reason
    assert order.waves == (("accounts",), ("contacts",))
    assert order.update_after == {"accounts": ("accounts", "contacts")}


def test_yaml_and_json_read_the_same() -> None:
    yaml_text = """
name: small
steps:
  - name: accounts
    object: Account
    key: LegacyId
    source: {upload_id: up-1, sheet: Accounts}
    mapping:
      fields:
        - {target: Name, source: Company}
        - {target: ParentId, source: parent, ref: {step: accounts}}
"""
    plan = parse_plan(load_plan_text(yaml_text))
    assert plan.step("accounts").source == {"upload_id": "up-1", "sheet": "Accounts"}
    assert plan.step("accounts").mapping["fields"] == [{"target": "Name", "source": "Company"}]
    (reference,) = plan.references
    assert (reference.target, reference.source, reference.steps) == ("ParentId", "parent", ("accounts",))
    assert reference.key_of(plan, "accounts") == "LegacyId"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p["steps"][1].update(name="Accounts!"), "steps[1].name"),
        (lambda p: p["steps"].append(dict(p["steps"][1])), "steps"),
        (lambda p: p["steps"][3]["mapping"]["fields"][1]["ref"].update(step="nowhere"), "AccountId"),
        (lambda p: p["steps"][1].update(key=None), "WhatId"),  # referenced, but no legacy key column
        (lambda p: p["steps"][1].update(operation="delete"), "operation"),
        (lambda p: p["steps"][1].update(operation="upsert"), "external_id"),
        (lambda p: p["steps"][1].update(colour="red"), None),
        (lambda p: p["steps"][3]["mapping"]["fields"][1].update(transforms=[]), "AccountId"),
        # A source needs exactly one of upload_id and file: neither, both.
        (lambda p: p["steps"][1].update(source={"sheet": "Accounts"}), "source"),
        (lambda p: p["steps"][1]["source"].update(file="accounts.csv"), "source"),
        (lambda p: p["steps"][1].update(source={"file": " "}), "source.file"),
    ],
)
def test_a_plan_that_cannot_run_is_refused_naming_the_step_and_field(change: Any, field: str | None) -> None:
    plan = crm()
    change(plan)
    with pytest.raises(InvalidPlan) as raised:
        parse_plan(plan)
    assert raised.value.where.get("field") == field, raised.value.to_dict()


def test_a_source_is_an_upload_or_a_file_beside_the_plan() -> None:
    plan = crm()
    plan["steps"][1]["source"] = {"file": "accounts.xlsx", "sheet": "Accounts"}
    assert parse_plan(plan).step("accounts").source == {"file": "accounts.xlsx", "sheet": "Accounts"}
    plan["steps"][1]["source"] = {"member": "accounts.csv"}
    with pytest.raises(InvalidPlan, match="exactly one of `upload_id`.* or `file`.*it has neither"):
        parse_plan(plan)


def test_a_broken_yaml_file_says_where() -> None:
    with pytest.raises(InvalidPlan, match="line 3, column 1"):
        load_plan_text("name: x\nsteps: [\n", "plan.yaml")
