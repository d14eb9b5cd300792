"""The new-load wizard in a real browser, as a person walks it: a German legacy export (examples/accounts.csv:
52 rows, four of them bad) uploaded through the file input, read, aimed at Account by upsert on Legacy_Id__c,
mapped with a value map and boolean tokens built in the page (or imported from examples/accounts.mapping.json),
rehearsed with its errors read in the page, resumed after a reload, and run to 100 % after the confirmation."""

from __future__ import annotations

import re

from playwright.sync_api import Dialog, Page, expect

from tests.browser.conftest import OpenPage, assert_fits_the_window
from tests.browser.steps import (
    EXAMPLES,
    JOB_TIMEOUT,
    check_the_sample,
    map_in_the_page,
    open_rule,
    read_the_errors,
    rehearse_and_read_the_errors,
    row,
    upload_and_aim,
)


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
        "用值映射把文件中的代码对应到选择列表的值"
    )
    reload_and_run(page, "无效")
