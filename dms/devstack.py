"""The local stack on loopback: Redis, moto_server (SQS), pouchdb-server (CouchDB API), localorg, web, worker.

`make run` (= `dms dev`) starts what is not already running (what is must answer like that service), says
"running" with the URL and the demo once a worker has taken a task from the queue, and stops what it started on
Ctrl-C. The test fixtures use the same service definitions on free ports, so the tests and the product run the
same way.
"""

from __future__ import annotations

import contextlib
import json
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
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import urljoin, urlparse

import boto3
import requests
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from cryptography.fernet import Fernet

from dms.cliconfig import api_token, read_config, save_config
from dms.clients import Services
from dms.clients.sqs import ensure_queues
from dms.security.bootstrap import ensure_local_admin
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


PROBE_TIMEOUT = 2.0  # seconds; a service on loopback that takes longer is not one we can use


def answers_redis(port: int, host: str = "127.0.0.1") -> bool:
    """Whether Redis listens on host:port: it answers PING (or asks for the password the URL carries)."""
    reply = _exchange(host, port, b"PING\r\n")
    return reply.startswith((b"+PONG", b"-NOAUTH"))


def answers_sqs(port: int, host: str = "127.0.0.1") -> bool:
    """Whether an SQS endpoint (moto_server locally) listens on host:port: ListQueues succeeds."""
    config = Config(connect_timeout=PROBE_TIMEOUT, read_timeout=PROBE_TIMEOUT, retries={"max_attempts": 1})
    client = boto3.client(
        "sqs",
        endpoint_url=f"http://{host}:{port}",
        region_name="us-east-1",
        aws_access_key_id="local",  # moto_server accepts any keys; these never reach AWS
        aws_secret_access_key="local",
        config=config,
    )
    try:
        client.list_queues(MaxResults=1)
    except (BotoCoreError, ClientError):
        return False
    return True


def answers_couchdb(port: int, host: str = "127.0.0.1") -> bool:
    """Whether the CouchDB API listens on host:port: `GET /` is CouchDB's (or pouchdb-server's) welcome."""
    body = _get_json(f"http://{host}:{port}/")
    return isinstance(body, dict) and ("couchdb" in body or "express-pouchdb" in body)


def answers_salesforce(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a Salesforce API (localorg) listens on host:port: `GET /services/data/` lists API versions."""
    body = _get_json(f"https://{host}:{port}/services/data/")
    return isinstance(body, list) and bool(body) and all(isinstance(v, dict) and "version" in v for v in body)


def _get_json(url: str) -> Any:
    """The JSON body of a GET (None when there is none). Identification only: TLS is not verified here."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # urllib3's InsecureRequestWarning
            return requests.get(url, timeout=PROBE_TIMEOUT, verify=False).json()
    except (requests.RequestException, ValueError):
        return None


def _exchange(host: str, port: int, message: bytes) -> bytes:
    """Send a message on a fresh connection and return what comes back first (b"" when nothing does)."""
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT) as sock:
            if message:
                sock.sendall(message)
            return sock.recv(256)
    except OSError:
        return b""


def what_answers(port: int, host: str = "127.0.0.1") -> str:
    """A short description of whatever listens on host:port (its protocol and, when visible, its process)."""
    description = _http_banner(host, port) or _tcp_banner(host, port)
    owner = listening_process(port)
    return f"{description} ({owner})" if owner else description


