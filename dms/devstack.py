"""The local stack on loopback: Redis, moto_server (SQS), pouchdb-server (CouchDB API), localorg, web, worker.

`make run` (= `dms dev`) starts what is not already running and stops what it started on Ctrl-C. The test
fixtures use the same service definitions on free ports, so the tests and the product run the same way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlparse

import requests
from cryptography.fernet import Fernet

from dms.clients.sqs import ensure_queues
from dms.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
log = logging.getLogger(__name__)


def free_port() -> int:
    """A TCP port nobody listens on right now (on loopback)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts connections on host:port."""
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def http_ok(url: str, verify: str | bool = True) -> Callable[[], bool]:
    """A readiness check: the URL answers with a status below 500."""

    def check() -> bool:
        try:
            return requests.get(url, timeout=2, verify=verify).status_code < 500
        except requests.RequestException:
            return False

    return check


@dataclass
class ServiceSpec:
    """How to start one process and tell when it is ready."""

    name: str
    command: list[str]
    ready: Callable[[], bool]
    cwd: Path = ROOT
    env: dict[str, str] = field(default_factory=dict)
    ready_timeout: float = 60.0
    echo: bool = False  # copy its output to our stdout with a name prefix (web, worker)


def redis_spec(port: int, workdir: Path) -> ServiceSpec:
    workdir.mkdir(parents=True, exist_ok=True)
    exe = shutil.which("redis-server") or "redis-server"
    command = [
        exe,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
    ]
    return ServiceSpec("redis", command, lambda: port_open(port))


def moto_spec(port: int) -> ServiceSpec:
    command = [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    return ServiceSpec("sqs", command, http_ok(f"http://127.0.0.1:{port}/moto-api/"))


def _loopback(port: int) -> list[str]:
    """The `--host 127.0.0.1 --port PORT` options of a server that listens on loopback only."""
    return ["--host", "127.0.0.1", "--port", str(port)]


def _python_module(module: str, *args: str) -> list[str]:
    """The command line that runs `python -m MODULE ARGS` with this interpreter."""
    return [sys.executable, "-m", module, *args]


# A worker here needs no events from its peers: no heartbeats, no gossip, no mingling at start.
SOLITARY_WORKER_FLAGS = ("--without-heartbeat", "--without-gossip", "--without-mingle")


def pouchdb_spec(port: int, workdir: Path, in_memory: bool = False) -> ServiceSpec:
    workdir.mkdir(parents=True, exist_ok=True)
    exe = ROOT / "node_modules" / ".bin" / "pouchdb-server"
    command = [str(exe), *_loopback(port), "--dir", str(workdir)]
    if in_memory:
        command.append("--in-memory")
    # pouchdb-server writes config.json and log.txt into its working directory.
    return ServiceSpec("couchdb", command, http_ok(f"http://127.0.0.1:{port}/"), cwd=workdir)


def localorg_spec(port: int, db: str, cert_dir: Path) -> ServiceSpec:
    command = _python_module("localorg", "serve", *_loopback(port), "--db", db, "--cert-dir", str(cert_dir))
    ca = cert_dir / "ca.pem"
    check = http_ok(f"https://127.0.0.1:{port}/services/data/", verify=str(ca))
    return ServiceSpec("localorg", command, lambda: ca.exists() and check())


def web_spec(port: int, env: Mapping[str, str]) -> ServiceSpec:
    command = _python_module("flask", "--app", "application", "run", *_loopback(port), "--no-reload")
    return ServiceSpec("web", command, http_ok(f"http://127.0.0.1:{port}/"), env=dict(env), echo=True)


def worker_spec(env: Mapping[str, str], concurrency: int = 2, name: str = "worker") -> ServiceSpec:
    celery = [str(BIN / "celery"), "-A", "worker.celery", "worker", "--loglevel", "INFO"]
    command = [*celery, "--concurrency", str(concurrency), *SOLITARY_WORKER_FLAGS, "--hostname", f"{name}@%h"]
    return ServiceSpec(name, command, lambda: True, env=dict(env), echo=True)


class ProcessGroup:
    """Processes started together, each in its own session so a stop reaches its children too."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, spec: ServiceSpec, wait: bool = True) -> subprocess.Popen[bytes]:
        """Start a process (output to <log_dir>/<name>.log, echoed too if asked) and wait until it is ready."""
        env = {**os.environ, **spec.env}
        logfile = open(self.log_dir / f"{spec.name}.log", "ab")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen(
            spec.command,
            cwd=spec.cwd,
            env=env,
            stdout=subprocess.PIPE if spec.echo else logfile,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        if spec.echo and proc.stdout is not None:
            threading.Thread(target=_tee, args=(spec.name, proc.stdout, logfile), daemon=True).start()
        self.processes[spec.name] = proc
        if wait:
            self.wait_ready(spec, proc)
        return proc

    def wait_ready(self, spec: ServiceSpec, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + spec.ready_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{spec.name} exited with code {proc.returncode} while starting; see {self.log_dir / spec.name}.log"
                )
            if spec.ready():
                return
            time.sleep(0.1)
        raise RuntimeError(
            f"{spec.name} was not ready after {spec.ready_timeout:.0f}s; see {self.log_dir / spec.name}.log"
        )

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        """Stop one process (and its children); SIGKILL if it does not go in time."""
        proc = self.processes.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def kill(self, name: str) -> None:
        """SIGKILL a process group at once: a crash, as far as the process can tell."""
        self.stop(name, signal.SIGKILL, timeout=5)

    def stop_all(self) -> None:
        for name in reversed(list(self.processes)):
            self.stop(name)


def _tee(name: str, stream: IO[bytes], logfile: IO[bytes]) -> None:
    for line in iter(stream.readline, b""):
        logfile.write(line)
        logfile.flush()
        sys.stdout.write(f"{name:<9}| {line.decode('utf-8', 'replace')}")
        sys.stdout.flush()


def dev_secrets(var: Path) -> dict[str, str]:
    """Development-only secrets, made once and kept in var/dev-secrets.env (git-ignored)."""
    path = var / "dev-secrets.env"
    if not path.exists():
        var.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"DMS_SECRET_KEY={secrets.token_hex(32)}\nDMS_CREDENTIALS_KEY={Fernet.generate_key().decode()}\n"
        )
        path.chmod(0o600)
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k: v for k, v in pairs}


