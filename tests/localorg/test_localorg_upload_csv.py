"""The plain-upload fast path reads exactly the rows, errors and line numbers Python's csv module gives."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from localorg.upload_csv import (
    CsvRowReader,
    PlainRowReader,
    RowReader,
    is_plain_upload,
    plain_data_lines,
)

PLAIN_SAMPLES = {
    "lf": b"Name,Legacy_Id__c\nA,1\nB,2\n",
    "crlf": b"Name,Legacy_Id__c\r\nA,1\r\nB,2\r\n",
    "no_final_newline": b"Name,Legacy_Id__c\nA,1\nB,2",
    "blank_lines": b"\nName,Legacy_Id__c\n\nA,1\n\r\n\nB,2\n\n",
    "bom_and_unicode": "\ufeffName,Legacy_Id__c\n\u00dcml\u00e4ut \u540d,1\n\ufeffB,2\n".encode(),
    "ragged_rows": b"Name,Legacy_Id__c\nA\nB,2,3\n,\n,,\n  spaced  ,x\n",
    "header_only": b"Name,Legacy_Id__c\n",
    "empty": b"",
}
NOT_PLAIN_SAMPLES = {
    "quotes": b'Name,Legacy_Id__c\n"A, Inc",1\n',
    "bare_cr": b"Name,Legacy_Id__c\nA\rB,1\n",
    "cr_at_end": b"Name,Legacy_Id__c\nA,1\r",
    "nul": b"Name,Legacy_Id__c\nA\x00,1\n",
    "latin1": b"Name,Legacy_Id__c\nCaf\xe9,1\n",
}


def _read_all(reader: RowReader, batch: int) -> Iterator[tuple[list[list[str]], int]]:
    while rows := reader.read_rows(batch):
        yield rows, reader.line_num


def _both(path: Path, delimiter: str, batch: int) -> tuple[object, object]:
    outcomes = []
    for make in (CsvRowReader, PlainRowReader):
        with path.open(encoding="utf-8-sig", newline="") as source:
            reader = make(source, delimiter)
            try:
                outcomes.append(list(_read_all(reader, batch)))
            except csv.Error as exc:
                outcomes.append(("csv.Error", str(exc), reader.line_num))
    return outcomes[0], outcomes[1]


@pytest.mark.parametrize("name", sorted(PLAIN_SAMPLES))
def test_plain_reader_gives_the_csv_modules_rows(tmp_path: Path, name: str) -> None:
    path = tmp_path / "upload.csv"
    path.write_bytes(PLAIN_SAMPLES[name])
    assert is_plain_upload(path)
    for batch in (1, 2, 10_000):
        expected, actual = _both(path, ",", batch)
        assert actual == expected


@pytest.mark.parametrize("name", sorted(NOT_PLAIN_SAMPLES))
def test_uploads_the_csv_module_reads_differently_are_not_plain(tmp_path: Path, name: str) -> None:
    path = tmp_path / "upload.csv"
    path.write_bytes(NOT_PLAIN_SAMPLES[name])
    assert not is_plain_upload(path)


def test_random_plain_uploads_match_across_block_boundaries(tmp_path: Path) -> None:
    rnd = random.Random(7)
    pieces = ["a", "bb", "", " ", "\u00e9\u00e8", "\u540d", "|", ";", "x" * 300]
    for delimiter, ending in ((",", "\n"), ("|", "\r\n"), ("\t", "\n")):
        lines = [delimiter.join(rnd.choice(pieces) for _ in range(rnd.randint(1, 5))) for _ in range(20000)]
        path = tmp_path / "upload.csv"
        path.write_bytes(ending.join(["Name,Legacy_Id__c", *lines]).encode())
        assert path.stat().st_size > 1_500_000  # more than one 1 MB read block
        assert is_plain_upload(path)
        expected, actual = _both(path, delimiter, 997)
        assert actual == expected
        with path.open(encoding="utf-8-sig", newline="") as source:
            reader = csv.reader(source, delimiter=delimiter)
            next(reader)
            rendered = io.StringIO()
            csv.writer(rendered, delimiter=delimiter, lineterminator="\n").writerows(r for r in reader if r)
        copied = b"".join(line + b"\n" for line in plain_data_lines(path, delimiter))
        assert copied.decode() == rendered.getvalue()


def test_a_field_over_the_csv_limit_fails_at_the_same_line(tmp_path: Path) -> None:
    path = tmp_path / "upload.csv"
    path.write_bytes(b"Name,Notes__c\n" + b"a,b\n" * 30 + b"c," + b"x" * 120 + b"\n" + b"d,e\n" * 5)
    old_limit = csv.field_size_limit(100)
    try:
        expected, actual = _both(path, ",", 7)
        copied = []
        with pytest.raises(csv.Error, match=r"field larger than field limit \(100\)"):
            for line in plain_data_lines(path, ","):
                copied.append(line)
    finally:
        csv.field_size_limit(old_limit)
    assert isinstance(actual, tuple) and actual[0] == "csv.Error"
    assert actual == expected
    assert len(copied) == 30
