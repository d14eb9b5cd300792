"""Measure localorg's Bulk API 2.0 rates: ingest of N rows of a 10-column Account CSV, and a query of them back.

Usage: .venv/bin/python bench/localorg_bulk.py [--rows 1000000] [--operation insert|upsert|upsert-existing ...]
       [--db :memory:] [--query-page 50000] [--no-query]
By default it measures insert and upsert (on Legacy_Id__c) side by side, each into an empty org on one server;
upsert-existing upserts the same file again, so that every row updates a record. Each job's successfulResults
are downloaded too (DMS fetches them for every chunk) and timed apart from the ingest rate. Then a Bulk 2.0
query job reads the N records back (Id and the 10 columns), from job creation to the last result set downloaded
in sets of --query-page records (simple-salesforce's default size), and its rate is printed next to the others.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from localorg.testing import running_localorg

HEADER = [
    "Name",
    "Legacy_Id__c",
    "Phone",
    "Industry",
    "AnnualRevenue",
    "NumberOfEmployees",
    "Founded__c",
    "Tier__c",
    "BillingCity",
    "Website",
]
_INDUSTRIES = ["Banking", "Retail", "Energy", "Media", "Technology"]
_TIERS = ["Gold", "Silver", "Bronze"]


def write_csv(path: Path, rows: int) -> int:
    """Write the benchmark file; returns its size in bytes."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(HEADER)
        for i in range(rows):
            writer.writerow(
                [
                    f"Account {i}",
                    f"LEG-{i:08d}",
                    f"+1 555 {i % 10000:04d}",
                    _INDUSTRIES[i % 5],
                    f"{(i % 997) * 1000}.50",
                    str(i % 50000),
                    f"{1950 + i % 70}-{1 + i % 12:02d}-15",
                    _TIERS[i % 3],
                    "Springfield",
                    f"https://acct{i}.example.com",
                ]
            )
    return path.stat().st_size


def run_job(session: requests.Session, base: str, data: Path, operation: str) -> dict[str, Any]:
    """One Bulk 2.0 job from create to a final state, then its successfulResults; returns the timings."""
    body = {"object": "Account", "operation": operation, "contentType": "CSV", "lineEnding": "LF"}
    if operation == "upsert":
        body["externalIdFieldName"] = "Legacy_Id__c"
    started = time.monotonic()
    job = session.post(base, json=body, timeout=60).json()
    with data.open("rb") as upload:
        response = session.put(
            f"{base}/{job['id']}/batches", data=upload, headers={"Content-Type": "text/csv"}, timeout=600
        )
    response.raise_for_status()
    uploaded = time.monotonic()
    session.patch(f"{base}/{job['id']}", json={"state": "UploadComplete"}, timeout=60).raise_for_status()
    while True:
        info = session.get(f"{base}/{job['id']}", timeout=60).json()
        if info["state"] in {"JobComplete", "Failed", "Aborted"}:
            break
        time.sleep(0.1)
    finished = time.monotonic()
    results = session.get(f"{base}/{job['id']}/successfulResults", timeout=600, stream=True)
    results.raise_for_status()
    result_bytes = sum(len(block) for block in results.iter_content(1024 * 1024))
    fetched = time.monotonic()
    return {
        "info": info,
        "upload_s": uploaded - started,
        "processing_s": finished - uploaded,
        "total_s": finished - started,
        "results_s": fetched - finished,
        "result_bytes": result_bytes,
    }


