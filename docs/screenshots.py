"""A screenshot of every page at 1366x768, in every language, to see what a person sees.

    .venv/bin/python docs/screenshots.py --out docs/screenshots

It starts its own local stack on free loopback ports, as the tests do (Redis, moto_server, pouchdb-server,
localorg, the web app and a worker), signs in through the sign-in page, runs a rehearsal, a load and the
example plan and keeps a wizard draft, so the pages have something to show, and writes
<out>/<page>.<locale>.png (the whole page, 1366 px wide). A new page: one entry in PAGES.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a file (docs/ is no package): the project's modules come from ROOT

import requests  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402

from dms.devbrowser import LOCALES, context_options, horizontal_overflow, launch_chromium, sign_in  # noqa: E402
from dms.devstack import (  # noqa: E402
    ProcessGroup,
    free_port,
    moto_spec,
    pouchdb_spec,
    redis_spec,
    temporary_environ,
    throwaway_stack_env,
    web_spec,
    worker_spec,
)

log = logging.getLogger("screenshots")
EXAMPLE_PLAN = ROOT / "examples" / "legacy-crm"
FINAL_STATES = ("completed", "completed_with_errors", "failed", "cancelled")
DEMO_CSV = "Legacy Id;Account Name;Tier\nL-1;Acme;Gold\nL-2;Globex;Silver\nL-3;Initech;Platinum\n"


@dataclass(frozen=True)
class Shot:
    """One page to photograph: its file name, its path (given the demo's ids), and who looks at it."""

    name: str
    path: Callable[[dict[str, str]], str]
    signed_in: bool = True


# Every page of the product; `ids` holds the demo's ids (see make_demo). The wizard is one page whose steps
# each have an address (its draft and step), so each step is photographed.
PAGES = (
    Shot("sign-in", lambda ids: "/sign-in", signed_in=False),
    Shot("start", lambda ids: "/"),
    *(
        Shot(f"wizard-{step}", lambda ids, step=step: f"/?draft={ids['draft']}&step={step}")
        for step in ("preview", "target", "mapping", "run")
    ),
    Shot("jobs", lambda ids: "/jobs"),
    Shot("job-load", lambda ids: f"/jobs/{ids['load']}"),
    Shot("job-rehearsal", lambda ids: f"/jobs/{ids['rehearsal']}"),
    Shot("plans", lambda ids: "/plans"),
    Shot("plan-new", lambda ids: "/plans/new"),
    Shot("plan", lambda ids: f"/plans/{ids['plan']}"),
    Shot("orgs", lambda ids: "/connections"),
    Shot("org-not-connected", lambda ids: "/connections/callback?error=access_denied&state=x"),
    Shot("users", lambda ids: "/users"),
    Shot("status", lambda ids: "/status"),
    Shot("account", lambda ids: "/account"),
    Shot("not-found", lambda ids: "/no/such/page"),
)


@contextlib.contextmanager
def local_stack(workdir: Path) -> Iterator[dict[str, str]]:
    """The services, the web app and one worker on free ports; yields the web app's URL and an admin."""
    from localorg.testing import running_localorg

    group = ProcessGroup(workdir / "log")
    try:
        redis_port, sqs_port, couch_port, web_port = (free_port() for _ in range(4))
        group.start(redis_spec(redis_port, workdir / "redis"))
        group.start(moto_spec(sqs_port))
        group.start(pouchdb_spec(couch_port, workdir / "couchdb", in_memory=True))
        with running_localorg(db=":memory:", workdir=str(workdir / "localorg")) as org:
            env = throwaway_stack_env(
                f"redis://127.0.0.1:{redis_port}/0",
                f"http://127.0.0.1:{sqs_port}",
                f"http://127.0.0.1:{couch_port}",
                workdir / "blobs",
                org,
                "shots",
            )
            with temporary_environ(env):
                from dms.clients.sqs import ensure_queues
                from dms.security.bootstrap import create_user
                from dms.settings import load_settings

                ensure_queues(load_settings())
                username, password = "ada", secrets.token_urlsafe(12)
                _, token = create_user(username, password, "admin", True, load_settings())
                group.start(web_spec(web_port, env))
                group.start(worker_spec(env, concurrency=1), wait=False)
                yield {
                    "url": f"http://127.0.0.1:{web_port}",
                    "username": username,
                    "password": password,
                    "token": str(token),
                }
    finally:
        group.stop_all()


def make_demo(url: str, token: str) -> dict[str, str]:
    """The pages' content: a rehearsal and a load of a small file with one bad row, a wizard draft of that
    file at its last step, and the bundled example plan, each run to its end."""
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"

    def upload(name: str, content: bytes) -> str:
        answer = api.post(f"{url}/api/v1/uploads", files={"file": (name, content)})
        answer.raise_for_status()
        return str(answer.json()["id"])

    upload_id = upload("legacy accounts.csv", DEMO_CSV.encode())
    target = {"object": "Account", "operation": "upsert", "external_id": "Legacy_Id__c"}
    mapping = {
        "fields": [
            {"target": "Legacy_Id__c", "source": "Legacy Id"},
            {"target": "Name", "source": "Account Name"},
            {"target": "Tier__c", "source": "Tier"},
        ]
    }
    body: dict[str, Any] = {
        "upload_id": upload_id,
        **target,
        "mapping": mapping,
        "read_options": {"delimiter": ";"},
    }
    ids = {}
    for name, dry_run in (("rehearsal", True), ("load", False)):
        created = api.post(f"{url}/api/v1/jobs", json={**body, "dry_run": dry_run})
        created.raise_for_status()
        ids[name] = created.json()["id"]
    draft = api.post(
        f"{url}/api/v1/drafts",
        json={**body, "connection_id": "default", "rehearsal_job_id": ids["rehearsal"], "step": "run"},
    )
    draft.raise_for_status()
    ids["draft"] = draft.json()["id"]
    files = {path.name: upload(path.name, path.read_bytes()) for path in EXAMPLE_PLAN.glob("*.csv")}
    plan_text = (EXAMPLE_PLAN / "plan.yaml").read_text(encoding="utf-8")
    plan = api.post(f"{url}/api/v1/plans", json={"plan_text": plan_text, "files": files})
    plan.raise_for_status()
    ids["plan"] = plan.json()["id"]
    deadline = time.monotonic() + 300
    for kind, thing_id in (("jobs", ids["rehearsal"]), ("jobs", ids["load"]), ("plans", ids["plan"])):
        while api.get(f"{url}/api/v1/{kind}/{thing_id}").json()["state"] not in FINAL_STATES:
            if time.monotonic() > deadline:
                raise SystemExit(f"{kind} {thing_id} did not finish in time")
            time.sleep(0.5)
    return ids


def photograph(page: Page, shot: Shot, ids: dict[str, str], out: Path, locale: str) -> Path:
    page.goto(shot.path(ids))
    page.wait_for_load_state("networkidle")
    overflow = horizontal_overflow(page)
    if overflow > 0:
        log.warning(
            "page wider than the window page=%s locale=%s overflow_px=%d", shot.name, locale, overflow
        )
    target = out / f"{shot.name}.{locale}.png"
    page.screenshot(path=str(target), full_page=True)
    return target


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dms-screenshots-") as tmp, local_stack(Path(tmp)) as stack:
        ids = make_demo(stack["url"], stack["token"])
        with sync_playwright() as driver:
            browser = launch_chromium(driver)
            for locale, browser_locale in LOCALES.items():
                context = browser.new_context(**context_options(stack["url"], browser_locale))
                page = context.new_page()
                signed_in = False
                for shot in PAGES:
                    if shot.signed_in and not signed_in:
                        sign_in(page, stack["username"], stack["password"])
                        signed_in = True
                    written = photograph(page, shot, ids, args.out, locale)
                    log.info("screenshot page=%s locale=%s file=%s", shot.name, locale, written)
                context.close()
            browser.close()
    sys.stdout.write(f"{args.out}: {len(PAGES) * len(LOCALES)} screenshots\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
