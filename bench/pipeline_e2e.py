"""DMS end to end beside a hand-written simple-salesforce Bulk 2.0 upsert, on one machine and one localorg.

Prints, for an N-row, 10-column Account CSV (1,000,000 rows = ~124 MB by default):
1. the plan pass alone (read_chunks -> prepare -> stage_chunk to Redis), single process, in rows/s;
2. DMS end to end: the job created in Cloudant (pouchdb-server), planned and loaded by 2 Celery workers
   (`celery -A worker.celery worker --concurrency 1`, twice) over moto_server SQS and Redis into localorg,
   from job creation to the job's final state, with the final counters checked;
3. the same file through `sf.bulk2.Account.upsert(csv_file=..., external_id_field="Legacy_Id__c")`;
4. the ratio between the two;
5. the worker process trees' peak RSS for that file and for a ~1 GB file (--big-rows; --skip-1gb skips it).

Usage: .venv/bin/python bench/pipeline_e2e.py [--rows 1000000] [--big-rows 8500000 | --skip-1gb]
       [--chunk-rows 50000] [--localorg-db file|memory] [--keep]
Every server runs on a free loopback port in a temp dir and is stopped at the end. localorg is reset before
each load, so every load creates its records in an empty org.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

# Runnable as `python bench/pipeline_e2e.py` or `python -m bench.pipeline_e2e` from any directory: the project
# root (top-level modules like `factories`) and bench/ (the sibling benches reused here) must be importable.
_BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(_BENCH.parent), str(_BENCH)]

from localorg_bulk import write_csv  # noqa: E402

from dms.devstack import (  # noqa: E402
    ProcessGroup,
    free_port,
    moto_spec,
    pouchdb_spec,
    redis_spec,
    temporary_environ,
    throwaway_stack_env,
    worker_spec,
)
from dms.pipeline.lifecycle import create_job  # noqa: E402
from dms.pipeline.model import FINAL_STATES  # noqa: E402

log = logging.getLogger("bench.pipeline_e2e")

OBJECT, EXTERNAL_ID = "Account", "Legacy_Id__c"


# ---- memory of a process tree --------------------------------------------------------------------------


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                # the command name may hold spaces and parentheses: the fields after the last ')' are fixed
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0


def tree_pids(root: int) -> list[int]:
    """The process and its descendants."""
    children = _children_by_parent()
    pending, found = [root], []
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(children.get(pid, []))
    return found


def tree_rss(root: int) -> tuple[int, int]:
    """(sum of RSS over the process and its descendants, RSS of the largest one), in bytes."""
    sizes = [_rss_bytes(pid) for pid in tree_pids(root)]
    return sum(sizes), max(sizes, default=0)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process (all its threads) has used so far."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_running(fragment: bytes) -> int | None:
    """The pid of a child of this process whose command line contains `fragment` (localorg's server)."""
    for pid in _children_by_parent().get(os.getpid(), []):
        with (
            contextlib.suppress(FileNotFoundError, ProcessLookupError),
            open(f"/proc/{pid}/cmdline", "rb") as cmd,
        ):
            if fragment in cmd.read():
                return pid
    return None


class RssSampler:
    """Polls some process trees in a thread: each tree's peak RSS, and the CPU time they spend meanwhile."""

    def __init__(self, roots: dict[str, int], interval: float = 0.2) -> None:
        self.roots = roots
        self.interval = interval
        self.peak_tree: dict[str, int] = dict.fromkeys(roots, 0)
        self.peak_process: dict[str, int] = dict.fromkeys(roots, 0)
        self._cpu_start: dict[int, float] = {}
        self._cpu_last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    @property
    def cpu_seconds(self) -> float:
        """CPU seconds used by the trees since the sampler started (to the last sample)."""
        return sum(last - self._cpu_start.get(pid, 0.0) for pid, last in self._cpu_last.items())

    def _sample(self) -> None:
        for name, root in self.roots.items():
            pids = tree_pids(root)
            sizes = [_rss_bytes(pid) for pid in pids]
            self.peak_tree[name] = max(self.peak_tree[name], sum(sizes))
            self.peak_process[name] = max(self.peak_process[name], max(sizes, default=0))
            for pid in pids:
                self._cpu_last[pid] = max(self._cpu_last.get(pid, 0.0), cpu_seconds(pid))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        for root in self.roots.values():
            for pid in tree_pids(root):
                self._cpu_start[pid] = cpu_seconds(pid)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


# ---- the stack -----------------------------------------------------------------------------------------


@dataclass
class Stack:
    """The servers of one bench run and the DMS side of it (settings, services, a publishing pipeline)."""

    workdir: Path
    group: ProcessGroup
    localorg: Any
    env: dict[str, str]
    pipeline: Any = None
    workers: dict[str, int] = field(default_factory=dict)


@contextlib.contextmanager
def running_stack(workdir: Path, localorg_db: str) -> Iterator[Stack]:
    """Redis, moto_server, pouchdb-server (in memory) and localorg on free ports; everything stopped after."""
    from localorg.testing import running_localorg

    group = ProcessGroup(workdir / "log")
    try:
        redis_port, sqs_port, couch_port = free_port(), free_port(), free_port()
        group.start(redis_spec(redis_port, workdir / "redis"))
        group.start(moto_spec(sqs_port))
        group.start(pouchdb_spec(couch_port, workdir / "couchdb", in_memory=True))
        db = ":memory:" if localorg_db == "memory" else str(workdir / "localorg" / "org.sqlite3")
        with running_localorg(db=db, workdir=str(workdir / "localorg")) as org:
            env = throwaway_stack_env(
                f"redis://127.0.0.1:{redis_port}/0",
                f"http://127.0.0.1:{sqs_port}",
                f"http://127.0.0.1:{couch_port}",
                workdir / "blobs",
                org,
                "bench",
            )
            with temporary_environ(env):
                stack = Stack(workdir=workdir, group=group, localorg=org, env=env)
                stack.pipeline = _publishing_pipeline()
                yield stack
    finally:
        group.stop_all()


def _publishing_pipeline() -> Any:
    """A Pipeline in this process that publishes tasks to the stack's queue, as the web tier does."""
    from celery import Celery

    from dms.clients import Services
    from dms.clients.sqs import ensure_queues
    from dms.pipeline.context import Pipeline
    from dms.settings import load_settings
    from factories.celery_instance import celery_settings

    settings = load_settings()
    ensure_queues(settings)
    publisher = Celery("bench-publisher")
    publisher.conf.update(celery_settings(settings))
    return Pipeline(Services(settings), enqueue=lambda name, args: publisher.send_task(name, args=args))


def start_workers(stack: Stack, count: int, concurrency: int, timeout: float = 120.0) -> dict[str, int]:
    """Start `count` workers of `concurrency` pool processes each; wait until each logs that it is ready."""
    names = [f"worker-{uuid.uuid4().hex[:6]}" for _ in range(count)]
    for name in names:
        spec = worker_spec(stack.env, concurrency=concurrency, name=name)
        spec.echo = False  # their logs go to files; the bench's own output stays readable
        stack.group.start(spec, wait=False)
    deadline = time.monotonic() + timeout
    for name in names:
        logfile = stack.group.log_dir / f"{name}.log"
        while b" ready." not in (logfile.read_bytes() if logfile.exists() else b""):
            if stack.group.processes[name].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker {name} did not become ready; see {logfile}")
            time.sleep(0.2)
    return {name: stack.group.processes[name].pid for name in names}


@contextlib.contextmanager
def work_dir(prefix: str, keep: bool) -> Iterator[Path]:
    """A temp dir for one bench run (files, every server's data and logs), removed after unless `keep`."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        if keep:
            print(f"kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def stop_workers(stack: Stack, names: list[str]) -> None:
    for name in names:
        stack.group.stop(name)


# ---- 1. the plan pass alone ------------------------------------------------------------------------------


@dataclass
class PlanPass:
    rows: int
    seconds: float
    read_s: float
    prepare_s: float
    stage_s: float
    staged_bytes: int

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def plan_pass(stack: Stack, path: Path, chunk_rows: int) -> PlanPass:
    """read_chunks -> prepare -> stage_chunk over the file in this process, as the plan task runs them."""
    from dms.pipeline.chunks import ChunkRecipe, staged_parts
    from dms.pipeline.staging import STAGE_PREFIX, stage_chunk

    p = stack.pipeline
    job: dict[str, Any] = {
        "_id": f"bench-{uuid.uuid4().hex[:8]}",
        "source": {},
        "options": {"chunk_rows": chunk_rows},
        "target": {"object": OBJECT, "operation": "upsert", "external_id": EXTERNAL_ID},
        "mapping": None,
    }
    ctx = p.job_context(job)
    ctx.describe()  # cached in Redis as the plan task has it; not timed
    ttl = p.settings.staging_ttl_seconds
    started = time.perf_counter()
    recipe = ChunkRecipe.for_job(ctx, path, infer_formats=False, check_lookups=False)
    if len(recipe.compiled.rules) != len(recipe.info.columns):
        mapped = len(recipe.compiled.rules)
        raise RuntimeError(f"expected every column mapped; mapped {mapped} of {recipe.info.columns}")
    rows = staged = 0
    read_s = prepare_s = stage_s = 0.0
    mark = time.perf_counter()
    for chunk in recipe.chunks():
        now = time.perf_counter()
        read_s += now - mark
        prepared = recipe.prepare(chunk)
        mark = time.perf_counter()
        prepare_s += mark - now
        staged += stage_chunk(p.redis, job["_id"], chunk.index, staged_parts(chunk, prepared), ttl)
        rows += chunk.table.num_rows
        now, mark = mark, time.perf_counter()
        stage_s += mark - now
    seconds = time.perf_counter() - started
    keys = list(p.redis.scan_iter(f"{STAGE_PREFIX}:{job['_id']}:*", count=1000))
    if keys:
        p.redis.delete(*keys)
    return PlanPass(rows, seconds, read_s, prepare_s, stage_s, staged)


# ---- 2. DMS end to end ---------------------------------------------------------------------------------


@dataclass
class DmsRun:
    rows: int
    seconds: float
    plan_seconds: float
    chunks: int
    counters: dict[str, int]
    api_calls: dict[str, int]
    peak_tree_mib: float
    peak_process_mib: float
    idle_tree_mib: float
    worker_cpu_s: float
    localorg_cpu_s: float
    redis_peak_mib: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def machine_load() -> str:
    """The 1-minute load average: this bench shares the machine, and other work skews every rate."""
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def parse_time(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def dms_run(stack: Stack, path: Path, rows: int, chunk_rows: int, workers: int, timeout: float) -> DmsRun:
    """Upload, create the upsert job, follow it to its final state with the workers' RSS sampled."""
    p = stack.pipeline
    stack.localorg.reset()
    key = f"uploads/bench-{uuid.uuid4().hex[:8]}/{path.name}"
    p.blobs.put_file(key, path)
    started_workers = start_workers(stack, workers, concurrency=1)
    try:
        idle = max(tree_rss(pid)[0] for pid in started_workers.values())
        request = {
            "source": {"blob_key": key, "filename": path.name},
            "target": {"object": OBJECT, "operation": "upsert", "external_id": EXTERNAL_ID},
            "options": {"chunk_rows": chunk_rows},
        }
        org_pid = child_running(b"localorg")
        org_cpu = cpu_seconds(org_pid) if org_pid else 0.0
        with RssSampler(started_workers) as sampler:
            started = time.monotonic()
            job = create_job(p, request)
            deadline = started + timeout
            while (job := p.store.get(job["_id"]))["state"] not in FINAL_STATES:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"job {job['_id']} not final after {timeout:.0f}s: {job['counters']}")
                time.sleep(0.2)
            polled = time.monotonic() - started
        org_cpu = cpu_seconds(org_pid) - org_cpu if org_pid else 0.0
    finally:
        stop_workers(stack, list(started_workers))
    # DMS's own timestamps (same clock, ms resolution) are more exact than the 0.2 s poll
    seconds = parse_time(job["finished_at"]) - parse_time(job["created_at"])
    if not 0 < seconds <= polled + 1:
        seconds = polled
    plan = job.get("plan") or {}
    plan_seconds = parse_time(plan["planned_at"]) - parse_time(job["planning_started_at"]) if plan else 0.0
    counters = job["counters"]
    expected = {"total": rows, "succeeded": rows, "created": rows, "failed": 0, "invalid": 0, "pending": 0}
    wrong = {k: counters.get(k) for k, v in expected.items() if counters.get(k) != v}
    if job["state"] != "completed" or wrong:
        raise RuntimeError(
            f"DMS job {job['_id']} ended {job['state']} with counters {counters} (wrong: {wrong})"
        )
    if len(job.get("mapping", {}).get("fields", [])) != 10:
        raise RuntimeError(f"expected 10 mapped columns, the job mapped {job.get('mapping')}")
    mib = 1024 * 1024
    return DmsRun(
        rows,
        seconds,
        plan_seconds,
        int(plan.get("chunks", 0)),
        counters,
        job.get("api_calls", {}),
        max(sampler.peak_tree.values()) / mib,
        max(sampler.peak_process.values()) / mib,
        idle / mib,
        sampler.cpu_seconds,
        org_cpu,
        int(p.redis.info("memory")["used_memory_peak"]) / mib,
    )


