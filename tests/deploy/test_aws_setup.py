"""deploy/aws_setup.py against moto_server: queues with redrive, the bucket, least-privilege IAM, and the API
Gateway stage's access logs."""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from deploy.aws_setup import (
    ACCESS_LOG_FIELDS,
    IAM_DIR,
    DeployTarget,
    create_queues,
    main,
    policy_values,
    render_policy,
)
from dms.errors import ConfigurationError


@pytest.fixture()
def aws(sqs_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """boto3 clients on moto_server (dummy keys: moto accepts any, and nothing here reaches AWS)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    # The setup reads its settings from the environment, as from an operator's shell. The test stack's
    # fixtures export theirs (a 120 s visibility timeout, below the longest task) for the whole session,
    # so without this these tests would pass alone and fail after any test that used the stack.
    for name in list(os.environ):
        if name.startswith("DMS_"):
            monkeypatch.delenv(name)
    clients = {
        name: boto3.client(name, region_name="eu-west-1", endpoint_url=sqs_endpoint)
        for name in ("sqs", "s3", "iam", "apigateway", "logs")
    }
    return {"endpoint": sqs_endpoint, **clients}


def target(stage: str | None = None) -> DeployTarget:
    stage = stage or f"t{uuid.uuid4().hex[:6]}"
    return DeployTarget(
        stage=stage,
        region="eu-west-1",
        account_id="123456789012",
        bucket=f"blobs-{stage}",
        deploy_bucket=f"deploy-{stage}",
        blob_prefix="dms",
        allowed_origins=("https://dms.example.com",),
    )


def run_main(
    aws: dict[str, Any], stage: str, capsys: pytest.CaptureFixture[str], *extra: str
) -> dict[str, Any]:
    argv = [
        "--stage",
        stage,
        "--region",
        "eu-west-1",
        "--bucket",
        f"blobs-{stage}",
        "--deploy-bucket",
        f"deploy-{stage}",
        "--blob-prefix",
        "dms",
        "--origin",
        "https://dms.example.com",
        "--endpoint-url",
        aws["endpoint"],
        *extra,
    ]
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_setup_creates_queues_with_dead_letter_redrive_and_long_polling(
    aws: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    stage = f"s{uuid.uuid4().hex[:6]}"
    summary = run_main(aws, stage, capsys)
    sqs = aws["sqs"]
    attrs = sqs.get_queue_attributes(QueueUrl=summary["queue_url"], AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attrs["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == summary["dead_letter_arn"]
    assert int(redrive["maxReceiveCount"]) == 5
    assert attrs["ReceiveMessageWaitTimeSeconds"] == "20"
    assert int(attrs["VisibilityTimeout"]) > 3300  # above TASK_TIME_LIMIT, the longest task
    dead = sqs.get_queue_attributes(QueueUrl=summary["dead_letter_url"], AttributeNames=["All"])["Attributes"]
    assert dead["MessageRetentionPeriod"] == str(14 * 24 * 3600)
    assert summary["environment"]["DMS_SQS_QUEUE_NAME"] == f"dms-{stage}-tasks"
    assert summary["environment"]["DMS_BLOB_STORE_URL"] == f"s3://blobs-{stage}/dms"


def test_poison_message_lands_in_the_dead_letter_queue(aws: dict[str, Any]) -> None:
    name = f"dms-poison-{uuid.uuid4().hex[:6]}"
    sqs = aws["sqs"]
    queues = create_queues(
        sqs,
        name,
        f"{name}-dead",
        visibility_timeout=2,
        longest_task_seconds=1,
        max_receive_count=1,
        wait_time_seconds=0,
    )
    sqs.send_message(QueueUrl=queues["queue_url"], MessageBody="poison")
    first = sqs.receive_message(QueueUrl=queues["queue_url"], VisibilityTimeout=0)
    assert [m["Body"] for m in first["Messages"]] == ["poison"]
    # Received once and not deleted: with maxReceiveCount=1 the next receive moves it to the dead letters.
    sqs.receive_message(QueueUrl=queues["queue_url"])
    dead = sqs.receive_message(QueueUrl=queues["dead_letter_url"], WaitTimeSeconds=1)
    assert [m["Body"] for m in dead.get("Messages", [])] == ["poison"]


def test_setup_is_idempotent_and_updates_a_changed_timeout(aws: dict[str, Any]) -> None:
    name = f"dms-again-{uuid.uuid4().hex[:6]}"
    first = create_queues(
        aws["sqs"],
        name,
        f"{name}-dead",
        visibility_timeout=600,
        longest_task_seconds=500,
        max_receive_count=5,
    )
    second = create_queues(
        aws["sqs"],
        name,
        f"{name}-dead",
        visibility_timeout=900,
        longest_task_seconds=500,
        max_receive_count=5,
    )
    assert first == second
    attrs = aws["sqs"].get_queue_attributes(
        QueueUrl=second["queue_url"], AttributeNames=["VisibilityTimeout"]
    )
    assert attrs["Attributes"]["VisibilityTimeout"] == "900"


def test_visibility_timeout_not_above_the_longest_task_is_refused(aws: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match="must exceed the longest task"):
        create_queues(
            aws["sqs"],
            "dms-x",
            "dms-x-dead",
            visibility_timeout=300,
            longest_task_seconds=300,
            max_receive_count=5,
        )


def test_bucket_is_private_encrypted_and_accepts_browser_posts(
    aws: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    stage = f"b{uuid.uuid4().hex[:6]}"
    run_main(aws, stage, capsys, "--skip-iam")
    s3 = aws["s3"]
    block = s3.get_public_access_block(Bucket=f"blobs-{stage}")["PublicAccessBlockConfiguration"]
    assert all(block.values())
    rules = s3.get_bucket_cors(Bucket=f"blobs-{stage}")["CORSRules"]
    assert rules[0]["AllowedMethods"] == ["POST"] and rules[0]["AllowedOrigins"] == [
        "https://dms.example.com"
    ]
    encryption = s3.get_bucket_encryption(Bucket=f"blobs-{stage}")["ServerSideEncryptionConfiguration"]
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_roles_get_only_their_own_policies(aws: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    stage = f"i{uuid.uuid4().hex[:6]}"
    summary = run_main(aws, stage, capsys)
    iam = aws["iam"]
    assert summary["web_role_arn"].endswith(f"role/dms-{stage}-web")
    web = iam.get_role_policy(RoleName=f"dms-{stage}-web", PolicyName=f"dms-{stage}-web-access")[
        "PolicyDocument"
    ]
    worker = iam.get_role_policy(RoleName=f"dms-{stage}-worker", PolicyName=f"dms-{stage}-worker-access")
    web_actions = {a for s in web["Statement"] for a in s["Action"]}
    worker_actions = {a for s in worker["PolicyDocument"]["Statement"] for a in s["Action"]}
    # The web tier only publishes; only workers consume and delete messages.
    assert "sqs:SendMessage" in web_actions and "sqs:ReceiveMessage" not in web_actions
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"} <= worker_actions
    trust = iam.get_role(RoleName=f"dms-{stage}-worker")["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"]["Service"] == "ecs-tasks.amazonaws.com"


@pytest.mark.parametrize("name", ["web-policy", "worker-policy", "apigateway-logs-policy"])
def test_policies_are_least_privilege(name: str) -> None:
    values = policy_values(target("prod"), "arn:aws:sqs:eu-west-1:123456789012:dms-prod-tasks")
    policy = render_policy(name, values)
    assert "${" not in json.dumps(policy)
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all("*" not in action for action in actions), statement  # no service-wide wildcards
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        if resources == ["*"]:
            # The only unscoped grant AWS allows no narrower: Lambda's network interfaces in a VPC.
            assert all(action.startswith("ec2:") for action in actions), statement
        for resource in resources:
            if resource.startswith("arn:aws:s3:::blobs-prod/"):
                assert re.match(r"arn:aws:s3:::blobs-prod/dms/(uploads|jobs)/\*$", resource), resource


def test_every_template_placeholder_is_provided() -> None:
    values = policy_values(target("prod"), "arn:aws:sqs:eu-west-1:123456789012:dms-prod-tasks")
    for path in Path(IAM_DIR).glob("*.json"):
        placeholders = set(re.findall(r"\$\{(\w+)\}", path.read_text()))
        assert placeholders <= set(values), (path.name, placeholders - set(values))
        render_policy(path.stem, values)


TRUST_POLICIES = ["lambda-trust-policy", "ecs-task-trust-policy", "apigateway-logs-trust-policy"]


@pytest.mark.parametrize("name", TRUST_POLICIES)
def test_trust_policies_admit_services_only_on_behalf_of_this_account(name: str) -> None:
    values = policy_values(target("prod"), "arn:aws:sqs:eu-west-1:123456789012:dms-prod-tasks")
    for statement in render_policy(name, values)["Statement"]:
        assert statement["Action"] == "sts:AssumeRole" and set(statement["Principal"]) == {"Service"}
        # A service acting for another account (the confused deputy) cannot assume the role. Lambda and ECS
        # document that they send aws:SourceAccount; API Gateway and EventBridge do not say so for the roles they assume,
        # so for them the key is checked when present (IfExists) rather than risk refusing every request.
        strict = statement["Principal"]["Service"] in ("lambda.amazonaws.com", "ecs-tasks.amazonaws.com")
        operator = "StringEquals" if strict else "StringEqualsIfExists"
        assert statement["Condition"] == {operator: {"aws:SourceAccount": "123456789012"}}


def test_roles_are_created_with_the_account_condition(
    aws: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    stage = f"c{uuid.uuid4().hex[:6]}"
    run_main(aws, stage, capsys, "--account-id", "210987654321")
    for role_name in (f"dms-{stage}-web", f"dms-{stage}-worker"):
        trust = aws["iam"].get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
        conditions = [statement["Condition"] for statement in trust["Statement"]]
        assert {"StringEquals": {"aws:SourceAccount": "210987654321"}} in conditions, role_name
        assert all(list(c.values()) == [{"aws:SourceAccount": "210987654321"}] for c in conditions), role_name


def create_rest_api_like_zappa(apigateway: Any, stage: str) -> str:
    """A REST API named after the function with one method, as zappa's CloudFormation stack makes it."""
    api_id = apigateway.create_rest_api(name=f"dms-{stage}")["id"]
    root = next(r["id"] for r in apigateway.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
    apigateway.put_method(restApiId=api_id, resourceId=root, httpMethod="ANY", authorizationType="NONE")
    apigateway.put_integration(restApiId=api_id, resourceId=root, httpMethod="ANY", type="MOCK")
    return str(api_id)


def test_access_logs_are_pending_until_zappa_deployed_the_stage_and_on_after(
    aws: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    stage = f"a{uuid.uuid4().hex[:6]}"
    group = f"/aws/apigateway/dms-{stage}/access"
    before = run_main(aws, stage, capsys)
    assert before["access_log_group"] == group and before["access_logs"].startswith("pending")
    api_id = create_rest_api_like_zappa(aws["apigateway"], stage)
    assert run_main(aws, stage, capsys)["access_logs"].startswith("pending")  # no stage deployed yet

    aws["apigateway"].create_deployment(restApiId=api_id, stageName=stage)  # what `zappa deploy` ends with
    after = run_main(aws, stage, capsys, "--access-log-retention-days", "30")
    assert (after["access_logs"], after["rest_api_id"]) == ("on", api_id)
    settings = aws["apigateway"].get_stage(restApiId=api_id, stageName=stage)["accessLogSettings"]
    assert settings["destinationArn"] == f"arn:aws:logs:eu-west-1:123456789012:log-group:{group}"
    fields = json.loads(settings["format"])
    assert fields == ACCESS_LOG_FIELDS
    assert set(fields) == {
        "requestId",
        "ip",
        "caller",
        "requestTime",
        "httpMethod",
        "resourcePath",
        "status",
        "protocol",
        "responseLength",
    }
    # Nothing a client sends: the bearer token (Authorization), the session cookie, the body.
    for leak in ("header", "authorization", "cookie", "$input", "body"):
        assert leak not in settings["format"].lower(), leak
    (log_group,) = aws["logs"].describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert log_group["retentionInDays"] == 30


def test_api_gateway_writes_logs_with_a_role_of_its_own(
    aws: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    summary = run_main(aws, f"g{uuid.uuid4().hex[:6]}", capsys)
    # API Gateway's CloudWatch role is one account setting: without it a REST API stage writes no logs.
    assert aws["apigateway"].get_account()["cloudwatchRoleArn"] == summary["api_logging_role_arn"]
    assert summary["api_logging_role_arn"].endswith(":role/dms-apigateway-logs")
    role = aws["iam"].get_role(RoleName="dms-apigateway-logs")["Role"]
    assert (
        role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"] == "apigateway.amazonaws.com"
    )
    policy = aws["iam"].get_role_policy(
        RoleName="dms-apigateway-logs", PolicyName="dms-apigateway-logs-access"
    )
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert all(action.startswith("logs:") for action in statement["Action"])
    assert statement["Resource"] == "arn:aws:logs:*:123456789012:log-group:*"


def test_an_api_gateway_logging_role_set_by_someone_else_is_kept(
    sqs_endpoint: str, aws: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # Its own region: the account setting is per region, and the other tests share eu-west-1's.
    apigateway = boto3.client("apigateway", region_name="ap-southeast-2", endpoint_url=sqs_endpoint)
    theirs = "arn:aws:iam::123456789012:role/platform-team-apigateway-logs"
    apigateway.update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": theirs}]
    )
    stage = f"k{uuid.uuid4().hex[:6]}"
    argv = ["--stage", stage, "--region", "ap-southeast-2", "--bucket", f"blobs-{stage}"]
    argv += ["--deploy-bucket", f"deploy-{stage}", "--endpoint-url", sqs_endpoint]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["api_logging_role_arn"] == theirs
    assert apigateway.get_account()["cloudwatchRoleArn"] == theirs
