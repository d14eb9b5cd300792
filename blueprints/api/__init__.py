"""The JSON API under /api/v1."""

from flask import Blueprint

api = Blueprint("api", __name__)

import blueprints.api.uploads  # noqa: E402,F401  (upload routes)
from blueprints.api import accounts, drafts, jobs, openapi, orgs, plans, tasks  # noqa: E402,F401  (routes register on import)