# ---- 3. the hand-written baseline ------------------------------------------------------------------------


@dataclass
class DirectRun:
    rows: int
    seconds: float
    jobs: int
    localorg_cpu_s: float
    wait: int

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def direct_run(stack: Stack, path: Path, rows: int, wait: int = 5) -> DirectRun:
    """`sf.bulk2.Account.upsert(csv_file=..., external_id_field=...)` with the library's defaults; `wait` is
    its seconds between status polls (5 by default; 1, an int, is the tightest it takes)."""
    stack.localorg.reset()
    sf = stack.localorg.salesforce()
    org_pid = child_running(b"localorg")
    org_cpu = cpu_seconds(org_pid) if org_pid else 0.0
    started = time.monotonic()
    results = sf.bulk2.Account.upsert(csv_file=str(path), external_id_field=EXTERNAL_ID, wait=wait)
    seconds = time.monotonic() - started
    org_cpu = cpu_seconds(org_pid) - org_cpu if org_pid else 0.0
    processed = sum(int(r["numberRecordsProcessed"]) for r in results)
    failed = sum(int(r["numberRecordsFailed"]) for r in results)
    if processed != rows or failed:
        raise RuntimeError(f"direct upsert processed {processed} of {rows} rows, {failed} failed: {results}")
    count = sf.query(f"SELECT COUNT() FROM {OBJECT}")["totalSize"]
    if count != rows:
        raise RuntimeError(f"direct upsert left {count} {OBJECT} records for {rows} rows")
    return DirectRun(rows, seconds, len(results), org_cpu, wait)


