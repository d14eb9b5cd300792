"""The language of every page: the locale of a request, the switch that keeps it, per-locale number and date
filters, and the catalog of the page scripts' messages.

A request's locale is, in this order: `?lang=zh-CN` (which also sets the `dms_locale` cookie and sends the
browser back to the same page without it), the cookie, the browser's Accept-Language, English. Templates mark
text with `_()` / `{% trans %}`, Python with `lazy_gettext` (labels made at import time), scripts with
`t("...")` (static/js/i18n.js), the domain's errors with `Text("...", name=value)` (dms/errors.py: English
in logs, job documents and the CLI; the API's error handler renders them in this request's locale);
`make translations` extracts all of them into translations/*/messages.po.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from babel import Locale, support
from babel.messages.extract import extract_from_file
from flask import Flask, Response, has_request_context, redirect, request
from flask_babel import Babel, Domain, format_datetime, format_decimal, format_percent, get_locale, gettext

log = logging.getLogger(__name__)

# Adding a language: one entry here (its Babel locale and its name in itself, as the switch shows it) and
# translations/<locale>/LC_MESSAGES/messages.po (`make translations NEW=<locale>` starts it).
LANGUAGES: dict[str, str] = {"en": "English", "zh_CN": "中文"}
DEFAULT_LOCALE = "en"  # the language of the msgids: it needs no catalog
LOCALE_COOKIE = "dms_locale"
LOCALE_PARAM = "lang"
LOCALE_COOKIE_SECONDS = 365 * 24 * 3600
ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
SCRIPTS = ROOT / "static" / "js"
# The functions that mark a script's text (static/js/i18n.js); babel.cfg's extraction uses the same names.
SCRIPT_KEYWORDS: dict[str, Any] = {"t": None, "N_": None}
# The domain's mark (dms/errors.py Text): the messages of the errors a request answers with, in its language.
ERROR_KEYWORDS: dict[str, Any] = {"Text": None}


def html_lang(locale: str) -> str:
    """The BCP 47 tag of a Babel locale, as `<html lang>`, Accept-Language and Intl write it (zh_CN -> zh-CN)."""
    return locale.replace("_", "-")


def supported_locale(tag: str | None) -> str | None:
    """The locale DMS has for a language tag ('zh-CN', 'zh_cn', 'zh-Hans', 'zh' -> 'zh_CN'), or None."""
    wanted = (tag or "").strip().replace("_", "-").lower()
    if not wanted or wanted == "*":
        return None
    for locale in LANGUAGES:
        if html_lang(locale).lower() == wanted:
            return locale
    primary = wanted.split("-")[0]
    # Only the language matches (zh-TW, en-GB): a close relative reads better than the default.
    return next((loc for loc in LANGUAGES if loc.split("_")[0].lower() == primary), None)


def select_locale() -> str:
    """The locale of this request (Flask-Babel's locale selector)."""
    chosen = supported_locale(request.args.get(LOCALE_PARAM)) or supported_locale(
        request.cookies.get(LOCALE_COOKIE)
    )
    if chosen:
        return chosen
    for tag, _quality in request.accept_languages:  # best first
        found = supported_locale(tag)
        if found:
            return found
    return DEFAULT_LOCALE


@functools.cache
def _locale_keys() -> dict[Locale, str]:
    # Babel fills in a script (zh_CN is zh_Hans_CN to it): map its Locale back to the name LANGUAGES uses.
    return {Locale.parse(locale): locale for locale in LANGUAGES}


def current_locale() -> str:
    """This request's locale, as LANGUAGES names it."""
    return _locale_keys().get(get_locale(), DEFAULT_LOCALE)


@functools.cache
def catalog(locale: str) -> support.NullTranslations:
    """The compiled messages of a locale, read once per process (an empty one for the msgids' own language)."""
    return support.Translations.load(str(TRANSLATIONS), [locale], "messages")


class NamedCatalogs(Domain):
    """Flask-Babel's messages, found under the name LANGUAGES gives a locale (translations/zh_CN).

    Babel spells zh_CN with its likely script (zh_Hans_CN), and gettext would look only for a folder of that
    name; translators' tools and `pybabel init -l zh_CN` use zh_CN."""

    def get_translations(self) -> support.NullTranslations:
        if not has_request_context():
            return support.NullTranslations()
        return catalog(current_locale())


def url_with_lang(locale: str) -> str:
    """This page's address with `?lang=` set to `locale`: the language switch's links (no script needed)."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != LOCALE_PARAM]
    return f"{request.path}?{urlencode([*args, (LOCALE_PARAM, html_lang(locale))])}"


@functools.cache
def script_msgids(scripts: Path = SCRIPTS) -> tuple[str, ...]:
    """Every message the page scripts mark with t() or N_(), read by Babel's extractor once per process."""
    found: dict[str, None] = {}
    for script in sorted(scripts.glob("*.js")):
        for _line, message, _comments, _context in extract_from_file(
            "javascript", str(script), keywords=SCRIPT_KEYWORDS
        ):
            if isinstance(message, str):
                found[message] = None
    return tuple(found)


def script_messages() -> dict[str, str]:
    """The scripts' messages in the current locale: {msgid: translation}; empty for the msgids' own language."""
    if current_locale() == DEFAULT_LOCALE:
        return {}
    return {msgid: text for msgid in script_msgids() if (text := gettext(msgid)) != msgid}


def format_number(value: Any) -> str:
    """A number in the page's locale (1,234.5 / 1 234,5); anything else as it is."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "" if value is None else str(value)
    return str(format_decimal(value))


def format_percent_of_100(value: Any) -> str:
    """A percentage given as 0-100 (a job's `percent`) in the page's locale: 42%, 42 %."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    return str(format_percent(value / 100))


def format_when(value: str | None) -> str:
    """An ISO 8601 time in the page's locale, in UTC (what the store keeps), saying so."""
    if not value:
        return ""
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)[:40]
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return f"{format_datetime(moment, 'medium')} UTC"


def missing_catalogs(locales: Iterable[str] = LANGUAGES, translations: Path = TRANSLATIONS) -> list[str]:
    """The locales whose compiled catalog (messages.mo) is not there: their pages would be in English."""
    return [
        locale
        for locale in locales
        if locale != DEFAULT_LOCALE and not (translations / locale / "LC_MESSAGES" / "messages.mo").is_file()
    ]


def register_i18n(app: Flask) -> None:
    """Flask-Babel with the locale selector, the `?lang=` switch, and the filters and words templates use."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "UTC")
    babel = Babel(app, locale_selector=select_locale)
    babel.domain_instance = NamedCatalogs()  # type: ignore[misc]  # replaces a cached_property's value
    # {% trans %} blocks span lines in the templates; their msgids are one line (babel.cfg extracts the same).
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.jinja_env.filters["number"] = format_number
    app.jinja_env.filters["percent"] = format_percent_of_100
    app.jinja_env.filters["when"] = format_when
    for locale in missing_catalogs():
        log.warning(
            "translations not compiled locale=%s (run make install); its pages are in English", locale
        )

    @app.before_request
    def switch_language() -> Any:
        # A page asked for with ?lang= keeps the choice in a cookie and comes back without the parameter, so a
        # reload, a bookmark or a shared link shows each person their own language.
        if request.method != "GET" or LOCALE_PARAM not in request.args or request.path.startswith("/api/"):
            return None
        args = [(k, v) for k, v in request.args.items(multi=True) if k != LOCALE_PARAM]
        response = redirect(request.path + (f"?{urlencode(args)}" if args else ""))
        locale = supported_locale(request.args.get(LOCALE_PARAM))
        if locale:
            response.set_cookie(
                LOCALE_COOKIE,
                locale,
                max_age=LOCALE_COOKIE_SECONDS,
                secure=bool(app.config.get("SESSION_COOKIE_SECURE")),
                httponly=True,  # scripts read the page's language from <html lang>, not from the cookie
                samesite="Lax",
                path="/",
            )
        return response

    @app.after_request
    def vary_by_language(response: Response) -> Response:
        if response.mimetype == "text/html":
            response.vary.update(("Accept-Language", "Cookie"))  # a cache must not serve one language to all
        return response

    @app.context_processor
    def language_words() -> dict[str, Any]:
        locale = current_locale()
        return {
            "html_lang": html_lang(locale),
            "languages": [(loc, name, loc == locale) for loc, name in LANGUAGES.items()],
            "url_with_lang": url_with_lang,
            "html_lang_of": html_lang,
            "script_messages": script_messages,
        }
