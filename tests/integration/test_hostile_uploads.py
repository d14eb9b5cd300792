"""Files that inflate, refused through the HTTP API within bounded memory and time.

Each file is built in the test and is small on disk (a few hundred KB at most) but would inflate to tens of
megabytes, or gigabytes, if it were read: an xlsx whose styles.xml inflates to 32 MiB, one with a 71 MB
shared strings table, a Parquet file with a 16 MiB value in one dictionary page, a 37-byte pickle calling
bytearray(10**10). Each must come back as a 4xx with a stable code, a message that names the part or column
and the limit, and `where`, from the preview and from a job.

Memory is measured in-process: the Flask test client runs the preview and a direct job in this process, so
its peak resident set (VmHWM, reset before each request through /proc/self/clear_refs) bounds what the read
held. Unbounded, the styles file took 800 MiB and 15 s, the Parquet file 6 GB.
"""

from __future__ import annotations

import io
import pickle
import pickletools
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import calling_as
from tests.integration.pipeline_helpers import ACCOUNT_UPSERT, run_job, upload
from tests.unit.pipeline.source.test_hostile import (
    SHARED_STRINGS_TYPE,
    _shared_strings_xml,
    _styles_xml,
    inflating_workbook,
)

MAX_GROWTH_MIB = 250  # the read may hold a few pages and a chunk; the files inflate to 32 MiB .. 10 GB
MAX_SECONDS = 15.0  # unbounded, the shared strings alone took 100 s of CPU


class _AsksForGigabytes:
    def __reduce__(self) -> tuple[Any, ...]:
        return (bytearray, (10**10,))


def _styles_file(tmp_path: Path) -> Path:
    return Path(inflating_workbook(tmp_path, "xl/styles.xml", _styles_xml(32 * 1024 * 1024)))


def _shared_strings_file(tmp_path: Path) -> Path:
    path = inflating_workbook(
        tmp_path, "xl/sharedStrings.xml", _shared_strings_xml(71_000_000), SHARED_STRINGS_TYPE
    )
    return Path(path)


def _parquet_file(tmp_path: Path) -> Path:
    path = tmp_path / "inflating.parquet"
    table = pa.table({"id": list(range(20)), "note": ["x" * (16 * 1024 * 1024)] * 20})
    pq.write_table(table, path, compression="zstd")  # one dictionary page holds the value once
    return path


def _parquet_page_file(tmp_path: Path) -> Path:
    path = tmp_path / "inflating-page.parquet"
    table = pa.table({"id": list(range(20)), "note": ["x" * (16 * 1024 * 1024)] * 20})
    pq.write_table(table, path, compression="zstd", use_dictionary=False)  # one page of 320 MiB
    return path


def _pickle_file(tmp_path: Path) -> Path:
    path = tmp_path / "bomb.pkl"
    path.write_bytes(pickletools.optimize(pickle.dumps(_AsksForGigabytes(), protocol=2)))
    return path


# (build the file, code, where it names, the limit)
CASES: dict[str, tuple[Callable[[Path], Path], str, dict[str, Any], int]] = {
    "xlsx-styles-32MiB": (_styles_file, "PART_TOO_LARGE", {"part": "xl/styles.xml"}, 8 * 1024 * 1024),
    "xlsx-shared-strings-71MB": (
        _shared_strings_file,
        "PART_TOO_LARGE",
        {"part": "xl/sharedStrings.xml"},
        64 * 1024 * 1024,
    ),
    "parquet-16MiB-value": (_parquet_file, "CELL_TOO_LARGE", {"column": "note", "row": 1}, 1024 * 1024),
    "parquet-320MiB-page": (
        _parquet_page_file,
        "PARQUET_PAGE_TOO_LARGE",
        {"column": "note"},
        64 * 1024 * 1024,
    ),
    "pickle-bytearray-10GB": (_pickle_file, "PICKLE_TOO_LARGE", {}, 256 * 1024 * 1024),
}


