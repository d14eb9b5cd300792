"""A child step's file regrouped by parent, so that no two bulk jobs of the step contend for one parent's lock.

A step's chunks are cut from its file in file order, and chunks load in parallel. When the children of one
parent are spread over the file, several bulk jobs insert children of that parent at once and wait for its
lock (UNABLE_TO_LOCK_ROW), which is why Salesforce advises loading children ordered by parent. So before the
first pass of a step that refers to a parent, its file is copied with its rows regrouped: every child of a
parent side by side, and the groups in the order of a hash of their parent's key. Then a parent's children
fall in one chunk, or in two chunks next to each other when the parent's group straddles a chunk boundary.

The copy is made in two streaming passes, never holding the file: rows are spilled to one file per hash
bucket (a bucket holds about SPILL_ROWS rows), then each bucket is sorted by parent key and source row and
appended to a Parquet file. Each row keeps the number it has in the uploaded file (GROUPED_ROW_COLUMN, read
back by pipeline/chunks.JobFile), so every row number a person sees is the number in their file.

Only files read as text are regrouped (CSV, TSV, text-only JSON): a workbook's typed cells are read as they
are, with types that may differ from chunk to chunk, and such a step is loaded in file order (in parent order
within each chunk, as every load pass sends). A file with unreadable rows is loaded in file order too, so
that its unreadable rows are reported as the reader reports them.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dms.migration.keymap import buckets_of
from dms.migration.references import key_texts
from dms.pipeline.chunks import JobFile, source_file
from dms.pipeline.context import Pipeline
from dms.pipeline.model import GROUPED_ROW_COLUMN, ROW_COLUMN

log = logging.getLogger(__name__)

SPILL_ROWS = 250_000  # rows per bucket on the way: one bucket is sorted in memory at a time
PARENT_KEY_COLUMN = "__dms_parent_key__"  # the sort key while the copy is made (not in the copy)


class NotGroupable(Exception):
    """The file is loaded in file order (see the module's docstring)."""


def write_grouped_copy(p: Pipeline, job: dict[str, Any], parent_column: str, key: str) -> int:
    """Write the job's source regrouped by `parent_column` to blob `key` (Parquet); returns its rows.
    NotGroupable when the file is not read as text or has unreadable rows."""
    with source_file(p, job) as path, tempfile.TemporaryDirectory(prefix="dms-group-") as folder:
        file = JobFile.of(job, path, p.settings)
        buckets = max(1, int(path.stat().st_size // (SPILL_ROWS * 40)) + 1)
        spills: dict[int, pa.RecordBatchStreamWriter] = {}
        schema: pa.Schema | None = None
        rows = 0
        try:
            for chunk in file.chunks():
                if chunk.problems:
                    raise NotGroupable(f"row {chunk.problems[0].row} cannot be read")
                table = chunk.table
                if any(not pa.types.is_string(f.type) for f in table.schema if f.name != ROW_COLUMN):
                    raise NotGroupable("its columns are not read as text")
                parents = key_texts(table[parent_column])
                table = table.rename_columns(
                    [GROUPED_ROW_COLUMN if n == ROW_COLUMN else n for n in table.column_names]
                ).append_column(PARENT_KEY_COLUMN, parents)
                schema = schema or table.schema
                bucket = buckets_of(parents, buckets)
                for b in np.unique(bucket).tolist():
                    if b not in spills:
                        spills[b] = pa.ipc.new_stream(str(Path(folder) / f"{b:05d}.arrow"), schema)
                    spills[b].write_table(table.filter(pa.array(bucket == b)).cast(schema))
                rows += table.num_rows
        finally:
            for writer in spills.values():
                writer.close()
        if schema is None:
            raise NotGroupable("it has no rows")
        written = schema.remove(schema.get_field_index(PARENT_KEY_COLUMN))
        with p.blobs.open_write(key) as out, pq.ParquetWriter(out, written) as parquet:
            for b in sorted(spills):
                with pa.ipc.open_stream(str(Path(folder) / f"{b:05d}.arrow")) as reader:
                    table = reader.read_all()
                table = table.sort_by([(PARENT_KEY_COLUMN, "ascending"), (GROUPED_ROW_COLUMN, "ascending")])
                # Blank parents (no parent at all) last within their bucket; they group with nothing.
                parquet.write_table(table.drop_columns([PARENT_KEY_COLUMN]), row_group_size=SPILL_ROWS)
    log.info("grouped copy written key=%s rows=%d buckets=%d parent=%s", key, rows, buckets, parent_column)
    return rows
