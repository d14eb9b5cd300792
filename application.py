"""The web entry point: create_full_app(), and a module-level `app` for zappa ("application.app")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from factories.celery_instance import configure_celery
from factories.flask_instance import create_app


def create_full_app(config_override: Mapping[str, Any] | None = None) -> Flask:
    """The Flask app with the Celery holder bound to it."""
    app = create_app(config_override)
    configure_celery(app)
    return app


app = create_full_app()
