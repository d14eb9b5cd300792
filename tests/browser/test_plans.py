"""Migration plans in a real browser: the bundled legacy-crm example started from /plans/new and followed on its
page to its end, every step's figures as the API gives them, the plans list and its filter, and a Chinese
browser reading the plan pages in Chinese; the users page, where an admin adds a viewer."""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.sync_api import Browser, Page, expect

from dms.devbrowser import context_options, sign_in
from tests.browser.conftest import OpenPage, assert_fits_the_window
from tests.integration.pipeline_helpers import forget_the_example

PLAN_URL = re.compile(r".*/plans/(plan-[0-9A-Za-z]+-[0-9a-f]+)$")
# What examples/legacy-crm/README.md expects of each step's insert pass: rows, loaded, not loaded.
EXAMPLE_COUNTS = {
    "accounts": (20, 19, 1),
    "contacts": (40, 36, 4),
    "deals": (25, 23, 2),
    "contact_roles": (30, 25, 5),
    "tasks": (30, 26, 4),
}


def _shown(page: Page, step: str, counter: str) -> int:
    text = page.locator(f'[data-step="{step}"] [data-counter="{counter}"]').inner_text()
    return int(re.sub(r"[^\d]", "", text))


def test_the_example_plan_is_started_and_followed_to_its_end(
    page: Page, worker: str, browser_user: dict[str, str], localorg: Any
) -> None:
    forget_the_example(localorg)  # the counts below are a first run's (another test may have run it before)
    page.goto("/plans")
    assert page.locator("h1").inner_text() == "Migration plans"
    assert_fits_the_window(page)
    with page.expect_navigation():
        page.click("text=Start a plan")
    assert page.locator("h1").inner_text() == "Start a plan"
    assert_fits_the_window(page)
    with page.expect_navigation(url=PLAN_URL, timeout=60_000):
        page.click("#example-form button[type=submit]")
    match = PLAN_URL.match(page.url)
    assert match
    plan_id = match.group(1)

    # Three waves: accounts; contacts and deals side by side; contact roles and tasks.
    waves = page.locator("ol.waves > li.wave")
    expect(waves).to_have_count(3)
    expect(waves.nth(1).locator(".step-card")).to_have_count(2)
    arrows = page.locator("#plan-arrows path.arrow")
    expect(arrows.first).to_be_attached()
    drawn = {(a.get_attribute("data-from"), a.get_attribute("data-to")) for a in arrows.all()}
    assert {("accounts", "contacts"), ("accounts", "deals"), ("deals", "contact_roles")} <= drawn
    assert_fits_the_window(page)

    expect(page.locator("#plan-state")).to_have_text("Completed with errors", timeout=240_000)
    expect(page.locator("#plan-results")).to_be_visible()
    expect(page.locator("#plan-retry")).to_be_visible()
    expect(page.locator("#plan-cancel")).to_be_hidden()
    plan = page.request.get(f"/api/v1/plans/{plan_id}").json()
    assert plan["state"] == "completed_with_errors"
    for step in plan["steps"]:
        c = step["counters"]
        not_loaded = c["failed"] + c["invalid"] + c["cancelled"] + c["pending"]
        assert (c["total"], c["loaded"], not_loaded) == EXAMPLE_COUNTS[step["name"]]
        assert _shown(page, step["name"], "total") == c["total"]
        assert _shown(page, step["name"], "loaded") == c["loaded"]
        assert _shown(page, step["name"], "not_loaded") == not_loaded
        if "deferred_set" in c:
            assert _shown(page, step["name"], "deferred_set") == c["deferred_set"]
            assert _shown(page, step["name"], "deferred_not_set") == c["deferred_not_set"]
    assert (_shown(page, "accounts", "deferred_set"), _shown(page, "accounts", "deferred_not_set")) == (9, 1)
    # The children held back because their parent did not load (README: 14 rows, 2 deferred fields of them).
    held = page.locator('[data-step="contact_roles"] [data-col="held-back"]')
    expect(held).to_contain_text("PARENT_NOT_LOADED): rows 5,")
    expect(page.locator('[data-step="accounts"] [data-col="held-back"]')).to_contain_text(
        "rows 0, deferred fields 1"
    )
    link = page.locator('[data-step="tasks"] a', has_text="errors.csv")
    assert link.get_attribute("href") == f"/api/v1/plans/{plan_id}/steps/tasks/errors.csv"
    errors = page.request.get(link.get_attribute("href") or "")
    assert errors.ok and errors.text().count("\n") == 1 + 4  # the header and the 4 rows not loaded
    assert_fits_the_window(page)

    # Listed, and found by its state.
    page.goto("/plans")
    row = page.locator(f'#plans tr[data-plan-id="{plan_id}"]')
    expect(row).to_contain_text("Completed with errors")
    expect(row.locator("td.num").nth(1)).to_have_text("145")
    page.select_option('#plans-filter select[name="state"]', "completed")
    expect(row).to_have_count(0)
    page.select_option('#plans-filter select[name="state"]', "completed_with_errors")
    expect(row).to_have_count(1)
    # By date (the browser's day is UTC, as the server's): from tomorrow hides it, from today shows it.
    today = datetime.now(UTC).date()
    page.fill('#plans-filter input[name="since"]', (today + timedelta(days=1)).isoformat())
    expect(row).to_have_count(0)
    page.fill('#plans-filter input[name="since"]', today.isoformat())
    expect(row).to_have_count(1)
    # By owner (an admin's filter): the person who started it.
    page.select_option('#plans-filter select[name="owner"]', label=browser_user["username"])
    expect(row).to_have_count(1)
    assert_fits_the_window(page)


