"""Round trips: a file DMS exported, re-saved by a spreadsheet or fixed by hand and loaded back, gives exactly
the original values in the org; errors.csv is one rectangular line per source row; odd characters load."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dms.pipeline.exported import ERROR_COLUMNS, FORMULA_START, SUCCESS_COLUMNS
from tests.integration.pipeline_helpers import (
    ACCOUNT_UPSERT,
    org_client,
    records_by,
    result_rows,
    run_job,
    upload,
    wait_job,
)
from tests.integration.test_cli import dms

MAPPING = {
    "fields": [
        {"target": "Legacy_Id__c", "source": "legacy"},
        {"target": "Name", "source": "name"},
        {"target": "Phone", "source": "phone"},
        {"target": "Description", "source": "notes"},
        {"target": "Founded__c", "source": "founded"},
        {"target": "Score__c", "source": "score"},
    ]
}
HEADER = ["legacy", "name", "phone", "notes", "founded", "score"]


def csv_text(rows: list[list[str]], **format: Any) -> str:
    """CSV as a spreadsheet saves it. Python's writer quotes a cell holding a bare CR only when the line
    terminator holds one too; a spreadsheet always quotes it (else the CR reads as a line break): such a row
    is written with every cell quoted."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, **format)
    quoted = csv.writer(buffer, **{**format, "quoting": csv.QUOTE_ALL})
    bare_cr_unquoted = format.get(
        "quoting", csv.QUOTE_MINIMAL
    ) == csv.QUOTE_MINIMAL and "\r" not in format.get("lineterminator", "\r\n")
    for row in rows:
        (quoted if bare_cr_unquoted and any("\r" in cell for cell in row) else writer).writerow(row)
    return buffer.getvalue()


def download(client: Any, job_id: str, kind: str) -> list[list[str]]:
    """A result file as a spreadsheet sees it: every line, the header first."""
    response = client.get(f"/api/v1/jobs/{job_id}/results/{kind}")
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))


def retry_with(client: Any, job_id: str, path: Path) -> dict[str, Any]:
    response = client.post(f"/api/v1/jobs/{job_id}/retry", json={"upload_id": upload(client, path)})
    assert response.status_code == 201, response.json
    return wait_job(client, response.json["id"])


# ---- the fix-and-retry loop of the docs, with the CLI -----------------------------------------------------


def test_fix_and_retry_with_the_cli_loads_the_original_values_not_dms_quotes(
    web_url: str, worker: str, localorg: Any, tmp_path: Path
) -> None:
    prefix = uuid.uuid4().hex[:8]
    source = tmp_path / "accounts.csv"
    source.write_text(
        csv_text(
            [
                HEADER,
                [f"{prefix}-1", '=HYPERLINK("http://x")', "+49 30 1111111", "-5 is the score", "bad", "1"],
                [f"{prefix}-2", "@home", "'+1 keeps its quote", "plain", "2001-01-02", "2"],
                [f"{prefix}-3", "'=x is data", "+1 555", "@x", "31.02.2001", "3"],
            ]
        )
    )
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps(MAPPING))
    first = dms(
        web_url,
        "migrate",
        str(source),
        *("--object", "Account", "--operation", "upsert", "--external-id", "Legacy_Id__c"),
        *("--mapping", str(mapping), "--wait"),
    )
    assert first.returncode == 1, first.stdout + first.stderr
    job_id = re.search(r"job (job-\S+)", first.stdout).group(1)  # type: ignore[union-attr]

    errors_file = tmp_path / "e.csv"
    assert dms(web_url, "results", job_id, "--errors", "-o", str(errors_file)).returncode == 0
    lines = list(csv.reader(io.StringIO(errors_file.read_text(encoding="utf-8-sig"), newline="")))
    name, phone, founded = (lines[0].index(c) for c in ("name", "phone", "founded"))
    assert [(line[name], line[phone]) for line in lines[1:]] == [
        ('\'=HYPERLINK("http://x")', "'+49 30 1111111"),  # neutralised for the spreadsheet
        ("''=x is data", "'+1 555"),
    ]
    # Fixed by hand, as a person does: the dates, nothing else.
    for line in lines[1:]:
        line[founded] = "2001-01-01"
    errors_file.write_text(csv_text(lines), encoding="utf-8-sig")

    retry = dms(web_url, "retry", job_id, "--file", str(errors_file), "--wait")
    assert retry.returncode == 0, retry.stdout + retry.stderr
    org = records_by(
        org_client(localorg),
        f"SELECT Legacy_Id__c, Name, Phone, Description FROM Account WHERE Legacy_Id__c LIKE '{prefix}-%'",
        "Legacy_Id__c",
    )
    got = {k: (r["Name"], r["Phone"], r["Description"]) for k, r in org.items()}
    assert got == {
        f"{prefix}-1": ('=HYPERLINK("http://x")', "+49 30 1111111", "-5 is the score"),
        f"{prefix}-2": ("@home", "'+1 keeps its quote", "plain"),
        f"{prefix}-3": ("'=x is data", "+1 555", "@x"),
    }