def _port_of(url: str) -> int:
    parsed = urlparse(url)
    return int(parsed.port or (443 if parsed.scheme == "https" else 80))


def run_dev_stack(web_port: int = 8000, workers: int = 1) -> int:
    """Start the whole stack on its local defaults; block until Ctrl-C; stop what was started."""
    var = ROOT / "var"
    group = ProcessGroup(var / "log")
    env = dict(dev_secrets(var))
    os.environ.update({k: v for k, v in env.items() if k not in os.environ})
    settings = load_settings()
    specs: list[tuple[int, ServiceSpec]] = [
        (_port_of(settings["REDIS_URL"]), redis_spec(_port_of(settings["REDIS_URL"]), var / "redis")),
        (_port_of(settings["SQS_ENDPOINT_URL"]), moto_spec(_port_of(settings["SQS_ENDPOINT_URL"]))),
        (_port_of(settings["COUCHDB_URL"]), pouchdb_spec(_port_of(settings["COUCHDB_URL"]), var / "couchdb")),
    ]
    if (ROOT / "localorg" / "__main__.py").exists():
        port = _port_of(settings["SALESFORCE_LOGIN_URL"])
        specs.append((port, localorg_spec(port, str(var / "localorg" / "org.sqlite3"), var / "localorg")))
        # localorg's development credentials (a local server's, not secrets of a real org)
        env.setdefault("DMS_SALESFORCE_PASSWORD", os.environ.get("LOCALORG_PASSWORD", "localorg"))
        env.setdefault(
            "DMS_SALESFORCE_CLIENT_SECRET", os.environ.get("LOCALORG_CLIENT_SECRET", "localorg-secret")
        )

    def interrupt(signum: int, frame: Any) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # one stop at a time: a second signal must not cut it short
        raise KeyboardInterrupt  # also when started in the background, where SIGINT is ignored by default

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)
    if port_open(web_port):
        print(
            f"dms dev: port {web_port} is taken (another `dms dev`?); stop it or use --port", file=sys.stderr
        )
        return 1
    try:
        for port, spec in specs:
            if port_open(port):
                print(f"dms dev: {spec.name} already running on 127.0.0.1:{port}, using it")
            else:
                print(f"dms dev: starting {spec.name} on 127.0.0.1:{port}")
                group.start(spec)
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
        ensure_queues(settings)
        group.start(web_spec(web_port, env))
        for n in range(workers):
            group.start(worker_spec(env, name=f"worker{n + 1}"), wait=False)
        url = f"http://127.0.0.1:{web_port}/"
        health = _wait_healthy(url + "health")
        print(
            f"\ndms dev: DMS is running at {url}  (health: {health}; logs in {var / 'log'}; Ctrl-C stops)\n"
        )
        while all(p.poll() is None for p in group.processes.values()):
            time.sleep(0.5)
        print("dms dev: a process exited; stopping the stack", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ndms dev: stopping")
        return 0
    finally:
        group.stop_all()


DEMO = """
dms dev: try the demo in another terminal (a legacy export with four bad rows, see examples/README.md):
  {bin}/dms migrate examples/accounts.csv --object Account --operation upsert --external-id Legacy_Id__c \\
      --mapping examples/accounts.mapping.json --dry-run --wait
  (then the same without --dry-run, and `{bin}/dms results <job id> --errors`; or open {url} in a browser)
"""


def _wait_healthy(url: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException, ValueError):
            response = requests.get(url, timeout=10)
            body = response.json()
            if response.status_code == 200:
                break
        time.sleep(0.5)
    services = body.get("services", {})
    return ", ".join(f"{name} {s.get('status')}" for name, s in services.items()) or "unknown"


@contextlib.contextmanager
def temporary_environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for a block, restoring the old values after."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
