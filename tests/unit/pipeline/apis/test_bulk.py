"""Bulk API 2.0 pieces that need no org: which result files to fetch, when to poll, the upload CSV."""

from __future__ import annotations

import pyarrow as pa

from dms.pipeline.apis.bulk import next_poll_delay, result_files_needed, to_csv


def test_only_result_files_that_can_hold_rows_are_fetched() -> None:
    done = {"state": "JobComplete", "numberRecordsProcessed": 10, "numberRecordsFailed": 0}
    assert result_files_needed(done, 10) == {"successfulResults"}
    assert result_files_needed({**done, "numberRecordsFailed": 10}, 10) == {"failedResults"}
    aborted = {"state": "Aborted", "numberRecordsProcessed": 4, "numberRecordsFailed": 1}
    assert result_files_needed(aborted, 10) == {"successfulResults", "failedResults", "unprocessedrecords"}
    assert len(result_files_needed({"state": "JobComplete"}, 10)) == 3  # no counters: fetch everything


def test_polls_follow_the_jobs_progress_rate() -> None:
    assert next_poll_delay(0.2, None, (0.0, 0), 1000) == 0.2 * 1.5
    # 500 of 1000 rows in 1 s: about 1 s more (plus 10 %)
    assert abs(next_poll_delay(0.2, (0.0, 0), (1.0, 500), 1000) - 1.1) < 1e-9
    assert next_poll_delay(0.2, (0.0, 0), (1.0, 1000), 1000) <= 0.2  # all processed: look again soon
    assert next_poll_delay(4.0, (0.0, 10), (1.0, 10), 1000) == min(
        6.0, next_poll_delay(4.0, None, (1.0, 10), 1000)
    )


def test_bulk_csv_is_unquoted_unless_a_value_needs_quotes() -> None:

    plain = pa.table(
        {
            "__row__": pa.array([1, 2], pa.int64()),
            "Name": ["Acme", "Globex Inc"],
            "Account.Legacy_Id__c": [None, "A-1"],
        }
    )
    assert to_csv(plain) == b"Name,Account.Legacy_Id__c\nAcme,\nGlobex Inc,A-1\n"
    tricky = pa.table({"Name": ["Acme, Inc.", 'Say "hi"', "two\nlines"]})
    assert to_csv(tricky) == b'Name\n"Acme, Inc."\n"Say ""hi"""\n"two\nlines"\n'
