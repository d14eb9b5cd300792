"""Hostile input: zip bombs, code-running pickles, absurd JSON; refused with a clear error, nothing executed."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import pickle
import pickletools
import random
import string
import zipfile
from collections.abc import Callable

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pytest

from dms.pipeline.source import ReadError, ReadLimits, ReadOptions, jsonl, read_chunks, sniff

ALLOW = ReadOptions(allow_pickle=True)


def _fake_workbook(path, sheet_bytes: int, random: bool = False) -> None:
    sheet = os.urandom(sheet_bytes) if random else bytes(sheet_bytes)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", sheet)


def test_zip_bomb_is_refused_by_compression_ratio_before_inflating(tmp_path):
    path = tmp_path / "bomb.xlsx"
    _fake_workbook(path, 20 * 1024 * 1024)  # 20 MB of zeros deflate about a thousand times
    assert path.stat().st_size < 100_000

    with pytest.raises(ReadError) as caught:
        sniff(path)

    assert caught.value.code == "ZIP_BOMB"
    assert "sheet1.xml" in caught.value.message and "limit" in caught.value.message


def test_zip_bomb_is_refused_by_total_size(tmp_path):
    path = tmp_path / "big.xlsx"
    _fake_workbook(path, 3 * 1024 * 1024, random=True)  # barely compressible: the ratio passes
    with pytest.raises(ReadError) as caught:
        sniff(path, ReadOptions(max_unzipped_bytes=2 * 1024 * 1024))
    assert caught.value.code == "ZIP_BOMB"
    assert "inflate" in caught.value.message


def test_zip_ratio_limit_is_configurable(tmp_path):
    path = tmp_path / "bomb.xlsx"
    _fake_workbook(path, 2 * 1024 * 1024)
    # Past the guard, the fake workbook is not a real one: the next failure is openpyxl's, not the guard's.
    with pytest.raises(ReadError) as caught:
        sniff(path, ReadOptions(max_zip_ratio=1e9))
    assert caught.value.code == "CORRUPT_FILE"


def test_xls_over_the_size_cap_is_refused(tmp_path):
    path = tmp_path / "huge.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 4096)
    with pytest.raises(ReadError) as caught:
        sniff(path, ReadOptions(max_unzipped_bytes=1024))
    assert caught.value.code == "FILE_TOO_LARGE"


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 3],
            "name": ["Acme", None, "Hooli"],
            "amount": [1.5, None, 3.0],
            "when": pd.to_datetime(["2024-01-01", None, "2024-03-01"]),
            "zone": pd.to_datetime(["2024-01-01"] * 3).tz_localize("Europe/Paris"),
            "kind": pd.Categorical(["a", "b", "a"]),
            "count": pd.array([1, None, 3], dtype="Int64"),
            "mixed": pd.Series([1, "two", None], dtype=object),
            "day": [dt.date(2024, 1, 1), None, dt.date(2024, 1, 3)],
        }
    )


def test_pickle_is_refused_unless_enabled_with_a_reason_and_a_way_out(write_bytes):
    path = write_bytes("frame.pkl", pickle.dumps(_frame()))
    with pytest.raises(ReadError) as caught:
        sniff(path)
    assert caught.value.code == "PICKLE_DISABLED"
    assert "arbitrary code" in caught.value.message
    assert "allow_pickle" in caught.value.message and "Parquet" in caught.value.message


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_allow_listed_dataframe_pickle_loads(protocol, write_bytes, read_all):
    path = write_bytes("frame.bin", pickle.dumps(_frame(), protocol=protocol))

    info, table, problems = read_all(path, ALLOW)

    assert info.format == "pickle"
    assert info.columns == ["id", "name", "amount", "when", "zone", "kind", "count", "mixed", "day"]
    assert table.column("id").to_pylist() == [1, 2, 3]
    assert table.column("name").to_pylist() == ["Acme", None, "Hooli"]
    assert pa.types.is_timestamp(table.schema.field("when").type)
    assert str(table.schema.field("zone").type.tz) == "Europe/Paris"
    assert table.column("kind").to_pylist() == ["a", "b", "a"]
    assert table.column("count").to_pylist() == [1, None, 3]
    assert table.column("mixed").to_pylist() == ["1", "two", None]
    assert table.column("day").to_pylist()[0] == dt.date(2024, 1, 1)
    assert table.column("__row__").to_pylist() == [1, 2, 3]
    assert problems == []


def test_pickled_index_becomes_columns(write_bytes, read_all):
    path = write_bytes("indexed.pkl", pickle.dumps(_frame().set_index(["id", "name"])))
    info, table, _ = read_all(path, ALLOW)
    assert info.columns[:3] == ["id", "name", "amount"]
    assert table.column("id").to_pylist() == [1, 2, 3]


class _RunsShell:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Evaluates:
    def __reduce__(self):
        return (eval, ("__import__('os').getpid()",))


class _ReachesThroughGetattr:
    def __reduce__(self):
        return (getattr, (pd.DataFrame, "to_csv"))


def test_pickle_calling_os_system_is_refused_and_does_not_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"frame": _frame(), "payload": _RunsShell(marker)}))

    with pytest.raises(ReadError) as caught:
        sniff(path, ALLOW)

    assert caught.value.code == "PICKLE_FORBIDDEN"
    assert "system" in caught.value.message and "refused" in caught.value.message
    assert not marker.exists()


@pytest.mark.parametrize("payload", [_Evaluates(), _ReachesThroughGetattr()], ids=["eval", "getattr"])
def test_pickle_reaching_for_other_code_is_refused(payload, write_bytes):
    path = write_bytes("evil.pkl", pickle.dumps(payload))
    with pytest.raises(ReadError) as caught:
        sniff(path, ALLOW)
    assert caught.value.code == "PICKLE_FORBIDDEN"


def test_pickle_naming_a_pandas_function_outside_the_allow_list_is_refused(write_bytes):
    # pandas is an allowed package, but read_csv is no reconstruction class: identity, not module, decides.
    path = write_bytes("evil.pkl", pickle.dumps(pd.read_csv))
    with pytest.raises(ReadError) as caught:
        sniff(path, ALLOW)
    assert caught.value.code == "PICKLE_FORBIDDEN"
    assert "read_csv" in caught.value.message


def test_pickle_of_something_else_is_refused(write_bytes):
    path = write_bytes("dict.pkl", pickle.dumps([1, 2, 3]))
    with pytest.raises(ReadError) as caught:
        sniff(path, ALLOW)
    assert caught.value.code == "UNSUPPORTED_FORMAT"


def test_deeply_nested_json_array_is_a_clear_error(write_bytes):
    path = write_bytes("deep.json", b'[{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}]")
    with pytest.raises(ReadError) as caught:
        list(read_chunks(path))
    assert caught.value.code == "JSON_TOO_DEEP"


def test_deeply_nested_ndjson_line_is_a_row_problem(write_bytes, read_all):
    path = write_bytes(
        "deep.ndjson", b'{"a": 1}\n{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b'}\n{"a": 3}\n'
    )
    _, table, problems = read_all(path)
    assert table.column("a").to_pylist() == [1, 3]
    assert [(p.row, p.code) for p in problems] == [(2, "JSON_TOO_DEEP")]


def test_oversized_ndjson_line_is_skipped_and_reported(write_bytes, read_all, monkeypatch):
    monkeypatch.setattr(jsonl, "MAX_RECORD_CHARS", 1000)
    huge = json.dumps({"a": 2, "blob": "x" * 5000}).encode()
    path = write_bytes("big.ndjson", b'{"a": 1, "blob": ""}\n' + huge + b'\n{"a": 3, "blob": ""}\n')

    _, table, problems = read_all(path)

    assert table.column("a").to_pylist() == [1, 3]
    assert table.column("__row__").to_pylist() == [1, 3]
    assert [(p.row, p.code) for p in problems] == [(2, "RECORD_TOO_LARGE")]


def test_oversized_json_array_record_is_refused(write_bytes, monkeypatch):
    monkeypatch.setattr(jsonl, "MAX_RECORD_CHARS", 1000)
    monkeypatch.setattr(jsonl, "_READ_CHARS", 100)
    path = write_bytes("big.json", json.dumps([{"a": 1}, {"blob": "x" * 50_000}]).encode())
    with pytest.raises(ReadError) as caught:
        list(read_chunks(path))
    assert caught.value.code == "INVALID_JSON"
    assert caught.value.row == 2


BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">' for n in range(1, 10)
    )
    + "]>\n"
)


def _after_declaration(prefix: bytes) -> Callable[[bytes], bytes]:
    """A rewrite of an XML part that puts `prefix` where its XML declaration was."""
    return lambda data: prefix + (data.split(b"?>", 1)[1] if data.startswith(b"<?xml") else data)


def _workbook_with_part(tmp_path, part: str, rewrite: Callable[[bytes], bytes]) -> os.PathLike[str]:
    """A real workbook (Name / Acme) with one of its parts rewritten."""
    plain = tmp_path / "plain.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["Name"])
    book.active.append(["Acme"])
    book.save(plain)
    hostile = tmp_path / "hostile.xlsx"
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(hostile, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            data = source.read(entry)
            target.writestr(entry.filename, rewrite(data) if entry.filename == part else data)
    return hostile


@pytest.mark.parametrize(
    ("part", "rewrite"),
    [
        ("xl/worksheets/sheet1.xml", _after_declaration(BILLION_LAUGHS.encode())),
        (
            "[Content_Types].xml",
            _after_declaration(b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "file:///etc/passwd">'),
        ),
        ("xl/workbook.xml", _after_declaration(b"<!-- " + b"padding " * 1000 + b"-->\n<!DOCTYPE workbook>")),
        ("xl/styles.xml", lambda data: "\ufeff<!DOCTYPE styleSheet><styleSheet/>".encode("utf-16-le")),
    ],
    ids=["entity-expansion-in-a-sheet", "external-entity", "after-a-long-comment", "utf-16"],
)
def test_xml_dtd_in_any_part_of_an_xlsx_is_refused_before_parsing(tmp_path, part, rewrite, monkeypatch):
    path = _workbook_with_part(tmp_path, part, rewrite)
    monkeypatch.setattr(openpyxl, "load_workbook", lambda *a, **k: pytest.fail("openpyxl saw the file"))
    with pytest.raises(ReadError) as caught:
        sniff(path)
    assert (caught.value.code, caught.value.http_status) == ("XML_DTD", 422)
    assert part in caught.value.message


def test_xlsx_part_with_no_root_element_in_its_head_is_refused(tmp_path):
    path = _workbook_with_part(tmp_path, "xl/workbook.xml", _after_declaration(b"<!-- " + b"x" * 70_000))
    with pytest.raises(ReadError) as caught:
        sniff(path)
    assert caught.value.code == "XML_DTD"


def test_xlsx_with_comments_and_declarations_but_no_dtd_still_reads(tmp_path, read_all):
    rewrite = _after_declaration(b'<?xml version="1.0"?>\n<!-- made by hand -->\n')
    info, table, _ = read_all(_workbook_with_part(tmp_path, "xl/workbook.xml", rewrite))
    assert info.columns == ["Name"]
    assert table.column("Name").to_pylist() == ["Acme"]


@pytest.mark.parametrize("part", ["xl/worksheets/sheet1.xml", "xl/workbook.xml"])
def test_xlsx_with_malformed_xml_is_a_corrupt_file_not_a_crash(tmp_path, read_all, part):
    path = _workbook_with_part(tmp_path, part, lambda data: data[: len(data) // 2])
    with pytest.raises(ReadError) as caught:
        read_all(path)
    assert caught.value.code == "CORRUPT_FILE"


def _styles_xml(target_bytes: int) -> bytes:
    """A styles.xml of about target_bytes: cell formats that differ, so it packs about 130 times, not 1000."""
    formats = b"".join(
        b'<xf numFmtId="%d" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>' % (n % 200)
        for n in range(target_bytes // 84 + 1)
    )
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<styleSheet xmlns="http://schemas.openxmlformats.org/'
        b'spreadsheetml/2006/main"><cellXfs>' + formats + b"</cellXfs></styleSheet>"
    )


def _shared_strings_xml(target_bytes: int) -> bytes:
    """A shared strings table of about target_bytes of distinct texts."""
    strings = b"".join(
        b"<si><t>Customer %d of the legacy CRM export, region north</t></si>" % n
        for n in range(target_bytes // 64 + 1)
    )
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<sst xmlns="http://schemas.openxmlformats.org/'
        b'spreadsheetml/2006/main">' + strings + b"</sst>"
    )


def inflating_workbook(tmp_path, part: str, data: bytes, content_type: str | None = None) -> os.PathLike[str]:
    """A real workbook (Name / Acme) with `part` replaced by (or added as) `data`, packed as tightly as zip can."""
    plain = tmp_path / "plain.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["Name"])
    book.active.append(["Acme"])
    book.save(plain)
    hostile = tmp_path / "inflating.xlsx"
    with (
        zipfile.ZipFile(plain) as source,
        zipfile.ZipFile(hostile, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target,
    ):
        for entry in source.infolist():
            content = data if entry.filename == part else source.read(entry)
            if entry.filename == "[Content_Types].xml" and content_type is not None:
                override = f'<Override PartName="/{part}" ContentType="{content_type}"/></Types>'
                content = content.replace(b"</Types>", override.encode())
            target.writestr(entry.filename, content)
        if part not in source.namelist():
            target.writestr(part, data)
    return hostile


SHARED_STRINGS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"


@pytest.mark.parametrize(
    ("part", "data", "content_type", "limit"),
    [
        ("xl/styles.xml", _styles_xml(32 * 1024 * 1024), None, 8 * 1024 * 1024),
        ("xl/sharedStrings.xml", _shared_strings_xml(71_000_000), SHARED_STRINGS_TYPE, 64 * 1024 * 1024),
        # Renamed: openpyxl finds the shared strings by their content type, and so does the check.
        ("xl/media/image9.xml", _shared_strings_xml(71_000_000), SHARED_STRINGS_TYPE, 64 * 1024 * 1024),
        ("docProps/custom.xml", _styles_xml(9 * 1024 * 1024), None, 8 * 1024 * 1024),
    ],
    ids=["styles-32MiB", "shared-strings-71MB", "shared-strings-renamed", "custom-properties"],
)
def test_xlsx_part_inflating_past_its_limit_is_refused_though_its_ratio_passes(
    tmp_path, part, data, content_type, limit, monkeypatch
):
    path = inflating_workbook(tmp_path, part, data, content_type)
    with zipfile.ZipFile(path) as archive:
        entry = archive.getinfo(part)
    assert entry.file_size / entry.compress_size < ReadOptions().max_zip_ratio  # the ratio check lets it by
    assert path.stat().st_size < 3_000_000
    monkeypatch.setattr(openpyxl, "load_workbook", lambda *a, **k: pytest.fail("openpyxl saw the file"))
    with pytest.raises(ReadError) as caught:
        sniff(path)
    assert (caught.value.code, caught.value.http_status) == ("PART_TOO_LARGE", 422)
    assert caught.value.where["part"] == part and caught.value.where["limit"] == limit
    assert part in caught.value.message and f"{limit:,}" in caught.value.message


def test_xlsx_part_limits_are_settings(tmp_path, read_all):
    path = inflating_workbook(tmp_path, "xl/styles.xml", _styles_xml(2 * 1024 * 1024))
    with pytest.raises(ReadError) as caught:
        sniff(path, ReadOptions(limits=ReadLimits(xlsx_max_part_bytes=1024 * 1024)))
    assert caught.value.code == "PART_TOO_LARGE" and "DMS_XLSX_MAX_PART_BYTES" in caught.value.message
    info, table, _ = read_all(path)  # 2 MiB of styles is within the default
    assert table.column("Name").to_pylist() == ["Acme"]


def _distinct_texts_xml(target_bytes: int) -> bytes:
    """A shared strings table of random names and e-mails: distinct texts, packing about 3 times as Excel's do."""
    rng = random.Random(1)

    def word() -> str:
        return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(4, 9)))

    strings, size = [], 0
    while size < target_bytes:
        first, last = word(), word()
        text = f"<si><t>{first.title()} {last.title()}</t></si><si><t>{first}.{last}@{word()}.com</t></si>"
        strings.append(text)
        size += len(text)
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<sst xmlns="http://schemas.openxmlformats.org/'
        b'spreadsheetml/2006/main">' + "".join(strings).encode() + b"</sst>"
    )