def test_a_chinese_browser_reads_the_plan_pages_in_chinese(open_page: OpenPage) -> None:
    page = open_page(locale="zh-CN", path="/plans")
    assert page.locator("h1").inner_text() == "迁移计划"
    expect(page.locator("nav")).to_contain_text("计划")
    assert_fits_the_window(page)
    page.goto("/plans/new")
    assert page.locator("h1").inner_text() == "启动计划"
    expect(page.locator("#example-form button[type=submit]")).to_have_text("启动示例计划")
    # The script's message, in Chinese too: a plan file is needed first.
    page.click("#own-form button[type=submit]")
    expect(page.locator("#plan-new-error")).to_contain_text("请先选择计划文件")
    assert_fits_the_window(page)
    response = page.goto("/plans/plan-20260101T000000000000Z-0123456789abcdef")
    assert response is not None and response.status == 404
    assert page.locator("h1").inner_text() == "未找到"


def test_an_admin_adds_a_viewer_on_the_users_page(page: Page, chromium: Browser, web_url: str) -> None:
    with page.expect_navigation():
        page.click("nav >> text=Users")
    assert page.locator("h1").inner_text() == "Users"
    assert_fits_the_window(page)
    username, password = f"viewer-{uuid.uuid4().hex[:6]}", secrets.token_urlsafe(16)
    page.fill('#user-form input[name="username"]', username)
    page.fill('#user-form input[name="password"]', password)
    page.select_option('#user-form select[name="role"]', "viewer")
    page.click("#user-form button[type=submit]")
    expect(page.locator("#user-added")).to_contain_text(f"Added {username} as viewer")
    expect(page.locator(f'#users tr[data-username="{username}"] [data-col="role"]')).to_have_text("viewer")
    page.reload()
    expect(page.locator(f'#users tr[data-username="{username}"] [data-col="role"]')).to_have_text("viewer")
    listed: list[dict[str, Any]] = page.request.get("/api/v1/users").json()["users"]
    assert {u["username"]: u["role"] for u in listed}[username] == "viewer"
    assert_fits_the_window(page)
    # A taken username is refused, in words.
    page.fill('#user-form input[name="username"]', username)
    page.fill('#user-form input[name="password"]', password)
    page.click("#user-form button[type=submit]")
    expect(page.locator("#user-error")).to_contain_text("Not added")

    # The viewer signs in: plans to read, none to start, and no users page.
    context = chromium.new_context(**context_options(web_url))
    try:
        viewer = context.new_page()
        sign_in(viewer, username, password, "/plans")
        assert viewer.locator("h1").inner_text() == "Migration plans"
        expect(viewer.locator("text=Start a plan")).to_have_count(0)
        expect(viewer.locator("nav")).not_to_contain_text("Users")
        response = viewer.goto("/users")
        assert response is not None and response.status == 403
        expect(viewer.locator(".alert.error")).to_contain_text("Your role does not allow this page")
        assert_fits_the_window(viewer)
    finally:
        context.close()


