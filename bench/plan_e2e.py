"""A three-object migration plan end to end, beside the same rows loaded as single-object jobs, at N and K x N rows.

The rows (N = 1,000,000 by default; a tenth Accounts, four tenths Contacts, half Opportunities):
- accounts.csv: LegacyId, Name, Industry, Phone, ParentRef. A tree of fan-out 10 (account n's parent is
  n // 10; the 9 accounts 1-9 are roots), listed children first (descending n).
- contacts.csv: ContactRef, FirstName, LastName, Email, AccountRef (a legacy key of accounts.csv).
- opportunities.csv: DealRef, Name, StageName, CloseDate, Amount, AccountRef.

Two ways of loading them, each into an empty localorg through fresh workers, with their process trees' RSS
polled from /proc:
1. the plan (dms.migration.run.create_plan): accounts inserted, then ParentId set by the deferred update
   pass, while contacts and opportunities are inserted with AccountId resolved through the accounts' key map;
2. four ordinary jobs one after the other (dms.pipeline.lifecycle.create_job), references as relationship
   columns resolved by the org: accounts upserted on Legacy_Id__c without their parent, the same file again
   upserting only `Parent.Legacy_Id__c` (a parent listed after its child, or in the same Bulk batch or a
   chunk loading at the same time, is not found by a one-pass load), then contacts and opportunities inserted
   with `Account.Legacy_Id__c`.
Every count is checked: the plan's step counters and the jobs' counters exact, and the org's records counted
(with their references) after each load.

At the first scale both ways run; at the bigger ones only the plan (its memory from N to K x N is the figure
asked for), unless --every-way.

Usage: .venv/bin/python bench/plan_e2e.py [--rows 1000000] [--scales 1,10 | --scale K] [--chunk-rows 50000]
       [--workers 2] [--only plan|jobs] [--every-way] [--keep]
"""

from __future__ import annotations

import argparse
import functools
import logging
import shutil
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(_BENCH.parent), str(_BENCH)]

from pipeline_e2e import (  # noqa: E402
    RssSampler,
    Stack,
    child_running,
    cpu_seconds,
    machine_load,
    parse_time,
    running_stack,
    start_workers,
    stop_workers,
    tree_rss,
    work_dir,
)

from dms.migration.run import PLAN_FINAL, create_plan, plans_store  # noqa: E402
from dms.migration.view import plan_view  # noqa: E402
from dms.pipeline.lifecycle import create_job  # noqa: E402
from dms.pipeline.model import FINAL_STATES  # noqa: E402

log = logging.getLogger("bench.plan_e2e")

MIB = 1024 * 1024
FANOUT = 10  # account n's parent is n // FANOUT
_INDUSTRIES = ["Banking", "Retail", "Energy", "Media", "Technology"]
_STAGES = ["Prospecting", "Qualification", "Needs Analysis", "Closed Won", "Closed Lost"]


# ---- the files -----------------------------------------------------------------------------------------


def account_key(n: int) -> str:
    return f"ACC-{n:08d}"


def parent_of(n: int) -> int | None:
    return n // FANOUT if n >= FANOUT else None


def account_of_contact(c: int, accounts: int) -> int:
    return (c - 1) % accounts + 1


def account_of_deal(o: int, accounts: int) -> int:
    return (o * 7) % accounts + 1


@dataclass
class Files:
    dir: Path
    accounts: int
    contacts: int
    deals: int
    sizes: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return self.accounts + self.contacts + self.deals

    @property
    def with_parent(self) -> int:
        return max(0, self.accounts - (FANOUT - 1))

    def rows_of(self, step: str) -> int:
        return {"accounts": self.accounts, "contacts": self.contacts, "opportunities": self.deals}[step]

    def path(self, step: str) -> Path:
        return self.dir / f"{step}.csv"


