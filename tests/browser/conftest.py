"""Browser fixtures: Debian's chromium (through Playwright's sync API) against the real web server of the test
stack (`web_url`), as a person at a 1366x768 laptop in a language of their choosing.

    def test_something(page: Page) -> None:               # signed in, English
    def test_other(open_page: OpenPage) -> None:
        page = open_page(locale="zh-CN", signed_in=False)  # a Chinese browser, not signed in
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from dms.devbrowser import context_options, horizontal_overflow, launch_chromium, sign_in

OpenPage = Callable[..., Page]


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def chromium(playwright_driver: Playwright) -> Iterator[Browser]:
    """One headless chromium for the session; each test gets its own contexts (cookies, locale)."""
    browser = launch_chromium(playwright_driver)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def browser_user(stack_env: dict[str, str]) -> dict[str, str]:
    """A person who signs in with a password (an admin, so every page of the header is there)."""
    from dms.security.bootstrap import create_user
    from dms.settings import load_settings

    username, password = f"person-{uuid.uuid4().hex[:6]}", secrets.token_urlsafe(16)
    create_user(username, password, "admin", False, load_settings())
    return {"username": username, "password": password}


@pytest.fixture()
def open_page(chromium: Browser, web_url: str, browser_user: dict[str, str]) -> Iterator[OpenPage]:
    """Open a page in a new browser context: `open_page(locale="zh-CN", signed_in=True, path="/")`."""
    contexts: list[Any] = []

    def open_(
        locale: str = "en-US", signed_in: bool = True, path: str = "/", ignore_https_errors: bool = False
    ) -> Page:
        # ignore_https_errors: for a walk through localorg's own (self-signed HTTPS) OAuth sign-in page.
        context = chromium.new_context(**context_options(web_url, locale, ignore_https_errors))
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        if signed_in:
            sign_in(page, browser_user["username"], browser_user["password"], path)
        else:
            page.goto(path)
        return page

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture()
def page(open_page: OpenPage) -> Page:
    """A signed-in page in English, on the start page."""
    return open_page()


def assert_fits_the_window(page: Page) -> None:
    """No horizontal scroll at the page's viewport (1366 px wide): everything is readable without one."""
    overflow = horizontal_overflow(page)
    assert overflow <= 0, f"{page.url} is {overflow}px wider than the window"
