"""Dockerfile, docker-compose.yml and zappa_settings.json checked against the code, since no Docker engine or
AWS account is reachable here: entry points, module paths, copied files, environment variable names, and the
image's pinned base and hash-locked dependencies. The Dockerfile's own worker command and health check are also
run, for real, against the test stack."""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import shlex
import subprocess
import sys
import tomllib
import uuid
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml
from celery import Celery
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from dms.devstack import BIN, ProcessGroup, ServiceSpec
from dms.settings import load_settings
from factories.celery_instance import celery_settings
from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]
SQS_WORKER_FLAGS = ("--without-heartbeat", "--without-gossip", "--without-mingle")
SETTING_NAMES = set(load_settings()) | set(load_settings()["SECRETS"])
SECRETS = set(load_settings()["SECRETS"])


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    pairs = []
    for line in joined.splitlines():
        if line.strip():
            instruction, _, rest = line.strip().partition(" ")
            pairs.append((instruction.upper(), rest.strip()))
    return pairs


def exec_form(arguments: str) -> list[str]:
    """The JSON array of a CMD/HEALTHCHECK in exec form."""
    start = arguments.index("[")
    return json.loads(arguments[start:])  # type: ignore[no-any-return]


def dockerfile_cmd() -> list[str]:
    return exec_form([args for name, args in dockerfile_instructions() if name == "CMD"][-1])


def dockerfile_healthcheck() -> list[str]:
    return exec_form([args for name, args in dockerfile_instructions() if name == "HEALTHCHECK"][-1])


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def assert_python_command_resolves(command: list[str]) -> None:
    """`python -m module ...` or `celery -A module.attr ... --include m1,m2`: every module it names exists."""
    if command[0] == "CMD":
        command = command[1:]
    if command[:2] == ["python", "-m"]:
        if command[2] == "flask":
            app_module = command[command.index("--app") + 1]
            assert importlib.util.find_spec(app_module), app_module
        else:
            spec = importlib.util.find_spec(command[2])
            assert spec and spec.origin and Path(spec.origin).is_file(), command
            if spec.submodule_search_locations:  # a package: it needs a __main__
                assert importlib.util.find_spec(f"{command[2]}.__main__"), command
    elif command[0] == "celery":
        module, _, attribute = command[command.index("-A") + 1].partition(".")
        assert isinstance(getattr(importlib.import_module(module), attribute), Celery)
        if "--include" in command:
            for name in command[command.index("--include") + 1].split(","):
                assert importlib.util.find_spec(name), name
    elif command[:2] == ["python", "-c"]:
        compile(command[2], "<healthcheck>", "exec")
    elif command[0] not in ("redis-server", "redis-cli", "curl"):
        pytest.fail(f"unknown command {command}")


def test_worker_command_is_the_celery_app_with_sqs_flags() -> None:
    command = dockerfile_cmd()
    assert command[:4] == ["celery", "-A", "worker.celery", "worker"]
    for flag in SQS_WORKER_FLAGS:
        assert flag in command
    assert int(command[command.index("--concurrency") + 1]) >= 1
    assert_python_command_resolves(command)
    import worker
    from celery_holder import celery

    assert worker.celery is celery


