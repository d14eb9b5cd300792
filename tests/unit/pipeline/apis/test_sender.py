"""Which API loads a chunk, and what a chunk is expected to cost."""

from __future__ import annotations

import pytest

from dms.pipeline.apis import choose_api, estimate_calls
from dms.pipeline.model import Api, Operation

AUTO = {"api": Api.AUTO, "collections_threshold": 2000}


@pytest.mark.parametrize("operation", [Operation.INSERT, Operation.HARD_DELETE])
def test_inserts_and_hard_deletes_always_go_through_bulk(operation: Operation) -> None:
    assert choose_api(operation, 1, AUTO) == Api.BULK
    assert choose_api(operation, 1, {**AUTO, "api": Api.COLLECTIONS}) == Api.BULK


@pytest.mark.parametrize("operation", [Operation.UPDATE, Operation.UPSERT, Operation.DELETE])
def test_small_chunks_of_other_operations_use_collections_up_to_the_threshold(operation: Operation) -> None:
    assert choose_api(operation, 2000, AUTO) == Api.COLLECTIONS
    assert choose_api(operation, 2001, AUTO) == Api.BULK
    assert choose_api(operation, 10, {**AUTO, "api": Api.BULK}) == Api.BULK
    assert choose_api(operation, 50_000, {**AUTO, "api": Api.COLLECTIONS}) == Api.COLLECTIONS


def test_a_bulk_chunk_costs_its_fixed_calls_and_collections_one_per_200_rows() -> None:
    assert estimate_calls(Operation.INSERT, 50_000, AUTO) == 8
    assert estimate_calls(Operation.UPDATE, 401, AUTO) == 3
