"""The `dms` CLI as a person runs it: the examples/ demo against a real web server, worker and localorg."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEMO = [
    "examples/accounts.csv",
    "--object",
    "Account",
    "--operation",
    "upsert",
    "--external-id",
    "Legacy_Id__c",
    "--mapping",
    "examples/accounts.mapping.json",
    "--wait",
]


def dms(web_url: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    # This checkout's dms, from any working directory.
    env = {
        **os.environ,
        "DMS_URL": web_url,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.run(
        [sys.executable, "-m", "dms.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_demo_rehearsal_then_load_with_exit_codes_and_error_file(
    web_url: str, worker: str, localorg: Any
) -> None:
    rehearsal = dms(web_url, "migrate", *DEMO, "--dry-run")
    assert rehearsal.returncode == 1, rehearsal.stderr
    assert re.search(r"52 rows 48 would load, 4 invalid", rehearsal.stdout), rehearsal.stdout

    load = dms(web_url, "migrate", *DEMO)
    assert load.returncode == 1, load.stderr
    # The load does not spend queries on looking external ids up (the rehearsal did): the row without a name is
    # sent, and Salesforce's refusal comes back against its source row like the three invalid rows.
    assert "48 succeeded" in load.stdout and "1 failed, 3 invalid" in load.stdout, load.stdout
    job_id = re.search(r"job (job-\S+)", load.stdout).group(1)  # type: ignore[union-attr]

    errors = dms(web_url, "results", job_id, "--errors")
    assert errors.returncode == 0
    rows = list(csv.DictReader(io.StringIO(errors.stdout.lstrip("\ufeff"))))
    assert [(r["source_row"], r["Kundennr"]) for r in rows] == [
        ("49", "K-1049"),
        ("50", "K-1050"),
        ("51", "K-1051"),
        ("52", "K-1052"),
    ]

    status = dms(web_url, "status", job_id)
    assert status.returncode == 1 and "completed_with_errors" in status.stdout
    sf = localorg.salesforce()
    assert sf.query("SELECT COUNT() FROM Account WHERE Legacy_Id__c LIKE 'K-10%'")["totalSize"] == 48


def test_cli_reports_an_unreachable_server_in_one_line(tmp_path: Path) -> None:
    result = dms("http://127.0.0.1:9", "jobs")
    assert result.returncode != 0
    assert "Cannot reach DMS" in result.stderr


def test_connections_are_added_tested_authorized_and_deleted_from_the_cli(
    web_url: str, localorg: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    # The secret comes from the environment, never from the command line.
    monkeypatch.setenv("DMS_SF_CLIENT_SECRET", localorg.client_secret)
    base = ["--name", "cli org", "--login-url", localorg.base_url, "--client-id", localorg.client_id]
    added = dms(web_url, "connections", "add", *base, "--flow", "client_credentials")
    assert added.returncode == 0, added.stderr
    connection_id = added.stdout.strip()
    assert "secrets set: client_secret" in added.stderr
    tested = dms(web_url, "connections", "test", connection_id)
    assert tested.returncode == 0 and tested.stdout.startswith("ok "), tested.stderr
    assert connection_id in dms(web_url, "connections", "list").stdout

    started = dms(web_url, "connections", "authorize", *base)
    assert started.returncode == 0, started.stderr
    assert started.stdout.startswith(localorg.base_url + "/services/oauth2/authorize?")
    assert "code_challenge_method=S256" in started.stdout and "approve" in started.stderr

    key_file = tmp_path / "key.pem"
    key_file.write_text("not a key")
    refused = dms(
        web_url, "connections", "add", *base, "--username", "u", "--private-key-file", str(key_file)
    )
    assert (
        refused.returncode == 1 and "INVALID_CONNECTION" in refused.stderr and "private_key" in refused.stderr
    )

    deleted = dms(web_url, "connections", "delete", connection_id)
    assert deleted.returncode == 0
    assert connection_id not in dms(web_url, "connections", "list").stdout


def write_plan_files(directory: Path, prefix: str, accounts_ref: str = "accounts") -> Path:
    """accounts.csv (a child listed before its parent, one account without a name), contacts.csv (one of
    the nameless account), and plan.yaml naming them by paths relative to itself."""
    (directory / "data").mkdir()
    (directory / "data" / "accounts.csv").write_text(
        "LegacyId,Company,ParentRef\n"
        f"{prefix}-A2,{prefix} Child,{prefix}-A1\n"
        f"{prefix}-A1,{prefix} Root,\n"
        f"{prefix}-A3,,{prefix}-A1\n",  # row 3: no name
        encoding="utf-8",
    )
    (directory / "data" / "contacts.csv").write_text(
        "ContactRef,AccountRef,Last\n"
        f"{prefix}-C1,{prefix}-A1,Boss\n"
        f"{prefix}-C2,{prefix}-A2,Worker\n"
        f"{prefix}-C3,{prefix}-A3,Lost\n",  # row 3: its account did not load
        encoding="utf-8",
    )
    plan = directory / "plan.yaml"
    plan.write_text(
        f"""name: cli {prefix}