def test_image_runs_as_a_non_root_user_on_a_slim_python() -> None:
    instructions = dockerfile_instructions()
    base = [args for name, args in instructions if name == "FROM"][-1]
    assert re.match(r"python:3\.1[2-9]-slim", base), base
    users = [args for name, args in instructions if name == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert [name for name, _ in instructions].index("USER") < [name for name, _ in instructions].index("CMD")


def test_image_copies_every_part_of_the_app_and_nothing_ignored() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    modules = {f"{m}.py" for m in pyproject["tool"]["setuptools"]["py-modules"]}
    needed = packages | modules | {"deploy", "templates", "static", "translations", "requirements.lock"}
    copied: set[str] = set()
    for name, args in dockerfile_instructions():
        if name == "COPY":
            sources = shlex.split(args)[:-1]
            for source in sources:
                assert (ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"
            copied.update(sources)
    assert needed <= copied, f"not copied into the image: {sorted(needed - copied)}"
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert not (copied & ignored), copied & ignored
    for secret_file in (".env", "var"):
        assert secret_file in ignored


# The image's interpreter and platform (Dockerfile FROM; the lock is made for them by `make lock`).
IMAGE_MARKER_ENVIRONMENT = {
    "python_version": "3.12",
    "python_full_version": "3.12.15",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
}


def locked_requirements() -> dict[str, tuple[str, list[str]]]:
    """requirements.lock as {name: (pin, hashes)}, one entry per requirement with its continuation lines."""
    text = (ROOT / "requirements.lock").read_text()
    lines = [line.split(" #")[0] for line in text.splitlines() if not line.lstrip().startswith("#")]
    entries = [
        entry.split() for entry in re.sub(r"\\\n\s*", " ", "\n".join(lines)).splitlines() if entry.strip()
    ]
    locked = {}
    for pin, *options in entries:
        requirement = Requirement(pin)
        hashes = [o.removeprefix("--hash=") for o in options if o.startswith("--hash=sha256:")]
        assert len(hashes) == len(options), (
            f"{pin}: only --hash options belong on a pinned line, not {options}"
        )
        locked[canonicalize_name(requirement.name)] = (str(requirement.specifier), hashes)
    return locked


def runtime_requirements() -> list[Requirement]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return [Requirement(line) for line in pyproject["project"]["dependencies"]]


def test_lock_pins_every_runtime_dependency_with_hashes() -> None:
    locked = locked_requirements()
    for name, (pin, hashes) in locked.items():
        assert re.fullmatch(r"==[\w.+!-]+", pin), f"{name}{pin} is not pinned to one version"
        assert hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), name
    for requirement in runtime_requirements():
        name = canonicalize_name(requirement.name)
        assert name in locked, (
            f"{requirement} (pyproject dependencies) is not in requirements.lock: make lock"
        )
        version = locked[name][0].removeprefix("==")
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements.lock pins {name}=={version}, outside pyproject's {requirement}: make lock"
        )
        # What it needs in turn on the image, with its extras (celery[sqs]: boto3, pycurl, kombu[sqs]...), is
        # locked too (read from the installed distribution: the same names, if not always the same version).
        environment = {**IMAGE_MARKER_ENVIRONMENT, "extra": ""}
        for extra in ("", *requirement.extras):
            environment["extra"] = extra
            for needed in map(Requirement, metadata.requires(requirement.name) or []):
                if needed.marker is None or needed.marker.evaluate(environment):
                    assert canonicalize_name(needed.name) in locked, f"{needed} ({requirement}) is not locked"


def test_lock_holds_the_runtime_only_not_the_tools() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    runtime = {canonicalize_name(r.name) for r in runtime_requirements()}
    tools = {
        canonicalize_name(Requirement(line).name)
        for lines in pyproject["project"]["optional-dependencies"].values()
        for line in lines
    }
    assert not (tools - runtime) & set(locked_requirements()), "a dev/local/deploy extra reached the lock"


def test_image_base_is_pinned_by_digest() -> None:
    bases = [shlex.split(args)[0] for name, args in dockerfile_instructions() if name == "FROM"]
    assert bases
    for base in bases:
        assert re.fullmatch(r"[\w.\-/]+:[\w.\-]+@sha256:[0-9a-f]{64}", base), (
            f"FROM {base} is not pinned by digest"
        )


def test_image_installs_only_the_lock_with_hashes_required() -> None:
    instructions = dockerfile_instructions()
    installs = [args for name, args in instructions if name == "RUN" and "pip install" in args]
    assert installs, "the Dockerfile installs no dependencies"
    for command in installs:
        words = shlex.split(command)
        assert "--require-hashes" in words and "--no-deps" in words, command
        assert words[words.index("--requirement") + 1] == "requirements.lock", command
    copy_lock = next(
        i for i, (name, args) in enumerate(instructions) if name == "COPY" and "requirements.lock" in args
    )
    first_install = next(
        i for i, (name, args) in enumerate(instructions) if name == "RUN" and "pip install" in args
    )
    assert copy_lock < first_install