def _csv(header: str, lines: list[str]) -> bytes:
    return ("\n".join([header, *lines]) + "\n").encode()


OWN_PLAN = """name: own-plan
options: {chunk_rows: 5}
steps:
  - name: accounts
    object: Account
    key: LegacyId
    source: {file: accounts.csv}
  - name: contacts
    object: Contact
    source: {file: exports/contacts.csv}
    mapping:
      fields:
        - {target: LastName, source: Last}
        - {target: AccountId, source: AccountRef, ref: {step: accounts}}
"""


def test_a_plan_of_ones_own_files_is_cancelled_then_retried_to_completion(page: Page, worker: str) -> None:
    accounts = _csv("LegacyId,Name", [f"K{n},Browser {n}" for n in range(200)])
    contacts = _csv("AccountRef,Last", ["K1,Lovelace"])
    page.goto("/plans/new")
    form = page.locator("#own-form")
    form.locator('input[name="plan"]').set_input_files(
        files=[{"name": "plan.yaml", "mimeType": "text/yaml", "buffer": OWN_PLAN.encode()}]
    )
    form.locator('input[name="files"]').set_input_files(
        files=[
            {"name": "accounts.csv", "mimeType": "text/csv", "buffer": accounts},
            {"name": "contacts.csv", "mimeType": "text/csv", "buffer": contacts},
        ]
    )
    with page.expect_navigation(url=PLAN_URL, timeout=60_000):
        form.locator("button[type=submit]").click()
    expect(page.locator("#plan-name")).to_have_text("own-plan")

    asked: list[str] = []
    page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.click("#plan-cancel")
    expect(page.locator("#plan-state")).to_have_text("Cancelled", timeout=120_000)
    assert asked and asked[0].startswith("Cancel this plan?")
    expect(page.locator('[data-step="contacts"] [data-pass="load1"]')).to_contain_text("not run")
    assert_fits_the_window(page)

    page.click("#plan-retry")
    expect(page.locator("#plan-state")).to_have_text("Completed", timeout=180_000)
    expect(page.locator("#plan-facts")).to_contain_text("Attempt 2")
    expect(page.locator("#plan-retry")).to_be_hidden()
    assert _shown(page, "accounts", "loaded") == 200 and _shown(page, "accounts", "not_loaded") == 0
    assert _shown(page, "contacts", "loaded") == 1


def test_a_rehearsal_of_the_example_shows_what_would_load_and_offers_no_retry(
    page: Page, worker: str
) -> None:
    page.goto("/plans/new")
    page.check('#example-form input[name="dry_run"]')
    with page.expect_navigation(url=PLAN_URL, timeout=60_000):
        page.click("#example-form button[type=submit]")
    expect(page.locator("#plan-rehearsal")).to_be_visible()
    final = re.compile(r"^(Completed|Completed with errors)$")
    expect(page.locator("#plan-state")).to_have_text(final, timeout=240_000)
    match = PLAN_URL.match(page.url)
    assert match
    plan = page.request.get(f"/api/v1/plans/{match.group(1)}").json()
    assert plan["dry_run"] is True
    for step in plan["steps"]:
        card = page.locator(f'[data-step="{step["name"]}"]')
        expect(card.locator("dt").nth(1)).to_have_text("Would load")
        assert _shown(page, step["name"], "loaded") == step["counters"]["valid"]
        expect(card.locator("a", has_text="success.csv")).to_have_count(0)  # a rehearsal loads nothing
    expect(page.locator("#plan-facts")).to_contain_text("API calls to load")
    expect(page.locator("#plan-retry")).to_be_hidden()
    assert_fits_the_window(page)
