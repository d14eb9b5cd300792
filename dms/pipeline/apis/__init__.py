"""The Salesforce APIs that load a chunk, behind one interface (`Sender`) and one result (`ChunkResult`)."""

from __future__ import annotations

from typing import Any

from dms.pipeline.apis.bulk import BulkSender, StillProcessing, abort_bulk_job
from dms.pipeline.apis.collections import CollectionsSender
from dms.pipeline.apis.sender import Record, Sender, choose_api, estimate_calls, refused
from dms.pipeline.context import JobContext
from dms.pipeline.model import Api


def sender_for(
    api: Api, ctx: JobContext, chunk: dict[str, Any], record: Record, wait_seconds: float
) -> Sender:
    """The sender of a chunk's rows through `api`."""
    if api == Api.BULK:
        return BulkSender(ctx, chunk, record, wait_seconds)
    return CollectionsSender(ctx, chunk, record)


__all__ = [
    "Sender",
    "StillProcessing",
    "abort_bulk_job",
    "choose_api",
    "estimate_calls",
    "refused",
    "sender_for",
]