# ---- any values, any re-save -------------------------------------------------------------------------

PIECES = [
    "=",
    "+",
    "-",
    "@",
    "|",
    "\uff1d",
    "\u3000",
    "'",
    '"',
    ",",
    ";",
    "\n",
    "\r",
    "\r\n",
    "\t",
    " ",
    "  ",
    "漢字",
    "ü",
    "a",
    "7",
    "(",
    ")",
]
VALUE = st.lists(st.sampled_from(PIECES), min_size=1, max_size=10).map("".join).map(lambda v: v + "x")
LEADING = st.sampled_from(
    ["", " ", "=", "+", "-", "@", "'=", "''+", "\t", "'", " =", "  @", "\uff1d", "'|", "\n=", "\u3000+"]
)
CELL = st.tuples(LEADING, VALUE, st.sampled_from(["", " ", "  "])).map("".join)
ROWS = st.lists(st.tuples(CELL, CELL, CELL), min_size=1, max_size=12)
RESAVE = st.fixed_dictionaries(
    {
        "quoting": st.sampled_from([csv.QUOTE_ALL, csv.QUOTE_MINIMAL, csv.QUOTE_NONNUMERIC]),
        "lineterminator": st.sampled_from(["\r\n", "\n"]),
        "bom": st.booleans(),
        "drops_quote": st.booleans(),  # a spreadsheet that takes `'=x` for the text `=x` and saves that
    }
)


