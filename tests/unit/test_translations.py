"""The catalogs: every string the templates, the Python labels and the scripts mark has a translation in every
language of factories/i18n.py LANGUAGES, with the same placeholders; and the scripts mark only what the
extractor can read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from factories.i18n import (
    DEFAULT_LOCALE,
    ERROR_KEYWORDS,
    LANGUAGES,
    SCRIPT_KEYWORDS,
    script_msgids,
    supported_locale,
)

ROOT = Path(__file__).resolve().parents[2]
# What the Makefile's `pybabel extract` is given (test_the_makefile_extracts_with_these_keywords keeps them equal).
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None, "_l": None, **SCRIPT_KEYWORDS, **ERROR_KEYWORDS}
SKIPPED_DIRS = {"node_modules", "var", "tests", "docs", "examples", "bench"}
PLACEHOLDER = re.compile(r"%\([a-z_]+\)s|\{[a-z_]+\}")
# t("...") / N_("...") with a plain string literal, as i18n.js asks scripts to write them.
SCRIPT_MARK = re.compile(r"""(?<![\w.$])(?:t|N_)\(\s*"((?:[^"\\]|\\.)*)\"""")


def extracted() -> dict[str, list[str]]:
    """msgid -> where it is marked, as `make translations` extracts them (singular of a plural pair)."""
    with open(ROOT / "babel.cfg") as handle:
        method_map, options_map = parse_mapping_cfg(handle)

    def wanted_dir(path: str) -> bool:
        return not (set(Path(path).parts) & SKIPPED_DIRS) and not Path(path).name.startswith((".", "_"))

    found: dict[str, list[str]] = {}
    for filename, line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS, directory_filter=wanted_dir
    ):
        for msgid in message if isinstance(message, tuple) else (message,):
            if msgid:
                found.setdefault(msgid, []).append(f"{filename}:{line}")
    return found


def catalog_of(locale: str) -> dict[str, list[str]]:
    """msgid -> its translations (one per plural form), fuzzy ones left out: they are not shown."""
    path = ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po"
    with open(path, "rb") as handle:
        catalog = read_po(handle)
    entries: dict[str, list[str]] = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = list(message.string) if isinstance(message.string, tuple) else [message.string]
        for msgid in ids:
            entries[msgid] = strings
    return entries


TRANSLATED = [locale for locale in LANGUAGES if locale != DEFAULT_LOCALE]


def test_there_is_text_to_translate_from_every_kind_of_source() -> None:
    where = {place.split(":")[0] for places in extracted().values() for place in places}
    assert {
        "templates/base.html",
        "blueprints/ui.py",
        "static/js/wizard.js",
        "static/js/api.js",
        "dms/errors.py",
    } <= where


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_marked_string_has_a_translation(locale: str) -> None:
    catalog = catalog_of(locale)
    missing = {
        msgid: places[0]
        for msgid, places in extracted().items()
        if not all(text.strip() for text in catalog.get(msgid, [""]))
    }
    assert not missing, f"no {locale} translation (run `make translations`, then fill the .po): {missing}"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_translations_keep_every_placeholder(locale: str) -> None:
    wrong = {
        msgid: texts
        for msgid, texts in catalog_of(locale).items()
        for text in texts
        # A plural's singular may leave its count out ("The most recent job"); the translation may not drop
        # any other placeholder, nor invent one.
        if set(PLACEHOLDER.findall(text)) - {"%(num)s"} != set(PLACEHOLDER.findall(msgid)) - {"%(num)s"}
    }
    assert not wrong, wrong


def test_every_language_has_a_catalog() -> None:
    for locale in TRANSLATED:
        assert (ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po").is_file(), locale


def test_scripts_mark_text_the_extractor_can_read() -> None:
    scripts = sorted((ROOT / "static" / "js").glob("*.js"))
    readable = set(script_msgids())
    for script in scripts:
        # Comments may show examples of marks; only code counts.
        source = re.sub(r"^\s*(//|/?\*).*$", "", script.read_text(encoding="utf-8"), flags=re.M)
        assert not re.search(r"(?<![\w.$])(?:t|N_)\(\s*`", source), (
            f"{script.name}: t() of a template literal"
        )
        for literal in SCRIPT_MARK.findall(source):
            text = literal.encode().decode("unicode_escape") if "\\" in literal else literal
            # A mark nested in another call's arguments is skipped by the extractor: hoist it to a const.
            assert text in readable, f"{script.name}: {text!r} is marked but not extracted"
    assert "Could not cancel" in readable and "Loading objects…" in readable


def test_the_makefile_extracts_with_these_keywords() -> None:
    makefile = (ROOT / "Makefile").read_text()
    given = set(re.findall(r"--keywords (\S+)", makefile))
    assert given == {
        "lazy_gettext",
        "_l",
        "lazy_pgettext:1c,2",
        *SCRIPT_KEYWORDS,
        *ERROR_KEYWORDS,
    }  # 1c: msgctxt


@pytest.mark.parametrize(
    ("tag", "locale"),
    [
        ("zh-CN", "zh_CN"),
        ("zh_cn", "zh_CN"),
        ("zh", "zh_CN"),
        ("zh-Hans-CN", "zh_CN"),
        ("zh-TW", "zh_CN"),  # a close relative reads better than English
        ("en-US", "en"),
        ("EN", "en"),
        ("fr-FR", None),
        ("*", None),
        ("", None),
        (None, None),
    ],
)
def test_language_tags_map_to_the_locales_dms_has(tag: str | None, locale: str | None) -> None:
    assert supported_locale(tag) == locale
