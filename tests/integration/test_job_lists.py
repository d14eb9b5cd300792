"""Jobs and plans lists narrowed by state, object, owner, time and rehearsal, paged by cursor; and a job's
throughput (rows/s, ETA, rows settled over time) for its chart."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.conftest import calling_as
from tests.integration.pipeline_helpers import run_job, upload, wait_final
from tests.integration.test_security import new_user


def ids(answer: Any, key: str = "jobs") -> list[str]:
    assert answer.status_code == 200, answer.json
    return [item["id"] for item in answer.json[key]]


def test_a_users_jobs_are_filtered_and_paged_and_others_are_for_admins(
    app: Any, client: Any, worker: str, tmp_path: Path
) -> None:
    alice_user, _, alice_token = new_user("operator")
    alice = calling_as(app, alice_token)
    bob = calling_as(app, new_user("operator")[2])
    prefix = uuid.uuid4().hex[:8]
    path = tmp_path / "accounts.csv"
    path.write_text("Name,Legacy_Id__c\n" + "".join(f"N{n},{prefix}-{n}\n" for n in range(300)))
    started = datetime.now(UTC) - timedelta(seconds=1)
    account_upload = upload(alice, path)
    rehearsal = run_job(alice, upload_id=account_upload, object="Account", operation="insert", dry_run=True)
    load = run_job(
        alice, upload_id=account_upload, object="Account", operation="insert", options={"chunk_rows": 100}
    )
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("LastName\nOne\n")
    contact = run_job(
        alice, upload_id=upload(alice, contacts), object="Contact", operation="insert", dry_run=True
    )
    theirs = run_job(bob, upload_id=upload(bob, contacts), object="Contact", operation="insert", dry_run=True)

    mine = [contact["id"], load["id"], rehearsal["id"]]
    assert ids(alice.get("/api/v1/jobs")) == mine  # newest first, never bob's
    assert ids(alice.get("/api/v1/jobs?object=account")) == [load["id"], rehearsal["id"]]
    assert ids(alice.get("/api/v1/jobs?dry_run=true")) == [contact["id"], rehearsal["id"]]
    assert ids(alice.get("/api/v1/jobs?dry_run=false&object=Account")) == [load["id"]]
    assert ids(alice.get("/api/v1/jobs?state=completed&object=Contact")) == [contact["id"]]
    assert ids(alice.get(f"/api/v1/jobs?since={quote(started.isoformat())}")) == mine
    assert ids(alice.get(f"/api/v1/jobs?until={quote(started.isoformat())}")) == []
    assert ids(alice.get(f"/api/v1/jobs?until={datetime.now(UTC).date().isoformat()}")) == mine

    first = alice.get("/api/v1/jobs?limit=2").json
    assert [j["id"] for j in first["jobs"]] == mine[:2] and first["next_cursor"] == mine[1]
    rest = alice.get(f"/api/v1/jobs?limit=2&cursor={first['next_cursor']}").json
    assert [j["id"] for j in rest["jobs"]] == mine[2:] and rest["next_cursor"] is None

    forbidden = alice.get("/api/v1/jobs?owner=someone-else")
    assert forbidden.status_code == 403 and forbidden.json["error"]["where"]["field"] == "owner"
    assert ids(client.get(f"/api/v1/jobs?owner={alice_user['id']}&limit=10")) == mine
    assert theirs["id"] in ids(client.get("/api/v1/jobs?object=Contact&state=completed&limit=500"))
    for query, field in (
        ("state=done", "state"),
        ("since=yesterday", "since"),
        ("dry_run=yes", "dry_run"),
        ("cursor=plan-1", "cursor"),
        ("limit=0", "limit"),
    ):
        bad = alice.get(f"/api/v1/jobs?{query}")
        assert bad.status_code == 400 and bad.json["error"]["where"]["field"] == field, (query, bad.json)

    # The load's chunks settled one by one: its throughput has a point per chunk and a pace.
    job = alice.get(f"/api/v1/jobs/{load['id']}").json
    series = job["throughput"]["series"]
    assert [point["rows"] for point in series] == [100, 200, 300]
    assert job["throughput"]["rows_per_second"] and job["throughput"]["rows_per_second"] > 0
    assert job["throughput"]["eta_seconds"] == 0 and job["throughput"]["as_of"] == series[-1]["at"]
    assert alice.get("/api/v1/jobs").json["jobs"][1]["throughput"]["rows_per_second"] is not None


def test_plans_are_filtered_by_state_and_owner(app: Any, client: Any, worker: str, tmp_path: Path) -> None:
    carol_user, _, carol_token = new_user("operator")
    carol = calling_as(app, carol_token)
    path = tmp_path / "accounts.csv"
    path.write_text("Name\nAcme\n")
    step = {
        "name": "accounts",
        "object": "Account",
        "mapping": {"fields": [{"target": "Name", "source": "Name"}]},
    }
    plan = {"name": "lists", "steps": [{**step, "source": {"upload_id": upload(carol, path)}}]}
    created = carol.post("/api/v1/plans", json={"plan": plan, "dry_run": True})
    assert created.status_code == 201, created.json
    done = wait_final(
        carol,
        f"/api/v1/plans/{created.json['id']}",
        {"completed", "completed_with_errors", "failed", "cancelled"},
        120,
    )
    assert ids(carol.get("/api/v1/plans"), "plans") == [done["id"]]
    assert ids(carol.get(f"/api/v1/plans?state={done['state']}"), "plans") == [done["id"]]
    assert ids(carol.get("/api/v1/plans?state=running"), "plans") == []
    assert ids(client.get(f"/api/v1/plans?owner={carol_user['id']}"), "plans") == [done["id"]]
    assert carol.get("/api/v1/plans?owner=someone").status_code == 403
    assert carol.get("/api/v1/plans?state=nope").json["error"]["where"]["field"] == "state"
