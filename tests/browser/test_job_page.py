"""The job page, the jobs list and the service status page in a real browser: a load with bad rows followed
live to 100 % without a reload, its errors read grouped by reason, two rows fixed in the grid and resubmitted
(and seen to load), errors.csv downloaded and read, a cancel asked for and seen cancelling, the list narrowed
by state, the status page for an admin (and refused, as a page, to a viewer); in English and in Chinese."""

from __future__ import annotations

import csv
import io
import re
import uuid
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from dms.devbrowser import sign_in
from tests.browser.conftest import OpenPage, assert_fits_the_window
from tests.integration.test_security import new_user

MAPPING = {
    "fields": [
        {"target": "Legacy_Id__c", "source": "legacy"},
        {"target": "LastName", "source": "last"},
        {"target": "Email", "source": "email"},
    ]
}
FINAL = {"completed", "completed_with_errors", "failed", "cancelled"}


def post(page: Page, web_url: str, path: str, **options: Any) -> Any:
    """A state-changing API call from the signed-in page's own session (its CSRF token, its origin)."""
    token = page.locator('meta[name="csrf-token"]').get_attribute("content") or ""
    headers = {"X-CSRF-Token": token, "Origin": web_url, "Accept": "application/json"}
    answer = page.request.post(f"{web_url}{path}", headers=headers, **options)
    assert answer.ok, (path, answer.status, answer.text())
    return answer.json()


def start_load(page: Page, web_url: str, rows: list[str], **body: Any) -> str:
    """Upload a CSV of Contacts and start an insert into the default connection (localorg); the job's id."""
    text = "legacy,last,email\n" + "".join(f"{row}\n" for row in rows)
    file = {"name": "contacts.csv", "mimeType": "text/csv", "buffer": text.encode()}
    upload = post(page, web_url, "/api/v1/uploads", multipart={"file": file})
    options = {"upload_id": upload["id"], "object": "Contact", "operation": "insert", "mapping": MAPPING}
    return str(post(page, web_url, "/api/v1/jobs", data={**options, **body})["id"])


def contact_rows(prefix: str) -> list[str]:
    """Five rows: rows 1, 3 and 5 load; row 2 has no LastName (required), row 4 an invalid email."""
    return [
        f"{prefix}-1,One,one@example.com",
        f"{prefix}-2,,two@example.com",
        f"{prefix}-3,Three,three@example.com",
        f"{prefix}-4,Four,not-an-address",
        f"{prefix}-5,Five,",
    ]


@pytest.fixture()
def signed_in(open_page: OpenPage, worker: str) -> Page:
    return open_page(path="/jobs")


