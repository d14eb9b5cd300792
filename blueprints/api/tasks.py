"""Task status in the customer's `/get/<task_id>` style, and a queue round-trip check."""

from __future__ import annotations

from typing import Any

from celery.result import AsyncResult
from flask import current_app, jsonify, url_for

from blueprints.api import api
from blueprints.api.jobs import json_body
from dms.errors import InvalidRequest, Text, typed_field


@api.get("/tasks/<task_id>")
def task_status(task_id: str) -> Any:
    """The state of a Celery task and its result or error (results live in Redis)."""
    result = AsyncResult(task_id, app=current_app.extensions["celery"])
    body: dict[str, Any] = {"task_id": task_id, "state": result.state}
    if result.successful():
        body["result"] = result.result
    elif result.failed():
        body["error"] = {"code": "TASK_FAILED", "message": str(result.result)[:500]}
    return jsonify(body)


@api.post("/diagnostics/echo")
def diagnostics_echo() -> Any:
    """Send a message through SQS to a worker and back: proves the queue and a worker are alive."""
    message = typed_field(json_body(optional=True).get("message"), str, "message", Text("a string")) or "ping"
    if len(message) > 1000:
        raise InvalidRequest(Text("`message` must be a string of at most 1000 characters."), field="message")
    task = current_app.extensions["celery"].send_task("dms.diagnostics.echo", args=[message])
    status_url = url_for("api.task_status", task_id=task.id)
    return jsonify({"task_id": task.id, "status_url": status_url}), 202, {"Location": status_url}
