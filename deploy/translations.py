"""Compile the message catalogs (translations/*/LC_MESSAGES/messages.po -> .mo) where a package is built.

The .mo files are build output, never committed: `make install` compiles them for development and tests, the
Dockerfile for the image, and zappa for the Lambda package through `prebuild_script` (zappa_settings.json),
which loads this file by its path, so it imports nothing of the project's own.

    python -m deploy.translations
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

log = logging.getLogger(__name__)
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


def compile_catalogs(translations: Path = TRANSLATIONS) -> list[Path]:
    """Write each messages.po's messages.mo (fuzzy entries left out, as pybabel does); the files written."""
    written = []
    for po in sorted(translations.glob("*/LC_MESSAGES/messages.po")):
        with open(po, "rb") as handle:
            catalog = read_po(handle, locale=po.parent.parent.name)
        mo = po.with_suffix(".mo")
        with open(mo, "wb") as handle:
            write_mo(handle, catalog, use_fuzzy=False)
        log.info("catalog compiled locale=%s messages=%d", po.parent.parent.name, len(catalog))
        written.append(mo)
    if not written:
        raise SystemExit(f"no catalogs under {translations}: the pages would be in English only")
    return written


def main() -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    for mo in compile_catalogs():
        sys.stdout.write(f"{mo}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