def _http_banner(host: str, port: int) -> str:
    for scheme in ("http", "https"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                response = requests.get(
                    f"{scheme}://{host}:{port}/", timeout=PROBE_TIMEOUT, verify=False, allow_redirects=False
                )
        except requests.RequestException:
            continue
        server = response.headers.get("Server")
        text = " ".join(response.text.split())[:80]
        parts = [f"GET / gives HTTP {response.status_code}"]
        parts += [f"Server: {server}"] if server else []
        parts += [repr(text)] if text else []
        return f"an {scheme.upper()} server ({', '.join(parts)})"
    return ""


def _tcp_banner(host: str, port: int) -> str:
    greeting = _exchange(host, port, b"")
    if greeting:
        return f"a TCP service that greets with {greeting[:60]!r}"
    reply = _exchange(host, port, b"PING\r\n")
    if reply:
        return f"a TCP service that answers PING with {reply[:60]!r}"
    return "a TCP service that answers neither HTTP nor PING"


def listening_process(port: int) -> str:
    """The process listening on a local TCP port as `pid N: command line`, if this user may see it (else "")."""
    sockets = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                # fields: sl, local address (hex ip:port), remote address, state (0A = LISTEN), ..., inode
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    sockets.add(f"socket:[{fields[9]}]")
    if not sockets:
        return ""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) in sockets for fd in (proc / "fd").iterdir()):
                command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
                return f"pid {proc.name}: {' '.join(command.split())[:120]}"
    return ""


@dataclass
class ServiceSpec:
    """How to start one process and tell when it is ready."""

    name: str
    command: list[str]
    ready: Callable[[], bool]
    cwd: Path = ROOT
    env: dict[str, str] = field(default_factory=dict)
    ready_timeout: float = 60.0
    echo: bool = False  # also copy its output to our stdout, with a name prefix
    what: str = ""  # what a person calls it, for messages: "Redis", "the CouchDB API (pouchdb-server)"
    # Whether what listens on the service's port is this service: `dms dev` reuses a service already
    # running only when it answers like one (a foreign program there would fail every request much later).
    answers: Callable[[], bool] | None = None


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
    return ServiceSpec(
        "redis", command, lambda: port_open(port), what="Redis", answers=lambda: answers_redis(port)
    )


