"""`dms plan`: migration plans from a YAML or JSON plan file, its sources uploaded from beside it."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click
import yaml

from dms.cliclient import Api, ApiError, api_option, download, exit_code, follow
from dms.migration.spec import InvalidPlan, load_plan_text, parse_plan
from dms.migration.states import LEFTOVER_COUNTERS, PLAN_FINAL


class PlanFileError(click.ClickException):
    """A plan that cannot run: exit code 2, as for a job that failed."""

    exit_code = 2


def plan_headline(plan: dict[str, Any]) -> str:
    """A plan in one line: its state, and what it cost (or, rehearsed, would cost) in API calls."""
    parts = [f"plan {plan['id']} {plan['state']}:", f"{plan['name']},", f"attempt {plan['attempt']},"]
    parts.append(f"{len(plan['steps'])} steps")
    if plan["dry_run"]:
        parts.append(f"(rehearsal) — ~{plan['estimated_api_calls']} API calls to load")
    else:
        parts.append(f"— {plan['api_calls']} API calls")
    if plan.get("error"):
        parts.append(f"— {plan['error'].get('code')}: {plan['error'].get('message')}")
    return " ".join(parts)


def step_summary(step: dict[str, Any], dry_run: bool, running_percent: float | None = None) -> str:
    """A step in one line: its state (the pass running now) and its rows, loaded or not, and deferred fields."""
    line = f"{step['name']} [{step['object']} {step['operation']}] {step['state']}"
    running = [p for p in step["passes"] if p["state"] == "running"]
    if running:
        percent = "" if running_percent is None else f", {int(running_percent) // 10 * 10}%"
        line += f" ({running[-1]['kind']} pass {running[-1]['attempt']}{percent})"
    if not any(p["counters"] for p in step["passes"]):
        return line  # no pass has counted its rows yet
    c = step["counters"]
    loaded, label = (c["valid"], "would load") if dry_run else (c["loaded"], "loaded")
    left = {name: c[name] for name in LEFTOVER_COUNTERS if c.get(name)}
    why = f" ({', '.join(f'{n} {name}' for name, n in left.items())})" if left else ""
    line += f": {c['total']} rows, {loaded} {label}, {sum(left.values())} not{why}"
    if "deferred_set" in c:
        if dry_run:  # a rehearsal sets nothing: its update pass counts the rows it would set as valid
            line += (
                f"; deferred fields would be set: {c['deferred_valid']}, would not: {c['deferred_not_set']}"
            )
        else:
            line += f"; deferred fields set: {c['deferred_set']}, not set: {c['deferred_not_set']}"
    if step["duplicates"]["count"]:
        line += f"; {step['duplicates']['count']} keys given by more than one row"
    return line


def plan_summary(plan: dict[str, Any]) -> str:
    steps = [f"  {step_summary(step, plan['dry_run'])}" for step in plan["steps"]]
    return "\n".join([plan_headline(plan), *steps])


def wait_for_plan(api: Api, plan_id: str) -> dict[str, Any]:
    """Follow a plan to its end, with a line on stderr each time a step moves on."""
    shown: dict[str, str] = {}

    def report(plan: dict[str, Any]) -> None:
        for step in plan["steps"]:
            running = [p["job_id"] for p in step["passes"] if p["state"] == "running" and p["job_id"]]
            # A running pass's counters reach the plan when it ends; its job has them as it goes.
            percent = api.json("GET", f"/api/v1/jobs/{running[-1]}")["percent"] if running else None
            line = step_summary(step, plan["dry_run"], percent)
            if shown.get(step["name"]) != line:
                click.echo(f"plan {plan_id} {line}", err=True)
                shown[step["name"]] = line

    return follow(api, f"/api/v1/plans/{plan_id}", PLAN_FINAL, report)


def end_of_plan(api: Api, plan: dict[str, Any], wait: bool) -> None:
    """After a plan starts (or starts again): how to follow it, or, with --wait, its summary and exit code."""
    if not wait:
        click.echo(
            f"plan {plan['id']} {plan['state']} (attempt {plan['attempt']}) — follow it with: "
            f"dms plan status {plan['id']} --wait"
        )
        return
    plan = wait_for_plan(api, plan["id"])
    click.echo(plan_summary(plan))
    for step in plan["steps"]:
        counters = step["counters"]
        for option, left in (
            ("--errors", sum(counters.get(name, 0) for name in LEFTOVER_COUNTERS)),
            ("--deferred-errors", counters.get("deferred_not_set", 0)),
        ):
            if left:
                click.echo(f"errors: dms plan results {plan['id']} --step {step['name']} {option}", err=True)
    sys.exit(exit_code(plan))


def read_plan_file(path: Path) -> dict[str, Any]:
    """The plan in a file, checked here before anything is uploaded (the server checks it again)."""
    try:
        document = load_plan_text(path.read_text(encoding="utf-8"), path.name)
        plan = parse_plan(document)
    except UnicodeDecodeError:
        raise PlanFileError(f"{path} is not UTF-8 text.") from None
    except InvalidPlan as exc:
        raise PlanFileError(f"{path}: {exc.message}") from None
    for step in plan.steps:
        if "file" in step.source and not (path.parent / step.source["file"]).is_file():
            raise PlanFileError(
                f"{path}: Step {step.name}: `source.file` {step.source['file']} is not a file "
                f"(a path relative to the plan file: {path.parent / step.source['file']})."
            )
    return dict(document)


def with_uploads(api: Api, document: dict[str, Any], base: Path) -> dict[str, Any]:
    """The plan with each step's `source.file` uploaded and replaced by its `upload_id` (each file once)."""
    uploads: dict[Path, str] = {}
    steps = []
    for raw in document["steps"]:
        source = dict(raw["source"])
        if "file" in source:
            path = (base / source.pop("file").strip()).resolve()
            if path not in uploads:
                uploads[path] = api.upload(path)["id"]
                click.echo(f"uploaded {path.name} for step {raw['name']}: {uploads[path]}", err=True)
            source["upload_id"] = uploads[path]
        steps.append({**raw, "source": source})
    return {**document, "steps": steps}


