"""The Lambda package for real: `zappa package` offline (no AWS credentials), unpacked, and its handler
invoked with API Gateway events under Python 3.12, the Lambda runtime's Python.

What stands in for AWS here: moto_server's S3 holds the slim handler's project archive and the remote env
file (the handler downloads both at cold start, as on Lambda); the services are the test stack's, on
loopback. The stage built is `ci`, which extends `production` and changes only where things are (region,
buckets, endpoints): runtime, slim_handler, app_function, excludes and events are production's own.
"""

from __future__ import annotations

import base64
import glob
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from deploy.lambda_venv import LAMBDA_GLIBC_MINOR, LAMBDA_PYTHON, build_lambda_venv
from dms.clients.sqs import ensure_queues
from dms.settings import load_settings

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).resolve().parent / "lambda_driver.py"
SLIM_UNPACKED_LIMIT = 250 * 1024 * 1024  # Lambda's limit on the unpacked deployment package
SECRETS = tuple(load_settings()["SECRETS"])


def find_python312() -> str | None:
    """A CPython 3.12 interpreter: pyenv's, or one on PATH."""
    candidates = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")), reverse=True)
    candidates += [p for p in (shutil.which("python3.12"),) if p]
    for candidate in candidates:
        probe = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0 and probe.stdout.strip() == LAMBDA_PYTHON:
            return candidate
    return None


def api_gateway_event(
    method: str,
    path: str,
    *,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> dict[str, Any]:
    """A REST API (v1) proxy event, as API Gateway sends zappa's `/{proxy+}` resource."""
    headers = {
        "Host": "abc123.execute-api.us-east-1.amazonaws.com",
        "X-Forwarded-Proto": "https",
        **(headers or {}),
    }
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/ci{path}",
            "stage": "ci",
            "requestId": str(uuid.uuid4()),
            "accountId": "123456789012",
            "apiId": "abc123",
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "pytest"},
        },
        "body": base64.b64encode(body).decode() if body is not None else None,
        "isBase64Encoded": body is not None,
    }


def scheduled_event(rule: str) -> dict[str, Any]:
    """An EventBridge scheduled event for a zappa rule (zappa reads the function from the rule name)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:123456789012:rule/{rule}"],
        "detail": {},
    }


def multipart(field: str, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def max_glibc_needed(root: Path) -> tuple[int, str]:
    """The highest GLIBC_2.x symbol version any shared object under `root` needs, and which file."""
    highest, where = 0, ""
    pattern = re.compile(rb"GLIBC_2\.(\d+)")
    for path in root.rglob("*.so*"):
        if not path.is_file():
            continue
        for match in pattern.finditer(path.read_bytes()):
            minor = int(match.group(1))
            if minor > highest:
                highest, where = minor, str(path.relative_to(root))
    return highest, where


def tree_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def lambda_venv() -> Path:
    """The Lambda build virtualenv (cached across runs in the temp dir, keyed by what it holds)."""
    python = find_python312()
    if python is None:
        pytest.skip(
            "no CPython 3.12 here: the Lambda runtime's Python is needed to build and run the package"
        )
    return build_lambda_venv(Path(tempfile.gettempdir()) / "dms-lambda-venv", python)


@pytest.fixture(scope="module")
def ci_stage(stack_env: dict[str, str], sqs_endpoint: str) -> dict[str, Any]:
    """Where the `ci` stage's things are: its own queue (so no session worker takes its messages), buckets."""
    queue = f"dms-ci-{uuid.uuid4().hex[:8]}"
    settings = load_settings(
        environ={**stack_env, "DMS_SQS_QUEUE_NAME": queue, "DMS_SQS_DEAD_LETTER_QUEUE_NAME": f"{queue}-dead"}
    )
    ensure_queues(settings)
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=sqs_endpoint)
    deploy_bucket, blob_bucket = (
        f"dms-ci-deploy-{uuid.uuid4().hex[:8]}",
        f"dms-ci-blobs-{uuid.uuid4().hex[:8]}",
    )
    s3.create_bucket(Bucket=deploy_bucket)
    s3.create_bucket(Bucket=blob_bucket)
    public = {k: v for k, v in stack_env.items() if k.startswith("DMS_") and k[4:] not in SECRETS}
    public.update(
        DMS_SQS_QUEUE_NAME=queue,
        DMS_SQS_DEAD_LETTER_QUEUE_NAME=f"{queue}-dead",
        DMS_BLOB_STORE_URL=f"s3://{blob_bucket}/blobs",
        DMS_S3_ENDPOINT_URL=sqs_endpoint,
    )
    secrets = {k: v for k, v in stack_env.items() if k.startswith("DMS_") and k[4:] in SECRETS}
    return {
        "queue": queue,
        "deploy_bucket": deploy_bucket,
        "public": public,
        "secrets": secrets,
        "s3": s3,
        "sqs_url": f"{sqs_endpoint}/{settings['AWS_ACCOUNT_ID']}/{queue}",
    }


