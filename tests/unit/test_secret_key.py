"""The Flask signing key: production refuses one missing or shorter than 32 bytes; development makes one."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from dms.errors import ConfigurationError
from factories.flask_instance import create_app

ROOT = Path(__file__).resolve().parents[2]
HOW_TO_MAKE_ONE = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'


@pytest.mark.parametrize("key", ["", "x" * 31, "é" * 15])
def test_production_refuses_a_missing_or_short_secret_key_and_says_how_to_make_one(key: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        create_app({"SECRET_KEY_REQUIRED": True, "SECRET_KEY": key or None})
    message = refused.value.message
    assert "DMS_SECRET_KEY" in message and "at least 32 bytes" in message
    assert (f"is {len(key.encode())} bytes" if key else "is not set") in message
    assert HOW_TO_MAKE_ONE in message
    assert not key or key not in message  # the refused key itself is never repeated


@pytest.mark.parametrize("key", ["x" * 32, "é" * 16, secrets.token_urlsafe(48)])
def test_production_accepts_a_secret_key_of_32_bytes_or_more(key: str) -> None:
    app = create_app({"SECRET_KEY_REQUIRED": True, "SECRET_KEY": key})
    assert app.secret_key == key


def test_the_suggested_command_makes_a_key_production_accepts() -> None:
    command = HOW_TO_MAKE_ONE.replace("python", sys.executable, 1)
    key = subprocess.run(command, shell=True, capture_output=True, text=True, check=True).stdout.strip()
    assert create_app({"SECRET_KEY_REQUIRED": True, "SECRET_KEY": key}).secret_key == key


@pytest.mark.parametrize("key", [None, "dev"])
def test_development_starts_without_a_key_or_with_a_short_one(key: str | None) -> None:
    app = create_app({"SECRET_KEY_REQUIRED": False, "SECRET_KEY": key})
    if key:
        assert app.secret_key == key
    else:
        assert len(str(app.secret_key)) == 64  # a random one of its own


def test_the_web_entry_point_refuses_a_short_key_in_production() -> None:
    """What zappa and the worker image import, with the production stage's setting (zappa_settings.json)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("DMS_")}
    env.update({"DMS_SECRET_KEY_REQUIRED": "true", "DMS_SECRET_KEY": "too-short"})
    started = subprocess.run(
        [sys.executable, "-c", "import application"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert started.returncode != 0
    assert "DMS_SECRET_KEY is 9 bytes" in started.stderr and HOW_TO_MAKE_ONE in started.stderr
