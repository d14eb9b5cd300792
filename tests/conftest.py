"""Session fixtures: real servers on free loopback ports (Redis, moto_server, pouchdb-server, localorg)."""

from __future__ import annotations

import os
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dms.devstack import (
    ProcessGroup,
    ServiceSpec,
    free_port,
    moto_spec,
    pouchdb_spec,
    redis_spec,
    temporary_environ,
    throwaway_stack_env,
    web_spec,
    worker_spec,
)


@pytest.fixture(scope="session")
def stack_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="session")
def processes(stack_dir: Path) -> Iterator[ProcessGroup]:
    group = ProcessGroup(stack_dir / "log")
    yield group
    group.stop_all()


@pytest.fixture(scope="session")
def redis_url(processes: ProcessGroup, stack_dir: Path) -> str:
    """A redis-server of the test session's own (nothing shared with a developer's Redis)."""
    port = free_port()
    processes.start(redis_spec(port, stack_dir / "redis"))
    return f"redis://127.0.0.1:{port}/0"


@pytest.fixture(scope="session")
def sqs_endpoint(processes: ProcessGroup) -> str:
    port = free_port()
    processes.start(moto_spec(port))
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def couchdb_url(processes: ProcessGroup, stack_dir: Path) -> str:
    port = free_port()
    processes.start(pouchdb_spec(port, stack_dir / "couchdb", in_memory=True))
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def localorg(stack_dir: Path) -> Iterator[Any]:
    """localorg, the Salesforce-compatible server, on a free port with an in-memory org."""
    from localorg.testing import running_localorg

    with running_localorg(db=":memory:", workdir=str(stack_dir / "localorg")) as handle:
        yield handle


@pytest.fixture(scope="session")
def stack_env(
    redis_url: str, sqs_endpoint: str, couchdb_url: str, localorg: Any, stack_dir: Path
) -> Iterator[dict[str, str]]:
    """The DMS_* environment of the test stack, set for this process and inherited by workers."""
    env = {
        **throwaway_stack_env(redis_url, sqs_endpoint, couchdb_url, stack_dir / "blobs", localorg, "test"),
        "DMS_SQS_VISIBILITY_TIMEOUT": "120",
        "DMS_SQS_WAIT_TIME_SECONDS": "1",
        # One admin and one loopback address make every request of the suite: its rate limits are the tests'
        # own (test_security checks them with an app of small limits).
        **{
            f"DMS_{name}": "1000000"
            for name in (
                "SIGN_IN_LIMIT",
                "TOKEN_FAILURE_LIMIT",
                "CONNECTION_TEST_LIMIT",
                "UPLOAD_LIMIT",
                "JOB_CREATE_LIMIT",
            )
        },
    }
    with temporary_environ(env):
        from dms.clients.sqs import ensure_queues
        from dms.settings import load_settings

        ensure_queues(load_settings())
        yield env


@pytest.fixture(scope="session")
def app(stack_env: dict[str, str]) -> Any:
    """The full app (Flask + the Celery holder) on the test stack."""
    from application import create_full_app

    return create_full_app({"TESTING": True})


@pytest.fixture(scope="session")
def admin_token(stack_env: dict[str, str], stack_dir: Path) -> str:
    """An admin of the test stack and an API token of theirs; DMS_TOKEN for the CLI processes too."""
    from dms.security.bootstrap import create_user
    from dms.settings import load_settings

    _, token = create_user(
        f"admin-{uuid.uuid4().hex[:6]}", secrets.token_urlsafe(16), "admin", True, load_settings()
    )
    assert token is not None
    os.environ["DMS_TOKEN"] = token
    os.environ["DMS_CONFIG"] = str(stack_dir / "cli-config.json")  # never a developer's own config
    stack_env["DMS_TOKEN"] = token
    return token


def calling_as(app: Any, token: str) -> Any:
    """A test client of `app` that sends `token` as its bearer token."""
    test_client = app.test_client()
    test_client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return test_client


@pytest.fixture()
def client(app: Any, admin_token: str) -> Any:
    """A test client of the full app, calling as the stack's admin (by API token)."""
    return calling_as(app, admin_token)


@pytest.fixture()
def anonymous_client(app: Any) -> Any:
    """A test client that sends no credentials."""
    return app.test_client()


@pytest.fixture(scope="session")
def start_worker(processes: ProcessGroup, stack_env: dict[str, str]) -> Callable[..., str]:
    """Start a real `celery -A worker.celery worker` process on the test stack; returns its name."""

    def start(name: str | None = None, concurrency: int = 1, **env: str) -> str:
        name = name or f"worker-{uuid.uuid4().hex[:6]}"
        spec: ServiceSpec = worker_spec({**stack_env, **env}, concurrency=concurrency, name=name)
        spec.echo = False
        processes.start(spec, wait=False)
        return name

    return start


@pytest.fixture(scope="session")
def web_url(processes: ProcessGroup, stack_env: dict[str, str], admin_token: str) -> str:
    """The web app as a real HTTP server (for the CLI and anything that needs a socket); the CLI processes
    the tests start call it with the admin's token (DMS_TOKEN)."""
    port = free_port()
    spec = web_spec(port, stack_env)
    spec.echo = False
    processes.start(spec)
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def worker(start_worker: Callable[..., str]) -> str:
    """One worker for the session."""
    return start_worker("session-worker", concurrency=2)


def wait_for(
    condition: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1, what: str = ""
) -> Any:
    """Poll until `condition()` is truthy; fail the test with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what or condition}")


@pytest.fixture(autouse=True)
def _no_ambient_ca_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    # REQUESTS_CA_BUNDLE would override the CA the code chooses; tests must see the code's own choice.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    os.environ.pop("CURL_CA_BUNDLE", None)
