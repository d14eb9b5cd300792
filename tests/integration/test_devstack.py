"""`dms dev` (= `make run`): what it says, when it says it, and what it refuses to use."""

from __future__ import annotations

import http.server
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import requests

from dms.devstack import (
    ROOT,
    answers_couchdb,
    answers_redis,
    answers_salesforce,
    answers_sqs,
    free_port,
    port_open,
    what_answers,
)


def _port(url: str) -> int:
    return int(urlparse(url).port or 0)


def dev_env(**settings: str) -> dict[str, str]:
    """This process's environment without the test stack's DMS_* settings, plus the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DMS_")}
    # The stack saves its admin's token for the CLI: in the test's own config file, never a developer's.
    config = os.path.join(tempfile.mkdtemp(), "config.json")
    return {**env, "DMS_CONFIG": config, **settings}


def free_service_settings() -> dict[str, str]:
    """Every service of the dev stack on a port nobody listens on."""
    return {
        "DMS_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "DMS_SQS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "DMS_COUCHDB_URL": f"http://127.0.0.1:{free_port()}",
        "DMS_SALESFORCE_LOGIN_URL": f"https://127.0.0.1:{free_port()}",
    }


def start_dev(var: Path, web_port: int, env: dict[str, str]) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "dms.cli", "dev", "--port", str(web_port), "--var-dir", str(var)]
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def stop_dev(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


@pytest.fixture()
def http_server() -> Iterator[int]:
    """A plain HTTP server (not any service of the stack) on a free port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


@pytest.fixture()
def banner_server() -> Iterator[int]:
    """A TCP server that greets every connection with an SSH banner and hangs up (a netcat stand-in)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stopped = threading.Event()

    def serve() -> None:
        while not stopped.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stopped.set()
    thread.join(5)
    listener.close()


def test_each_service_is_recognised_on_its_own_port_and_only_there(
    redis_url: str, sqs_endpoint: str, couchdb_url: str, localorg: Any
) -> None:
    redis, sqs, couchdb = _port(redis_url), _port(sqs_endpoint), _port(couchdb_url)
    salesforce = _port(localorg.base_url)
    assert answers_redis(redis) and answers_sqs(sqs) and answers_couchdb(couchdb)
    assert answers_salesforce(salesforce)
    assert not answers_redis(couchdb) and not answers_sqs(couchdb) and not answers_salesforce(couchdb)
    assert not answers_couchdb(redis) and not answers_couchdb(sqs) and not answers_couchdb(salesforce)


def test_what_answers_names_the_protocol_and_the_process(http_server: int, banner_server: int) -> None:
    described = what_answers(http_server)
    assert described.startswith("an HTTP server (GET / gives HTTP 200, Server: SimpleHTTP")
    assert f"pid {os.getpid()}" in described  # this test process holds the port
    assert "greets with b'SSH-2.0-OpenSSH_9.2" in what_answers(banner_server)


@pytest.mark.parametrize(
    ("setting", "server", "answered"),
    [
        ("DMS_COUCHDB_URL", "http_server", "an HTTP server (GET / gives HTTP 200, Server: SimpleHTTP/"),
        ("DMS_REDIS_URL", "banner_server", "a TCP service that greets with b'SSH-2.0-OpenSSH_9.2"),
    ],
)
def test_dev_refuses_a_port_held_by_another_program_naming_the_port_and_what_answers(
    setting: str, server: str, answered: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    port = request.getfixturevalue(server)
    settings = free_service_settings()
    scheme = "redis" if setting == "DMS_REDIS_URL" else "http"
    settings[setting] = f"{scheme}://127.0.0.1:{port}" + ("/0" if scheme == "redis" else "")
    proc = start_dev(tmp_path / "var", free_port(), dev_env(**settings))
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        stop_dev(proc)
    assert proc.returncode == 1, (out, err)
    assert f"dms dev: port {port} ({setting}=" in err
    assert answered in err
    assert f"point {setting} at a free port" in err
    # Refused before anything started: the other services' ports are still free.
    others = [_port(url) for name, url in settings.items() if name != setting]
    assert not any(port_open(p) for p in others)
    assert "running" not in out


@pytest.mark.slow
def test_dev_says_running_with_the_url_and_the_demo_only_after_a_task_went_through_a_worker(
    redis_url: str, tmp_path: Path
) -> None:
    settings = free_service_settings()
    # A Redis already running (the test session's, on another database) is reused: it answers PING.
    settings["DMS_REDIS_URL"] = redis_url.rsplit("/", 1)[0] + "/7"
    web_port = free_port()
    var = tmp_path / "var"
    env = dev_env(**settings)
    proc = start_dev(var, web_port, env)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout or []], daemon=True).start()
    seen: list[str] = []
    worker_log_at_running = ""
    try:
        deadline = time.monotonic() + 240
        while not any(line.startswith("dms dev: running") for line in seen):
            assert proc.poll() is None, (seen, proc.stderr.read() if proc.stderr else "")
            assert time.monotonic() < deadline, f"no 'running' after 240 s: {seen}"
            try:
                seen.append(lines.get(timeout=1))
            except queue.Empty:
                continue
        worker_log_at_running = (var / "log" / "worker1.log").read_text()
        time.sleep(2)  # the banner is the last thing printed: nothing follows it
        while not lines.empty():
            seen.append(lines.get())
        assert requests.get(f"http://127.0.0.1:{web_port}/health", timeout=10).status_code == 200
        # The local admin's token is saved for the CLI, so the printed demo runs as it is.
        saved = json.loads(Path(env["DMS_CONFIG"]).read_text())
        assert saved["url"] == f"http://127.0.0.1:{web_port}/"
        me = requests.get(
            saved["url"] + "api/v1/session", headers={"Authorization": f"Bearer {saved['token']}"}, timeout=10
        )
        assert me.status_code == 200 and me.json()["user"]["role"] == "admin"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        stop_dev(proc)
    output = "".join(seen)
    assert f"Redis already running on 127.0.0.1:{_port(redis_url)}, using it" in output
    # Said only once the worker was connected and the queue round trip had come back.
    assert " ready." in worker_log_at_running
    assert "Task dms.diagnostics.echo[" in worker_log_at_running and "succeeded" in worker_log_at_running
    assert "celery@" not in output and "-------------- " not in output  # no Celery banner in sight
    running = output.index("dms dev: running")
    banner = output[running:]
    assert f"DMS is running at http://127.0.0.1:{web_port}/" in banner
    assert "migrate examples/accounts.csv --object Account --operation upsert" in banner
    assert f"--url http://127.0.0.1:{web_port}/" in banner
    assert "Sign in as admin / " in banner
    assert banner.rstrip().endswith("-" * 100)
    assert not port_open(web_port), "Ctrl-C/SIGTERM stops the web app it started"
    assert not port_open(_port(settings["DMS_COUCHDB_URL"]))
