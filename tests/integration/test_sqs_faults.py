"""A worker survives an SQS endpoint that answers 503 (SQS does, now and then), and consumes once it recovers."""

from __future__ import annotations

import threading
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from celery import Celery

from dms.clients.sqs import ensure_queues
from dms.devstack import ProcessGroup, free_port
from dms.settings import load_settings
from factories.celery_instance import celery_settings
from tests.conftest import wait_for


class FlakySQS(BaseHTTPRequestHandler):
    """A real HTTP server in front of moto: answers 503 while `failing` is set, else forwards the request.

    (moto itself cannot be made to fail, so this fault is produced by a proxy on loopback, not a mock.)
    """

    upstream = ""
    failing = threading.Event()
    failures = 0

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if FlakySQS.failing.is_set():
            FlakySQS.failures += 1
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        request = urllib.request.Request(self.upstream + self.path, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = response.read()
            self.send_response(response.status)
            for key, value in response.headers.items():
                if key.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def flaky_sqs(sqs_endpoint: str) -> Iterator[str]:
    FlakySQS.upstream = sqs_endpoint
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), FlakySQS)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_worker_keeps_polling_through_503s_then_runs_the_task(
    app: Any,
    flaky_sqs: str,
    sqs_endpoint: str,
    stack_env: dict[str, str],
    processes: ProcessGroup,
    start_worker: Callable[..., str],
) -> None:
    queue = f"dms-flaky-{uuid.uuid4().hex[:8]}"
    overrides = {
        "DMS_SQS_QUEUE_NAME": queue,
        "DMS_SQS_DEAD_LETTER_QUEUE_NAME": f"{queue}-dead",
        "DMS_SQS_ENDPOINT_URL": flaky_sqs,
        "DMS_SQS_WAIT_TIME_SECONDS": "0",
    }
    ensure_queues(load_settings(environ={**stack_env, **overrides, "DMS_SQS_ENDPOINT_URL": sqs_endpoint}))
    FlakySQS.failures = 0
    name = start_worker(**overrides)
    log = processes.log_dir / f"{name}.log"
    wait_for(lambda: log.exists() and " ready." in log.read_text(), timeout=60, what="the worker to be ready")
    FlakySQS.failing.set()
    try:
        wait_for(
            lambda: FlakySQS.failures >= 20, timeout=60, what="the worker to poll through 20 failed receives"
        )
        assert processes.processes[name].poll() is None, "the worker died on a failed receive"
    finally:
        FlakySQS.failing.clear()

    # The queue's URL names the proxy; publish straight to moto (same queue) and let the worker consume.
    publisher = Celery("flaky-publisher")
    publisher.conf.update(celery_settings(load_settings(environ={**stack_env, **overrides})))
    result = publisher.send_task("dms.diagnostics.echo", args=["after the outage"])
    assert result.get(timeout=60)["message"] == "after the outage"
    processes.stop(name)
