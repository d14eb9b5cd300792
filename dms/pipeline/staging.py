"""Staged chunks in Redis as Arrow IPC streams: compact, typed, and safe to read (never pickle)."""

from __future__ import annotations

import pyarrow as pa
import redis

STAGE_PREFIX = "dms:stage"
STAGED_PARTS = ("load", "source")  # the rows as they will be sent, and their original values


def is_staged(client: redis.Redis, job_id: str, chunk: int) -> bool:
    """Whether a chunk's rows still wait in Redis (not yet loaded, expired or flushed)."""
    return bool(client.exists(stage_key(job_id, chunk, "load")))


def stage_key(job_id: str, chunk: int, part: str) -> str:
    """The Redis key of one part (`load` = rows to send, `source` = original values) of a chunk."""
    return f"{STAGE_PREFIX}:{job_id}:{chunk:05d}:{part}"


def table_to_ipc(table: pa.Table) -> bytes:
    """Serialise a table as a zstd-compressed Arrow IPC stream."""
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def ipc_to_table(data: bytes) -> pa.Table:
    """Read a table back from an Arrow IPC stream (data only: no code can run)."""
    with pa.ipc.open_stream(pa.py_buffer(data)) as reader:
        return reader.read_all()


def stage_chunk(client: redis.Redis, job_id: str, chunk: int, parts: dict[str, pa.Table], ttl: int) -> int:
    """Store the parts of a chunk with a TTL; returns the bytes staged."""
    pipe = client.pipeline(transaction=True)
    size = 0
    for part, table in parts.items():
        data = table_to_ipc(table)
        size += len(data)
        pipe.set(stage_key(job_id, chunk, part), data, ex=ttl)
    pipe.execute()
    return size


def load_staged(
    client: redis.Redis, job_id: str, chunk: int, parts: tuple[str, ...] = STAGED_PARTS
) -> dict[str, pa.Table] | None:
    """The parts of a staged chunk, or None when any is gone (expired or flushed: rebuild from the source)."""
    values = client.mget([stage_key(job_id, chunk, part) for part in parts])
    if any(v is None for v in values):
        return None
    return {part: ipc_to_table(bytes(v)) for part, v in zip(parts, values, strict=True)}  # type: ignore[arg-type]


def drop_staged(client: redis.Redis, job_id: str, chunk: int, parts: tuple[str, ...] = STAGED_PARTS) -> None:
    """Free a chunk's staging once its results are written."""
    client.delete(*[stage_key(job_id, chunk, part) for part in parts])