steps:
  - name: contacts
    object: Contact
    key: ContactRef
    source: {{file: data/contacts.csv}}
    mapping:
      fields:
        - {{target: LastName, source: Last}}
        - {{target: AccountId, source: AccountRef, ref: {{step: {accounts_ref}}}}}
  - name: accounts
    object: Account
    key: LegacyId
    source: {{file: data/accounts.csv}}
    mapping:
      fields:
        - {{target: Name, source: Company}}
        - {{target: Legacy_Id__c, source: LegacyId}}
        - {{target: ParentId, source: ParentRef, ref: {{step: accounts}}}}
""",
        encoding="utf-8",
    )
    return plan


def test_a_plan_file_is_uploaded_run_followed_and_its_results_downloaded(
    web_url: str, worker: str, localorg: Any, tmp_path: Path
) -> None:
    prefix = uuid.uuid4().hex[:8]
    write_plan_files(tmp_path, prefix)

    rehearsal = dms(web_url, "plan", "run", "plan.yaml", "--dry-run", "--wait", cwd=tmp_path)
    assert rehearsal.returncode == 1, rehearsal.stderr
    assert rehearsal.stdout.splitlines()[1:] == [
        "  contacts [Contact insert] done: 3 rows, 2 would load, 1 not (1 invalid)",
        "  accounts [Account insert] done: 3 rows, 2 would load, 1 not (1 invalid); "
        "deferred fields would be set: 1, would not: 0",
    ], rehearsal.stdout

    run = dms(web_url, "plan", "run", "plan.yaml", "--wait", cwd=tmp_path)
    assert run.returncode == 1, run.stderr  # completed with errors: exit code as for `dms migrate`
    plan_id = re.search(r"plan (plan-\S+) completed_with_errors", run.stdout).group(1)  # type: ignore[union-attr]
    assert "uploaded accounts.csv for step accounts" in run.stderr
    assert f"plan {plan_id} accounts [Account insert] done: " in run.stderr  # a step's progress line
    assert run.stdout.splitlines()[1:] == [
        "  contacts [Contact insert] done: 3 rows, 2 loaded, 1 not (1 invalid)",
        "  accounts [Account insert] done: 3 rows, 2 loaded, 1 not (1 invalid); "
        "deferred fields set: 1, not set: 0",
    ], run.stdout
    assert f"dms plan results {plan_id} --step contacts --errors" in run.stderr
    sf = localorg.salesforce()
    accounts = sf.query(f"SELECT Id, ParentId, Legacy_Id__c FROM Account WHERE Name LIKE '{prefix}%'")[
        "records"
    ]
    by_key = {a["Legacy_Id__c"]: a for a in accounts}
    assert set(by_key) == {f"{prefix}-A1", f"{prefix}-A2"}
    assert by_key[f"{prefix}-A2"]["ParentId"] == by_key[f"{prefix}-A1"]["Id"]

    results = dms(web_url, "plan", "results", plan_id, cwd=tmp_path)
    assert results.returncode == 0, results.stderr
    archive = zipfile.ZipFile(tmp_path / f"{plan_id}-results.zip")
    assert set(archive.namelist()) == {
        "summary.json",
        "accounts/success.csv",
        "accounts/errors.csv",
        "accounts/deferred_errors.csv",
        "contacts/success.csv",
        "contacts/errors.csv",
    }
    assert json.loads(archive.read("summary.json"))["state"] == "completed_with_errors"

    errors = dms(web_url, "plan", "results", plan_id, "--step", "contacts", "--errors")
    assert errors.returncode == 0, errors.stderr
    rows = list(csv.DictReader(io.StringIO(errors.stdout.lstrip("\ufeff"))))
    assert [(r["source_row"], r["error_code"]) for r in rows] == [("3", "PARENT_NOT_LOADED")]

    status = dms(web_url, "plan", "status", plan_id)
    assert status.returncode == 1 and status.stdout.startswith(f"plan {plan_id} completed_with_errors:")
    assert plan_id in dms(web_url, "plan", "list").stdout


def test_a_bad_plan_file_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    plan = write_plan_files(tmp_path, "bad", accounts_ref="acounts")
    unreachable = "http://127.0.0.1:9"  # it is checked here first: no server is asked

    refused = dms(unreachable, "plan", "run", str(plan))
    assert refused.returncode == 2
    assert "Step contacts: field AccountId refers to step 'acounts'" in refused.stderr, refused.stderr

    plan.write_text(
        plan.read_text().replace("step: acounts", "step: accounts").replace("data/accounts", "data/acounts")
    )
    refused = dms(unreachable, "plan", "run", str(plan))
    assert refused.returncode == 2
    assert "Step accounts: `source.file` data/acounts.csv is not a file" in refused.stderr, refused.stderr


def test_a_plan_only_the_server_can_refuse_exits_as_a_bad_plan_file(web_url: str, tmp_path: Path) -> None:
    plan = write_plan_files(tmp_path, "org")
    plan.write_text(plan.read_text().replace("object: Account", "object: Acount"))

    refused = dms(web_url, "plan", "run", str(plan))
    assert refused.returncode == 2
    assert "INVALID_PLAN: Step accounts:" in refused.stderr, refused.stderr


def test_a_zip_export_becomes_a_plan_file_that_runs(web_url: str, worker: str, tmp_path: Path) -> None:
    """`dms plan skeleton` drafts plan.yaml beside the export; as drafted, `dms plan run` rehearses it."""
    prefix = uuid.uuid4().hex[:8]
    with zipfile.ZipFile(tmp_path / "export.zip", "w") as archive:
        archive.writestr(
            "Accounts.csv", f"LegacyId,Account Name,ParentRef\nA1,{prefix} root,\nA2,{prefix} child,A1\n"
        )
        archive.writestr("contacts.csv", "Legacy Id,Last Name,AccountRef\nC1,One,A1\nC2,Two,A9\n")
    drafted = dms(web_url, "plan", "skeleton", "export.zip", "-o", "plan.yaml", cwd=tmp_path)
    assert drafted.returncode == 0, drafted.stderr
    plan = yaml.safe_load((tmp_path / "plan.yaml").read_text())
    assert [(s["name"], s["object"], s["source"]) for s in plan["steps"]] == [
        ("accounts", "Account", {"file": "export.zip", "member": "Accounts.csv"}),
        ("contacts", "Contact", {"file": "export.zip", "member": "contacts.csv"}),
    ]
    rehearsal = dms(web_url, "plan", "run", "plan.yaml", "--dry-run", "--wait", cwd=tmp_path)
    assert rehearsal.returncode == 1, rehearsal.stderr  # C2's account A9 is in no file
    assert "  contacts [Contact insert] done: 2 rows, 1 would load, 1 not (1 invalid)" in rehearsal.stdout


def test_the_demo_plan_rehearses_as_the_banner_prints_it(web_url: str, worker: str) -> None:
    from tests.unit.migration.test_example_plan import INSERT, readme_outcomes

    rehearsal = dms(web_url, "plan", "run", "examples/legacy-crm/plan.yaml", "--dry-run", "--wait")
    assert rehearsal.returncode == 1, rehearsal.stderr  # the export's bad rows
    not_loaded: dict[str, set[int]] = {}
    for step, kind, row, _ in readme_outcomes():
        if kind == INSERT:
            not_loaded.setdefault(step, set()).add(row)
    for step, rows in not_loaded.items():
        assert re.search(
            rf"  {step} \[\w+ insert\] done: \d+ rows, \d+ would load, {len(rows)} not", rehearsal.stdout
        ), (
            step,
            rehearsal.stdout,
        )
