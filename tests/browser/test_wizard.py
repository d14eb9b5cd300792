"""The new-load wizard in a real browser, as a person walks it: a German legacy export (examples/accounts.csv:
52 rows, four of them bad) uploaded through the file input, read, aimed at Account by upsert on Legacy_Id__c,
mapped with a value map and boolean tokens built in the page (or imported from examples/accounts.mapping.json),
rehearsed with its errors read in the page, resumed after a reload, and run to 100 % after the confirmation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Dialog, Page, expect

from tests.browser.conftest import OpenPage, assert_fits_the_window

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
JOB_TIMEOUT = 120_000
# The four bad rows of accounts.csv, by data row: a tier the picklist lacks, 31 February, no name, no "@".
BAD_ROWS = {49, 50, 51, 52}


def row(page: Page, target: str) -> Any:
    return page.locator(f'#mapping-table tr[data-target="{target}"]')


def upload_and_aim(page: Page) -> None:
    """Steps 1 to 3: the file through the input, its preview read, Account / upsert on Legacy_Id__c."""
    page.set_input_files("#file-input", str(EXAMPLES / "accounts.csv"))
    expect(page.locator("#step-preview")).to_be_visible()
    expect(page.locator("#preview-table caption")).to_contain_text("accounts.csv")
    headers = page.locator("#preview-table thead tr").first.inner_text()
    assert "Stufe" in headers and "Geprüft" in headers and "Kreditlimit" in headers
    assert "draft=" in page.url and "step=preview" in page.url
    assert_fits_the_window(page)
    page.click("#to-target")
    expect(page.locator("#step-target")).to_be_visible()
    expect(page.locator('#object-list option[value="Account"]')).to_be_attached()
    page.select_option("#object-list", "Account")
    page.select_option("#operation", "upsert")
    expect(page.locator('#external-id option[value="Legacy_Id__c"]')).to_be_attached()
    page.select_option("#external-id", "Legacy_Id__c")
    assert_fits_the_window(page)
    page.click("#to-mapping")
    expect(page.locator("#step-mapping")).to_be_visible()
    assert "step=mapping" in page.url


def open_rule(page: Page, target: str) -> Any:
    details = row(page, target).locator('details[data-role="rule"]')
    if not details.evaluate("d => d.open"):
        details.locator("summary").click()
    return details


def map_in_the_page(page: Page) -> None:
    """Step 4 by hand: every column to its field, a value map for Stufe, J/N for Geprüft, date and number style."""
    sources = {
        "Legacy_Id__c": "Kundennr",
        "Name": "Firma",
        "BillingCity": "Stadt",
        "Tier__c": "Stufe",
        "Founded__c": "Gegründet",
        "Credit_Limit__c": "Kreditlimit",
        "Employees_Verified__c": "Geprüft",
        "Primary_Email__c": "E-Mail",
        "Phone": "Telefon",
    }
    for target, column in sources.items():
        row(page, target).locator('[data-role="source"]').select_option(column)
    founded = row(page, "Founded__c").locator('[data-role="format"]')
    founded.fill("%d/%m/%Y")
    founded.dispatch_event("change")
    row(page, "Credit_Limit__c").locator('[data-role="number-style"]').select_option(
        label="1234,56 / 1.234,56"
    )

    tier = open_rule(page, "Tier__c")
    # The value map lists the column's values over the whole file, with their counts, against the picklist.
    expect(tier.locator('[data-role="map-value"][data-legacy="P"]')).to_be_attached()
    for legacy, value in (("G", "Gold"), ("S", "Silver"), ("B", "Bronze")):
        tier.locator(f'[data-role="map-value"][data-legacy="{legacy}"]').select_option(value)
    tier.locator('[data-role="map-else"]').select_option("keep")

    verified = open_rule(page, "Employees_Verified__c")
    verified.locator('[data-role="true-token"][value="J"]').check()
    verified.locator('[data-role="false-token"][value="N"]').check()
    expect(verified.locator("summary")).to_contain_text("J")

    city = open_rule(page, "BillingCity")
    city.locator('[data-role="trim"]').check()
    city.locator('[data-role="case"]').select_option("upper")
    cut = city.locator('[data-role="truncate"]')
    cut.fill("5")
    cut.dispatch_event("change")
    expect(row(page, "BillingCity").locator("[data-sample]")).to_contain_text(
        re.compile("München → MÜNCH(?!EN)")
    )
    cut.fill("")
    cut.dispatch_event("change")
    expect(row(page, "BillingCity").locator("[data-sample]")).to_contain_text("München → MÜNCHEN")


def check_the_sample(page: Page) -> None:
    """The live sample shows what the first rows become: S, B, G mapped; 332.254,50 read as a number."""
    expect(row(page, "Tier__c").locator("[data-sample]")).to_contain_text("S → Silver")
    expect(row(page, "Tier__c").locator("[data-sample]")).to_contain_text("G → Gold")
    expect(row(page, "Credit_Limit__c").locator("[data-sample]")).to_contain_text("332254.5")
    expect(row(page, "Founded__c").locator("[data-sample]")).to_contain_text("1951-02-02")
    expect(row(page, "Employees_Verified__c").locator("[data-sample]")).to_contain_text("J → true")


def rehearse_and_read_the_errors(page: Page) -> None:
    page.click("#to-run")
    expect(page.locator("#step-run")).to_be_visible()
    assert "step=run" in page.url
    page.click("#rehearse")
    read_the_errors(page)


def read_the_errors(page: Page) -> None:
    expect(page.locator("#rehearsal-box [data-job-panel]")).to_have_attribute(
        "data-job-state", "completed_with_errors", timeout=JOB_TIMEOUT
    )
    groups = page.locator("#rehearsal-error-groups")
    expect(groups.locator(".error-group").first).to_be_visible(timeout=JOB_TIMEOUT)
    shown = {int(r) for r in groups.locator("li[data-row]").evaluate_all("ns => ns.map(n => n.dataset.row)")}
    assert BAD_ROWS <= shown, shown
    text = groups.inner_text()
    for reason in ("P", "31/02/2001", "Tier__c", "Founded__c", "Name"):
        assert reason in text, (reason, text)
    assert_fits_the_window(page)


def reload_and_run(page: Page, dialog_words: str) -> None:
    """A reload resumes on the same step with the same rehearsal; the run asks first, then loads to 100 %."""
    expect(page.locator("#wizard")).to_have_attribute("data-draft", "saved")
    url = page.url
    page.reload()
    expect(page.locator("#wizard")).to_have_attribute("data-restored", "true", timeout=30_000)
    assert page.url == url
    expect(page.locator("#step-run")).to_be_visible()
    expect(page.locator('[data-step-marker="run"]')).to_have_attribute("aria-current", "step")
    expect(row(page, "Tier__c").locator('[data-role="rule"] summary')).to_contain_text("3")
    read_the_errors(page)
    # A second tab on the same address finds the same wizard.
    second = page.context.new_page()
    second.goto(url)
    expect(second.locator("#wizard")).to_have_attribute("data-restored", "true", timeout=30_000)
    expect(second.locator("#step-run")).to_be_visible()
    read_the_errors(second)
    second.close()

    asked: list[str] = []

    def answer(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", answer)
    page.click("#run")
    expect(page.locator("#load-box [data-job=percent]")).to_have_text(
        re.compile(r"100\s?%"), timeout=JOB_TIMEOUT
    )
    assert asked and "4" in asked[0] and dialog_words in asked[0], asked
    assert_fits_the_window(page)
    # The job page and back: the draft survives, with the load it started.
    expect(page.locator("#wizard")).to_have_attribute("data-draft", "saved")
    page.click("#load-box [data-job-link=page]")
    page.wait_for_url(re.compile(r"/jobs/job-"))
    page.go_back()
    expect(page.locator("#step-run")).to_be_visible(timeout=30_000)
    expect(page.locator("#load-box [data-job=percent]")).to_have_text(
        re.compile(r"100\s?%"), timeout=JOB_TIMEOUT
    )


def test_the_wizard_maps_rehearses_resumes_and_loads_in_english(open_page: OpenPage, worker: str) -> None:
    page = open_page()
    upload_and_aim(page)
    map_in_the_page(page)
    check_the_sample(page)
    assert_fits_the_window(page)
    rehearse_and_read_the_errors(page)
    # Back goes to the step before; the pills reach any step reached.
    page.go_back()
    expect(page.locator("#step-run")).to_be_hidden()
    expect(page.locator("#step-mapping")).to_be_visible()
    page.click('[data-goto="run"]')
    expect(page.locator("#step-run")).to_be_visible()
    # A change to the mapping makes the rehearsal outdated, and the page says so.
    page.click('[data-goto="mapping"]')
    row(page, "Phone").locator('[data-role="source"]').select_option("")
    expect(page.locator('[data-step-marker="run"]')).to_have_class(re.compile("outdated"))
    page.click('[data-goto="run"]')
    expect(page.locator("#rehearsal-outdated")).to_be_visible()
    page.click('[data-goto="mapping"]')
    row(page, "Phone").locator('[data-role="source"]').select_option("Telefon")
    page.click("#to-run")
    page.click("#rehearse")
    expect(page.locator("#rehearsal-outdated")).to_be_hidden()
    read_the_errors(page)
    reload_and_run(page, "invalid rows")


def test_the_wizard_in_chinese_with_the_mapping_imported(open_page: OpenPage, worker: str) -> None:
    page = open_page(locale="zh-CN")
    assert page.locator("h1").inner_text() == "新建加载"
    upload_and_aim(page)
    expect(page.locator("#step-mapping h2")).to_contain_text("映射字段")
    page.set_input_files("#mapping-import", str(EXAMPLES / "accounts.mapping.json"))
    expect(page.locator("#mapping-file-status")).to_contain_text("已导入")
    tier = open_rule(page, "Tier__c")
    expect(tier.locator('[data-role="map-value"][data-legacy="G"]')).to_have_value("Gold")
    expect(tier.locator('[data-role="map-value"][data-legacy="B"]')).to_have_value("Bronze")
    expect(tier.locator("caption")).to_contain_text("Stufe")
    expect(tier.locator("caption")).to_contain_text("映射")
    verified = open_rule(page, "Employees_Verified__c")
    expect(verified.locator('[data-role="true-token"][value="J"]')).to_be_checked()
    check_the_sample(page)
    with page.expect_download() as download:
        page.click("#mapping-export")
    assert download.value.suggested_filename == "Account.mapping.json"
    assert_fits_the_window(page)
    rehearse_and_read_the_errors(page)
    expect(page.locator("#rehearsal-errors-title")).to_contain_text("预演")
    # The advice beside each group is in the page's language too (the API answers in the caller's).
    expect(page.locator("#rehearsal-error-groups")).to_contain_text(
        "用值映射把文件中的代码映射到选项列表的值"
    )
    reload_and_run(page, "无效")
