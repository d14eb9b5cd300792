"""The JSON API under /api/v1."""

from flask import Blueprint

api = Blueprint("api", __name__)

from blueprints.api import tasks  # noqa: E402,F401  (routes register on import)