@pytest.fixture(scope="module")
def package(
    lambda_venv: Path, ci_stage: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """`zappa package ci` in a copy of the project, with no AWS credentials at all."""
    build = tmp_path_factory.mktemp("zappa") / "dms"
    shutil.copytree(
        ROOT,
        build,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            "node_modules",
            "var",
            ".*_cache",
            "__pycache__",
            "*.zip",
            "*.tar.gz",
            "handler_venv",
        ),
    )
    for compiled in build.glob("translations/*/LC_MESSAGES/*.mo"):
        compiled.unlink()  # a clone has none: zappa's prebuild_script must compile them
    settings = json.loads((build / "zappa_settings.json").read_text())
    production = settings["production"]
    settings["ci"] = {
        "extends": "production",
        "aws_region": "us-east-1",
        "s3_bucket": ci_stage["deploy_bucket"],
        "remote_env": f"s3://{ci_stage['deploy_bucket']}/ci/dms.env.json",
        "role_name": "dms-ci-web",
        "environment_variables": {**production["environment_variables"], **ci_stage["public"]},
    }
    (build / "zappa_settings.json").write_text(json.dumps(settings, indent=2))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DMS_", "PYTHON"))}
    env.update(
        VIRTUAL_ENV=str(lambda_venv),
        PATH=f"{lambda_venv}/bin:{env['PATH']}",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE="/nonexistent",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
    )
    started = time.monotonic()
    result = subprocess.run(
        [str(lambda_venv / "bin" / "zappa"), "package", "ci", "--output", "handler.zip"],
        cwd=build,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    seconds = time.monotonic() - started
    assert result.returncode == 0, f"zappa package failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    archives = list(build.glob("dms-ci-*.tar.gz"))
    assert len(archives) == 1, (list(build.iterdir()), result.stdout[-2000:])
    return {"dir": build, "handler_zip": build / "handler.zip", "archive": archives[0], "seconds": seconds}


@pytest.fixture(scope="module")
def unpacked(package: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("unpacked")
    with zipfile.ZipFile(package["handler_zip"]) as archive:
        archive.extractall(root / "task")
    with tarfile.open(package["archive"]) as archive:
        archive.extractall(root / "project", filter="data")
    return {"task": root / "task", "project": root / "project"}


@pytest.fixture(scope="module")
def lambda_process(
    unpacked: dict[str, Path], package: dict[str, Any], ci_stage: dict[str, Any], sqs_endpoint: str
) -> Iterator[Any]:
    """The handler in a python3.12 process that downloads the project from (moto's) S3 like a cold Lambda."""
    task = unpacked["task"]
    settings_py = (task / "zappa_settings.py").read_text()
    archive_path = re.search(r"ARCHIVE_PATH='s3://([^/]+)/(.+)'", settings_py)
    assert archive_path, settings_py
    bucket, key = archive_path.groups()
    s3 = ci_stage["s3"]
    s3.upload_file(str(package["archive"]), bucket, key)
    s3.put_object(Bucket=bucket, Key="ci/dms.env.json", Body=json.dumps(ci_stage["secrets"]).encode())
    # Lambda's /tmp is private to one sandbox; this machine's is shared, so give the project folder a
    # name of its own (the handler unpacks the archive into /tmp/<PROJECT_NAME>).
    project_name = f"dms-ci-{uuid.uuid4().hex[:8]}"
    (task / "zappa_settings.py").write_text(
        settings_py.replace("PROJECT_NAME='dms'", f"PROJECT_NAME='{project_name}'")
    )
    python = find_python312()
    assert python
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": str(task),
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "dms-ci",
        # Only the handler's own S3 calls (archive, remote env) go to moto this way; the app's are configured.
        "AWS_ENDPOINT_URL_S3": sqs_endpoint,
    }
    proc = subprocess.Popen(
        [python, "-I", str(DRIVER), str(task)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=open(task / "lambda.log", "w"),
        env=env,
        text=True,
        cwd=task,
    )

    def invoke(event: dict[str, Any]) -> Any:
        assert proc.stdin and proc.stdout
        proc.stdin.write(json.dumps(event) + "\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        assert line, f"the Lambda process died:\n{(task / 'lambda.log').read_text()[-4000:]}"
        reply = json.loads(line)
        assert reply["ok"], reply["error"]
        return reply["result"]

    yield invoke
    proc.terminate()
    proc.wait(timeout=30)
    shutil.rmtree(f"/tmp/{project_name}", ignore_errors=True)


def body_json(response: dict[str, Any]) -> Any:
    body = response["body"]
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return json.loads(body)


def test_package_is_slim_and_fits_lambda(package: dict[str, Any], unpacked: dict[str, Path]) -> None:
    handler_unpacked = tree_size(unpacked["task"])
    project_unpacked = tree_size(unpacked["project"])
    print(
        f"\nzappa package: {package['seconds']:.0f}s; handler zip {package['handler_zip'].stat().st_size / 1e6:.1f} MB "
        f"({handler_unpacked / 1e6:.0f} MB unpacked); project archive {package['archive'].stat().st_size / 1e6:.1f} MB "
        f"({project_unpacked / 1e6:.0f} MB unpacked)"
    )
    assert handler_unpacked < SLIM_UNPACKED_LIMIT
    settings = json.loads((ROOT / "zappa_settings.json").read_text())["production"]
    assert project_unpacked < settings["ephemeral_storage"]["Size"] * 1024 * 1024 * 0.8
    project = unpacked["project"]
    for name in (
        "application.py",
        "worker.py",
        "celery_holder.py",
        "config_dev.py",
        "deploy/housekeeping.py",
        "translations/zh_CN/LC_MESSAGES/messages.mo",
        "templates/base.html",
        "static/js/i18n.js",
    ):
        assert (project / name).is_file(), name
    for excluded in ("node_modules", "tests", ".git", "var", "pandas/tests"):
        assert not (project / excluded).exists(), excluded


def test_package_holds_python312_wheels_for_lambda_glibc(unpacked: dict[str, Path]) -> None:
    project = unpacked["project"]
    cpython_tags = {re.search(r"cpython-(\d+)", p.name).group(1) for p in project.rglob("*.cpython-*.so")}  # type: ignore[union-attr]
    assert cpython_tags == {"312"}
    for root in (project, unpacked["task"]):
        minor, where = max_glibc_needed(root)
        assert minor <= LAMBDA_GLIBC_MINOR, (
            f"{where} needs GLIBC_2.{minor}; Amazon Linux 2023 has 2.{LAMBDA_GLIBC_MINOR}"
        )


def test_handler_settings_carry_no_secrets(unpacked: dict[str, Path], ci_stage: dict[str, Any]) -> None:
    text = (unpacked["task"] / "zappa_settings.py").read_text()
    assert "SLIM_HANDLER=True" in text and "APP_MODULE='application'" in text and "APP_FUNCTION='app'" in text
    # The stack's random keys reach the function from the remote env file only, never the package.
    for name in ("DMS_SECRET_KEY", "DMS_CREDENTIALS_KEY"):
        assert len(ci_stage["secrets"][name]) >= 16 and ci_stage["secrets"][name] not in text
        assert f"'{name}'" not in text


@pytest.fixture()
def bearer(admin_token: str) -> dict[str, str]:
    """The test stack's admin token: the ci stage shares its document store (and so its users)."""
    return {"Authorization": f"Bearer {admin_token}"}


def test_lambda_serves_health(lambda_process: Any, bearer: dict[str, str]) -> None:
    response = lambda_process(api_gateway_event("GET", "/health"))
    assert (response["statusCode"], body_json(response)) == (200, {"status": "up"}), response
    assert lambda_process(api_gateway_event("GET", "/health/detail"))["statusCode"] == 401
    response = lambda_process(api_gateway_event("GET", "/health/detail", headers=bearer))
    report = body_json(response)
    assert report["status"] == "up"
    assert {name for name, check in report["services"].items() if check["status"] == "up"} >= {
        "redis",
        "sqs",
        "cloudant",
    }


def test_lambda_serves_pages_in_the_readers_language(lambda_process: Any) -> None:
    headers = {"Accept": "text/html", "Accept-Language": "zh-CN,zh;q=0.9"}
    response = lambda_process(api_gateway_event("GET", "/sign-in", headers=headers))
    body = response["body"]
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    assert response["statusCode"] == 200, response
    assert '<html lang="zh-CN">' in body and "登录" in body  # the catalog zappa's prebuild compiled


def test_lambda_takes_an_upload_and_previews_it(
    lambda_process: Any, ci_stage: dict[str, Any], bearer: dict[str, str]
) -> None:
    data = "Id;Name;Amount;Since\n1;Müller;1.234,50;31/12/2024\n2;Zoë;12,00;01/02/2023\n".encode("cp1252")
    body, content_type = multipart("file", "legacy.csv", data)
    created = lambda_process(
        api_gateway_event(
            "POST", "/api/v1/uploads", headers={"Content-Type": content_type, **bearer}, body=body
        )
    )
    assert created["statusCode"] == 201, created
    record = body_json(created)
    assert record["size"] == len(data)

    preview = lambda_process(
        api_gateway_event(
            "GET", f"/api/v1/uploads/{record['id']}/preview", query={"delimiter": "semicolon"}, headers=bearer
        )
    )
    assert preview["statusCode"] == 200, preview
    shown = body_json(preview)
    assert shown["encoding"] == "cp1252" and shown["delimiter"] == ";"
    kinds = {column["name"]: column["kind"] for column in shown["columns"]}
    assert (kinds["Name"], kinds["Amount"], kinds["Since"]) == ("text", "number", "date")
    assert [row["Name"] for row in shown["rows"]] == ["Müller", "Zoë"]


def test_lambda_previews_parquet(lambda_process: Any, tmp_path: Path, bearer: dict[str, str]) -> None:
    table = pa.table({"Id": [1, 2, 3], "Name": ["a", "b", "c"]})
    pq.write_table(table, tmp_path / "accounts.parquet")
    body, content_type = multipart("file", "accounts.parquet", (tmp_path / "accounts.parquet").read_bytes())
    created = lambda_process(
        api_gateway_event(
            "POST", "/api/v1/uploads", headers={"Content-Type": content_type, **bearer}, body=body
        )
    )
    assert created["statusCode"] == 201, created
    preview = lambda_process(
        api_gateway_event("GET", f"/api/v1/uploads/{body_json(created)['id']}/preview", headers=bearer)
    )
    shown = body_json(preview)
    assert shown["format"] == "parquet"
    assert [row["Name"] for row in shown["rows"]] == ["a", "b", "c"]


def test_lambda_refuses_an_unknown_upload_with_json(lambda_process: Any, bearer: dict[str, str]) -> None:
    response = lambda_process(
        api_gateway_event("GET", "/api/v1/uploads/upl-20200101T000000Z-abcdef", headers=bearer)
    )
    assert response["statusCode"] == 404
    assert body_json(response)["error"]["code"] == "UPLOAD_NOT_FOUND"


def test_scheduled_events_keep_warm_and_queue_housekeeping(
    lambda_process: Any, ci_stage: dict[str, Any]
) -> None:
    assert lambda_process(scheduled_event("dms-ci-zappa-keep-warm-handler.keep_warm_callback")) is None
    queued = lambda_process(scheduled_event("dms-ci-deploy.housekeeping.enqueue"))
    sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=ci_stage["sqs_url"].rsplit("/", 2)[0])
    messages = sqs.receive_message(QueueUrl=ci_stage["sqs_url"], MaxNumberOfMessages=10, WaitTimeSeconds=2)
    bodies = [base64.b64decode(m["Body"]).decode() for m in messages.get("Messages", [])]
    assert any(queued["task_id"] in body and "dms.housekeeping" in body for body in bodies), bodies