def test_a_large_shared_strings_table_of_distinct_texts_reads_and_a_packed_one_does_not(tmp_path, read_all):
    # Scaled down (a 1 MiB base instead of 64 MiB): 3 MB of names and e-mails packs about 3 times, as a 50 MB
    # workbook's 90 MB table does; 3 MB of near-repeats packs 20 times.
    small = ReadOptions(limits=ReadLimits(xlsx_max_shared_strings_bytes=1024 * 1024))
    real = inflating_workbook(
        tmp_path, "xl/sharedStrings.xml", _distinct_texts_xml(3_000_000), SHARED_STRINGS_TYPE
    )
    info, table, _ = read_all(real, small)
    assert table.column("Name").to_pylist() == ["Acme"]
    packed = tmp_path / "packed"
    packed.mkdir()
    bomb = inflating_workbook(
        packed, "xl/sharedStrings.xml", _shared_strings_xml(3_000_000), SHARED_STRINGS_TYPE
    )
    with pytest.raises(ReadError) as caught:
        sniff(bomb, small)
    assert caught.value.code == "PART_TOO_LARGE"
    assert "DMS_XLSX_SHARED_STRINGS_MAX_RATIO" in caught.value.message


def test_xlsx_pictures_and_sheets_are_not_held_to_the_part_limit(tmp_path, read_all):
    picture = os.urandom(1024 * 1024)
    path = inflating_workbook(tmp_path, "xl/media/image1.png", picture)
    info, table, _ = read_all(path, ReadOptions(limits=ReadLimits(xlsx_max_part_bytes=64 * 1024)))
    assert table.column("Name").to_pylist() == ["Acme"]


