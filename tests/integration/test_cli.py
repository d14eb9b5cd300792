"""The `dms` CLI as a person runs it: the examples/ demo against a real web server, worker and localorg."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

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


def dms(web_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DMS_URL": web_url}
    return subprocess.run(
        [sys.executable, "-m", "dms.cli", *args],
        cwd=ROOT,
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
