"""Settings: `config_dev` defaults, then `DMS_`-prefixed environment variables, cast once at load time."""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from dms.errors import ConfigurationError

ENV_PREFIX = "DMS_"
_TRUE = {"1", "true", "yes", "on", "y"}
_FALSE = {"0", "false", "no", "off", "n", ""}


def parse_boolean(name: str, raw: str) -> bool:
    """Read a boolean the way people write one in an environment variable."""
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigurationError(f"{ENV_PREFIX}{name}={raw!r} is not a boolean (use true/false).")


def _cast(name: str, default: Any, raw: str) -> Any:
    """Cast an environment string to the type of the setting's default."""
    try:
        if isinstance(default, bool):
            return parse_boolean(name, raw)
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, (tuple, list)):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
    except ValueError as exc:
        raise ConfigurationError(
            f"{ENV_PREFIX}{name}={raw!r} is not a valid {type(default).__name__}."
        ) from exc
    return raw


def load_settings(
    defaults: ModuleType | str = "config_dev",
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the settings mapping: defaults, then DMS_* environment, then explicit overrides."""
    module = importlib.import_module(defaults) if isinstance(defaults, str) else defaults
    env = os.environ if environ is None else environ
    settings: dict[str, Any] = {
        name: getattr(module, name) for name in dir(module) if name.isupper() and not name.startswith("_")
    }
    for name, default in list(settings.items()):
        raw = env.get(ENV_PREFIX + name)
        if raw is not None and name != "SECRETS":
            settings[name] = _cast(name, default, raw)
    for secret in settings.get("SECRETS", ()):
        settings[secret] = env.get(ENV_PREFIX + secret) or None
    if overrides:
        settings.update(overrides)
    return settings


def redacted(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings with every secret masked, safe to log or show."""
    secrets = set(settings.get("SECRETS", ()))
    return {k: ("***" if k in secrets and settings[k] else v) for k, v in settings.items()}


def task_time_limits(settings: Mapping[str, Any]) -> tuple[float, float]:
    """(soft, hard) task time limits as they take effect: inside the SQS visibility timeout.

    A task still running when its message becomes visible again would run twice at once, so every limit is
    kept inside the visibility timeout, whatever the settings say. Celery's limits and the chunk leases the
    pipeline takes both come from here."""
    visibility = float(settings["SQS_VISIBILITY_TIMEOUT"])
    hard = min(float(settings["TASK_TIME_LIMIT"]), visibility * 0.9)
    soft = min(float(settings["TASK_SOFT_TIME_LIMIT"]), hard * 0.9)
    return soft, hard
