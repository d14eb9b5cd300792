"""The Flask app factory: settings, logging, services, blueprints, error handlers."""

from __future__ import annotations

import logging
import os
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, InternalServerError

from dms.clients import init_services
from dms.errors import ConfigurationError, DMSError
from dms.security.ratelimit import RateLimited
from dms.settings import load_settings
from factories.celery_instance import celery_settings
from factories.i18n import DEFAULT_LOCALE, current_locale, register_i18n
from factories.security import register_security

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)


def create_app(config_override: Mapping[str, Any] | None = None) -> Flask:
    """Create the web app; `config_override` wins over config_dev and the DMS_* environment."""
    app = Flask("dms", root_path=str(ROOT))
    register_settings(app, config_override)
    register_logging(app)
    init_services(app)
    register_i18n(app)  # before security: its ?lang= switch redirects even a page that asks for sign-in
    register_security(app)
    register_blueprints(app)
    register_error_handlers(app)
    return app


# Flask signs with this key (app.secret_key); a short one can be found offline from a single signed value.
MIN_SECRET_KEY_BYTES = 32
MAKE_A_SECRET_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'


def register_settings(app: Flask, config_override: Mapping[str, Any] | None) -> None:
    settings = load_settings(overrides=config_override)
    settings["SECRET_KEY"] = checked_secret_key(
        settings.get("SECRET_KEY"), required=bool(settings.get("SECRET_KEY_REQUIRED"))
    )
    app.config.update(settings)
    app.config["CELERY"] = celery_settings(settings)
    app.config["MAX_CONTENT_LENGTH"] = None  # uploads stream to disk; the inline cap is checked per route


def checked_secret_key(key: str | None, required: bool) -> str:
    """The key to sign with; production (DMS_SECRET_KEY_REQUIRED) refuses one missing or too short."""
    if not required:
        return key or secrets.token_hex(32)  # development: a random key, sessions end with the process
    size = len(key.encode()) if key else 0
    if size < MIN_SECRET_KEY_BYTES:
        what = f"DMS_SECRET_KEY is {size} bytes" if key else "DMS_SECRET_KEY is not set"
        raise ConfigurationError(
            f"{what}; production refuses to start without one of at least {MIN_SECRET_KEY_BYTES} bytes."
            f" Make one with: {MAKE_A_SECRET_KEY}"
        )
    return str(key)


def register_logging(app: Flask) -> None:
    """Log to stdout only (Lambda and containers collect it); key=value fields in the messages."""
    root = logging.getLogger()
    on_lambda = bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))  # zappa's handler already logs to CloudWatch
    if not on_lambda and not any(getattr(h, "_dms", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        handler._dms = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(app.config.get("LOG_LEVEL", "INFO"))


def register_blueprints(app: Flask) -> None:
    from blueprints.api import api
    from blueprints.auth import auth
    from blueprints.health import health
    from blueprints.ui import ui

    app.register_blueprint(auth)
    app.register_blueprint(health)
    app.register_blueprint(api, url_prefix="/api/v1")
    app.register_blueprint(ui)


def wants_json() -> bool:
    """Whether the failing request was an API call (JSON errors) rather than a page (HTML errors)."""
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def browser_page_request() -> bool:
    """Whether a browser is opening one of the site's pages (a GET asking for HTML, outside the API)."""
    return (
        request.method == "GET"
        and not request.path.startswith("/api/")
        and "text/html" in request.headers.get("Accept", "")
    )


def error_page(exc: HTTPException) -> Any:
    """An HTTP error as a page of the site (the header, the language switch, a way on)."""
    status = exc.code or 500
    headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
    if status == 404:
        message = _("There is no page at %(path)s.", path=request.path[:200])
        return render_template("not_found.html", message=message), status, headers
    if status == 405:
        message = _("This page cannot be used that way (%(method)s).", method=request.method)
    elif status >= 500:
        message = _("Something went wrong on our side; it has been logged. Try again in a moment.")
    else:
        message = _("The request could not be answered.")
    return render_template("error.html", message=message, status=status), status, headers


def http_message(exc: HTTPException) -> str:
    """An HTTP error's message for an API caller: werkzeug's own English, or a sentence in the reader's language."""
    if current_locale() == DEFAULT_LOCALE or not exc.code:
        return str(exc.description)
    if exc.code == 404:
        return _("There is nothing at %(path)s.", path=request.path[:200])
    if exc.code == 405:
        return _("%(method)s is not allowed here.", method=request.method)
    if exc.code >= 500:
        return _("Something went wrong on our side; it has been logged.")
    return _("The request could not be answered.")


def register_error_handlers(app: Flask) -> None:
    """Every error leaves as JSON with a stable code; a person never sees a stack trace."""

    @app.errorhandler(DMSError)
    def domain_error(exc: DMSError) -> Any:
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else {}
        # The message in the reader's language (the page's locale); code and where stay what clients switch on.
        body = exc.to_dict(translate=_)
        # A person opening a page (an admin's, say) or sending a form (sign-in too often) gets a page, never JSON.
        if browser_page_request() or not wants_json():
            message = (
                _("Your role does not allow this page; ask an admin.")
                if exc.http_status == 403
                else body["message"]
            )
            page = render_template("error.html", message=message, status=exc.http_status)
            return page, exc.http_status, headers
        return jsonify({"error": body}), exc.http_status, headers

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        if not wants_json():
            return error_page(exc)  # a person gets a page of the site, in their language, never JSON
        code = (exc.name or "error").upper().replace(" ", "_")
        # werkzeug's own headers (Allow on a 405, WWW-Authenticate...) stay; its HTML content type does not.
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        body = {"code": code, "message": http_message(exc)}
        return jsonify({"error": body}), exc.code, headers

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        log.error("unhandled error", exc_info=exc)
        if not wants_json():
            return error_page(InternalServerError())
        message = _("Something went wrong on our side; it has been logged.")
        body = {"code": "INTERNAL_ERROR", "message": message}
        return jsonify({"error": body}), 500