@settings(
    max_examples=3,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@example(
    rows=[
        ("=1+1", "+49 30 1111111", "-minus"),
        ("'=x", "''+y", "@SUM(A1)"),
        ("\tTab", " lead", "trail "),
        ('Acme, "Inc."', "漢字 123", "two\nlines and a\rbare CR"),
        ("'quoted", "'", "a\r\nb"),
        (" =1+1", "\uff1dSUM(A1)", "|cmd"),
        ("\n=lead", "'  @x", "\u3000-1"),
    ],
    resave={"quoting": csv.QUOTE_ALL, "lineterminator": "\r\n", "bom": True, "drops_quote": False},
)
@given(rows=ROWS, resave=RESAVE)
def test_exported_resaved_and_retried_values_reach_the_org_exactly(
    client: Any,
    worker: str,
    localorg: Any,
    tmp_path: Path,
    rows: list[tuple[str, str, str]],
    resave: dict[str, Any],
) -> None:
    if resave["drops_quote"]:
        # Which quote is whose cannot be told once a spreadsheet dropped DMS's: values of the data's own that
        # start with quotes before a formula start are for the spreadsheets that keep it (the example above).
        rows = [tuple(re.sub(f"^'+(?={FORMULA_START})", "", value) for value in row) for row in rows]  # type: ignore[misc]
    prefix = uuid.uuid4().hex[:8]
    keys = [f"{prefix}-{n}" for n in range(len(rows))]
    source = tmp_path / f"{prefix}.csv"
    source.write_text(
        csv_text([HEADER, *([k, *row, "not a date", "1"] for k, row in zip(keys, rows, strict=True))])
    )
    first = run_job(client, upload_id=upload(client, source), **ACCOUNT_UPSERT, mapping=MAPPING)
    assert first["counters"]["invalid"] == len(rows), first

    lines = download(client, first["id"], "errors.csv")
    founded = lines[0].index("founded")
    fixed = [lines[0]]
    for line in lines[1:]:
        cells = (
            [re.sub(f"^'(?={FORMULA_START})", "", c) for c in line] if resave["drops_quote"] else list(line)
        )
        cells[founded] = "2001-01-01"
        fixed.append(cells)
    text = csv_text(fixed, quoting=resave["quoting"], lineterminator=resave["lineterminator"])
    resaved = tmp_path / f"{prefix}-fixed.csv"
    resaved.write_bytes(("\ufeff" if resave["bom"] else "").encode() + text.encode("utf-8"))

    retried = retry_with(client, first["id"], resaved)
    assert retried["counters"]["succeeded"] == len(rows), retried
    org = records_by(
        org_client(localorg),
        f"SELECT Legacy_Id__c, Name, Phone, Description FROM Account WHERE Legacy_Id__c LIKE '{prefix}-%'",
        "Legacy_Id__c",
    )
    got = {k: (org[k]["Name"], org[k]["Phone"], org[k]["Description"]) for k in keys}
    assert got == dict(zip(keys, rows, strict=True))


# ---- errors.csv as Data Loader writes it -----------------------------------------------------------------


def test_errors_csv_is_one_rectangular_line_per_source_row_and_goes_back_in_as_it_is(
    client: Any, worker: str, localorg: Any, tmp_path: Path
) -> None:
    prefix = uuid.uuid4().hex[:8]
    source = tmp_path / "mixed.csv"
    source.write_text(
        "legacy,name,phone,notes,founded,score\n"
        f"{prefix}-1,One,1,n,2001-01-01,1\n"
        f"{prefix}-2,Two,2,n,not a date,not a number\n"  # two problems, one line
        f"{prefix}-3,Three,3\n"  # too few fields
        f"{prefix}-4,Four,4,n,2001-01-04,4,extra\n"  # too many
        f"{prefix}-5,,5,n,2001-01-05,5\n"  # Salesforce refuses it: a new Account needs a Name
        + "".join(f"{prefix}-{n},N{n},{n},n,bad,bad\n" for n in range(6, 58))  # 52 rows, two problems each
    )
    first = run_job(client, upload_id=upload(client, source), **ACCOUNT_UPSERT, mapping=MAPPING)
    assert (first["counters"]["succeeded"], first["counters"]["failed"], first["counters"]["invalid"]) == (
        1,
        1,
        55,
    )
    lines = download(client, first["id"], "errors.csv")
    header = HEADER + ERROR_COLUMNS
    assert lines[0] == header
    assert {len(line) for line in lines} == {len(header)}
    by_row = {line[6]: dict(zip(header, line, strict=True)) for line in lines[1:]}
    assert len(lines) - 1 == len(by_row) == 56
    assert list(by_row) == [str(n) for n in range(2, 58)]
    two = by_row["2"]
    assert (two["legacy"], two["founded"], two["score"]) == (f"{prefix}-2", "not a date", "not a number")
    assert two["stage"] == "validation" and two["error_code"].count(";") == 1
    assert [by_row["3"][c] for c in HEADER] == [f"{prefix}-3", "Three", "3", "", "", ""]
    assert [by_row["4"][c] for c in HEADER] == [f"{prefix}-4", "Four", "4", "n", "2001-01-04", "4"]
    assert "extra" in by_row["4"]["error_message"]
    assert (by_row["5"]["stage"], by_row["5"]["legacy"]) == ("salesforce", f"{prefix}-5")

    # Fixed in place and uploaded as it is: every row loads.
    for line in lines[1:]:
        line[1] = line[1] or "Five"
        line[3], line[4], line[5] = line[3] or "n", "2001-01-01", "1"
    fixed = tmp_path / "fixed.csv"
    fixed.write_text(csv_text(lines))
    retried = retry_with(client, first["id"], fixed)
    assert retried["state"] == "completed", retried
    assert retried["counters"]["succeeded"] == 56


def test_a_retry_from_a_corrected_file_exports_files_with_one_header(
    client: Any, worker: str, localorg: Any, tmp_path: Path
) -> None:
    prefix = uuid.uuid4().hex[:8]
    source = tmp_path / "accounts.csv"
    source.write_text(
        csv_text([HEADER, *([f"{prefix}-{n}", f"N{n}", "1", "n", "bad", "1"] for n in range(1, 4))])
    )
    first = run_job(client, upload_id=upload(client, source), **ACCOUNT_UPSERT, mapping=MAPPING)
    lines = download(client, first["id"], "errors.csv")
    for line in lines[1:3]:
        line[4] = "2001-01-01"  # row 3 stays bad
    fixed = tmp_path / "fixed.csv"
    fixed.write_text(csv_text(lines))
    retried = retry_with(client, first["id"], fixed)
    assert (retried["counters"]["succeeded"], retried["counters"]["invalid"]) == (2, 1)

    success = download(client, retried["id"], "success.csv")
    assert success[0] == SUCCESS_COLUMNS + HEADER + ["dms_source_row"]
    assert [line[-1] for line in success[1:]] == ["1", "2"]  # rows of the first job's file
    errors = download(client, retried["id"], "errors.csv")
    assert errors[0] == HEADER + ["dms_source_row"] + ERROR_COLUMNS
    # A retry of the retry still says where its row came from in the first file.
    response = client.post(f"/api/v1/jobs/{retried['id']}/retry", json={})
    again = wait_job(client, response.json["id"])
    rows = result_rows(client, again["id"], "errors.csv")
    assert [(r["dms_source_row"], r["legacy"]) for r in rows] == [("3", f"{prefix}-3")]
    for job in (retried, again):
        for kind in ("success.csv", "errors.csv"):
            header = download(client, job["id"], kind)[0]
            assert len(header) == len(set(header)), (kind, header)


# ---- control characters through Bulk ----------------------------------------------------------------


def test_values_with_control_characters_load_through_bulk_and_every_row_is_matched(
    client: Any, worker: str, localorg: Any, tmp_path: Path
) -> None:
    prefix = uuid.uuid4().hex[:8]
    values = [
        "a\rb",
        "ends\r",
        "\rstarts",
        "esc\x1bx",
        "vt\x0bx",
        "us\x1fx",
        "crlf\r\nx",
        "bell\x07",
        "del\x7fx",
    ]
    source = tmp_path / "control.csv"
    source.write_text(
        csv_text([["legacy", "name"], *([f"{prefix}-{n}", v] for n, v in enumerate(values))]), newline=""
    )
    job = run_job(
        client,
        upload_id=upload(client, source),
        **ACCOUNT_UPSERT,
        options={"api": "bulk"},
        mapping={"fields": MAPPING["fields"][:2]},
    )
    assert job["state"] == "completed", job
    assert (job["counters"]["succeeded"], job["counters"]["pending"]) == (len(values), 0)
    org = records_by(
        org_client(localorg),
        f"SELECT Id, Legacy_Id__c, Name FROM Account WHERE Legacy_Id__c LIKE '{prefix}-%'",
        "Legacy_Id__c",
    )
    success = result_rows(client, job["id"], "success.csv")
    assert {r["legacy"]: r["salesforce_id"] for r in success} == {k: r["Id"] for k, r in org.items()}
    assert {k: r["Name"] for k, r in org.items()} == {f"{prefix}-{n}": v for n, v in enumerate(values)}