def test_a_load_is_followed_fixed_in_place_and_its_errors_downloaded(
    signed_in: Page, web_url: str, tmp_path: Any
) -> None:
    page = signed_in
    prefix = uuid.uuid4().hex[:8]
    # Two rows a chunk: the load settles in steps, so the throughput chart has a line to draw.
    job_id = start_load(page, web_url, contact_rows(prefix), options={"chunk_rows": 2})
    page.goto(f"/jobs/{job_id}")
    page.evaluate("window.__same_document = true")  # gone if the page reloads
    expect(page.locator('[data-job="percent"]')).to_have_text("100%", timeout=60_000)
    expect(page.locator('[data-job="state"]')).to_have_text("Completed with errors")
    assert page.evaluate("window.__same_document") is True  # followed live, never reloaded
    expect(page.locator('[data-counter="succeeded"]')).to_have_text("3")
    expect(page.locator('[data-counter="invalid"]')).to_have_text("2")
    expect(page.locator('[data-throughput="rate"]')).to_have_text(re.compile(r"^[\d,.]+$"))
    expect(page.locator('[data-throughput="chart"] polyline')).to_have_count(1)
    expect(page.locator('[data-throughput="caption"]')).to_contain_text(
        "3 rows"
    )  # the rows loaded (invalid rows were never sent)

    # The errors, grouped by reason, with what to do and the first rows (row, column, message).
    groups = page.locator(".problem-group")
    expect(groups).to_have_count(2)
    required = page.locator('.problem-group[data-code="REQUIRED_FIELD_MISSING"]')
    expect(required.locator(".advice")).to_contain_text("Fill the field")
    cells = required.locator("tbody tr").first.locator("td")
    assert [cells.nth(i).inner_text() for i in (0, 1)] == ["2", "last"]
    email = page.locator('.problem-group[data-code="INVALID_EMAIL_ADDRESS"]')
    expect(email.locator("tbody tr").first.locator("td").nth(0)).to_have_text("4")
    expect(email.locator("tbody tr").first.locator("td").nth(2)).to_have_text("not-an-address")
    assert_fits_the_window(page)

    # errors.csv of this job: the two invalid rows, their row numbers and reasons.
    with page.expect_download() as downloading:
        page.click('[data-job-link="errors"]')
    errors_csv = tmp_path / "errors.csv"
    downloading.value.save_as(errors_csv)
    lines = list(csv.DictReader(io.StringIO(errors_csv.read_text(encoding="utf-8-sig"))))
    assert sorted((line["source_row"], line["error_code"]) for line in lines) == [
        ("2", "REQUIRED_FIELD_MISSING"),
        ("4", "INVALID_EMAIL_ADDRESS"),
    ]

    # Fix both rows in the grid, each error beside its cell, and resubmit them alone.
    grid = page.locator('[data-rowfix="grids"]')
    expect(grid.locator("tbody tr")).to_have_count(2)
    last_cell = grid.locator('input[data-row="2"][data-column="last"]')
    expect(last_cell).to_have_attribute("aria-invalid", "true")
    expect(last_cell.locator("xpath=following-sibling::span[1]")).not_to_have_text("")
    submit = page.locator('[data-rowfix="submit"]')
    expect(submit).to_be_disabled()
    last_cell.fill("Two")
    grid.locator('input[data-row="4"][data-column="email"]').fill("four@example.com")
    expect(submit).to_have_text("Resubmit 2 edited rows")
    assert_fits_the_window(page)
    submit.click()
    retry_link = page.locator('[data-job="retries"] a')
    expect(retry_link).to_have_count(1)
    expect(page.locator('[data-job="retries"] li')).to_contain_text("Retry of 2 edited rows")
    expect(grid.locator('tr[data-row="2"] .tag')).to_have_text("resubmitted")
    expect(submit).to_be_disabled()  # nothing left to send until a cell changes again
    expect(page.locator('[data-job="state"]')).to_have_text("Completed with errors")  # still this job

    # A retry from a corrected file: errors.csv with row 4's address fixed, listed as a second new job.
    fixed = errors_csv.read_text(encoding="utf-8-sig").replace("not-an-address", f"{prefix}-4b@example.com")
    page.set_input_files(
        '[data-retry-file="input"]',
        files=[{"name": "errors-fixed.csv", "mimeType": "text/csv", "buffer": fixed.encode()}],
    )
    page.click('[data-retry-file="submit"]')
    expect(page.locator('[data-job="retries"] li')).to_have_count(2)
    expect(page.locator('[data-job="retries"] li').nth(1)).to_contain_text("errors-fixed.csv")
    assert page.locator('[data-job="retries"] a').nth(1).get_attribute(
        "href"
    ) != retry_link.first.get_attribute("href")
    retry_link.first.click()
    page.wait_for_url(re.compile(r"/jobs/job-"))
    assert job_id not in page.url
    expect(page.locator('[data-job="state"]')).to_have_text("Completed", timeout=60_000)
    expect(page.locator('[data-counter="succeeded"]')).to_have_text("2")
    expect(page.locator('[data-job-link="retry-of"]')).to_have_attribute("href", f"/jobs/{job_id}")
    assert_fits_the_window(page)


