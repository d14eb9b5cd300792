"""The job's state machine, counters and public view, on literal documents."""

from __future__ import annotations

from typing import Any

import pytest

from dms.pipeline.jobstore import (
    JobError,
    final_state,
    is_finished_loading,
    job_counters,
    new_job_document,
    percent_done,
    progress,
    throughput,
    throughput_series,
)
from dms.pipeline.model import COUNTERS, Api, JobState, Operation


def job(state: str = "loading", **counters: int) -> dict[str, Any]:
    return {
        "_id": "job-1",
        "state": state,
        "created_at": "2026-12-02T00:00:00.000+00:00",
        "source": {"blob_key": "uploads/x/a.csv", "filename": "a.csv"},
        "target": {"object": "Account", "operation": "insert"},
        "options": {"dry_run": False},
        "counters": {**dict.fromkeys(COUNTERS, 0), **counters},
        "plan": {"chunks": 2, "total_rows": counters.get("total", 0)},
    }


def test_a_job_with_failed_or_invalid_rows_completes_with_errors() -> None:
    assert final_state(job(total=3, succeeded=3)) == JobState.COMPLETED
    assert final_state(job(total=3, succeeded=2, failed=1)) == JobState.COMPLETED_WITH_ERRORS
    assert final_state(job(total=3, succeeded=2, invalid=1)) == JobState.COMPLETED_WITH_ERRORS


def test_a_job_ends_cancelled_only_when_a_cancel_was_asked_and_rows_were_cancelled() -> None:
    asked = {**job(total=3, succeeded=1, cancelled=2), "cancel_requested": True}
    assert final_state(asked) == JobState.CANCELLED
    assert final_state({**job(total=3, succeeded=3), "cancel_requested": True}) == JobState.COMPLETED


def test_counters_add_up_from_the_chunks_and_pending_is_what_is_left() -> None:
    chunks = [
        {"rows": 4, "result": {"succeeded": 3, "created": 2, "updated": 1, "failed": 1}},
        {"rows": 5, "result": {"cancelled": 5}},
        {"rows": 6},  # staged, not loaded yet
    ]
    counters = job_counters({"total_rows": 17, "invalid_rows": 2}, chunks)
    assert counters == {
        "total": 17,
        "succeeded": 3,
        "created": 2,
        "updated": 1,
        "failed": 1,
        "invalid": 2,
        "cancelled": 5,
        "skipped": 0,
        "pending": 6,
    }


def test_rows_a_plan_pass_skipped_are_settled_not_pending() -> None:
    counters = job_counters({"total_rows": 10, "skipped_rows": 7}, [{"rows": 3, "result": {"succeeded": 3}}])
    assert (counters["skipped"], counters["succeeded"], counters["pending"]) == (7, 3, 0)


def test_while_planning_the_total_is_the_rows_of_the_chunks_staged_so_far() -> None:
    counters = job_counters(None, [{"rows": 4}, {"rows": 5, "result": {"succeeded": 5}}])
    assert (counters["total"], counters["succeeded"], counters["pending"]) == (9, 5, 4)


def test_a_loading_job_finishes_when_every_planned_chunk_is_settled_and_nothing_is_pending() -> None:
    assert is_finished_loading(job(total=3, succeeded=3), settled_chunks=2)
    assert not is_finished_loading(job(total=3, succeeded=3), settled_chunks=1)
    assert not is_finished_loading(job(total=3, succeeded=2, pending=1), settled_chunks=2)
    assert not is_finished_loading(job("planning", total=3, succeeded=3), settled_chunks=2)


def test_percent_done_counts_settled_rows_and_is_zero_while_planning() -> None:
    assert percent_done(job(total=4, succeeded=1, pending=3)) == 25.0
    assert percent_done(job("planning", total=4, succeeded=4)) == 0.0
    assert percent_done(job("completed")) == 100.0  # an empty file's job


def test_progress_hides_the_blob_key_and_carries_the_plan_warnings() -> None:
    doc = {
        **job(total=2, succeeded=2),
        "plan": {"chunks": 1, "warnings": ["ragged"], "estimated_api_calls": 8},
    }
    view = progress(doc)
    assert view["source"] == {"filename": "a.csv"}
    assert (view["chunks"], view["warnings"], view["estimated_api_calls"]) == (1, ["ragged"], 8)