def test_health_check_is_the_worker_liveness_check() -> None:
    command = dockerfile_healthcheck()
    assert command == ["python", "-m", "deploy.worker_health"]
    assert_python_command_resolves(command)
    assert "deploy.worker_health" in dockerfile_cmd()  # the worker loads the step that feeds it


def test_compose_services_run_real_entry_points() -> None:
    services = compose()["services"]
    assert {"redis", "sqs", "couchdb", "localorg", "web", "worker", "queues"} <= set(services)
    for service in services.values():
        if "command" in service:
            assert_python_command_resolves(service["command"])
        if "healthcheck" in service:
            assert_python_command_resolves(service["healthcheck"]["test"])
    assert "command" not in services["worker"]  # the image's CMD, checked above, is the worker
    assert services["web"]["command"][services["web"]["command"].index("--app") + 1] == "application"


def test_compose_environment_names_are_real_settings() -> None:
    services = compose()["services"]
    for name, service in services.items():
        environment = service.get("environment") or {}
        for variable in environment:
            if variable.startswith("DMS_"):
                assert variable[4:] in SETTING_NAMES, f"{name}: {variable} is not a DMS setting"
        for env_file in service.get("env_file") or []:
            path = env_file["path"] if isinstance(env_file, dict) else env_file
            assert path.endswith(
                "var/dev-secrets.env"
            )  # the file `make run` writes (dms.devstack.dev_secrets)
    assert "dev-secrets.env" in (ROOT / "dms" / "devstack.py").read_text()


def test_compose_file_holds_no_real_secret_values() -> None:
    services = compose()["services"]
    for name, service in services.items():
        for variable in service.get("environment") or {}:
            if variable.startswith("DMS_") and variable[4:] in {
                "SECRET_KEY",
                "CREDENTIALS_KEY",
                "CLOUDANT_APIKEY",
            }:
                pytest.fail(f"{name}: {variable} must come from var/dev-secrets.env, not the compose file")


def zappa_stage(name: str) -> dict[str, Any]:
    """A stage's settings with `extends` resolved the way zappa resolves it (a shallow update)."""
    settings = json.loads((ROOT / "zappa_settings.json").read_text())
    stage = dict(settings[name])
    if "extends" in stage:
        return {**zappa_stage(stage.pop("extends")), **stage}
    return stage


@pytest.mark.parametrize("stage_name", ["dev", "production"])
def test_zappa_stage_is_consistent_with_the_code(stage_name: str) -> None:
    stage = zappa_stage(stage_name)
    module, _, attribute = stage["app_function"].rpartition(".")
    assert (module, attribute) == ("application", "app")
    assert re.fullmatch(r"python3\.(1[2-9])", stage["runtime"]), stage["runtime"]
    assert stage["slim_handler"] is True
    assert stage["timeout_seconds"] <= 29  # API Gateway gives up at 29 s
    assert stage["keep_warm"] in (True, False)
    for event in stage["events"]:
        module, _, function = event["function"].rpartition(".")
        assert callable(getattr(importlib.import_module(module), function)), event
        assert "-" not in event["function"]  # zappa finds the function after the last "-" of the rule name
    for variable in stage["environment_variables"]:
        assert variable.startswith("DMS_") and variable[4:] in SETTING_NAMES, variable
        assert variable[4:] not in SECRETS, f"{variable} is a secret: it belongs in the remote env file"
    assert stage["manage_roles"] is False and stage["role_name"] == f"dms-{stage_name}-web"
    assert stage["remote_env"].endswith(f"/{stage_name}/dms.env.json")
    queue = stage["environment_variables"]["DMS_SQS_QUEUE_NAME"]
    assert queue == f"dms-{stage_name}-tasks"  # what deploy/aws_setup.py creates for the stage