@pytest.fixture()
def pickle_app(app: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The web app with pickle uploads enabled, as a deployment may choose (the settings are read per request)."""
    monkeypatch.setitem(app.config, "ALLOW_PICKLE_UPLOADS", True)
    return app


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(f"{field}:"))


@contextmanager
def bounded() -> Iterator[None]:
    """Assert the block's peak resident memory grows by at most MAX_GROWTH_MIB and it takes MAX_SECONDS."""
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # resets VmHWM (the peak) to the current resident set
    baseline = _status_kib("VmRSS")
    started = time.monotonic()
    yield
    elapsed = time.monotonic() - started
    growth_mib = (_status_kib("VmHWM") - baseline) / 1024
    assert growth_mib < MAX_GROWTH_MIB, f"peak memory grew by {growth_mib:.0f} MiB"
    assert elapsed < MAX_SECONDS, f"took {elapsed:.1f} s"


def _assert_refused(error: dict[str, Any], code: str, where: dict[str, Any], limit: int) -> None:
    assert error["code"] == code, error
    assert error["where"]["limit"] == limit, error
    assert {key: error["where"][key] for key in where} == where, error
    assert f"{limit:,}" in error["message"]
    for named in where.values():
        assert str(named) in error["message"], error


@pytest.mark.parametrize("case", list(CASES))
def test_an_inflating_file_is_refused_by_the_preview_within_bounded_memory_and_time(
    pickle_app: Any, admin_token: str, tmp_path: Path, case: str
) -> None:
    build, code, where, limit = CASES[case]
    path = build(tmp_path)
    assert path.stat().st_size < 3_000_000
    client = calling_as(pickle_app, admin_token)
    upload_id = upload(client, path)
    with bounded():
        response = client.get(f"/api/v1/uploads/{upload_id}/preview")
    assert response.status_code == 422, response.json
    _assert_refused(response.json["error"], code, where, limit)


@pytest.mark.parametrize("case", ["xlsx-styles-32MiB", "parquet-16MiB-value", "pickle-bytearray-10GB"])
def test_an_inflating_file_fails_a_direct_job_within_bounded_memory_and_time(
    pickle_app: Any, admin_token: str, localorg: Any, tmp_path: Path, case: str
) -> None:
    # A direct job reads the file in this process (files under DIRECT_MAX_BYTES), so its memory is measured.
    build, code, where, limit = CASES[case]
    client = calling_as(pickle_app, admin_token)
    upload_id = upload(client, build(tmp_path))
    with bounded():
        response = client.post(
            "/api/v1/jobs", json={"upload_id": upload_id, **ACCOUNT_UPSERT, "direct": True, "dry_run": True}
        )
    job = response.json
    assert job["state"] == "failed", job
    _assert_refused(job["error"], code, where, limit)


def test_an_inflating_workbook_fails_a_queued_job(client: Any, worker: str, tmp_path: Path) -> None:
    started = time.monotonic()
    job = run_job(
        client, upload_id=upload(client, _shared_strings_file(tmp_path)), **ACCOUNT_UPSERT, timeout=60
    )
    assert job["state"] == "failed", job
    _assert_refused(job["error"], "PART_TOO_LARGE", {"part": "xl/sharedStrings.xml"}, 64 * 1024 * 1024)
    assert time.monotonic() - started < 60


def test_a_long_cell_is_truncated_in_the_preview_and_flagged(client: Any, tmp_path: Path) -> None:
    path = tmp_path / "notes.parquet"
    note = "n" * 5000
    pq.write_table(pa.table({"id": [1, 2], "note": [note, "short"]}), path)
    preview = client.get(f"/api/v1/uploads/{upload(client, path)}/preview").json
    shown = preview["rows"][0]["note"]
    assert shown == "n" * 1000 + "…"
    assert preview["rows"][1]["note"] == "short"
    assert preview["truncated"] == [{"row": 1, "column": "note", "length": 5000}]
    assert any("cut short" in warning and "1,000" in warning for warning in preview["warnings"])
    note_column = next(column for column in preview["columns"] if column["name"] == "note")
    assert all(len(example) <= 1001 for example in note_column.get("examples") or [])


def test_a_normal_workbook_and_parquet_file_still_preview(client: Any, tmp_path: Path) -> None:
    names = [f"Customer {uuid.uuid4().hex}" for _ in range(20_000)]
    path = tmp_path / "customers.parquet"
    pq.write_table(pa.table({"id": list(range(len(names))), "name": names}), path)
    preview = client.get(f"/api/v1/uploads/{upload(client, path)}/preview").json
    assert preview["rows"][0]["name"] == names[0] and preview["truncated"] == []
    book = io.BytesIO()
    workbook = openpyxl.Workbook()
    for n, name in enumerate(names[:5000]):
        workbook.active.append([n, name])
    workbook.save(book)
    xlsx = tmp_path / "customers.xlsx"
    xlsx.write_bytes(book.getvalue())
    preview = client.get(f"/api/v1/uploads/{upload(client, xlsx)}/preview").json
    assert preview["format"] == "excel" and len(preview["rows"]) == 20
