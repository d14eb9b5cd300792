"""The pipeline's vocabulary: one spelling per word, old spellings still understood."""

from __future__ import annotations

import json

import pytest

from dms.pipeline.model import CHUNK_SETTLED, FINAL_STATES, ChunkState, JobState, Operation, chunk_id


@pytest.mark.parametrize("text", ["hardDelete", "hard_delete", "Hard-Delete", "HARDDELETE"])
def test_every_spelling_of_hard_delete_is_one_operation(text: str) -> None:
    assert Operation.parse(text) is Operation.HARD_DELETE


def test_unknown_operations_parse_to_none() -> None:
    assert Operation.parse("merge") is None and Operation.parse(["insert"]) is None


def test_states_are_the_plain_strings_stored_in_documents() -> None:
    assert json.dumps({"state": JobState.COMPLETED_WITH_ERRORS}) == '{"state": "completed_with_errors"}'
    assert "cancelled" in FINAL_STATES and "loading" not in FINAL_STATES
    assert CHUNK_SETTLED == {ChunkState.DONE, ChunkState.CANCELLED}


def test_chunk_ids_sort_by_index_under_their_job() -> None:
    assert sorted([chunk_id("job-1", 10), chunk_id("job-1", 9)]) == ["job-1:00009", "job-1:00010"]