def request(**target: Any) -> dict[str, Any]:
    return {"source": {"blob_key": "uploads/x/a.csv"}, "target": {"object": "Account", **target}}


def test_a_job_request_becomes_a_created_job_with_typed_options() -> None:
    doc = new_job_document({**request(operation="hardDelete"), "options": {"dry_run": True}}, 2000)
    assert doc["state"] == JobState.CREATED and doc["target"]["operation"] == Operation.HARD_DELETE
    assert doc["options"] == {
        "dry_run": True,
        "chunk_rows": 50_000,
        "api": Api.AUTO,
        "collections_threshold": 2000,
        "check_lookups": True,  # a rehearsal checks lookups unless told otherwise
    }
    assert doc["counters"] == dict.fromkeys(COUNTERS, 0)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"target": {"object": "Account", "operation": "insert"}}, "source"),
        (request(operation="merge"), "target.operation"),
        (request(operation="upsert"), "external_id"),
        ({**request(operation="insert"), "options": {"api": "soap"}}, "options.api"),
        ({**request(operation="insert"), "options": {"chunk_rows": 0}}, "chunk_rows"),
        ({"source": {"blob_key": "k"}, "target": {"operation": "insert"}}, "target.object"),
    ],
)
def test_a_job_request_that_cannot_run_says_which_field_is_wrong(body: dict[str, Any], words: str) -> None:
    with pytest.raises(JobError, match=words):
        new_job_document(body, 2000)


def test_a_cancelled_job_shows_how_far_it_got_not_100_percent() -> None:
    assert percent_done(job("cancelled", total=10, succeeded=4, cancelled=6)) == 40.0
    assert percent_done(job("cancelling", total=10, succeeded=4, cancelled=2, pending=4)) == 40.0
    assert percent_done({**job("cancelled"), "counters": dict.fromkeys(COUNTERS, 0)}) == 0.0


def test_rows_read_after_a_cancel_count_as_cancelled() -> None:
    counters = job_counters(
        {"total_rows": 10, "invalid_rows": 1, "cancelled_rows": 5}, [{"rows": 4, "result": {"succeeded": 4}}]
    )
    assert (counters["cancelled"], counters["pending"]) == (5, 0)


def test_a_cancelling_job_finishes_like_a_loading_one() -> None:
    assert is_finished_loading(job("cancelling", total=3, succeeded=1, cancelled=2), settled_chunks=2)


def _settled(at: str, rows: int, failed: int = 0) -> dict[str, Any]:
    return {"finished_at": f"2026-01-01T10:00:{at}+00:00", "result": {"succeeded": rows, "failed": failed}}


def test_the_throughput_series_adds_up_rows_in_settle_order_and_is_thinned_keeping_the_ends() -> None:
    chunks = [_settled("20.000", 100), _settled("10.000", 100, failed=10), {"state": "staged", "rows": 50}]
    assert throughput_series(chunks) == [
        ["2026-01-01T10:00:10.000+00:00", 110],
        ["2026-01-01T10:00:20.000+00:00", 210],
    ]
    many = [_settled(f"{s:02d}.000", 1) for s in range(50)]
    thinned = throughput_series(many, points=5)
    assert [rows for _, rows in thinned] == [1, 13, 25, 38, 50]


def test_rows_per_second_follow_the_recent_settles_and_the_eta_the_rows_left() -> None:
    job: dict[str, Any] = {
        "state": "loading",
        "created_at": "2026-01-01T10:00:00.000+00:00",
        "counters": {"pending": 1000},
        "throughput": [["2026-01-01T10:00:10.000+00:00", 100], ["2026-01-01T10:00:20.000+00:00", 600]],
    }
    assert throughput(job) == {
        "rows_per_second": 50.0,
        "eta_seconds": 20,
        "as_of": "2026-01-01T10:00:20.000+00:00",
    }
    job["throughput"] = job["throughput"][:1]  # one settle: its rows over the time since the job began
    assert throughput(job)["rows_per_second"] == 10.0
    assert throughput({**job, "throughput": []})["eta_seconds"] is None
    assert throughput({**job, "state": "completed"})["eta_seconds"] == 0