def run_query(session: requests.Session, base: str, page_size: int) -> dict[str, Any]:
    """One Bulk 2.0 query job of every benchmark column, from create to the last result set; returns timings."""
    soql = f"SELECT Id, {', '.join(HEADER)} FROM Account"
    started = time.monotonic()
    response = session.post(base, json={"operation": "query", "query": soql}, timeout=60)
    response.raise_for_status()
    job_id = response.json()["id"]
    while True:
        info = session.get(f"{base}/{job_id}", timeout=60).json()
        if info["state"] in {"JobComplete", "Failed", "Aborted"}:
            break
        time.sleep(0.1)
    finished = time.monotonic()
    records = result_bytes = 0
    locator = ""
    while True:
        params: dict[str, Any] = {"maxRecords": page_size}
        if locator:
            params["locator"] = locator
        results = session.get(f"{base}/{job_id}/results", params=params, timeout=600, stream=True)
        results.raise_for_status()
        result_bytes += sum(len(block) for block in results.iter_content(1024 * 1024))
        records += int(results.headers["Sforce-NumberOfRecords"])
        locator = results.headers["Sforce-Locator"]
        if locator == "null":
            break
    fetched = time.monotonic()
    return {
        "info": info,
        "records": records,
        "processing_s": finished - started,
        "download_s": fetched - finished,
        "total_s": fetched - started,
        "result_bytes": result_bytes,
    }


def main() -> int:
    """Run the benchmark and print the rates."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--operation",
        action="append",
        choices=["insert", "upsert", "upsert-existing"],
        help="repeatable; default: insert and upsert",
    )
    parser.add_argument("--db", default=":memory:")
    parser.add_argument("--query-page", type=int, default=50_000, help="maxRecords of each query result set")
    parser.add_argument("--no-query", action="store_true", help="measure ingest only")
    args = parser.parse_args()
    operations = args.operation or ["insert", "upsert"]
    rates: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="localorg-bench-") as workdir:
        data = Path(workdir) / "accounts.csv"
        size = write_csv(data, args.rows)
        db = args.db if args.db == ":memory:" else str(Path(workdir) / args.db)
        with running_localorg(db=db, workdir=workdir) as org:
            token, instance_url = org.login()
            session = org.requests_session()
            session.headers["Authorization"] = f"Bearer {token}"
            base = f"{instance_url}/services/data/v62.0/jobs/ingest"
            for index, name in enumerate(operations):
                if name != "upsert-existing" and index:
                    org.reset()  # insert and upsert each load into an empty org
                if name == "upsert-existing" and (index == 0 or operations[index - 1] == "upsert-existing"):
                    run_job(session, base, data, "upsert")  # the records it will update
                run = run_job(session, base, data, "upsert" if name == "upsert-existing" else name)
                info = run["info"]
                if info["state"] != "JobComplete" or info["numberRecordsFailed"]:
                    print(f"benchmark {name} job ended badly: {info}", file=sys.stderr)
                    return 1
                rates[name] = args.rows / run["total_s"]
                print(
                    f"localorg bulk2 {name}: rows={args.rows} bytes={size} upload_s={run['upload_s']:.2f} "
                    f"processing_s={run['processing_s']:.2f} total_s={run['total_s']:.2f} "
                    f"rate_rows_per_s={rates[name]:,.0f} successful_results_s={run['results_s']:.2f} "
                    f"(bytes={run['result_bytes']}) load_avg={os.getloadavg()[0]:.2f}",
                    flush=True,
                )
            if not args.no_query:
                query_base = f"{instance_url}/services/data/v62.0/jobs/query"
                run = run_query(session, query_base, args.query_page)
                if run["info"]["state"] != "JobComplete" or run["records"] != args.rows:
                    print(
                        f"benchmark query job ended badly: {run['info']} records={run['records']}",
                        file=sys.stderr,
                    )
                    return 1
                rates["query"] = args.rows / run["total_s"]
                print(
                    f"localorg bulk2 query: rows={args.rows} page={args.query_page} "
                    f"processing_s={run['processing_s']:.2f} download_s={run['download_s']:.2f} "
                    f"total_s={run['total_s']:.2f} rate_rows_per_s={rates['query']:,.0f} "
                    f"(bytes={run['result_bytes']}) load_avg={os.getloadavg()[0]:.2f}",
                    flush=True,
                )
    print("localorg bulk2 rows/s: " + "  ".join(f"{name}={rate:,.0f}" for name, rate in rates.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
