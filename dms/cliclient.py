"""The HTTP client side of the `dms` command line: the API, its errors, and following a run to its end."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import click
import requests

from dms.cliconfig import api_token, config_path, read_config

DEFAULT_URL = "http://127.0.0.1:8000"
INLINE_LIMIT = 10 * 1024 * 1024  # API Gateway's request cap; larger files go by presigned upload
POLL_SECONDS = 0.5


class ApiError(click.ClickException):
    """An error answer of the API, with its stable code (a command may exit differently for some)."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class Api:
    """A thin client of /api/v1 that turns error bodies into one readable line."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base = base_url.rstrip("/") + "/"
        self.session = requests.Session()
        token = token if token is not None else api_token()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def url(self, path: str) -> str:
        return urljoin(self.base, path.lstrip("/")) if not path.startswith("http") else path

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            response = self.session.request(
                method, self.url(path), timeout=kwargs.pop("timeout", 300), **kwargs
            )
        except requests.ConnectionError:
            raise click.ClickException(
                f"Cannot reach DMS at {self.base} (is `make run` up? set --url or DMS_URL)."
            ) from None
        if response.status_code >= 400:
            code = None
            try:
                error = response.json()["error"]
                code = str(error["code"])
                message = f"{code}: {error['message']}"
                if response.status_code == 401:
                    message += (
                        " Create a token (`dms tokens create NAME` while signed in, or in the web page) and set"
                        f" DMS_TOKEN, or save it with `dms login --token ...` (in {config_path()})."
                    )
            except (ValueError, KeyError, TypeError):
                message = f"HTTP {response.status_code}: {response.text[:300]}"
            raise ApiError(message, code)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.call(method, path, **kwargs).json()

    def upload(self, path: Path) -> dict[str, Any]:
        """Upload inline when small, by presigned POST when large; returns the upload record."""
        size = path.stat().st_size
        if size <= INLINE_LIMIT - 64 * 1024:
            with path.open("rb") as handle:
                return dict(self.json("POST", "/api/v1/uploads", files={"file": (path.name, handle)}))
        ticket = self.json("POST", "/api/v1/uploads/presign", json={"filename": path.name, "size": size})
        with path.open("rb") as handle:
            form = {**ticket.get("fields", {})}
            target = self.url(ticket["url"])
            # Our own stand-in for S3 takes our token; a storage service's presigned URL gets none of it.
            poster = self.session if target.startswith(self.base) else requests
            response = poster.post(
                target, data=form, files={ticket.get("file_field", "file"): (path.name, handle)}, timeout=3600
            )
            if response.status_code >= 300:
                raise click.ClickException(
                    f"The upload to {target} failed: HTTP {response.status_code} {response.text[:200]}"
                )
        return dict(self.json("POST", ticket["complete_url"], json={"token": ticket["token"]}))


def default_url() -> str:
    return str(read_config().get("url") or DEFAULT_URL)


def api_option(function: Any) -> Any:
    return click.option(
        "--url",
        envvar="DMS_URL",
        default=default_url,
        show_default=DEFAULT_URL,
        help="DMS web address (DMS_URL, else the config file's).",
    )(function)


def exit_code(run: dict[str, Any]) -> int:
    """0 only when every row made it (or, for a rehearsal, would); a job and a plan alike."""
    if run["state"] == "completed":
        return 0
    return 2 if run["state"] == "failed" else 1


def follow(
    api: Api, path: str, final_states: Collection[str], show: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    """GET `path` (a job or a plan) until its state is final, showing each answer as it comes."""
    while True:
        current = dict(api.json("GET", path))
        show(current)
        if current["state"] in final_states:
            return current
        time.sleep(POLL_SECONDS)


def download(response: requests.Response, output: Path | None) -> None:
    """Stream a result file to `output`, or to stdout."""
    sink = output.open("wb") if output else sys.stdout.buffer
    try:
        for block in response.iter_content(1024 * 1024):
            sink.write(block)
    finally:
        if output:
            sink.close()
