"""The `dms` CLI's config file (URL and API token), shared with `dms dev`, which saves its local admin's token."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click


def config_path() -> Path:
    """The CLI's config file: $DMS_CONFIG, else $XDG_CONFIG_HOME/dms/config.json (~/.config/dms/...)."""
    if os.environ.get("DMS_CONFIG"):
        return Path(os.environ["DMS_CONFIG"])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "dms" / "config.json"


def read_config() -> dict[str, Any]:
    path = config_path()
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"Cannot read {path}: {exc}") from None
    return loaded if isinstance(loaded, dict) else {}


def save_config(**values: str) -> Path:
    """Merge values into the config file, readable by its owner only (it holds a token)."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    merged = {**read_config(), **values}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(merged, handle, indent=2)
    return path


def api_token() -> str | None:
    """DMS_TOKEN, else the config file's token."""
    return os.environ.get("DMS_TOKEN") or read_config().get("token") or None
