"""The pages in a real browser: signing in through the form, the start page, the language switch that sticks,
a Chinese browser read in Chinese, a missing page shown as a page; none wider than a 1366x768 window."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.browser.conftest import OpenPage, assert_fits_the_window


def test_signing_in_through_the_form_shows_the_start_page(
    open_page: OpenPage, browser_user: dict[str, str]
) -> None:
    page = open_page(signed_in=False, path="/jobs")
    assert "/sign-in?next=" in page.url  # sent to sign in first
    assert page.locator("h1").inner_text() == "Sign in"
    assert_fits_the_window(page)
    page.fill('input[name="username"]', browser_user["username"])
    page.fill('input[name="password"]', browser_user["password"])
    with page.expect_navigation():
        page.click("form.sign-in button[type=submit]")
    assert page.url.endswith("/jobs")  # where the person was headed
    page.click("nav >> text=New load")
    assert page.locator("h1").inner_text() == "New load"
    assert page.locator("#step-upload").is_visible()
    assert page.locator(".signed-in").inner_text().startswith(browser_user["username"])
    assert page.evaluate("document.documentElement.lang") == "en"
    assert_fits_the_window(page)


def test_switching_to_chinese_sticks_across_pages_and_reloads(page: Page) -> None:
    with page.expect_navigation():
        page.click(".languages >> text=中文")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert page.locator("h1").inner_text() == "新建加载"
    assert "lang=" not in page.url  # the choice lives in a cookie, not in the address
    assert_fits_the_window(page)
    page.reload()
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert page.locator("h1").inner_text() == "新建加载"
    page.click("nav >> text=作业")
    assert page.locator("h1").inner_text() == "作业"
    assert_fits_the_window(page)
    with page.expect_navigation():
        page.click(".languages >> text=English")
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.locator("h1").inner_text() == "Jobs"


def test_a_chinese_browser_reads_chinese_without_switching(open_page: OpenPage) -> None:
    page = open_page(locale="zh-CN", signed_in=False)
    assert page.evaluate("navigator.language") == "zh-CN"
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert page.locator("h1").inner_text() == "登录"
    assert_fits_the_window(page)
    page = open_page(locale="zh-CN")
    assert page.locator("h1").inner_text() == "新建加载"
    # The file input is the page's button and words, not the browser's own "Choose File" (static/js/filepick.js).
    picker = page.locator("#dropzone .file-pick")
    assert picker.locator(".file-pick-button").inner_text() == "选择文件"
    assert picker.locator(".file-pick-name").inner_text() == "未选择文件"
    # The scripts speak the page's language too: wizard.js writes this message (static/js/i18n.js t()).
    page.set_input_files("#file-input", files=[{"name": "空.csv", "mimeType": "text/csv", "buffer": b""}])
    assert page.locator("#upload-error").inner_text() == "空.csv 是空文件（0 字节），没有可加载的内容。"
    assert picker.locator(".file-pick-name").inner_text() == "空.csv"
    assert_fits_the_window(page)
    for path, heading in (("/jobs", "作业"), ("/connections", "Salesforce 组织"), ("/account", None)):
        page.goto(path)
        if heading:
            assert page.locator("h1").inner_text() == heading
        assert page.evaluate("document.documentElement.lang") == "zh-CN"
        assert_fits_the_window(page)


def test_a_page_that_does_not_exist_is_a_page_not_json(open_page: OpenPage) -> None:
    for locale, heading in (("en-US", "Not found"), ("zh-CN", "未找到")):
        page = open_page(locale=locale)
        response = page.goto("/no/such/page")
        assert response is not None and response.status == 404
        assert "text/html" in (response.headers.get("content-type") or "")
        assert page.locator("h1").inner_text() == heading
        assert page.locator("header nav").is_visible()  # the site's own page: its header, a way on
        assert_fits_the_window(page)