def write_files(directory: Path, rows: int) -> Files:
    """The three CSVs, written line by line (nothing of the size of the file is held in memory)."""
    directory.mkdir(parents=True, exist_ok=True)
    accounts = rows // 10
    contacts = rows * 4 // 10
    files = Files(directory, accounts, contacts, rows - accounts - contacts)
    with files.path("accounts").open("w", encoding="utf-8") as out:
        out.write("LegacyId,Name,Industry,Phone,ParentRef\n")
        for n in range(accounts, 0, -1):  # children before their parents
            parent = parent_of(n)
            out.write(
                f"{account_key(n)},Account {n},{_INDUSTRIES[n % 5]},+1 555 {n % 10000:04d},"
                f"{account_key(parent) if parent else ''}\n"
            )
    with files.path("contacts").open("w", encoding="utf-8") as out:
        out.write("ContactRef,FirstName,LastName,Email,AccountRef\n")
        for c in range(1, contacts + 1):
            out.write(
                f"CON-{c:08d},First{c % 1000},Contact {c},c{c}@example.com,"
                f"{account_key(account_of_contact(c, accounts))}\n"
            )
    with files.path("opportunities").open("w", encoding="utf-8") as out:
        out.write("DealRef,Name,StageName,CloseDate,Amount,AccountRef\n")
        for o in range(1, files.deals + 1):
            out.write(
                f"OPP-{o:08d},Deal {o},{_STAGES[o % 5]},2025-{1 + o % 12:02d}-{1 + o % 28:02d},"
                f"{(o % 1000) * 100}.00,{account_key(account_of_deal(o, accounts))}\n"
            )
    files.sizes = {
        step: files.path(step).stat().st_size for step in ("accounts", "contacts", "opportunities")
    }
    return files


# The plain fields of each file (the same in both ways of loading); references are added per way.
ACCOUNT_FIELDS = [
    {"target": "Legacy_Id__c", "source": "LegacyId"},
    {"target": "Name", "source": "Name"},
    {"target": "Industry", "source": "Industry"},
    {"target": "Phone", "source": "Phone"},
]
CONTACT_FIELDS = [
    {"target": "Legacy_Id__c", "source": "ContactRef"},
    {"target": "FirstName", "source": "FirstName"},
    {"target": "LastName", "source": "LastName"},
    {"target": "Email", "source": "Email"},
]
DEAL_FIELDS = [
    {"target": "Legacy_Id__c", "source": "DealRef"},
    {"target": "Name", "source": "Name"},
    {"target": "StageName", "source": "StageName"},
    {"target": "CloseDate", "source": "CloseDate", "format": "%Y-%m-%d"},
    {"target": "Amount", "source": "Amount"},
]


def plan_document(chunk_rows: int) -> dict[str, Any]:
    accounts_ref = {"ref": {"step": "accounts"}}
    return {
        "name": "bench three objects",
        "options": {"chunk_rows": chunk_rows},
        "steps": [
            {
                "name": "accounts",
                "object": "Account",
                "key": "LegacyId",
                "source": {"upload_id": "bench"},
                "mapping": {
                    "fields": [*ACCOUNT_FIELDS, {"target": "ParentId", "source": "ParentRef", **accounts_ref}]
                },
            },
            {
                "name": "contacts",
                "object": "Contact",
                "source": {"upload_id": "bench"},
                "mapping": {
                    "fields": [
                        *CONTACT_FIELDS,
                        {"target": "AccountId", "source": "AccountRef", **accounts_ref},
                    ]
                },
            },
            {
                "name": "opportunities",
                "object": "Opportunity",
                "source": {"upload_id": "bench"},
                "mapping": {
                    "fields": [*DEAL_FIELDS, {"target": "AccountId", "source": "AccountRef", **accounts_ref}]
                },
            },
        ],
    }


@dataclass(frozen=True)
class SingleJob:
    """One of the single-object jobs, and the counters it must end with."""

    name: str
    step: str  # whose file it reads
    object: str
    operation: str
    fields: list[dict[str, Any]]
    outcome: str  # the counter that must equal the rows: created or updated