def test_a_rehearsal_reads_as_one_and_a_cancel_is_confirmed_then_shown_cancelling(
    signed_in: Page, web_url: str
) -> None:
    page = signed_in
    prefix = uuid.uuid4().hex[:8]
    rehearsal = start_load(page, web_url, contact_rows(prefix), dry_run=True)
    page.goto(f"/jobs/{rehearsal}")
    expect(page.locator('[data-job="state"]')).to_have_text("Completed with errors", timeout=60_000)
    expect(page.locator('[data-counter="valid"]')).to_have_text("3")
    expect(page.locator('[data-counter-box="succeeded"]')).to_be_hidden()
    expect(page.locator("h1")).to_contain_text("Rehearsal")

    # A load of many small chunks: it runs long enough to be cancelled while it runs.
    rows = [f"{prefix}-big-{n},Name {n},n{n}@example.com" for n in range(4_000)]
    job_id = start_load(page, web_url, rows, options={"chunk_rows": 20})
    page.goto(f"/jobs/{job_id}")
    dialog = page.locator('dialog[data-job-dialog="cancel"]')
    expect(dialog).to_be_hidden()
    page.click('[data-job-action="cancel"]')
    expect(dialog).to_be_visible()
    assert_fits_the_window(page)
    dialog.locator('[data-dialog-action="keep"]').click()
    expect(dialog).to_be_hidden()
    state = page.evaluate("document.querySelector('[data-job-panel]').dataset.jobState")
    if state in FINAL:
        pytest.fail(f"the load finished before it could be cancelled ({state}): make it bigger")
    page.click('[data-job-action="cancel"]')
    dialog.locator('[data-dialog-action="confirm"]').click()
    cancelling = page.locator('[data-job="cancelling"]')
    state_badge = page.locator('[data-job="state"]')
    expect(state_badge).to_have_text(re.compile("Cancelling|Cancelled"))
    if state_badge.inner_text() == "Cancelling":
        expect(cancelling).to_be_visible()
    expect(state_badge).to_have_text("Cancelled", timeout=60_000)
    expect(cancelling).to_be_hidden()

    # The jobs list, narrowed by state: the cancelled load is there, the rehearsal is not.
    page.goto("/jobs")
    expect(page.locator(f'tr[data-job-id="{rehearsal}"] .tag')).to_have_text("rehearsal")
    expect(page.locator(f'tr[data-job-id="{rehearsal}"] [data-col="outcome"]')).to_contain_text("Valid 3")
    assert_fits_the_window(page)
    page.select_option('select[name="state"]', "cancelled")
    with page.expect_navigation():
        page.click(".filters button[type=submit]")
    assert "state=cancelled" in page.url
    expect(page.locator(f'tr[data-job-id="{job_id}"]')).to_have_count(1)
    expect(page.locator(f'tr[data-job-id="{rehearsal}"]')).to_have_count(0)
    states = page.locator('tr[data-job-id] [data-col="state"]').evaluate_all(
        "cells => cells.map(c => c.dataset.state)"
    )
    assert set(states) == {"cancelled"}
    # A page at a time, by the cursor: the next page holds the next older job, the filters kept.
    page.goto("/jobs?limit=1")
    newest = page.locator("tr[data-job-id]").get_attribute("data-job-id")
    with page.expect_navigation():
        page.click('[data-page="next"]')
    assert "cursor=" in page.url and "limit=1" in page.url
    older = page.locator("tr[data-job-id]").get_attribute("data-job-id")
    assert older and older != newest
    expect(page.locator('[data-page="first"]')).to_be_visible()
    page.goto("/jobs?since=yesterday-ish")
    expect(page.locator(".alert.error")).to_contain_text("The date “From” cannot be read")
    assert_fits_the_window(page)


def test_the_status_page_is_for_admins_and_a_viewer_is_refused_with_a_page(
    open_page: OpenPage, web_url: str
) -> None:
    page = open_page(path="/jobs")
    page.click("nav >> text=Service status")
    page.wait_for_url(re.compile(r"/status$"))
    assert page.locator("h1").inner_text() == "Service status"
    for name in ("redis", "sqs", "cloudant", "salesforce"):
        expect(page.locator(f'tr[data-service="{name}"] [data-col="state"]')).to_have_text("Up")
    assert_fits_the_window(page)
    viewer_user, viewer_password, _token = new_user("viewer")
    viewer = open_page(signed_in=False)
    sign_in(viewer, viewer_user["username"], viewer_password, "/jobs")
    assert viewer.locator("nav >> text=Service status").count() == 0
    response = viewer.goto("/status")
    assert response is not None and response.status == 403
    assert "text/html" in (response.headers.get("content-type") or "")
    expect(viewer.locator(".alert.error")).to_contain_text("for admins")
    assert_fits_the_window(viewer)


def test_the_job_page_and_the_lists_read_in_chinese(open_page: OpenPage, worker: str, web_url: str) -> None:
    page = open_page(locale="zh-CN", path="/jobs")
    job_id = start_load(page, web_url, contact_rows(uuid.uuid4().hex[:8]))
    page.goto(f"/jobs/{job_id}")
    expect(page.locator('[data-job="state"]')).to_have_text("已完成（有错误）", timeout=60_000)
    expect(page.locator("#problems-title")).to_have_text("按原因分组的错误")
    required = page.locator('.problem-group[data-code="REQUIRED_FIELD_MISSING"]')
    expect(required.locator(".advice")).to_contain_text("填写")
    expect(page.locator('[data-counter-box="created"] dt')).to_have_text("已创建")
    expect(page.locator('[data-rowfix="submit"]')).to_have_text("重新提交已编辑的行")
    assert_fits_the_window(page)
    page.goto("/jobs")
    expect(page.locator(f'tr[data-job-id="{job_id}"] [data-col="outcome"]')).to_contain_text("成功 3")
    assert_fits_the_window(page)
    page.goto("/status")
    assert page.locator("h1").inner_text() == "服务状态"
    assert_fits_the_window(page)