class _AsksForGigabytes:
    def __reduce__(self):
        return (bytearray, (10**10,))


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_a_pickle_asking_bytearray_for_ten_gigabytes_is_refused_before_allocating(protocol, write_bytes):
    data = pickletools.optimize(pickle.dumps(_AsksForGigabytes(), protocol=protocol))
    assert len(data) <= 43
    path = write_bytes("bomb.pkl", data)
    with pytest.raises(ReadError) as caught:
        sniff(path, ALLOW)
    assert (caught.value.code, caught.value.http_status) == ("PICKLE_TOO_LARGE", 422)
    assert (
        "bytearray(10000000000)" in caught.value.message
        and "DMS_PICKLE_MAX_ALLOC_BYTES" in caught.value.message
    )
    assert caught.value.where["limit"] == 256 * 1024 * 1024


_MULTIARRAY = importlib.import_module("numpy._core.multiarray")


class _CallsConstructor:
    def __init__(self, target, *args):
        self.target, self.args = target, args

    def __reduce__(self):
        return (self.target, self.args)


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        # An array of a shape the pickle only names, through numpy's own reconstructor.
        (_CallsConstructor(_MULTIARRAY._reconstruct, np.ndarray, (10**10,), b"b"), "PICKLE_TOO_LARGE"),
        (_CallsConstructor(_MULTIARRAY.scalar, np.dtype(("V", 10**9))), "PICKLE_TOO_LARGE"),
        # Frames, series and arrays are rebuilt empty and filled from their state; called, they broadcast.
        (_CallsConstructor(pd.Series, 0, pd.RangeIndex(0, 3)), "PICKLE_FORBIDDEN"),
        (_CallsConstructor(np.ndarray, (10**10,)), "PICKLE_FORBIDDEN"),
    ],
    ids=["reconstruct", "scalar", "series-broadcast", "ndarray"],
)
def test_a_pickle_asking_for_space_by_argument_is_refused(payload, code, write_bytes):
    path = write_bytes("bomb.pkl", pickle.dumps(payload, protocol=4))
    with pytest.raises(ReadError) as caught:
        sniff(path, ALLOW)
    assert caught.value.code == code


