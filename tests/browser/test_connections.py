"""The orgs page in a real browser: connecting localorg by the OAuth web server flow (its own sign-in page, as a
person fills it), by a username and password, testing a connection and reading its API usage meter."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import OpenPage, assert_fits_the_window
from tests.browser.steps import connect_by_oauth


@pytest.fixture()
def org_page(open_page: OpenPage) -> Page:
    """A signed-in orgs page whose browser accepts localorg's self-signed HTTPS certificate (its OAuth pages)."""
    return open_page(path="/connections", ignore_https_errors=True)


def _row(page: Page, name: str) -> Any:
    return page.locator("#connections tbody tr", has=page.locator("td", has_text=name))


def _test_shows_usage(page: Page, name: str) -> None:
    row = _row(page, name)
    row.locator("button[data-action=test]").click()
    outcome = row.locator('[data-col="outcome"]')
    expect(outcome.locator(".test-ok")).to_have_text("Logged in")
    meter = outcome.locator("meter")
    expect(meter).to_be_visible()
    used, limit = float(meter.get_attribute("value") or -1), float(meter.get_attribute("max") or 0)
    assert limit > 0 and 0 < used <= limit  # the test itself was an API call of today's
    expect(outcome.locator(".usage-text")).to_contain_text("API calls today")


def test_an_org_is_connected_through_its_oauth_sign_in_page_then_tested(
    org_page: Page, localorg: Any
) -> None:
    page = org_page
    assert page.locator("h1").inner_text() == "Salesforce orgs"
    assert_fits_the_window(page)
    name = f"OAuth org {uuid.uuid4().hex[:6]}"
    connect_by_oauth(page, localorg, name)
    row = _row(page, name)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("OAuth (web server)")
    expect(row).to_contain_text("not tested yet")
    _test_shows_usage(page, name)
    assert_fits_the_window(page)
    # The test is kept: a fresh page shows it without testing again.
    page.reload()
    expect(_row(page, name).locator(".test-ok")).to_have_text("Logged in")
    expect(_row(page, name).locator("meter")).to_be_visible()

    page.on("dialog", lambda dialog: dialog.accept())
    _row(page, name).locator("button[data-action=delete]").click()
    expect(_row(page, name)).to_have_count(0)


def test_an_org_is_connected_by_username_and_password(org_page: Page, localorg: Any) -> None:
    page = org_page
    name = f"Password org {uuid.uuid4().hex[:6]}"
    form = page.locator("#password-form")
    for field, value in (
        ("name", name),
        ("login_url", localorg.base_url),
        ("username", localorg.username),
        ("password", localorg.password),
        ("client_id", localorg.client_id),
        ("client_secret", localorg.client_secret),
    ):
        form.locator(f'input[name="{field}"]').fill(value)
    with page.expect_navigation():
        form.locator("button[type=submit]").click()  # saved, tested, then the page reloads
    row = _row(page, name)
    expect(row).to_contain_text("username and password")
    expect(row.locator(".test-ok")).to_have_text("Logged in")
    _test_shows_usage(page, name)
    assert_fits_the_window(page)


def test_a_wrong_password_is_saved_but_says_the_login_failed(org_page: Page, localorg: Any) -> None:
    page = org_page
    form = page.locator("#password-form")
    for field, value in (
        ("name", f"Wrong {uuid.uuid4().hex[:6]}"),
        ("login_url", localorg.base_url),
        ("username", localorg.username),
        ("password", "not-the-password"),
        ("client_id", localorg.client_id),
        ("client_secret", localorg.client_secret),
    ):
        form.locator(f'input[name="{field}"]').fill(value)
    form.locator("button[type=submit]").click()
    error = page.locator("#password-error")
    expect(error).to_contain_text("Saved, but the login failed")
    expect(error).to_contain_text("SALESFORCE_LOGIN_FAILED")
