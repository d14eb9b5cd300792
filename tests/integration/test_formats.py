"""Every format and encoding people export, loaded through a real worker into localorg and read back."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.integration.pipeline_helpers import (
    ACCOUNT_UPSERT,
    org_client,
    records_by,
    result_rows,
    run_job,
    upload,
)

MAPPING = {
    "fields": [
        {"target": "Legacy_Id__c", "source": "legacy"},
        {"target": "Name", "source": "name"},
        {"target": "Founded__c", "source": "founded"},
        {"target": "Score__c", "source": "score"},
    ]
}
NAMES = {
    "utf-8": ["Müller GmbH", "北京客户", 'Ωmega, "quoted"', "Line\nbreak Ltd"],
    "gb18030": ["北京客户有限公司", "上海贸易", "广州, 公司", "深圳科技"],
    "big5": ["台北客戶", "高雄貿易", "台中, 公司", "新竹科技"],
    "shift_jis": ["東京顧客株式会社", "大阪商事", "名古屋, 会社", "札幌技研"],
    "cp1252": ["Café Crème", "Zoë Ltd", "Señor, S.A.", "Œuvre"],
}
DATES = [dt.date(2001, 2, 3), dt.date(1999, 12, 31), dt.date(2024, 3, 7), dt.date(2010, 1, 15)]
SCORES = [1.5, 2.25, 99.99, 0.0]


def rows(names: list[str], prefix: str) -> list[dict[str, Any]]:
    return [
        {"legacy": f"{prefix}-{i}", "name": n, "founded": d, "score": s}
        for i, (n, d, s) in enumerate(zip(names, DATES, SCORES, strict=True))
    ]


def delimited(
    delimiter: str, encoding: str, newline: str = "\n"
) -> Callable[[Path, list[dict[str, Any]]], Path]:
    def write(path: Path, data: list[dict[str, Any]]) -> Path:
        frame = pd.DataFrame(data)
        frame["founded"] = frame["founded"].map(lambda d: d.isoformat())
        path = path.with_suffix(".tsv" if delimiter == "\t" else ".csv")
        text = frame.to_csv(index=False, sep=delimiter, lineterminator=newline)
        path.write_bytes(text.encode(encoding))
        return path

    return write


def excel(path: Path, data: list[dict[str, Any]]) -> Path:
    book = openpyxl.Workbook()
    book.active.title = "Notes"
    book.active.append(["this sheet is not the data"])
    sheet = book.create_sheet("Accounts")
    sheet.append(list(data[0]))
    for row in data:
        sheet.append(
            [row["legacy"], row["name"], dt.datetime.combine(row["founded"], dt.time()), row["score"]]
        )
    path = path.with_suffix(".xlsx")
    book.save(path)
    return path


def json_array(path: Path, data: list[dict[str, Any]]) -> Path:
    path = path.with_suffix(".json")
    path.write_text(
        json.dumps([{**r, "founded": r["founded"].isoformat()} for r in data], ensure_ascii=False),
        encoding="utf-8",
    )
    return path


def ndjson(path: Path, data: list[dict[str, Any]]) -> Path:
    path = path.with_suffix(".ndjson")
    path.write_text(
        "".join(json.dumps({**r, "founded": r["founded"].isoformat()}) + "\n" for r in data), encoding="utf-8"
    )
    return path


def parquet(path: Path, data: list[dict[str, Any]]) -> Path:
    path = path.with_suffix(".parquet")
    pq.write_table(pa.Table.from_pylist(data), path)
    return path


CASES: dict[str, tuple[Callable[[Path, list[dict[str, Any]]], Path], str, dict[str, Any]]] = {
    "csv-utf8": (delimited(",", "utf-8"), "utf-8", {}),
    "csv-utf8-bom-crlf": (delimited(",", "utf-8-sig", "\r\n"), "utf-8", {}),
    "csv-utf16": (delimited(",", "utf-16"), "utf-8", {}),
    "semicolon-gb18030": (delimited(";", "gb18030"), "gb18030", {}),
    "tsv-big5": (delimited("\t", "big5"), "big5", {}),
    "pipe-shift-jis": (delimited("|", "shift_jis"), "shift_jis", {}),
    "csv-cp1252": (delimited(",", "cp1252"), "cp1252", {}),
    "xlsx-second-sheet": (excel, "utf-8", {"sheet": "Accounts"}),
    "json": (json_array, "utf-8", {}),
    "ndjson": (ndjson, "utf-8", {}),
    "parquet": (parquet, "utf-8", {}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_format_loads_every_row_field_by_field(
    client: Any, worker: str, localorg: Any, tmp_path: Path, case: str
) -> None:
    write, names_of, read_options = CASES[case]
    prefix = uuid.uuid4().hex[:8]
    data = rows(NAMES[names_of], prefix)
    path = write(tmp_path / "export", data)
    upload_id = upload(client, path)
    preview = client.get(f"/api/v1/uploads/{upload_id}/preview", query_string=read_options).json
    assert [c["name"] for c in preview["columns"]] == ["legacy", "name", "founded", "score"], preview
    job = run_job(
        client,
        upload_id=upload_id,
        **ACCOUNT_UPSERT,
        mapping=MAPPING,
        read_options=read_options,
    )
    assert job["state"] == "completed", (job, result_rows(client, job["id"], "errors.csv"))
    sf = org_client(localorg)
    org = records_by(
        sf,
        f"SELECT Legacy_Id__c, Name, Founded__c, Score__c FROM Account WHERE Legacy_Id__c LIKE '{prefix}-%'",
        "Legacy_Id__c",
    )
    for row in data:
        record = org[row["legacy"]]
        assert (record["Name"], record["Founded__c"], record["Score__c"]) == (
            row["name"],
            row["founded"].isoformat(),
            row["score"],
        )


def test_ragged_rows_are_reported_and_the_rest_loads(
    client: Any, worker: str, localorg: Any, tmp_path: Path
) -> None:
    prefix = uuid.uuid4().hex[:8]
    path = tmp_path / "ragged.csv"
    path.write_text(
        f"legacy,name,founded,score\n{prefix}-1,One,2001-01-01,1\n{prefix}-2,Two,2001-01-02\n"
        f"{prefix}-3,Three,2001-01-03,3,extra\n{prefix}-4,Four,2001-01-04,4\n\n\n"
    )
    job = run_job(
        client,
        upload_id=upload(client, path),
        **ACCOUNT_UPSERT,
        mapping=MAPPING,
    )
    assert (job["counters"]["total"], job["counters"]["succeeded"], job["counters"]["invalid"]) == (4, 2, 2)
    errors = result_rows(client, job["id"], "errors.csv")
    assert [(int(r["source_row"]), r["stage"]) for r in errors] == [(2, "read"), (3, "read")]
    assert "Two" in errors[0]["error_message"]


def test_formula_cells_are_neutralised_in_result_files(
    client: Any, worker: str, localorg: Any, tmp_path: Path
) -> None:
    prefix = uuid.uuid4().hex[:8]
    path = tmp_path / "formulas.csv"
    path.write_text(
        f'legacy,name,founded,score\n{prefix}-1,"=HYPERLINK(""http://evil"")",2001-01-01,1\n'
        f"{prefix}-2,@SUM(A1),not-a-date,2\n"
    )
    job = run_job(
        client,
        upload_id=upload(client, path),
        **ACCOUNT_UPSERT,
        mapping=MAPPING,
    )
    success = result_rows(client, job["id"], "success.csv")
    errors = result_rows(client, job["id"], "errors.csv")
    assert success[0]["name"] == '\'=HYPERLINK("http://evil")'
    assert errors[0]["name"] == "'@SUM(A1)"
    sf = org_client(localorg)  # the org itself holds the value as it was sent
    assert (
        sf.query(f"SELECT Name FROM Account WHERE Legacy_Id__c = '{prefix}-1'")["records"][0]["Name"]
        == '=HYPERLINK("http://evil")'
    )
