"""Steps a person takes in the browser, shared by the tests that walk them: connecting an org by OAuth, and the
wizard's upload, target and mapping of the demo's German legacy export (examples/accounts.csv: 52 rows, the
last four bad)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import assert_fits_the_window

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
JOB_TIMEOUT = 120_000
# The four bad rows of accounts.csv, by data row: a tier the picklist lacks, 31 February, no name, no "@".
BAD_ROWS = {49, 50, 51, 52}


def connect_by_oauth(page: Page, localorg: Any, name: str) -> None:
    """On the orgs page: connect `localorg` as `name` by the web server flow, through its own sign-in page,
    back to the callback page saying connected, then to the orgs page. The page's context must accept
    localorg's self-signed certificate (`ignore_https_errors`)."""
    page.goto("/connections")
    form = page.locator("#authorize-form")
    form.locator('input[name="name"]').fill(name)
    form.locator('input[name="login_url"]').fill(localorg.base_url)
    form.locator('input[name="client_id"]').fill(localorg.client_id)
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    # localorg's own consent page: the person signs in there and allows DMS.
    assert page.url.startswith(localorg.base_url + "/services/oauth2/authorize?")
    assert "code_challenge=" in page.url
    page.fill("#username", localorg.username)
    page.fill("#password", localorg.password)
    with page.expect_navigation():
        page.click('button[name="decision"][value="allow"]')
    assert "/connections/callback?" in page.url
    expect(page.locator(".alert.ok")).to_contain_text(name)
    assert_fits_the_window(page)
    with page.expect_navigation():
        page.click('main a.button[href$="/connections"]')


def row(page: Page, target: str) -> Any:
    return page.locator(f'#mapping-table tr[data-target="{target}"]')


def upload_and_aim(page: Page, connection: str | None = None, file: Path = EXAMPLES / "accounts.csv") -> None:
    """Steps 1 to 3: the file through the input, its preview read, Account / upsert on Legacy_Id__c (into the
    connection named `connection`, else the default one)."""
    page.set_input_files("#file-input", str(file))
    expect(page.locator("#step-preview")).to_be_visible()
    expect(page.locator("#preview-table caption")).to_contain_text(file.name)
    headers = page.locator("#preview-table thead tr").first.inner_text()
    assert "Stufe" in headers and "Geprüft" in headers and "Kreditlimit" in headers
    assert "draft=" in page.url and "step=preview" in page.url
    assert_fits_the_window(page)
    page.click("#to-target")
    expect(page.locator("#step-target")).to_be_visible()
    if connection:
        option = page.locator("#connection option", has_text=connection)
        expect(option).to_have_count(1)
        page.select_option("#connection", option.get_attribute("value"))
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
