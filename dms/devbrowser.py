"""Debian's chromium driven by Playwright, as the browser tests (tests/browser) and docs/screenshots.py use it.

Playwright (the `dev` extra) is given its browser, never allowed to fetch one: `make install` installs Debian's
chromium at /usr/bin/chromium, and nothing here runs `playwright install`. Only the browser's own switches
that keep it from calling anywhere (updates, sync, QUIC, first-run pages) are set; the pages are DMS's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Playwright is a development tool: the product never imports it
    from playwright.sync_api import Browser, Page, Playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",  # tests run as root, where chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# The smallest screen the pages must read well on (a 1366x768 laptop): no horizontal scrolling there.
VIEWPORT = {"width": 1366, "height": 768}
LOCALES = {"en": "en-US", "zh_CN": "zh-CN"}  # DMS's locales as a browser names them in Accept-Language


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's chromium, headless; a clear error when it is missing (rather than a download)."""
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: `make install` installs Debian's chromium")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))


def context_options(
    base_url: str, locale: str = "en-US", ignore_https_errors: bool = False
) -> dict[str, Any]:
    """A browser context as a person's laptop: 1366x768, the language `locale` (its Accept-Language too);
    `ignore_https_errors` for a test that follows a redirect to localorg's self-signed HTTPS pages."""
    options = {"base_url": base_url, "viewport": VIEWPORT, "locale": locale, "timezone_id": "UTC"}
    # localorg's HTTPS certificate is its own CA's: its OAuth sign-in page opens only if the browser accepts it.
    return {**options, "ignore_https_errors": ignore_https_errors}


def sign_in(page: Page, username: str, password: str, path: str = "/") -> None:
    """Sign in through the sign-in page's form, as a person does, and land on `path`."""
    page.goto(f"/sign-in?next={path}")
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', password)
    with page.expect_navigation():
        page.click('form.sign-in button[type="submit"]')


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than its window (0 when nothing needs a horizontal scroll)."""
    return int(page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth"))