SINGLE_JOBS = [
    SingleJob("accounts", "accounts", "Account", "upsert", ACCOUNT_FIELDS, "created"),
    SingleJob(
        "account parents",
        "accounts",
        "Account",
        "upsert",
        [ACCOUNT_FIELDS[0], {"target": "Parent.Legacy_Id__c", "source": "ParentRef"}],
        "updated",
    ),
    SingleJob(
        "contacts",
        "contacts",
        "Contact",
        "insert",
        [*CONTACT_FIELDS, {"target": "Account.Legacy_Id__c", "source": "AccountRef"}],
        "created",
    ),
    SingleJob(
        "opportunities",
        "opportunities",
        "Opportunity",
        "insert",
        [*DEAL_FIELDS, {"target": "Account.Legacy_Id__c", "source": "AccountRef"}],
        "created",
    ),
]


# ---- one measured load ---------------------------------------------------------------------------------


@dataclass
class Run:
    """One way of loading the files: wall time, the workers' memory and CPU, and what it did."""

    way: str
    rows: int
    seconds: float = 0.0
    peak_tree_mib: float = 0.0
    peak_process_mib: float = 0.0
    idle_tree_mib: float = 0.0
    worker_cpu_s: float = 0.0
    localorg_cpu_s: float = 0.0
    redis_peak_mib: float = 0.0
    api_calls: int = 0
    details: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def measured(stack: Stack, run: Run, workers: int, load: Callable[[], None]) -> Run:
    """Run `load` into an empty org through fresh workers, their trees' RSS and CPU sampled meanwhile."""
    stack.localorg.reset()
    started = start_workers(stack, workers, concurrency=1)
    try:
        run.idle_tree_mib = max(tree_rss(pid)[0] for pid in started.values()) / MIB
        org_pid = child_running(b"localorg")
        org_cpu = cpu_seconds(org_pid) if org_pid else 0.0
        with RssSampler(started) as sampler:
            load()
        run.localorg_cpu_s = cpu_seconds(org_pid) - org_cpu if org_pid else 0.0
    finally:
        stop_workers(stack, list(started))
        # A stopped worker's last long poll stays open in moto_server for up to the queue's wait time and takes
        # the next message published meanwhile (invisible for the visibility timeout): let it lapse.
        time.sleep(int(stack.pipeline.services.settings["SQS_WAIT_TIME_SECONDS"]) + 1)
    run.peak_tree_mib = max(sampler.peak_tree.values()) / MIB
    run.peak_process_mib = max(sampler.peak_process.values()) / MIB
    run.worker_cpu_s = sampler.cpu_seconds
    run.redis_peak_mib = int(stack.pipeline.redis.info("memory")["used_memory_peak"]) / MIB
    return run


def wait_final(get: Callable[[], dict[str, Any]], final: Any, timeout: float, what: str) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (doc := get())["state"] not in final:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not final after {timeout:.0f}s: {doc.get('counters')}")
        time.sleep(0.25)
    return doc


def upload(stack: Stack, files: Files) -> dict[str, dict[str, Any]]:
    """Each file put in the blob store, as an upload is: step -> the job source."""
    sources = {}
    for step, size in files.sizes.items():
        key = f"uploads/bench-{uuid.uuid4().hex[:8]}/{step}.csv"
        stack.pipeline.blobs.put_file(key, files.path(step))
        sources[step] = {"blob_key": key, "filename": f"{step}.csv", "size": size}
    return sources


def count(sf: Any, soql: str) -> int:
    return int(sf.query(soql)["totalSize"])


