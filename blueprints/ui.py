"""Pages for people: the upload, preview, mapping and progress screens."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

ui = Blueprint("ui", __name__)


@ui.get("/")
def index() -> Any:
    """The start page."""
    return render_template("index.html")