def moto_spec(port: int) -> ServiceSpec:
    command = [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    ready = http_ok(f"http://127.0.0.1:{port}/moto-api/")
    return ServiceSpec("sqs", command, ready, what="SQS (moto_server)", answers=lambda: answers_sqs(port))


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
    return ServiceSpec(
        "couchdb",
        command,
        http_ok(f"http://127.0.0.1:{port}/"),
        cwd=workdir,
        what="the CouchDB API (pouchdb-server)",
        answers=lambda: answers_couchdb(port),
    )


def localorg_spec(port: int, db: str, cert_dir: Path) -> ServiceSpec:
    command = _python_module("localorg", "serve", *_loopback(port), "--db", db, "--cert-dir", str(cert_dir))
    ca = cert_dir / "ca.pem"
    check = http_ok(f"https://127.0.0.1:{port}/services/data/", verify=str(ca))
    return ServiceSpec(
        "localorg",
        command,
        lambda: ca.exists() and check(),
        what="localorg (the Salesforce API)",
        answers=lambda: answers_salesforce(port),
    )


def web_spec(port: int, env: Mapping[str, str]) -> ServiceSpec:
    command = _python_module("flask", "--app", "application", "run", *_loopback(port), "--no-reload")
    return ServiceSpec("web", command, http_ok(f"http://127.0.0.1:{port}/"), env=dict(env))


def worker_spec(env: Mapping[str, str], concurrency: int = 2, name: str = "worker") -> ServiceSpec:
    celery = [str(BIN / "celery"), "-A", "worker.celery", "worker", "--loglevel", "INFO"]
    command = [*celery, "--concurrency", str(concurrency), *SOLITARY_WORKER_FLAGS, "--hostname", f"{name}@%h"]
    return ServiceSpec(name, command, lambda: True, env=dict(env))


class ProcessGroup:
    """Processes started together, each in its own session so a stop reaches its children too."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._log_starts: dict[str, int] = {}  # where each process's output begins in its (appended) log

    def start(self, spec: ServiceSpec, wait: bool = True) -> subprocess.Popen[bytes]:
        """Start a process (output to <log_dir>/<name>.log, echoed too if asked) and wait until it is ready."""
        env = {**os.environ, **spec.env}
        logfile = open(self.log_path(spec.name), "ab")  # noqa: SIM115 (closed with the process)
        self._log_starts[spec.name] = logfile.tell()
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

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def output(self, name: str) -> str:
        """What a process started by this group has written to its log so far (this start only)."""
        with self.log_path(name).open("rb") as handle:
            handle.seek(self._log_starts.get(name, 0))
            return handle.read().decode("utf-8", "replace")

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


class OrgLogin(Protocol):
    """What the stack needs of an org to log in to it (localorg.testing's running org has it)."""

    @property
    def base_url(self) -> str: ...

    @property
    def username(self) -> str: ...

    @property
    def password(self) -> str: ...

    @property
    def client_id(self) -> str: ...

    @property
    def client_secret(self) -> str: ...

    @property
    def ca_path(self) -> str: ...


def throwaway_stack_env(
    redis_url: str, sqs_endpoint: str, couchdb_url: str, blob_dir: Path, org: OrgLogin, name: str
) -> dict[str, str]:
    """The DMS_* environment of a stack made for one run (tests, benches, screenshots): its own queues and
    databases (named after `name` and a random suffix), fresh secrets, the org's login, moto's fake keys."""
    suffix = secrets.token_hex(4)
    queue = f"dms-{name}-{suffix}"
    return {
        "DMS_REDIS_URL": redis_url,
        "DMS_SQS_ENDPOINT_URL": sqs_endpoint,
        "DMS_SQS_QUEUE_NAME": queue,
        "DMS_SQS_DEAD_LETTER_QUEUE_NAME": f"{queue}-dead",
        "DMS_COUCHDB_URL": couchdb_url,
        "DMS_COUCHDB_DB_PREFIX": f"{name[:1]}{suffix}",
        "DMS_BLOB_STORE_URL": f"file://{blob_dir}",
        "DMS_SALESFORCE_LOGIN_URL": org.base_url,
        "DMS_SALESFORCE_USERNAME": org.username,
        "DMS_SALESFORCE_PASSWORD": org.password,
        "DMS_SALESFORCE_CLIENT_ID": org.client_id,
        "DMS_SALESFORCE_CLIENT_SECRET": org.client_secret,
        "DMS_SALESFORCE_CA_BUNDLE": org.ca_path,
        "DMS_SECRET_KEY": secrets.token_hex(32),
        "DMS_CREDENTIALS_KEY": Fernet.generate_key().decode(),
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        # kombu has no endpoint option; botocore reads this (configure_celery sets it in workers too)
        "AWS_ENDPOINT_URL_SQS": sqs_endpoint,
    }


def _port_of(url: str) -> int:
    parsed = urlparse(url)
    return int(parsed.port or (443 if parsed.scheme == "https" else 80))


def run_dev_stack(web_port: int | None = None, workers: int = 1, var: Path | None = None) -> int:
    """Start the whole stack on its local defaults; block until Ctrl-C; stop what was started.

    Every service's address comes from its DMS_* setting (DMS_REDIS_URL, DMS_SQS_ENDPOINT_URL,
    DMS_COUCHDB_URL, DMS_SALESFORCE_LOGIN_URL), the web app's port from --port or DMS_PUBLIC_URL.
    """
    var = (var or ROOT / "var").resolve()
    group = ProcessGroup(var / "log")
    env = dict(dev_secrets(var))
    os.environ.update({k: v for k, v in env.items() if k not in os.environ})
    # The web app and the worker find the stack's files under var/ (config_dev says "var/...", relative to ROOT).
    os.environ.setdefault("DMS_BLOB_STORE_URL", f"file://{var / 'blobs'}")
    os.environ.setdefault("DMS_SALESFORCE_CA_BUNDLE", str(var / "localorg" / "ca.pem"))
    settings = load_settings()
    web_port = web_port or _port_of(settings["PUBLIC_URL"])
    services = [
        ("REDIS_URL", redis_spec(_port_of(settings["REDIS_URL"]), var / "redis")),
        ("SQS_ENDPOINT_URL", moto_spec(_port_of(settings["SQS_ENDPOINT_URL"]))),
        ("COUCHDB_URL", pouchdb_spec(_port_of(settings["COUCHDB_URL"]), var / "couchdb")),
    ]
    if (ROOT / "localorg" / "__main__.py").exists():
        port = _port_of(settings["SALESFORCE_LOGIN_URL"])
        org = localorg_spec(port, str(var / "localorg" / "org.sqlite3"), var / "localorg")
        services.append(("SALESFORCE_LOGIN_URL", org))
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
    # Every taken port is checked before anything starts: a foreign program fails the start, not a job later.
    if port_open(web_port):
        _say(
            f"port {web_port} (the web app) is taken: {what_answers(web_port)} answers there.\n"
            "  Stop it (another `dms dev`?), or use `dms dev --port` or DMS_PUBLIC_URL.",
            error=True,
        )
        return 1
    for setting, spec in services:
        port = _port_of(settings[setting])
        if port_open(port) and not (spec.answers and spec.answers()):
            _say(
                f"port {port} (DMS_{setting}={settings[setting]}) should be {spec.what}, but another program "
                f"answers there: {what_answers(port)}.\n  Stop it, or point DMS_{setting} at a free port.",
                error=True,
            )
            return 1
    url = f"http://127.0.0.1:{web_port}/"
    try:
        for setting, spec in services:
            port = _port_of(settings[setting])
            if port_open(port):
                _say(f"{spec.what} already running on 127.0.0.1:{port}, using it")
            else:
                _say(f"starting {spec.what} on 127.0.0.1:{port}")
                group.start(spec)
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
        ensure_queues(settings)
        admin = local_admin(settings, var, url)
        _say(f"starting the web app on 127.0.0.1:{web_port}")
        group.start(web_spec(web_port, env))
        names = [f"worker{n + 1}" for n in range(workers)]
        _say(f"starting {len(names)} worker(s) and waiting for them to take a task from the queue")
        for name in names:
            group.start(worker_spec(env, name=name), wait=False)
        token = admin.get("token") if admin else None
        wait_workers_ready(group, names, url, token=token)
        _say(banner(url, _wait_healthy(url + "health/detail", token), group.log_dir, admin))
        while True:
            exited = [name for name, proc in group.processes.items() if proc.poll() is not None]
            if exited:
                _say(f"{exited[0]} exited; stopping the stack (see {group.log_path(exited[0])})", error=True)
                return 1
            time.sleep(0.5)
    except RuntimeError as exc:  # a service that did not start: the message names it and its log
        _say(str(exc), error=True)
        return 1
    except KeyboardInterrupt:
        _say("stopping")
        return 0
    finally:
        group.stop_all()


def _say(message: str, error: bool = False) -> None:
    """One `dms dev:` message, flushed at once (a pipe would hold it back)."""
    print(f"dms dev: {message}", file=sys.stderr if error else sys.stdout, flush=True)


WORKER_READY_TIMEOUT = 120.0  # seconds; a cold start imports pandas and pyarrow on a busy 2-core machine


def local_admin(settings: Mapping[str, Any], var: Path, url: str) -> dict[str, str] | None:
    """The local stack's admin (created on the first start, kept in var/local-admin.json, mode 600), and its
    token saved for the `dms` CLI, so that the demo runs as printed: when the CLI has no token yet, or has one
    for this same address (an earlier local stack's, whose var/ may be gone)."""
    path = var / "local-admin.json"
    admin: dict[str, str] | None = None
    if path.exists():
        with contextlib.suppress(OSError, ValueError):
            admin = json.loads(path.read_text(encoding="utf-8"))
    if admin is None:
        admin = ensure_local_admin(Services(settings), var)
        if admin is None:
            _say("users exist already and var/local-admin.json is gone: sign in with your own account")
            return None
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(admin, handle)
    if not api_token() or read_config().get("url") == url:
        save_config(url=url, token=admin["token"])
    return admin


def wait_workers_ready(
    group: ProcessGroup,
    names: list[str],
    url: str,
    timeout: float = WORKER_READY_TIMEOUT,
    token: str | None = None,
) -> None:
    """Wait until each worker is connected to the queue and one task has gone through SQS and back."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    deadline = time.monotonic() + timeout
    waiting = list(names)

    def check_alive() -> None:
        for name in names:
            proc = group.processes.get(name)
            if proc is None or proc.poll() is not None:
                raise RuntimeError(f"{name} exited while starting; see {group.log_path(name)}")
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{', '.join(waiting) or 'the workers'} did not take a task from the queue within "
                f"{timeout:.0f}s; see {group.log_dir}"
            )

    while waiting:
        check_alive()
        # Celery logs "celery@host ready." once its consumer is connected to the broker.
        waiting = [name for name in waiting if " ready." not in group.output(name)]
        time.sleep(0.2)
    # The round trip every job makes: the web app sends a task through SQS, a worker's result comes back
    # through Redis.
    try:
        sent = requests.post(
            url + "api/v1/diagnostics/echo", json={"message": "dms dev"}, timeout=10, headers=headers
        )
        sent.raise_for_status()
        status_url = urljoin(url, sent.json()["status_url"])
        while True:
            check_alive()
            state = requests.get(status_url, timeout=10, headers=headers).json().get("state")
            if state == "SUCCESS":
                return
            if state == "FAILURE":
                raise RuntimeError(f"the queue round trip failed; see {group.log_dir}")
            time.sleep(0.2)
    except (requests.RequestException, ValueError, KeyError) as exc:
        raise RuntimeError(f"the queue round trip failed ({exc}); see {group.log_dir}") from exc


def banner(url: str, health: str, log_dir: Path, admin: Mapping[str, str] | None = None) -> str:
    """The last thing `dms dev` prints: where DMS is, and the demo to try."""
    dms = _shown(BIN / "dms")
    examples = _shown(ROOT / "examples")
    url_option = "" if url == "http://127.0.0.1:8000/" else f" --url {url}"  # the CLI's default server
    rule = "-" * 100
    sign_in = (
        f"  Sign in as {admin['username']} / {admin['password']} (local only; kept in var/local-admin.json)\n"
        if admin
        else ""
    )
    return f"""running.
{rule}
  DMS is running at {url}
  ({health}; logs in {_shown(log_dir)}; Ctrl-C stops it)
{sign_in}
  Try the demo in another terminal (a legacy export with four bad rows, see {examples}/README.md):
    {dms} migrate {examples}/accounts.csv --object Account --operation upsert --external-id Legacy_Id__c \\
        --mapping {examples}/accounts.mapping.json --dry-run --wait{url_option}
  then the same without --dry-run, and `{dms} results <job id> --errors{url_option}`; or open {url} in a browser.
  A whole legacy CRM in one run (five related objects by legacy keys, see {examples}/legacy-crm/README.md):
    {dms} plan run {examples}/legacy-crm/plan.yaml --dry-run --wait{url_option}   # then without --dry-run
{rule}"""


def _shown(path: Path) -> Path:
    """A path as a person types it here: relative to the current directory when under it."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _wait_healthy(url: str, token: str | None = None, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException, ValueError):
            response = requests.get(url, timeout=10, headers=headers)
            body = response.json()
            if response.status_code == 200:
                break
        time.sleep(0.5)
    services = body.get("services", {})
    return ", ".join(f"{name} {s.get('status')}" for name, s in services.items()) or "health unknown"


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
