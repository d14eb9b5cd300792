"""Retry the failed rows of a job as a new job: from the original rows, or from a corrected file."""

from __future__ import annotations

import io
import logging
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from dms.errors import DMSError
from dms.pipeline import results as res
from dms.pipeline.jobs import FINAL_STATES, Pipeline
from dms.pipeline.model import ROW_COLUMN
from dms.pipeline.plan import read_options, source_file
from dms.pipeline.source import read_chunks, sniff

log = logging.getLogger(__name__)

ORIGINAL_ROW_COLUMN = "dms_source_row"  # where a retried row came from in the first job's file


def retry_failed(p: Pipeline, job_id: str, corrected: dict[str, Any] | None = None) -> dict[str, Any]:
    """A new job for the failed/invalid rows of `job_id` (or for a corrected upload), same target and mapping."""
    job = p.get_job(job_id)
    if job["state"] not in FINAL_STATES:
        raise DMSError(
            f"Job {job_id} is still {job['state']}; retry it once it has finished.", code="JOB_NOT_FINISHED"
        )
    if job["options"].get("dry_run"):
        raise DMSError(
            "A rehearsal loaded nothing; run the job for real instead of retrying it.", code="JOB_IS_DRY_RUN"
        )
    if corrected is not None:
        source = corrected
    else:
        rows = res.failed_rows(p.blobs, job)
        if not rows:
            raise DMSError(f"Job {job_id} has no failed rows to retry.", code="NOTHING_TO_RETRY")
        key = f"jobs/{job_id}/retry/{len(rows)}-rows.csv"
        written = write_rows(p, job, rows, key)
        source = {
            "blob_key": key,
            "filename": f"retry-of-{job_id}.csv",
            "read_options": {"format": "csv", "encoding": "utf-8", "delimiter": ","},
        }
        log.info(
            "retry source written job=%s rows=%d (of %d failed; unreadable rows cannot be resent)",
            job_id,
            written,
            len(rows),
        )
    request = {
        "source": source,
        "target": job["target"],
        "mapping": job.get("mapping"),
        "options": {k: v for k, v in job["options"].items() if k != "dry_run"},
        "retry_of": job_id,
    }
    return p.create_job(request)


def write_rows(p: Pipeline, job: dict[str, Any], rows: set[int], key: str) -> int:
    """Copy the given source rows (as read, all as text) to a CSV blob with their original row numbers."""
    wanted = pa.array(sorted(rows), type=pa.int64())
    written = 0
    with source_file(p, job) as path, p.blobs.open_write(key) as out:
        options = read_options(job, p.settings)
        info = sniff(path, options)
        header = True
        for chunk in read_chunks(path, options, info):
            picked = chunk.table.filter(pc.is_in(chunk.table.column(ROW_COLUMN), value_set=wanted))
            if picked.num_rows == 0 and not header:
                continue
            columns = {name: picked.column(name).cast(pa.string()) for name in info.columns}
            columns[ORIGINAL_ROW_COLUMN] = picked.column(ROW_COLUMN).cast(pa.string())
            text = pa.table(columns)
            buffer = io.BytesIO()
            pacsv.write_csv(text, buffer, pacsv.WriteOptions(include_header=header, quoting_style="needed"))
            out.write(buffer.getvalue())
            header = False
            written += picked.num_rows
    return written
