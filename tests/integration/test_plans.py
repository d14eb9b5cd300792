"""Migration plans on the real stack: a graph of related objects loaded by legacy keys through a real worker
over SQS into localorg, read back field by field with simple-salesforce."""

from __future__ import annotations

import csv
import io
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

from dms.migration.states import PLAN_FINAL
from tests.integration.pipeline_helpers import org_client, records_by, upload, wait_final


def wait_plan(client: Any, plan_id: str, timeout: float = 180.0) -> dict[str, Any]:
    return wait_final(client, f"/api/v1/plans/{plan_id}", PLAN_FINAL, timeout)


def run_plan(client: Any, plan: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
    response = client.post("/api/v1/plans", json={"plan": plan, "dry_run": dry_run})
    assert response.status_code == 201, response.json
    return wait_plan(client, response.json["id"])


def step_rows(client: Any, plan: dict[str, Any], step: str, name: str) -> list[dict[str, str]]:
    response = client.get(f"/api/v1/plans/{plan['id']}/steps/{step}/{name}")
    assert response.status_code == 200, response.data[:500]
    return list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def accounts_and_contacts(
    client: Any, name: str, accounts: Path, contacts: Path, key: str, **options: Any
) -> dict[str, Any]:
    """A two-step plan: accounts by their `key` column, then contacts whose AccountRef is one of those keys."""
    return {
        "name": name,
        **({"options": options} if options else {}),
        "steps": [
            {
                "name": "accounts",
                "object": "Account",
                "key": key,
                "source": {"upload_id": upload(client, accounts)},
            },
            {
                "name": "contacts",
                "object": "Contact",
                "source": {"upload_id": upload(client, contacts)},
                "mapping": {
                    "fields": [
                        {"target": "LastName", "source": "Last"},
                        {"target": "AccountId", "source": "AccountRef", "ref": {"step": "accounts"}},
                    ]
                },
            },
        ],
    }


def hierarchy_plan(client: Any, tmp_path: Path, prefix: str) -> dict[str, Any]:
    """Accounts with parents (some listed after their children), contacts with managers, one bad account
    (no name) with a child account and a contact, and a contact of an account nobody has."""
    accounts = write_csv(
        tmp_path / "accounts.csv",
        ["LegacyId", "Company", "ParentRef"],
        [
            [f"{prefix}-A3", f"{prefix} Grandchild", f"{prefix}-A2"],
            [f"{prefix}-A1", f"{prefix} Root", ""],
            [f"{prefix}-A2", f"{prefix} Child", f"{prefix}-A1"],
            [f"{prefix}-A4", "", f"{prefix}-A1"],  # row 4: no name, invalid
            [f"{prefix}-A5", f"{prefix} Orphan child", f"{prefix}-A4"],  # its parent is row 4
        ],
    )
    contacts = write_csv(
        tmp_path / "contacts.csv",
        ["ContactRef", "AccountRef", "Last", "ManagerRef"],
        [
            [f"{prefix}-C1", f"{prefix}-A1", "Boss", ""],
            [f"{prefix}-C2", f"{prefix}-A2", "Worker", f"{prefix}-C1"],
            [f"{prefix}-C3", f"{prefix}-A3", "Intern", f"{prefix}-C2"],
            [f"{prefix}-C4", f"{prefix}-A4", "Lost", ""],  # row 4: its account did not load
            [f"{prefix}-C5", "A-9999", "Nowhere", ""],  # row 5: no such account
        ],
    )
    return {
        "name": f"hierarchy {prefix}",
        "options": {"chunk_rows": 2},
        "steps": [
            {
                "name": "contacts",
                "object": "Contact",
                "key": "ContactRef",
                "source": {"upload_id": upload(client, contacts)},
                "mapping": {
                    "fields": [
                        {"target": "LastName", "source": "Last"},
                        {"target": "AccountId", "source": "AccountRef", "ref": {"step": "accounts"}},
                        {"target": "ReportsToId", "source": "ManagerRef", "ref": {"step": "contacts"}},
                    ]
                },
            },
            {
                "name": "accounts",
                "object": "Account",
                "key": "LegacyId",
                "source": {"upload_id": upload(client, accounts)},
                "mapping": {
                    "fields": [
                        {"target": "Name", "source": "Company"},
                        {"target": "Legacy_Id__c", "source": "LegacyId"},
                        {"target": "ParentId", "source": "ParentRef", "ref": {"step": "accounts"}},
                    ]
                },
            },
        ],
    }


def test_a_plan_loads_a_hierarchy_in_order_and_holds_back_children_of_rows_that_did_not_load(
    client: Any, worker: str, localorg: Any, tmp_path: Path
) -> None:
    prefix = uuid.uuid4().hex[:8]
    plan = run_plan(client, hierarchy_plan(client, tmp_path, prefix))

    assert plan["state"] == "completed_with_errors", plan
    assert plan["waves"] == [["accounts"], ["contacts"]]  # contacts wait for accounts, whatever the order
    deferred = {(d["step"], d["field"]) for d in plan["deferred"]}
    assert deferred == {("accounts", "ParentId"), ("contacts", "ReportsToId")}
    steps = {s["name"]: s for s in plan["steps"]}
    assert steps["accounts"]["counters"]["loaded"] == 4
    assert steps["accounts"]["counters"]["invalid"] == 1
    assert steps["contacts"]["counters"]["loaded"] == 3
    assert steps["contacts"]["counters"]["invalid"] == 2
    # Parents set by the update pass: A3 -> A2 -> A1; A5's parent (row 4) did not load.
    assert steps["accounts"]["counters"]["deferred_set"] == 2
    assert steps["accounts"]["counters"]["deferred_not_set"] == 1
    assert steps["contacts"]["counters"]["deferred_set"] == 2

    sf = org_client(localorg)
    accounts = records_by(
        sf,
        f"SELECT Id, Name, ParentId, Legacy_Id__c FROM Account WHERE Name LIKE '{prefix}%'",
        "Legacy_Id__c",
    )
    assert set(accounts) == {f"{prefix}-A{n}" for n in (1, 2, 3, 5)}
    ids = {key: record["Id"] for key, record in accounts.items()}
    assert accounts[f"{prefix}-A1"]["ParentId"] is None
    assert accounts[f"{prefix}-A2"]["ParentId"] == ids[f"{prefix}-A1"]
    assert accounts[f"{prefix}-A3"]["ParentId"] == ids[f"{prefix}-A2"]
    assert accounts[f"{prefix}-A5"]["ParentId"] is None  # its parent never loaded

    contacts = records_by(
        sf,
        "SELECT Id, LastName, AccountId, ReportsToId FROM Contact WHERE AccountId IN "
        f"('{ids[f'{prefix}-A1']}', '{ids[f'{prefix}-A2']}', '{ids[f'{prefix}-A3']}')",
        "LastName",
    )
    assert set(contacts) == {"Boss", "Worker", "Intern"}
    assert contacts["Boss"]["AccountId"] == ids[f"{prefix}-A1"]
    assert contacts["Worker"]["AccountId"] == ids[f"{prefix}-A2"]
    assert contacts["Intern"]["AccountId"] == ids[f"{prefix}-A3"]
    assert contacts["Boss"]["ReportsToId"] is None
    assert contacts["Worker"]["ReportsToId"] == contacts["Boss"]["Id"]
    assert contacts["Intern"]["ReportsToId"] == contacts["Worker"]["Id"]

    # Row by row: what loaded, with its Id, and why each other row did not.
    success = {r["source_row"]: r for r in step_rows(client, plan, "accounts", "success.csv")}
    assert {r: success[r]["salesforce_id"] for r in success} == {
        "1": ids[f"{prefix}-A3"],
        "2": ids[f"{prefix}-A1"],
        "3": ids[f"{prefix}-A2"],
        "5": ids[f"{prefix}-A5"],
    }
    errors = {r["source_row"]: r for r in step_rows(client, plan, "contacts", "errors.csv")}
    assert set(errors) == {"4", "5"}
    assert errors["4"]["error_code"] == "PARENT_NOT_LOADED"
    assert "row 4 of step accounts" in errors["4"]["error_message"]
    assert "REQUIRED_FIELD_MISSING" in errors["4"]["error_message"]
    assert errors["5"]["error_code"] == "REFERENCE_NOT_FOUND"
    assert errors["5"]["AccountRef"] == "A-9999"
    deferred_errors = step_rows(client, plan, "accounts", "deferred_errors.csv")
    assert [(r["source_row"], r["error_code"]) for r in deferred_errors] == [("5", "PARENT_NOT_LOADED")]

    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/api/v1/plans/{plan['id']}/results").data))
    assert set(archive.namelist()) >= {
        "summary.json",
        "accounts/success.csv",
        "accounts/errors.csv",
        "accounts/deferred_errors.csv",
        "contacts/success.csv",
        "contacts/errors.csv",
    }


def test_a_rehearsal_of_a_plan_reports_missing_parents_across_files_and_writes_nothing(
    client: Any, worker: str, localorg: Any, tmp_path: Path
) -> None:
    prefix = uuid.uuid4().hex[:8]
    plan = run_plan(client, hierarchy_plan(client, tmp_path, prefix), dry_run=True)

    assert plan["state"] == "completed_with_errors", plan
    assert plan["dry_run"] is True
    steps = {s["name"]: s for s in plan["steps"]}
    assert steps["accounts"]["counters"]["valid"] == 4
    assert steps["contacts"]["counters"]["valid"] == 3, [
        r["error_message"] for r in step_rows(client, plan, "contacts", "errors.csv")
    ]
    errors = {r["source_row"]: r["error_code"] for r in step_rows(client, plan, "contacts", "errors.csv")}
    assert errors == {"4": "PARENT_NOT_LOADED", "5": "REFERENCE_NOT_FOUND"}
    assert plan["estimated_api_calls"] > 0
    sf = org_client(localorg)
    assert sf.query(f"SELECT COUNT() FROM Account WHERE Name LIKE '{prefix}%'")["totalSize"] == 0


def test_a_retry_of_a_plan_resends_only_what_did_not_load_then_the_children_held_back(
    client: Any, worker: str, localorg: Any, tmp_path: Path
) -> None:
    """Account A2 fails in Salesforce (another record holds its legacy id), so its child account's parent
    and its contact wait; once the org is fixed, the retry sends A2 alone, then what waited for it."""
    prefix = uuid.uuid4().hex[:8]
    sf = org_client(localorg)
    blocker = sf.Account.create({"Name": f"blocker {prefix}", "Legacy_Id__c": f"{prefix}-A2"})["id"]
    first = run_plan(client, hierarchy_plan(client, tmp_path, prefix))
    assert first["state"] == "completed_with_errors"
    steps = {s["name"]: s["counters"] for s in first["steps"]}
    assert (steps["accounts"]["loaded"], steps["accounts"]["failed"], steps["accounts"]["invalid"]) == (
        3,
        1,
        1,
    )
    assert (steps["accounts"]["deferred_set"], steps["accounts"]["deferred_not_set"]) == (0, 2)
    assert (steps["contacts"]["loaded"], steps["contacts"]["invalid"]) == (2, 3)
    errors = {r["source_row"]: r["error_code"] for r in step_rows(client, first, "accounts", "errors.csv")}
    assert errors == {"3": "DUPLICATE_VALUE", "4": "REQUIRED_FIELD_MISSING"}

    sf.Account.delete(blocker)
    response = client.post(f"/api/v1/plans/{first['id']}/retry")
    assert response.status_code == 200, response.json
    again = wait_plan(client, first["id"])
    assert again["attempt"] == 2
    assert again["state"] == "completed_with_errors"  # A4 has no name: it fails again, with its children
    steps = {s["name"]: s for s in again["steps"]}
    passes = {(p["kind"], p["attempt"]): p["counters"] for p in steps["accounts"]["passes"]}
    retried = passes[("load", 2)]
    assert (retried["succeeded"], retried["invalid"], retried["skipped"]) == (1, 1, 3)  # A2 sent again, alone
    assert passes[("update", 2)]["succeeded"] == 2  # A2's parent, and A3's (A2) at last
    contact_passes = {(p["kind"], p["attempt"]): p["counters"] for p in steps["contacts"]["passes"]}
    assert (contact_passes[("load", 2)]["succeeded"], contact_passes[("load", 2)]["skipped"]) == (1, 2)
    assert contact_passes[("update", 2)]["succeeded"] == 2
    assert steps["accounts"]["counters"]["loaded"] == 4
    assert steps["contacts"]["counters"]["loaded"] == 3

    accounts = records_by(
        sf, f"SELECT Id, ParentId, Legacy_Id__c FROM Account WHERE Name LIKE '{prefix}%'", "Legacy_Id__c"
    )
    assert set(accounts) == {f"{prefix}-A{n}" for n in (1, 2, 3, 5)}  # each once
    assert accounts[f"{prefix}-A2"]["ParentId"] == accounts[f"{prefix}-A1"]["Id"]
    assert accounts[f"{prefix}-A3"]["ParentId"] == accounts[f"{prefix}-A2"]["Id"]
    contacts = records_by(
        sf,
        "SELECT Id, LastName, AccountId, ReportsToId FROM Contact WHERE AccountId IN ("
        + ",".join(f"'{r['Id']}'" for r in accounts.values())
        + ")",
        "LastName",
    )
    assert set(contacts) == {"Boss", "Worker", "Intern"}
    assert contacts["Worker"]["AccountId"] == accounts[f"{prefix}-A2"]["Id"]
    assert contacts["Worker"]["ReportsToId"] == contacts["Boss"]["Id"]
    assert contacts["Intern"]["ReportsToId"] == contacts["Worker"]["Id"]
    # The step's results are its state now: A2 among the loaded rows, only A4 in errors.
    success = {r["source_row"] for r in step_rows(client, again, "accounts", "success.csv")}
    assert success == {"1", "2", "3", "5"}
    errors = {r["source_row"]: r["error_code"] for r in step_rows(client, again, "accounts", "errors.csv")}
    assert errors == {"4": "REQUIRED_FIELD_MISSING"}


def test_steps_read_the_sheets_of_one_workbook_and_the_files_of_one_zip(
    client: Any, worker: str, localorg: Any, tmp_path: Path
) -> None:
    """Accounts from a sheet of a workbook, contacts from a CSV inside a zip, in one plan."""
    import openpyxl

    prefix = uuid.uuid4().hex[:8]
    workbook = openpyxl.Workbook()
    cover = workbook.active
    cover.title = "Read me"
    cover.append(["exported by the legacy CRM"])
    sheet = workbook.create_sheet("Accounts")
    sheet.append(["LegacyId", "Company"])
    for n in (1, 2):
        sheet.append([1000 + n, f"{prefix} Sheet {n}"])  # numbers: Excel keys are numbers, CSV keys text
    workbook.save(tmp_path / "export.xlsx")
    with zipfile.ZipFile(tmp_path / "export.zip", "w") as archive:
        archive.writestr(
            "export/contacts.csv", "Ref,AccountRef,Last\nC1,1001,One\nC2,1002,Two\nC3,1003,Three\n"
        )
        archive.writestr("__MACOSX/export/._contacts.csv", "junk")
    plan = run_plan(
        client,
        {
            "name": f"workbook and zip {prefix}",
            "steps": [
                {
                    "name": "accounts",
                    "object": "Account",
                    "key": "LegacyId",
                    "source": {"upload_id": upload(client, tmp_path / "export.xlsx"), "sheet": "Accounts"},
                    "mapping": {"fields": [{"target": "Name", "source": "Company"}]},
                },
                {
                    "name": "contacts",
                    "object": "Contact",
                    "source": {
                        "upload_id": upload(client, tmp_path / "export.zip"),
                        "member": "export/contacts.csv",
                    },
                    "mapping": {
                        "fields": [
                            {"target": "LastName", "source": "Last"},
                            {"target": "AccountId", "source": "AccountRef", "ref": {"step": "accounts"}},
                        ]
                    },
                },
            ],
        },
    )
    assert plan["state"] == "completed_with_errors", plan
    steps = {s["name"]: s["counters"] for s in plan["steps"]}
    assert (steps["accounts"]["loaded"], steps["contacts"]["loaded"], steps["contacts"]["invalid"]) == (
        2,
        2,
        1,
    )
    sf = org_client(localorg)
    accounts = records_by(sf, f"SELECT Id, Name FROM Account WHERE Name LIKE '{prefix} Sheet %'", "Name")
    contacts = records_by(
        sf,
        "SELECT LastName, AccountId FROM Contact WHERE AccountId IN ("
        + ",".join(f"'{a['Id']}'" for a in accounts.values())
        + ")",
        "LastName",
    )
    assert {name: c["AccountId"] for name, c in contacts.items()} == {
        "One": accounts[f"{prefix} Sheet 1"]["Id"],
        "Two": accounts[f"{prefix} Sheet 2"]["Id"],
    }
    errors = step_rows(client, plan, "contacts", "errors.csv")
    assert [(r["source_row"], r["error_code"]) for r in errors] == [("3", "REFERENCE_NOT_FOUND")]


def test_a_zip_member_that_is_not_there_fails_the_plan_saying_which(
    client: Any, worker: str, tmp_path: Path
) -> None:
    with zipfile.ZipFile(tmp_path / "export.zip", "w") as archive:
        archive.writestr("accounts.csv", "Name\nA\n")
    response = client.post(
        "/api/v1/plans",
        json={
            "plan": {
                "name": "missing member",
                "steps": [
                    {
                        "name": "accounts",
                        "object": "Account",
                        "source": {
                            "upload_id": upload(client, tmp_path / "export.zip"),
                            "member": "acounts.csv",
                        },
                        "mapping": {"fields": [{"target": "Name", "source": "Name"}]},
                    }
                ],
            }
        },
    )
    assert response.status_code == 201, response.json
    plan = wait_plan(client, response.json["id"])
    assert plan["state"] == "failed"
    assert plan["error"]["code"] == "ZIP_SOURCE_INVALID"
    assert "acounts.csv" in plan["error"]["message"] and "accounts.csv" in plan["error"]["message"]


def test_a_workbook_with_a_sheet_per_object_becomes_a_plan_skeleton_with_its_references(
    client: Any, worker: str, tmp_path: Path
) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    accounts = workbook.active
    accounts.title = "Accounts"
    accounts.append(["LegacyId", "Account Name", "ParentRef", "Phone"])
    contacts = workbook.create_sheet("Contacts")
    contacts.append(["Legacy Id", "Last Name", "AccountRef", "Shoe size"])
    workbook.create_sheet("Notes to self").append(["text"])
    workbook.save(tmp_path / "export.xlsx")
    upload_id = upload(client, tmp_path / "export.xlsx")

    response = client.post("/api/v1/plans/skeleton", json={"upload_id": upload_id})
    assert response.status_code == 200, response.json
    plan, notes = response.json["plan"], response.json["notes"]
    steps = {s["name"]: s for s in plan["steps"]}
    assert (steps["accounts"]["object"], steps["contacts"]["object"]) == ("Account", "Contact")
    assert steps["accounts"]["key"] == "LegacyId" and steps["contacts"]["key"] == "Legacy Id"
    assert steps["contacts"]["source"] == {"upload_id": upload_id, "sheet": "Contacts"}
    account_fields = {f["target"]: f for f in steps["accounts"]["mapping"]["fields"]}
    assert account_fields["Name"]["source"] == "Account Name"
    assert account_fields["ParentId"] == {
        "target": "ParentId",
        "source": "ParentRef",
        "ref": {"step": "accounts"},
    }
    contact_fields = {f["target"]: f for f in steps["contacts"]["mapping"]["fields"]}
    assert contact_fields["AccountId"]["ref"] == {"step": "accounts"}
    assert any("Shoe size" in note for note in notes)
    assert any("Notes to self" in note for note in notes)
    # Once its one unknown object is dropped, the draft is a plan that runs (here: rehearsed).
    plan["steps"] = [s for s in plan["steps"] if s["object"]]
    rehearsal = run_plan(client, plan, dry_run=True)
    assert rehearsal["state"] == "completed" and rehearsal["waves"] == [["accounts"], ["contacts"]]


def test_a_plan_whose_advance_message_was_lost_is_moved_on_by_the_housekeeping_sweep(
    app: Any, client: Any, worker: str, tmp_path: Path
) -> None:
    from blueprints.api.jobs import current_pipeline
    from dms.migration.run import create_plan, requeue_stalled_plans
    from dms.pipeline.context import Pipeline

    path = write_csv(tmp_path / "accounts.csv", ["Name"], [["Lost message"]])
    with app.app_context():
        live = current_pipeline()
        lost = Pipeline(live.services, enqueue=lambda name, args: None)  # a queue that loses every message
        key = f"uploads/test-{uuid.uuid4().hex}/accounts.csv"
        live.blobs.put_file(key, path)
        document = {
            "name": "lost",
            "steps": [{"name": "accounts", "object": "Account", "source": {"upload_id": "test"}}],
        }
        sources = {"accounts": {"blob_key": key, "filename": "accounts.csv", "size": 20}}
        plan = create_plan(lost, document, sources, dry_run=False, owner={})
        time.sleep(1.0)
        assert client.get(f"/api/v1/plans/{plan['_id']}").json["state"] == "running"
        assert requeue_stalled_plans(live, stalled_after=3600) == 0  # not stalled yet
        assert requeue_stalled_plans(live, stalled_after=0.5) >= 1
    ended = wait_plan(client, plan["_id"])
    assert ended["state"] == "completed", ended["error"]
    assert ended["steps"][0]["counters"]["loaded"] == 1


def test_a_child_steps_chunks_hold_the_children_of_one_parent_each_with_their_own_row_numbers(
    app: Any, client: Any, worker: str, localorg: Any, tmp_path: Path
) -> None:
    """Contacts listed round-robin over three accounts, in chunks of 4: grouped by parent, each bulk job
    (chunk) holds one account's contacts, so no two of them wait for one account's lock."""
    from dms.pipeline import results as res

    prefix = uuid.uuid4().hex[:8]
    accounts = write_csv(
        tmp_path / "accounts.csv", ["Ref", "Name"], [[f"A{n}", f"{prefix} {n}"] for n in (1, 2, 3)]
    )
    contact_rows = [[f"C{n}", f"A{n % 3 + 1}", f"Contact {n}"] for n in range(1, 13)]
    contacts = write_csv(tmp_path / "contacts.csv", ["Ref", "AccountRef", "Last"], contact_rows)
    plan = run_plan(
        client,
        accounts_and_contacts(
            client, f"grouped {prefix}", accounts, contacts, "Ref", chunk_rows=4, api="bulk"
        ),
    )
    assert plan["state"] == "completed", plan
    (load,) = [p for s in plan["steps"] if s["name"] == "contacts" for p in s["passes"]]
    blobs = app.extensions["dms"].blobs
    parent_of_row = {n: f"A{n % 3 + 1}" for n in range(1, 13)}
    chunks = [res.succeeded_rows(blobs, load["job_id"], index) for index in range(3)]
    assert sorted(r for rows in chunks for r in rows) == list(range(1, 13))  # the file's own row numbers
    assert all(len({parent_of_row[r] for r in rows}) == 1 for rows in chunks), chunks
    # ...and each row is the contact it was in the file.
    success = {int(r["source_row"]): r for r in step_rows(client, plan, "contacts", "success.csv")}
    assert list(success) == list(range(1, 13))  # the step's results in the file's order, whatever the chunks
    sf = org_client(localorg)
    for row, line in success.items():
        record = sf.Contact.get(line["salesforce_id"])
        assert record["LastName"] == f"Contact {row}" == line["Last"]


def test_a_rehearsal_reports_keys_given_twice_within_a_step(client: Any, worker: str, tmp_path: Path) -> None:
    accounts = write_csv(
        tmp_path / "accounts.csv", ["LegacyId", "Name"], [["A1", "One"], ["A2", "Two"], ["A1", "One again"]]
    )
    contacts = write_csv(tmp_path / "contacts.csv", ["AccountRef", "Last"], [["A1", "Who"]])
    plan = run_plan(
        client, accounts_and_contacts(client, "duplicates", accounts, contacts, "LegacyId"), dry_run=True
    )
    assert plan["state"] == "completed_with_errors", plan  # a key given twice is an error to fix
    steps = {s["name"]: s for s in plan["steps"]}
    assert steps["accounts"]["duplicates"] == {"count": 1, "examples": [{"key": "A1", "rows": [1, 3]}]}


def test_a_cancelled_plan_starts_no_more_passes_and_ends_cancelled(
    client: Any, worker: str, tmp_path: Path
) -> None:
    accounts = write_csv(
        tmp_path / "accounts.csv", ["LegacyId", "Name"], [[f"K{n}", f"Cancel {n}"] for n in range(60)]
    )
    contacts = write_csv(tmp_path / "contacts.csv", ["AccountRef", "Last"], [["K1", "Never"]])
    plan_doc = accounts_and_contacts(client, "cancelled", accounts, contacts, "LegacyId", chunk_rows=5)
    response = client.post("/api/v1/plans", json={"plan": plan_doc})
    assert response.status_code == 201, response.json
    cancelled = client.post(f"/api/v1/plans/{response.json['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.json
    plan = wait_plan(client, response.json["id"])
    assert plan["state"] == "cancelled", plan
    steps = {s["name"]: s for s in plan["steps"]}
    assert [p["state"] for p in steps["contacts"]["passes"]] == ["not_run"]
    counters = steps["accounts"]["counters"]
    assert counters["pending"] == 0 and counters["total"] in (0, 60)
    again = client.post(f"/api/v1/plans/{plan['id']}/cancel")
    assert again.status_code == 409 and again.json["error"]["code"] == "PLAN_FINISHED"