def test_the_image_and_the_lambda_package_compile_the_message_catalogs(tmp_path: Path) -> None:
    # The .mo files are not committed: the image builds them after copying the .po files, zappa before packaging.
    instructions = dockerfile_instructions()
    copied_at = next(
        i for i, (name, args) in enumerate(instructions) if name == "COPY" and "translations" in args
    )
    compiled_at = next(
        i for i, (name, args) in enumerate(instructions) if args == "python -m deploy.translations"
    )
    assert copied_at < compiled_at and instructions[compiled_at][0] == "RUN"
    assert_python_command_resolves(["python", "-m", "deploy.translations"])
    for stage_name in ("dev", "production"):
        module, _, function = zappa_stage(stage_name)["prebuild_script"].rpartition(".")
        assert callable(getattr(importlib.import_module(module), function))
    from deploy.translations import compile_catalogs

    (tmp_path / "zh_CN" / "LC_MESSAGES").mkdir(parents=True)
    po = ROOT / "translations" / "zh_CN" / "LC_MESSAGES" / "messages.po"
    (tmp_path / "zh_CN" / "LC_MESSAGES" / "messages.po").write_bytes(po.read_bytes())
    [mo] = compile_catalogs(tmp_path)
    from babel.support import Translations

    with open(mo, "rb") as handle:
        assert Translations(handle).gettext("Sign in") == "登录"


def test_zappa_excludes_the_heavy_folders_of_a_checkout() -> None:
    excluded = set(zappa_stage("production")["exclude"])
    assert {"node_modules", ".venv", ".git", "var", "tests"} <= excluded
    # A package folder name excluded here would be dropped from every library too (botocore/docs, ...).
    site_packages = Path(importlib.util.find_spec("botocore").origin).parent.parent  # type: ignore[arg-type,union-attr]
    for name in excluded - {"tests", "include", "troposphere"}:
        if not any(ch in name for ch in "*?"):
            assert not list(site_packages.glob(f"*/{name}")), f"excluding {name!r} would remove library files"


@pytest.fixture()
def liveness_path(tmp_path: Path) -> Path:
    return tmp_path / "alive"


def test_dockerfile_worker_command_consumes_and_its_health_check_tracks_it(
    processes: ProcessGroup, stack_env: dict[str, str], liveness_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run the image's CMD and HEALTHCHECK as they are (the executables resolved in this virtualenv)."""
    # kombu has no endpoint option: this publisher reaches moto_server only through this variable.
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", stack_env["DMS_SQS_ENDPOINT_URL"])
    queue = f"dms-docker-{uuid.uuid4().hex[:8]}"
    env = {
        **stack_env,
        "DMS_SQS_QUEUE_NAME": queue,
        "DMS_SQS_DEAD_LETTER_QUEUE_NAME": f"{queue}-dead",
        "DMS_WORKER_LIVENESS_FILE": str(liveness_path),
    }
    settings = load_settings(environ=env)
    from dms.clients.sqs import ensure_queues

    ensure_queues(settings)
    health = [sys.executable if part == "python" else part for part in dockerfile_healthcheck()]
    run_env = {**env, "PATH": f"{BIN}:/usr/bin:/bin"}

    def healthy() -> bool:
        return subprocess.run(health, env=run_env, capture_output=True, cwd=ROOT).returncode == 0

    assert not healthy()  # no worker yet
    command = [str(BIN / "celery") if part == "celery" else part for part in dockerfile_cmd()]
    name = f"docker-cmd-{uuid.uuid4().hex[:6]}"
    processes.start(ServiceSpec(name, command, lambda: True, env=env), wait=False)
    wait_for(healthy, timeout=60, what="the Dockerfile's health check to pass")

    publisher = Celery("publisher")
    publisher.conf.update(celery_settings(settings))
    result = publisher.send_task("dms.diagnostics.echo", args=["from the image command"])
    assert result.get(timeout=60)["message"] == "from the image command"

    processes.stop(name)  # SIGTERM: a warm shutdown stops the liveness step, which removes the file
    wait_for(lambda: not healthy(), timeout=30, what="the health check to fail once the worker stopped")