@click.group()
def plan() -> None:
    """Migration plans: many related objects in one run, by legacy keys (a YAML or JSON plan file)."""


@plan.command("run")
@click.argument("plan_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Rehearse every step: check everything, load nothing.")
@click.option("--wait/--no-wait", default=False, help="Follow the plan to its end.")
@api_option
def plan_run(plan_file: Path, dry_run: bool, wait: bool, url: str) -> None:
    """Check PLAN_FILE, upload each step's `source.file` and run the plan (exit code 2 for a bad plan)."""
    document = read_plan_file(plan_file)
    api = Api(url)
    body = {"plan": with_uploads(api, document, plan_file.parent), "dry_run": dry_run}
    try:
        started = api.json("POST", "/api/v1/plans", json=body)
    except ApiError as exc:
        if exc.code == InvalidPlan.code:  # one the server alone can tell, e.g. an object the org lacks
            raise PlanFileError(exc.message) from None
        raise
    end_of_plan(api, started, wait)


@plan.command("status")
@click.argument("plan_id")
@click.option("--wait/--no-wait", default=False)
@api_option
def plan_status(plan_id: str, wait: bool, url: str) -> None:
    """Show a plan's state and each step's rows (exit code as for `dms plan run --wait` once it ended)."""
    api = Api(url)
    current = wait_for_plan(api, plan_id) if wait else api.json("GET", f"/api/v1/plans/{plan_id}")
    click.echo(plan_summary(current))
    sys.exit(exit_code(current) if current["state"] in PLAN_FINAL else 0)


@plan.command("results")
@click.argument("plan_id")
@click.option("--step", help="One step's file instead of the zip of them all.")
@click.option("--success", "kind", flag_value="success.csv", help="With --step: the rows it loaded.")
@click.option("--errors", "kind", flag_value="errors.csv", help="With --step: the rows it did not load.")
@click.option(
    "--deferred-errors",
    "kind",
    flag_value="deferred_errors.csv",
    help="With --step: deferred fields not set.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write. [default: PLAN_ID-results.zip; with --step, stdout]",
)
@api_option
def plan_results(plan_id: str, step: str | None, kind: str | None, output: Path | None, url: str) -> None:
    """Download a plan's results: a zip of summary.json and every step's CSVs, or one step's CSV."""
    if bool(step) != bool(kind):
        raise click.UsageError("--step goes with one of --success, --errors, --deferred-errors.")
    api = Api(url)
    if step:
        download(api.call("GET", f"/api/v1/plans/{plan_id}/steps/{step}/{kind}", stream=True), output)
        return
    output = output or Path(f"{plan_id}-results.zip")
    download(api.call("GET", f"/api/v1/plans/{plan_id}/results", stream=True), output)
    click.echo(f"wrote {output}")


@plan.command("retry")
@click.argument("plan_id")
@click.option("--wait/--no-wait", default=False)
@api_option
def plan_retry(plan_id: str, wait: bool, url: str) -> None:
    """Run a plan again for the rows it left undone, then what waited for them."""
    api = Api(url)
    end_of_plan(api, api.json("POST", f"/api/v1/plans/{plan_id}/retry"), wait)


@plan.command("cancel")
@click.argument("plan_id")
@api_option
def plan_cancel(plan_id: str, url: str) -> None:
    """Cancel a plan: no pass starts any more, the running ones are cancelled."""
    click.echo(plan_summary(Api(url).json("POST", f"/api/v1/plans/{plan_id}/cancel")))


@plan.command("list")
@click.option("--limit", default=20, show_default=True)
@api_option
def plan_list(limit: int, url: str) -> None:
    """List recent plans."""
    for listed in Api(url).json("GET", f"/api/v1/plans?limit={limit}")["plans"]:
        click.echo(plan_headline(listed))


@plan.command("skeleton")
@click.argument("export", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the draft plan (YAML). [default: stdout]",
)
@click.option(
    "--connection", "connection_id", help="The org whose objects the sheets or files are matched to."
)
@api_option
def plan_skeleton(export: Path, output: Path | None, connection_id: str | None, url: str) -> None:
    """Draft a plan from EXPORT, a workbook with a sheet per object or a zip with a CSV per object: edit it,
    then `dms plan run` it. What could not be matched is listed on stderr."""
    api = Api(url)
    upload_id = api.upload(export)["id"]
    body = {"upload_id": upload_id, **({"connection_id": connection_id} if connection_id else {})}
    drafted = api.json("POST", "/api/v1/plans/skeleton", json=body)
    # The draft names the upload; the plan file names the export beside it, as `dms plan run` reads it.
    where = os.path.relpath(export.resolve(), (output or Path("plan.yaml")).resolve().parent)
    document = drafted["plan"]
    for step in document["steps"]:
        step["source"] = {"file": where, **{k: v for k, v in step["source"].items() if k != "upload_id"}}
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    for note in drafted["notes"]:
        click.echo(f"note: {note}", err=True)
