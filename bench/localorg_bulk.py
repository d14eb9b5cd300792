"""Measure localorg's Bulk API 2.0 ingest rate: N rows of a 10-column Account CSV, upload to JobComplete.

Usage: .venv/bin/python bench/localorg_bulk.py [--rows 1000000] [--operation insert|upsert] [--db :memory:]
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

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


def main() -> int:
    """Run the benchmark and print the rate."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--operation", choices=["insert", "upsert"], default="insert")
    parser.add_argument("--db", default=":memory:")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="localorg-bench-") as workdir:
        data = Path(workdir) / "accounts.csv"
        size = write_csv(data, args.rows)
        db = args.db if args.db == ":memory:" else str(Path(workdir) / args.db)
        with running_localorg(db=db, workdir=workdir) as org:
            token, instance_url = org.login()
            session = org.requests_session()
            session.headers["Authorization"] = f"Bearer {token}"
            base = f"{instance_url}/services/data/v62.0/jobs/ingest"
            body = {
                "object": "Account",
                "operation": args.operation,
                "contentType": "CSV",
                "lineEnding": "LF",
            }
            if args.operation == "upsert":
                body["externalIdFieldName"] = "Legacy_Id__c"
            started = time.monotonic()
            job = session.post(base, json=body, timeout=60).json()
            with data.open("rb") as upload:
                response = session.put(
                    f"{base}/{job['id']}/batches",
                    data=upload,
                    headers={"Content-Type": "text/csv"},
                    timeout=600,
                )
            response.raise_for_status()
            uploaded = time.monotonic()
            session.patch(
                f"{base}/{job['id']}", json={"state": "UploadComplete"}, timeout=60
            ).raise_for_status()
            while True:
                info = session.get(f"{base}/{job['id']}", timeout=60).json()
                if info["state"] in {"JobComplete", "Failed", "Aborted"}:
                    break
                time.sleep(0.1)
            finished = time.monotonic()
    if info["state"] != "JobComplete" or info["numberRecordsFailed"]:
        print(f"benchmark job ended badly: {info}", file=sys.stderr)
        return 1
    total = finished - started
    print(
        f"localorg bulk2 {args.operation}: rows={args.rows} bytes={size} upload_s={uploaded - started:.2f} "
        f"processing_s={finished - uploaded:.2f} total_s={total:.2f} rate_rows_per_s={args.rows / total:,.0f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