def test_a_range_index_of_a_trillion_rows_is_refused(write_bytes):
    # A frame over it would be numbered row by row: a few hundred bytes that ask for terabytes.
    new_index = importlib.import_module("pandas.core.indexes.base")._new_Index
    payload = _CallsConstructor(
        new_index, pd.RangeIndex, {"start": 0, "stop": 10**12, "step": 1, "name": None}
    )
    path = write_bytes("rows.pkl", pickle.dumps(payload, protocol=4))
    with pytest.raises(ReadError) as caught:
        sniff(path, ALLOW)
    assert caught.value.code == "PICKLE_TOO_LARGE" and "_new_Index" in caught.value.message


def test_the_pickle_allocation_limit_is_a_setting(write_bytes, read_all):
    # Protocol 2 rebuilds an Arrow column's buffers through bytearray: real data passes the limit.
    frame = pd.DataFrame({"name": pd.array(["a" * 1000, None], dtype="string[pyarrow]")})
    info, table, _ = read_all(write_bytes("frame.pkl", pickle.dumps(frame, protocol=2)), ALLOW)
    assert table.column("name").to_pylist() == ["a" * 1000, None]
    small = ReadOptions(allow_pickle=True, limits=ReadLimits(pickle_max_alloc_bytes=1000))
    with pytest.raises(ReadError) as caught:
        sniff(write_bytes("frame.pkl", pickle.dumps(_CallsConstructor(bytearray, 1001))), small)
    assert caught.value.code == "PICKLE_TOO_LARGE" and "1,000" in caught.value.message
