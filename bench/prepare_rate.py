"""Rows/s of infer_column and prepare on generated 65,536-row chunks, beside a bare pyarrow pass.

Two chunks: one of legacy-style values (day-first dates, '1.234,56' numbers, Y/N flags, emails), and
pipeline_e2e's file (localorg_bulk.write_csv's 10 Account columns, as the CSV reader gives them).

Run: .venv/bin/python bench/prepare_rate.py [--rows 65536] [--repeat 5]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# Runnable as `python bench/prepare_rate.py` from any directory: localorg and the sibling bench that
# writes pipeline_e2e's file must be importable.
_BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(_BENCH.parent), str(_BENCH)]

from localorg_bulk import _INDUSTRIES, _TIERS, HEADER  # noqa: E402

from dms.pipeline.prepare import PrepareOptions, infer_column, prepare  # noqa: E402
from localorg.builtin_schema import build_schema  # noqa: E402

logger = logging.getLogger("bench.prepare_rate")

DESCRIBE: dict[str, Any] = {
    "name": "Account",
    "keyPrefix": "001",
    "fields": [
        {"name": "Id", "type": "id", "createable": False, "updateable": False, "nillable": False},
        {"name": "Name", "type": "string", "length": 255, "nillable": False, "createable": True},
        {
            "name": "Legacy_Id__c",
            "type": "string",
            "length": 20,
            "externalId": True,
            "unique": True,
            "createable": True,
            "updateable": True,
        },
        {"name": "Founded__c", "type": "date", "createable": True, "updateable": True},
        {
            "name": "AnnualRevenue",
            "type": "currency",
            "precision": 18,
            "scale": 2,
            "createable": True,
            "updateable": True,
        },
        {
            "name": "Tier__c",
            "type": "picklist",
            "restrictedPicklist": True,
            "createable": True,
            "updateable": True,
            "length": 255,
            "picklistValues": [{"value": v, "active": True} for v in ("Gold", "Silver", "Bronze")],
        },
        {
            "name": "Active__c",
            "type": "boolean",
            "nillable": False,
            "defaultedOnCreate": True,
            "createable": True,
            "updateable": True,
        },
        {"name": "Billing_Email__c", "type": "email", "length": 80, "createable": True, "updateable": True},
        {"name": "Parent_Legacy__c", "type": "string", "length": 20, "createable": True, "updateable": True},
        {
            "name": "ParentId",
            "type": "reference",
            "referenceTo": ["Account"],
            "relationshipName": "Parent",
            "createable": True,
            "updateable": True,
            "length": 18,
        },
        {"name": "Last_Audit__c", "type": "datetime", "createable": True, "updateable": True},
    ],
}

SPEC: dict[str, Any] = {
    "object": "Account",
    "operation": "upsert",
    "external_id": "Legacy_Id__c",
    "fields": [
        {"target": "Name", "source": "company", "transforms": [{"op": "trim"}]},
        {"target": "Legacy_Id__c", "source": "legacy_id"},
        {"target": "Founded__c", "source": "founded", "format": "%d/%m/%Y"},
        {"target": "AnnualRevenue", "source": "revenue", "decimal": ",", "thousands": "."},
        {
            "target": "Tier__c",
            "source": "tier",
            "transforms": [{"op": "map", "values": {"G": "Gold", "S": "Silver", "B": "Bronze"}}],
        },
        {"target": "Active__c", "source": "active"},
        {"target": "Billing_Email__c", "source": "email"},
        {"target": "Parent.Legacy_Id__c", "source": "parent_ref"},
    ],
}


def make_chunk(rows: int, seed: int = 7) -> pa.Table:
    """A delimited-text style chunk (all strings) of 10 columns with realistic legacy values."""
    rng = np.random.default_rng(seed)
    ids = np.arange(rows)
    day = rng.integers(1, 29, rows)
    month = rng.integers(1, 13, rows)
    year = rng.integers(1950, 2024, rows)
    cents = rng.integers(0, 10_000_000_00, rows)

    def text(values: Any) -> pa.Array:
        return pa.array(values, pa.string())

    founded = np.char.add(
        np.char.add(np.char.add(np.char.zfill(day.astype(str), 2), "/"), np.char.zfill(month.astype(str), 2)),
        np.char.add("/", year.astype(str)),
    )
    whole = cents // 100
    revenue = np.char.add(np.char.add(whole.astype(str), ","), np.char.zfill((cents % 100).astype(str), 2))
    return pa.table(
        {
            "__row__": pa.array(ids + 2, pa.int64()),
            "company": text(np.char.add(" Company ", ids.astype(str))),
            "legacy_id": text(np.char.add("L-", ids.astype(str))),
            "founded": text(founded),
            "revenue": text(revenue),
            "tier": text(rng.choice(["G", "S", "B"], rows)),
            "active": text(rng.choice(["Y", "N", "yes", "no"], rows)),
            "email": text(np.char.add(np.char.add("user", ids.astype(str)), "@example.com")),
            "parent_ref": text(np.char.add("P-", (ids % 1000).astype(str))),
            "notes": text(rng.choice(["", "call back", "VIP"], rows)),
            "phone": text(np.char.add("+49 30 ", ids.astype(str))),
        }
    )


def make_account_chunk(rows: int) -> pa.Table:
    """pipeline_e2e's file as one chunk: the values localorg_bulk.write_csv writes, all text."""
    ids = range(rows)
    columns = {
        "Name": [f"Account {i}" for i in ids],
        "Legacy_Id__c": [f"LEG-{i:08d}" for i in ids],
        "Phone": [f"+1 555 {i % 10000:04d}" for i in ids],
        "Industry": [_INDUSTRIES[i % 5] for i in ids],
        "AnnualRevenue": [f"{(i % 997) * 1000}.50" for i in ids],
        "NumberOfEmployees": [str(i % 50000) for i in ids],
        "Founded__c": [f"{1950 + i % 70}-{1 + i % 12:02d}-15" for i in ids],
        "Tier__c": [_TIERS[i % 3] for i in ids],
        "BillingCity": ["Springfield"] * rows,
        "Website": [f"https://acct{i}.example.com" for i in ids],
    }
    assert list(columns) == HEADER
    table = {"__row__": pa.array(range(2, rows + 2), pa.int64())}
    table.update({name: pa.array(values, pa.string()) for name, values in columns.items()})
    return pa.table(table)


