"""Run every bench in turn (`make bench` = `python -m bench`); each also runs alone as `python bench/<name>.py`.

Usage: .venv/bin/python -m bench [--quick] [NAME ...]
--quick runs each with small sizes (a smoke run of a minute or two); NAMEs pick some benches (default: all).
Each bench runs in its own process, so one's memory or failure does not colour the next one's figures.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent

# name -> (arguments of the full run, arguments of the quick run); in the order they run
BENCHES: dict[str, tuple[list[str], list[str]]] = {
    "prepare_rate": ([], ["--rows", "20000", "--repeat", "2"]),
    "read_rate": ([], ["--rows", "100000", "--repeat", "1"]),
    "localorg_bulk": (["--operation", "upsert"], ["--rows", "50000", "--operation", "upsert"]),
    "pipeline_e2e": ([], ["--rows", "100000", "--skip-1gb"]),
    "plan_e2e": ([], ["--rows", "100000", "--scales", "1"]),
}


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benches one after another; exit non-zero if any failed."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(BENCHES))
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHES]
    if unknown:
        parser.error(f"no bench named {', '.join(unknown)}; the benches are {', '.join(BENCHES)}")
    failed: list[str] = []
    for name in args.names or list(BENCHES):
        full, quick = BENCHES[name]
        command = [sys.executable, str(BENCH_DIR / f"{name}.py"), *(quick if args.quick else full)]
        print(f"\n### {name}: {' '.join(command[1:])}", flush=True)
        started = time.monotonic()
        code = subprocess.call(command, cwd=BENCH_DIR.parent)
        print(f"### {name}: exit {code} after {time.monotonic() - started:.0f}s", flush=True)
        if code != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