# ---- the report ----------------------------------------------------------------------------------------


def report(
    size_mb: float,
    rows: int,
    planned: PlanPass | None,
    dms: DmsRun | None,
    direct: DirectRun | None,
    direct_tight: DirectRun | None,
    big: DmsRun | None,
    big_size_mb: float,
) -> str:
    """The side-by-side table printed at the end."""
    lines = [
        f"\n== DMS end-to-end bench: {rows:,} rows x 10 columns, {size_mb:,.0f} MB CSV, Account upsert on "
        f"{EXTERNAL_ID}; {os.cpu_count()} CPUs =="
    ]
    row = "{:<52}{:>14}{:>10}  {}"
    lines.append(row.format("measure", "rows/s", "seconds", "note"))
    if planned:
        note = (
            f"read {planned.read_s:.1f}s prepare {planned.prepare_s:.1f}s stage {planned.stage_s:.1f}s; "
            f"{planned.staged_bytes / 1e6:,.0f} MB staged; target >= 500,000"
        )
        lines.append(
            row.format(
                "1. plan pass (read+map+validate+stage), 1 process",
                f"{planned.rate:,.0f}",
                f"{planned.seconds:.1f}",
                note,
            )
        )
    if dms:
        note = (
            f"plan task {dms.plan_seconds:.1f}s; {dms.chunks} chunks; {sum(dms.api_calls.values())} API calls; "
            f"CPU s: workers {dms.worker_cpu_s:.0f}, localorg {dms.localorg_cpu_s:.0f}"
        )
        lines.append(
            row.format(
                "2. DMS end to end, 2 workers x concurrency 1", f"{dms.rate:,.0f}", f"{dms.seconds:.1f}", note
            )
        )
    if direct:
        note = (
            f"{direct.jobs} bulk job(s), library defaults (polls every ~5 s); "
            f"CPU s: localorg {direct.localorg_cpu_s:.0f}"
        )
        lines.append(
            row.format(
                "3. simple-salesforce bulk2 upsert (direct)",
                f"{direct.rate:,.0f}",
                f"{direct.seconds:.1f}",
                note,
            )
        )
    if direct_tight:
        note = (
            f"{direct_tight.jobs} bulk job(s), wait=1 (polls every second, the tightest the library takes); "
            f"CPU s: localorg {direct_tight.localorg_cpu_s:.0f}"
        )
        lines.append(
            row.format(
                "3b. the same, polling every second",
                f"{direct_tight.rate:,.0f}",
                f"{direct_tight.seconds:.1f}",
                note,
            )
        )
    if dms and direct:
        versus = f"; against 3b: {dms.rate / direct_tight.rate:.2f}x" if direct_tight else ""
        lines.append(f"4. DMS / direct: {dms.rate / direct.rate:.2f}x{versus}")
    if dms:
        mem = "5. worker tree peak RSS (sum over a worker and its pool process; largest single process)"
        lines.append(mem)
        lines.append(
            f"   {size_mb:>7,.0f} MB file: tree {dms.peak_tree_mib:,.0f} MiB, process "
            f"{dms.peak_process_mib:,.0f} MiB (idle tree {dms.idle_tree_mib:,.0f} MiB); "
            f"Redis peak so far {dms.redis_peak_mib:,.0f} MiB"
        )
    if dms and big:
        growth = big.peak_tree_mib / dms.peak_tree_mib - 1
        lines.append(
            f"   {big_size_mb:>7,.0f} MB file: tree {big.peak_tree_mib:,.0f} MiB, process "
            f"{big.peak_process_mib:,.0f} MiB; {big.rows:,} rows end to end at {big.rate:,.0f} rows/s "
            f"in {big.seconds:.0f}s; Redis peak {big.redis_peak_mib:,.0f} MiB"
        )
        lines.append(f"   growth 100 MB -> 1 GB: {growth:+.0%} (target: within 20%)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Generate the files, start the stack, run each measure, print the table; stop everything."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the main file (default 1M)")
    parser.add_argument("--big-rows", type=int, default=8_500_000, help="rows of the ~1 GB file")
    parser.add_argument("--skip-1gb", action="store_true", help="skip the big-file memory run")
    parser.add_argument("--chunk-rows", type=int, default=50_000, help="the job's chunk_rows (DMS default)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (each --concurrency 1)")
    parser.add_argument("--localorg-db", choices=["file", "memory"], default="file")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed per DMS job")
    parser.add_argument(
        "--only",
        choices=["plan", "dms", "direct"],
        action="append",
        help="run only these measures (repeatable; default all)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs) for inspection")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    wanted = set(args.only or ["plan", "dms", "direct"])
    planned = dms = direct = direct_tight = big = None
    big_size_mb = 0.0
    with work_dir("dms-bench-e2e-", args.keep) as workdir:
        path = workdir / "accounts.csv"
        t = time.monotonic()
        size_mb = write_csv(path, args.rows) / 1e6
        print(
            f"file: {args.rows:,} rows, {size_mb:,.1f} MB (written in {time.monotonic() - t:.1f}s); "
            f"work dir {workdir}",
            flush=True,
        )
        with running_stack(workdir, args.localorg_db) as stack:
            print("stack up: redis, moto_server, pouchdb-server, localorg", flush=True)
            if "plan" in wanted:
                planned = plan_pass(stack, path, args.chunk_rows)
                print(
                    f"plan pass: {planned.rate:,.0f} rows/s in {planned.seconds:.1f}s; {machine_load()}",
                    flush=True,
                )
            if "dms" in wanted:
                dms = dms_run(stack, path, args.rows, args.chunk_rows, args.workers, args.timeout)
                print(
                    f"DMS end to end: {dms.rate:,.0f} rows/s in {dms.seconds:.1f}s; {machine_load()}",
                    flush=True,
                )
            if "direct" in wanted:
                direct = direct_run(stack, path, args.rows)
                print(
                    f"direct bulk2 upsert: {direct.rate:,.0f} rows/s in {direct.seconds:.1f}s; {machine_load()}",
                    flush=True,
                )
                direct_tight = direct_run(stack, path, args.rows, wait=1)
                print(
                    f"direct bulk2 upsert, wait=1: {direct_tight.rate:,.0f} rows/s in "
                    f"{direct_tight.seconds:.1f}s; {machine_load()}",
                    flush=True,
                )
            if "dms" in wanted and not args.skip_1gb:
                big_path = workdir / "accounts-big.csv"
                t = time.monotonic()
                big_size_mb = write_csv(big_path, args.big_rows) / 1e6
                path.unlink()
                print(
                    f"big file: {args.big_rows:,} rows, {big_size_mb:,.1f} MB "
                    f"(written in {time.monotonic() - t:.1f}s)",
                    flush=True,
                )
                big = dms_run(stack, big_path, args.big_rows, args.chunk_rows, args.workers, args.timeout)
                print(
                    f"DMS end to end (big): {big.rate:,.0f} rows/s in {big.seconds:.1f}s; {machine_load()}",
                    flush=True,
                )
        print(report(size_mb, args.rows, planned, dms, direct, direct_tight, big, big_size_mb), flush=True)
        return 0


if __name__ == "__main__":
    sys.exit(main())