def check_org(stack: Stack, files: Files) -> str:
    """Count the records and their references in the org; look a few of them up field by field."""
    sf = stack.localorg.salesforce()
    expected = {
        "SELECT COUNT() FROM Account": files.accounts,
        "SELECT COUNT() FROM Account WHERE ParentId != null": files.with_parent,
        "SELECT COUNT() FROM Contact": files.contacts,
        "SELECT COUNT() FROM Contact WHERE AccountId != null": files.contacts,
        "SELECT COUNT() FROM Opportunity": files.deals,
        "SELECT COUNT() FROM Opportunity WHERE AccountId != null": files.deals,
    }
    wrong = {q: (got, want) for q, want in expected.items() if (got := count(sf, q)) != want}
    if wrong:
        raise RuntimeError(f"the org does not hold the rows loaded (got, expected): {wrong}")
    sample = sorted({1, FANOUT, files.accounts // 2, files.accounts} - {0})
    keys = ",".join(f"'{account_key(n)}'" for n in sample)
    found = sf.query(f"SELECT Legacy_Id__c, Parent.Legacy_Id__c FROM Account WHERE Legacy_Id__c IN ({keys})")
    for record in found["records"]:
        n = int(record["Legacy_Id__c"].split("-")[1])
        parent = (record.get("Parent") or {}).get("Legacy_Id__c")
        want = account_key(p) if (p := parent_of(n)) else None
        if parent != want:
            raise RuntimeError(f"account {n} has parent {parent}, expected {want}")
    for obj, key, expect in (
        ("Contact", "CON", lambda k: account_of_contact(k, files.accounts)),
        ("Opportunity", "OPP", lambda k: account_of_deal(k, files.accounts)),
    ):
        total = files.contacts if key == "CON" else files.deals
        picks = sorted({1, total // 2, total} - {0})
        where = ",".join(f"'{key}-{k:08d}'" for k in picks)
        got = sf.query(
            f"SELECT Legacy_Id__c, Account.Legacy_Id__c FROM {obj} WHERE Legacy_Id__c IN ({where})"
        )
        for record in got["records"]:
            k = int(record["Legacy_Id__c"].split("-")[1])
            if record["Account"]["Legacy_Id__c"] != account_key(expect(k)):
                raise RuntimeError(f"{obj} {k} is on account {record['Account']}, expected {expect(k)}")
    return f"org checked: {len(expected)} counts exact, {len(found['records'])} parents read back"


# ---- 1. the plan ---------------------------------------------------------------------------------------


def plan_run(stack: Stack, files: Files, chunk_rows: int, workers: int, timeout: float) -> Run:
    p = stack.pipeline
    sources = upload(stack, files)
    run = Run("plan", files.rows)
    done: dict[str, Any] = {}

    def load() -> None:
        plan = create_plan(p, plan_document(chunk_rows), sources, dry_run=False, owner={})
        store = plans_store(p)
        done["doc"] = wait_final(lambda: store.get(plan["_id"]), PLAN_FINAL, timeout, f"plan {plan['_id']}")

    measured(stack, run, workers, load)
    doc = done["doc"]
    view = plan_view(doc)
    run.seconds = parse_time(doc["finished_at"]) - parse_time(doc["created_at"])
    run.api_calls = int(view["api_calls"])
    problems = [] if doc["state"] == "completed" else [f"plan ended {doc['state']}: {doc.get('error')}"]
    for step in view["steps"]:
        c, want = step["counters"], files.rows_of(step["name"])
        got = (c["total"], c["loaded"], c["failed"], c["invalid"], c["pending"])
        if got != (want, want, 0, 0, 0):
            problems.append(
                f"step {step['name']}: total, loaded, failed, invalid, pending = {got}, not {want}"
            )
        if step["name"] == "accounts" and c.get("deferred_set") != files.with_parent:
            problems.append(
                f"accounts: ParentId set on {c.get('deferred_set')} rows, not {files.with_parent}"
            )
        line = f"{step['name']}: total {c['total']:,}, loaded {c['loaded']:,}"
        if "deferred_set" in c:
            line += f", ParentId set {c['deferred_set']:,} (not set {c['deferred_not_set']:,})"
        run.details.append(line)
    if problems:
        raise RuntimeError("; ".join(problems))
    origin = parse_time(doc["created_at"])
    for key, entry in sorted(doc["passes"].items(), key=lambda kv: kv[1].get("started_at") or ""):
        job = p.store.get(entry["job_id"])
        planned = job.get("plan") or {}
        plan_s = (
            parse_time(planned["planned_at"]) - parse_time(job["planning_started_at"]) if planned else 0.0
        )
        run.details.append(
            f"  pass {key}: {job['counters']['total']:,} rows, job {parse_time(job['created_at']) - origin:5.1f}s"
            f" -> {parse_time(job['finished_at']) - origin:5.1f}s ({parse_time(job['finished_at']) - parse_time(job['created_at']):.1f}s,"
            f" plan task {plan_s:.1f}s, {planned.get('chunks', 0)} chunks); pass recorded at "
            f"{parse_time(entry['finished_at']) - origin:.1f}s"
        )
    run.details.append(check_org(stack, files))
    return run


# ---- 2. single-object jobs -----------------------------------------------------------------------------


def jobs_run(stack: Stack, files: Files, chunk_rows: int, workers: int, timeout: float) -> Run:
    p = stack.pipeline
    sources = upload(stack, files)
    run = Run("single-object jobs", files.rows)
    ended: list[tuple[SingleJob, dict[str, Any]]] = []

    def load() -> None:
        for spec in SINGLE_JOBS:
            request = {
                "source": {k: v for k, v in sources[spec.step].items() if k != "size"},
                "target": {
                    "object": spec.object,
                    "operation": spec.operation,
                    "external_id": "Legacy_Id__c" if spec.operation == "upsert" else None,
                },
                "mapping": {"fields": spec.fields},
                "options": {"chunk_rows": chunk_rows},
            }
            job = create_job(p, request)
            ended.append(
                (
                    spec,
                    wait_final(
                        functools.partial(p.store.get, job["_id"]), FINAL_STATES, timeout, f"job {spec.name}"
                    ),
                )
            )

    measured(stack, run, workers, load)
    run.seconds = parse_time(ended[-1][1]["finished_at"]) - parse_time(ended[0][1]["created_at"])
    problems = []
    for spec, job in ended:
        rows = files.rows_of(spec.step)
        c = job["counters"]
        want = {"total": rows, "succeeded": rows, spec.outcome: rows, "failed": 0, "invalid": 0, "pending": 0}
        wrong = {k: c.get(k) for k, v in want.items() if c.get(k) != v}
        if job["state"] != "completed" or wrong:
            problems.append(f"job {spec.name} ended {job['state']} (wrong: {wrong}; counters {c})")
        run.api_calls += sum(int(v) for v in job.get("api_calls", {}).values())
        planned = job.get("plan") or {}
        run.details.append(
            f"{spec.name}: {spec.operation} {spec.object} on {len(spec.fields)} columns"
            f" ({', '.join(f['target'] for f in spec.fields if '.' in f['target']) or 'no relationship'}):"
            f" {c.get('succeeded', 0):,} of {c.get('total', 0):,} rows {spec.outcome}, "
            f"{parse_time(job['finished_at']) - parse_time(job['created_at']):.1f}s, {planned.get('chunks', 0)} chunks"
        )
    if problems:
        raise RuntimeError("; ".join(problems))
    run.details.append(check_org(stack, files))
    return run


# ---- the report ----------------------------------------------------------------------------------------


def report(rows: int, chunk_rows: int, workers: int, results: dict[int, dict[str, Run]]) -> str:
    lines = [
        f"\n== plan_e2e: {rows:,} rows x scale (1/10 Accounts in a tree of fan-out {FANOUT}, 4/10 Contacts, "
        f"5/10 Opportunities), chunk_rows {chunk_rows:,}, {workers} workers x concurrency 1 =="
    ]
    row = "{:<32}{:>12}{:>10}{:>9}{:>11}{:>10}{:>9}  {}"
    lines.append(
        row.format("scale / way", "rows", "rows/s", "seconds", "tree MiB", "proc MiB", "idle", "note")
    )
    for scale, runs in results.items():
        for run in runs.values():
            note = (
                f"{run.api_calls:,} API calls; CPU s: workers {run.worker_cpu_s:.0f}, "
                f"localorg {run.localorg_cpu_s:.0f}; Redis peak so far {run.redis_peak_mib:.0f} MiB"
            )
            lines.append(
                row.format(
                    f"x{scale}: {run.way}",
                    f"{run.rows:,}",
                    f"{run.rate:,.0f}",
                    f"{run.seconds:.1f}",
                    f"{run.peak_tree_mib:,.0f}",
                    f"{run.peak_process_mib:,.0f}",
                    f"{run.idle_tree_mib:,.0f}",
                    note,
                )
            )
        if "plan" in runs and "jobs" in runs:
            lines.append(f"    plan / jobs: {runs['plan'].rate / runs['jobs'].rate:.2f}x")
    for scale, runs in results.items():
        for run in runs.values():
            lines.append(f"x{scale} {run.way}:")
            lines.extend(f"    {detail}" for detail in run.details)
    scales = sorted(results)
    if len(scales) > 1:
        low, high = results[scales[0]], results[scales[-1]]
        for way in ("plan", "jobs"):
            if way in low and way in high:
                growth = high[way].peak_tree_mib / low[way].peak_tree_mib - 1
                lines.append(
                    f"worker tree peak, {way}: x{scales[0]} {low[way].peak_tree_mib:,.0f} MiB -> "
                    f"x{scales[-1]} {high[way].peak_tree_mib:,.0f} MiB: {growth:+.0%}"
                )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="N: rows of the three files at scale 1")
    parser.add_argument(
        "--scales", default="1,10", help="comma-separated multiples of N to run (default 1,10)"
    )
    parser.add_argument("--scale", type=int, help="one multiple of N (the same as --scales K)")
    parser.add_argument("--chunk-rows", type=int, default=50_000, help="the jobs' chunk_rows (DMS default)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (each --concurrency 1)")
    parser.add_argument("--localorg-db", choices=["file", "memory"], default="file")
    parser.add_argument("--timeout", type=float, default=7200.0, help="seconds allowed per plan or job")
    parser.add_argument("--only", choices=["plan", "jobs"], action="append", help="one way only (repeatable)")
    parser.add_argument(
        "--every-way", action="store_true", help="load the single-object jobs at every scale too"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (every server's log)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    scales = [args.scale] if args.scale else [int(s) for s in args.scales.split(",")]
    wanted = args.only or ["plan", "jobs"]
    results: dict[int, dict[str, Run]] = {}
    with work_dir("dms-bench-plan-", args.keep) as workdir:
        with running_stack(workdir, args.localorg_db) as stack:
            print(f"stack up: redis, moto_server, pouchdb-server, localorg; work dir {workdir}", flush=True)
            for scale in scales:
                t = time.monotonic()
                files = write_files(workdir / f"x{scale}", args.rows * scale)
                sizes = ", ".join(f"{step} {size / 1e6:,.1f} MB" for step, size in files.sizes.items())
                print(
                    f"x{scale}: {files.accounts:,} accounts, {files.contacts:,} contacts, {files.deals:,} "
                    f"opportunities ({sizes}; written in {time.monotonic() - t:.1f}s)",
                    flush=True,
                )
                results[scale] = {}
                bigger = scale != scales[0] and not args.every_way
                for way in [w for w in wanted if w == "plan" or not bigger]:
                    run = (plan_run if way == "plan" else jobs_run)(
                        stack, files, args.chunk_rows, args.workers, args.timeout
                    )
                    results[scale][way] = run
                    print(
                        f"x{scale} {run.way}: {run.rate:,.0f} rows/s in {run.seconds:.1f}s, worker tree peak "
                        f"{run.peak_tree_mib:,.0f} MiB; {machine_load()}",
                        flush=True,
                    )
                shutil.rmtree(files.dir, ignore_errors=True)
        print(report(args.rows, args.chunk_rows, args.workers, results), flush=True)
        return 0


if __name__ == "__main__":
    sys.exit(main())
