"""Rows per second of read_chunks beside a bare pyarrow.csv.open_csv loop over the same CSV, and peak RSS.

Usage: .venv/bin/python bench/read_rate.py [--rows 1000000] [--repeat 3] [--chunk-rows 65536]
The CSV (10 columns of mixed text, numbers and dates, ~110 MB for 1M rows) is generated in a temp dir.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from dms.pipeline.source import ReadOptions, read_chunks, sniff


def write_csv(path: Path, rows: int, seed: int = 7) -> None:
    """A CSV like a CRM export: ids, quoted names with commas and quotes, non-ASCII, dates, notes with newlines."""
    rng = np.random.default_rng(seed)
    names = np.array(
        ["Acme", "Globex", "Initech", "Umbrella", "Stark, Inc.", 'Wayne "Ent"', "Hooli", "Soylent"]
    )
    cities = np.array(["Paris", "Berlin", "São Paulo", "東京", "Zürich"])
    notes = np.array(["", "first line\nsecond line", "ok", "n/a", "call back; later"])
    days = np.datetime64("2000-01-01") + rng.integers(0, 9000, rows).astype("timedelta64[D]")
    table = pa.table(
        {
            "id": pa.array(np.arange(1, rows + 1)),
            "name": pa.array(names[rng.integers(0, len(names), rows)]),
            "city": pa.array(cities[rng.integers(0, len(cities), rows)]),
            "amount": pa.array(np.round(rng.random(rows) * 10_000, 2)),
            "qty": pa.array(rng.integers(0, 1000, rows)),
            "created": pc.strftime(pa.array(days.astype("datetime64[s]")), format="%d/%m/%Y"),
            "updated": pa.array(
                np.datetime64("2020-01-01T00:00:00") + rng.integers(0, 10**8, rows).astype("timedelta64[s]")
            ),
            "email": pc.binary_join_element_wise(
                pa.array(np.char.mod("user%d", rng.integers(0, 10**6, rows))), pa.scalar("example.com"), "@"
            ),
            "active": pa.array(rng.integers(0, 2, rows).astype(bool)),
            "notes": pa.array(notes[rng.integers(0, len(notes), rows)]),
        }
    )
    pa_csv.write_csv(table, path)


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


def bare_pyarrow(path: Path) -> Callable[[], tuple[int, float]]:
    """pyarrow's streaming reader with defaults (plus newlines_in_values, which this data needs)."""

    def run() -> tuple[int, float]:
        rows, peak = 0, _rss_mib()
        reader = pa_csv.open_csv(path, parse_options=pa_csv.ParseOptions(newlines_in_values=True))
        for batch in reader:
            rows += batch.num_rows
            peak = max(peak, _rss_mib())
        return rows, peak

    return run


def pyarrow_as_dms_configures_it(path: Path) -> Callable[[], tuple[int, float]]:
    """pyarrow alone with read_chunks' parse settings (all columns text, 1 MiB blocks): the floor under it."""
    info = sniff(path)
    read_options = pa_csv.ReadOptions(
        column_names=info.columns, skip_rows_after_names=1, block_size=1024 * 1024, use_threads=False
    )
    parse_options = pa_csv.ParseOptions(newlines_in_values=True, invalid_row_handler=lambda row: "skip")
    convert_options = pa_csv.ConvertOptions(
        column_types=dict.fromkeys(info.columns, pa.string()), null_values=[""], strings_can_be_null=True
    )

    def run() -> tuple[int, float]:
        rows, peak = 0, _rss_mib()
        for batch in pa_csv.open_csv(path, read_options, parse_options, convert_options):
            rows += batch.num_rows
            peak = max(peak, _rss_mib())
        return rows, peak

    return run


def dms_reader(path: Path, chunk_rows: int) -> Callable[[], tuple[int, float]]:
    """read_chunks with an already sniffed SourceInfo, as a worker runs it."""
    options = ReadOptions(chunk_rows=chunk_rows)
    info = sniff(path, options)

    def run() -> tuple[int, float]:
        rows, peak = 0, _rss_mib()
        for chunk in read_chunks(path, options, info):
            rows += chunk.table.num_rows + len(chunk.problems)
            peak = max(peak, _rss_mib())
        return rows, peak

    return run


def main(argv: list[str] | None = None) -> int:
    """Generate the file, time both readers alternately, print rows/s, the ratio and memory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--chunk-rows", type=int, default=65_536)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "read_rate.csv"
        started = time.perf_counter()
        write_csv(path, args.rows)
        size_mb = path.stat().st_size / 1e6
        print(
            f"file: {args.rows:,} rows, 10 columns, {size_mb:,.1f} MB (generated in {time.perf_counter() - started:.1f} s)"
        )
        runners = {
            "bare pyarrow open_csv": bare_pyarrow(path),
            "pyarrow, dms settings": pyarrow_as_dms_configures_it(path),
            "dms read_chunks": dms_reader(path, args.chunk_rows),
        }
        for run in runners.values():
            run()  # warm the page cache and pyarrow's lazily loaded kernels
        seconds: dict[str, list[float]] = {name: [] for name in runners}
        growth: dict[str, float] = dict.fromkeys(runners, 0.0)
        for _ in range(args.repeat):
            for name, run in runners.items():
                before = _rss_mib()
                started = time.perf_counter()
                rows, peak = run()
                seconds[name].append(time.perf_counter() - started)
                growth[name] = max(growth[name], peak - before)
                if rows != args.rows:
                    print(f"{name}: read {rows:,} rows, expected {args.rows:,}", file=sys.stderr)
                    return 1
        print(f"{'reader':<24}{'best rows/s':>14}{'median rows/s':>16}{'RSS growth MiB':>16}")
        rates = {}
        for name, times in seconds.items():
            rates[name] = args.rows / min(times)
            print(
                f"{name:<24}{rates[name]:>14,.0f}{args.rows / statistics.median(times):>16,.0f}{growth[name]:>16.1f}"
            )
        ratio = rates["dms read_chunks"] / rates["bare pyarrow open_csv"]
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"read_chunks / bare pyarrow: {ratio:.0%} (target >= 80%); process peak RSS {peak_mib:,.0f} MiB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
