"""Helpers for the reader tests: every file is written at test time into tmp_path."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from dms.pipeline.source import ReadOptions, RowProblem, SourceInfo, read_chunks, sniff


class ReadAll:
    """Sniff and read a whole file; hand back the info, the concatenated table and every problem."""

    def __call__(
        self, path: Path, options: ReadOptions | None = None
    ) -> tuple[SourceInfo, pa.Table, list[RowProblem]]:
        info = sniff(path, options)
        chunks = list(read_chunks(path, options, info))
        problems = [problem for chunk in chunks for problem in chunk.problems]
        tables = [chunk.table for chunk in chunks if chunk.table.num_rows]
        table = pa.concat_tables(tables, promote_options="permissive") if tables else None
        return info, table, problems


@pytest.fixture
def read_all() -> ReadAll:
    return ReadAll()


@pytest.fixture
def write_bytes(tmp_path: Path):
    def write(name: str, data: bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return write