def account_spec() -> dict[str, Any]:
    """pipeline_e2e's job: every column mapped to the Account field it is named after, upsert on Legacy_Id__c."""
    return {
        "object": "Account",
        "operation": "upsert",
        "external_id": "Legacy_Id__c",
        "fields": [{"target": name, "source": name} for name in HEADER],
    }


def bare_pass(table: pa.Table) -> None:
    """Reference: one cheap pyarrow kernel per column (trim), the floor any column-wise pass pays."""
    for name in table.column_names[1:]:
        pc.utf8_trim_whitespace(table[name])


def measure(label: str, rows: int, action: Callable[[], object], repeat: int) -> float:
    """Best-of-`repeat` rows/s, printed."""
    action()  # warm caches (regex compilation, allocators)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    best = min(times)
    rate = rows / best
    print(
        f"{label:<44} best {best * 1000:8.1f} ms  median {statistics.median(times) * 1000:8.1f} ms  "
        f"{rate:>12,.0f} rows/s"
    )
    return rate


def main(argv: list[str] | None = None) -> int:
    """Generate chunks and print rows/s."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=65_536)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    table = make_chunk(args.rows)
    columns = [name for name in table.column_names if name != "__row__"]
    known = {f"P-{i}" for i in range(1000)}
    options = PrepareOptions(resolve_lookups=lambda obj, fld, values: values & known)
    print(f"chunk: {args.rows:,} rows x {len(columns)} columns, pyarrow {pa.__version__}")
    measure("bare pyarrow pass (trim every column)", args.rows, lambda: bare_pass(table), args.repeat)
    measure(
        "infer_column (every column, whole chunk)",
        args.rows,
        lambda: [infer_column(table[c], name=c, sample_size=args.rows) for c in columns],
        args.repeat,
    )
    measure(
        "infer_column (every column, 1,000-row sample)",
        args.rows,
        lambda: [infer_column(table[c], name=c, sample_size=1000) for c in columns],
        args.repeat,
    )
    result = prepare(table, SPEC, DESCRIBE, options)
    print(f"prepare: {result.table.num_rows:,} valid rows, {result.invalid_rows:,} invalid")
    measure(
        "prepare (8 mapped fields, lookup resolver)",
        args.rows,
        lambda: prepare(table, SPEC, DESCRIBE, options),
        args.repeat,
    )
    accounts = make_account_chunk(args.rows)
    account_object = build_schema().get("Account")
    assert account_object is not None, "localorg's schema has no Account"
    account_describe = account_object.describe("62.0")
    spec = account_spec()
    result = prepare(accounts, spec, account_describe, PrepareOptions())
    print(
        f"prepare: {result.table.num_rows:,} valid rows, {result.invalid_rows:,} invalid (pipeline_e2e's file)"
    )
    measure(
        "prepare (pipeline_e2e's 10 Account columns)",
        args.rows,
        lambda: prepare(accounts, spec, account_describe, PrepareOptions()),
        args.repeat,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
