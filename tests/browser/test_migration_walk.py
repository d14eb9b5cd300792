"""The issue's whole walk in one browser, as a person does it, once in English and once in Chinese: connect an
org through its OAuth sign-in page, upload a legacy export with bad rows into it, map it with a value map and
boolean tokens built in the page, rehearse and read the grouped errors, run it to 100 %, read the load's
grouped errors on its job page, fix two rows in the page and retry them, and download errors.csv and check
its rows. (The pieces are tested in more detail by test_connections, test_wizard and test_job_page; the plan
from the example to its end by test_plans.)"""

from __future__ import annotations

import csv
import io
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Dialog, expect

from tests.browser.conftest import OpenPage, assert_fits_the_window
from tests.browser.steps import (
    BAD_ROWS,
    EXAMPLES,
    JOB_TIMEOUT,
    check_the_sample,
    connect_by_oauth,
    map_in_the_page,
    rehearse_and_read_the_errors,
    upload_and_aim,
)

# The two rows fixed in the page, by the source column the error is about: 31 February, and no company name.
FIXES = {(50, "Gegründet"): "28/02/2001", (51, "Firma"): "Neugründung GmbH"}
# The words each language shows where the walk checks that the page speaks it.
WORDS = {"en-US": {"h1": "New load", "resubmit": "Resubmit 2"}, "zh-CN": {"h1": "新建加载", "resubmit": "2"}}


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_a_whole_migration_in_the_browser(
    open_page: OpenPage, worker: str, localorg: Any, locale: str, tmp_path: Path
) -> None:
    # The demo's export with keys of this walk's own (K-1001 -> K-<run>-1001): the upsert creates its accounts,
    # whatever another test loaded before (an account that exists needs no name, so row 51 would be valid).
    run = uuid.uuid4().hex[:6]
    export = tmp_path / "accounts.csv"
    export.write_bytes((EXAMPLES / "accounts.csv").read_bytes().replace(b"\nK-", f"\nK-{run}-".encode()))
    page = open_page(locale=locale, path="/connections", ignore_https_errors=True)
    org = f"Walk org {run}"
    connect_by_oauth(page, localorg, org)

    page.goto("/")
    assert page.locator("h1").inner_text() == WORDS[locale]["h1"]
    upload_and_aim(page, connection=org, file=export)
    map_in_the_page(page)
    check_the_sample(page)
    rehearse_and_read_the_errors(page)

    asked: list[str] = []

    def answer(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", answer)  # the rehearsal found invalid rows: the run asks first
    page.click("#run")
    expect(page.locator("#load-box [data-job=percent]")).to_have_text(
        re.compile(r"100\s?%"), timeout=JOB_TIMEOUT
    )
    assert asked and "4" in asked[0], asked

    # The load's own page: its errors grouped by reason, each with what to do and its rows.
    page.click("#load-box [data-job-link=page]")
    page.wait_for_url(re.compile(r"/jobs/job-"))
    load_url = page.url
    expect(page.locator('[data-counter="succeeded"]')).to_have_text("48", timeout=JOB_TIMEOUT)
    groups = page.locator(".problem-group")
    expect(groups.first).to_be_visible()
    shown = {
        int(n) for n in groups.locator("tbody tr td:first-child").all_inner_texts() if n.strip().isdigit()
    }
    assert BAD_ROWS <= shown, shown
    for code in ("INVALID_DATE", "REQUIRED_FIELD_MISSING"):
        expect(page.locator(f'.problem-group[data-code="{code}"] .advice')).not_to_be_empty()
    assert_fits_the_window(page)

    # errors.csv: the four bad rows, by their row in the file, with their reasons.
    with page.expect_download() as downloading:
        page.click('[data-job-link="errors"]')
    text = downloading.value.path().read_text(encoding="utf-8-sig")
    errors = {int(line["source_row"]): line["error_code"] for line in csv.DictReader(io.StringIO(text))}
    assert set(errors) == BAD_ROWS, errors
    assert errors[50] == "INVALID_DATE" and errors[51] == "REQUIRED_FIELD_MISSING", errors

    # Fix two rows in the grid, beside their errors, and resubmit just those.
    grid = page.locator('[data-rowfix="grids"]')
    for (source_row, column), value in FIXES.items():
        cell = grid.locator(f'input[data-row="{source_row}"][data-column="{column}"]')
        expect(cell).to_have_attribute("aria-invalid", "true")
        cell.fill(value)
    submit = page.locator('[data-rowfix="submit"]')
    expect(submit).to_contain_text(WORDS[locale]["resubmit"])
    assert_fits_the_window(page)
    submit.click()
    retry = page.locator('[data-job="retries"] a')
    expect(retry).to_have_count(1)
    retry.first.click()
    page.wait_for_url(re.compile(r"/jobs/job-"))
    assert page.url != load_url
    expect(page.locator('[data-job="percent"]')).to_have_text(re.compile(r"100\s?%"), timeout=JOB_TIMEOUT)
    expect(page.locator('[data-counter="succeeded"]')).to_have_text("2")
    expect(page.locator('[data-counter="invalid"]')).to_have_text("0")
    assert_fits_the_window(page)
