"""Create what DMS needs in an AWS account: the task queue with its dead-letter queue, the blob bucket,
least-privilege IAM roles for the web tier (Lambda) and the workers (containers), and the API Gateway stage's
access logs.

    python -m deploy.aws_setup --stage production --region eu-west-1 --bucket acme-dms-blobs \
        --deploy-bucket acme-dms-deploy --origin https://dms.acme.example

Every step is idempotent: run it again after changing a setting and the resources are brought up to date.
It prints a JSON summary (queue URL and ARNs, role ARNs) that docs/deploy.md uses in the next steps.
The API Gateway stage exists only once `zappa deploy` has made it: until then its access logs are reported as
pending, and the run after `zappa deploy` (docs/deploy.md, step 5) turns them on.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any

import boto3

from dms.errors import ConfigurationError
from dms.settings import load_settings

log = logging.getLogger(__name__)

IAM_DIR = Path(__file__).resolve().parent / "iam"
SQS_MAX_VISIBILITY_SECONDS = 12 * 3600
SQS_MAX_WAIT_SECONDS = 20
DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600  # the SQS maximum: time to look at a poison message
TASK_RETENTION_SECONDS = 4 * 24 * 3600

# The periods CloudWatch Logs accepts for a log group's retention (days).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
ACCESS_LOG_RETENTION_DAYS = 90  # long enough to trace a request reported weeks later; the lines are small
# One JSON object per request, from API Gateway's own request context only: never a header (Authorization
# carries the bearer token, Cookie the session) and never a body (uploads, passwords, org credentials).
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "caller": "$context.identity.caller",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
}
ACCESS_LOG_FORMAT = json.dumps(ACCESS_LOG_FIELDS, separators=(",", ":"))
# A role IAM has just made can take seconds before other services may assume it.
IAM_PROPAGATION_ATTEMPTS = 10
IAM_PROPAGATION_PAUSE_SECONDS = 3.0


@dataclass(frozen=True)
class DeployTarget:
    """One deployment (a zappa stage) in one account and region; names follow from the stage."""

    stage: str
    region: str
    account_id: str
    bucket: str
    deploy_bucket: str
    blob_prefix: str = ""
    project_name: str = "dms"
    partition: str = "aws"
    allowed_origins: tuple[str, ...] = field(default_factory=tuple)

    @property
    def queue_name(self) -> str:
        return f"{self.project_name}-{self.stage}-tasks"

    @property
    def dead_letter_queue_name(self) -> str:
        return f"{self.project_name}-{self.stage}-tasks-dead"

    @property
    def function_name(self) -> str:
        """The Lambda function zappa creates: `<project_name>-<stage>`."""
        return f"{self.project_name}-{self.stage}"

    @property
    def web_role_name(self) -> str:
        return f"{self.project_name}-{self.stage}-web"

    @property
    def worker_role_name(self) -> str:
        return f"{self.project_name}-{self.stage}-worker"

    @property
    def api_logging_role_name(self) -> str:
        """API Gateway's CloudWatch role: one per account and region (an account setting), so not per stage."""
        return f"{self.project_name}-apigateway-logs"

    @property
    def access_log_group(self) -> str:
        return f"/aws/apigateway/{self.function_name}/access"

    @property
    def access_log_group_arn(self) -> str:
        return f"arn:{self.partition}:logs:{self.region}:{self.account_id}:log-group:{self.access_log_group}"


def create_queues(
    sqs: Any,
    queue_name: str,
    dead_letter_name: str,
    *,
    visibility_timeout: int,
    longest_task_seconds: float,
    max_receive_count: int,
    wait_time_seconds: int = SQS_MAX_WAIT_SECONDS,
) -> dict[str, str]:
    """The dead-letter queue, then the task queue with its redrive policy; returns their URLs and ARNs."""
    if visibility_timeout <= longest_task_seconds:
        raise ConfigurationError(
            f"SQS visibility timeout {visibility_timeout}s must exceed the longest task ({longest_task_seconds:.0f}s):"
            " otherwise a running task's message is delivered again and runs twice at once."
        )
    if not 0 < visibility_timeout <= SQS_MAX_VISIBILITY_SECONDS:
        raise ConfigurationError(f"SQS visibility timeout must be 1..{SQS_MAX_VISIBILITY_SECONDS}s.")
    if not 0 <= wait_time_seconds <= SQS_MAX_WAIT_SECONDS:
        raise ConfigurationError(f"SQS long-poll wait must be 0..{SQS_MAX_WAIT_SECONDS}s.")
    if max_receive_count < 1:
        raise ConfigurationError("max_receive_count must be at least 1.")

    dead_url = _create_or_update(
        sqs,
        dead_letter_name,
        {"MessageRetentionPeriod": str(DEAD_LETTER_RETENTION_SECONDS), "SqsManagedSseEnabled": "true"},
    )
    dead_arn = _queue_arn(sqs, dead_url)
    attributes = {
        "VisibilityTimeout": str(visibility_timeout),
        "ReceiveMessageWaitTimeSeconds": str(wait_time_seconds),
        "MessageRetentionPeriod": str(TASK_RETENTION_SECONDS),
        "SqsManagedSseEnabled": "true",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": max_receive_count}),
    }
    url = _create_or_update(sqs, queue_name, attributes)
    arn = _queue_arn(sqs, url)
    # Only our task queue may dead-letter into this one (and redrive back out of it).
    sqs.set_queue_attributes(
        QueueUrl=dead_url,
        Attributes={
            "RedriveAllowPolicy": json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [arn]})
        },
    )
    log.info(
        "queues ready queue=%s dead_letter=%s visibility=%d", queue_name, dead_letter_name, visibility_timeout
    )
    return {"queue_url": url, "queue_arn": arn, "dead_letter_url": dead_url, "dead_letter_arn": dead_arn}


def _create_or_update(sqs: Any, name: str, attributes: Mapping[str, str]) -> str:
    try:
        return str(sqs.create_queue(QueueName=name, Attributes=dict(attributes))["QueueUrl"])
    except sqs.exceptions.QueueNameExists:
        # Same name, other attributes (a changed timeout): bring the existing queue up to date.
        url = str(sqs.get_queue_url(QueueName=name)["QueueUrl"])
        sqs.set_queue_attributes(QueueUrl=url, Attributes=dict(attributes))
        return url


def _queue_arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def create_bucket(s3: Any, bucket: str, region: str, allowed_origins: Sequence[str] = ()) -> None:
    """A private, encrypted bucket; CORS lets the browser POST presigned uploads from the app's origins."""
    try:
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "abort-incomplete-multipart-uploads",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                }
            ]
        },
    )
    if allowed_origins:
        s3.put_bucket_cors(
            Bucket=bucket,
            CORSConfiguration={
                "CORSRules": [
                    {
                        "AllowedMethods": ["POST"],
                        "AllowedOrigins": list(allowed_origins),
                        "AllowedHeaders": ["*"],
                        "ExposeHeaders": ["ETag", "Location"],
                        "MaxAgeSeconds": 3600,
                    }
                ]
            },
        )


def policy_values(target: DeployTarget, queue_arn: str) -> dict[str, str]:
    """What the policy templates in deploy/iam/ are filled with."""
    prefix = target.blob_prefix.strip("/")
    return {
        "Partition": target.partition,
        "Region": target.region,
        "AccountId": target.account_id,
        "Stage": target.stage,
        "ProjectName": target.project_name,
        "FunctionName": target.function_name,
        "QueueArn": queue_arn,
        "Bucket": target.bucket,
        "BlobPrefix": f"{prefix}/" if prefix else "",
        "DeployBucket": target.deploy_bucket,
    }


def render_policy(name: str, values: Mapping[str, str]) -> dict[str, Any]:
    """A policy document from deploy/iam/<name>.json with its ${Placeholders} filled; KeyError if one is unset."""
    text = (IAM_DIR / f"{name}.json").read_text()
    return json.loads(Template(text).substitute(values))  # type: ignore[no-any-return]


def apply_iam(iam: Any, target: DeployTarget, queue_arn: str) -> dict[str, str]:
    """The web (Lambda) and worker (ECS task) roles, each with only its own inline policy; returns role ARNs."""
    values = policy_values(target, queue_arn)
    roles = {
        "web_role_arn": (target.web_role_name, "lambda-trust-policy", "web-policy"),
        "worker_role_arn": (target.worker_role_name, "ecs-task-trust-policy", "worker-policy"),
    }
    arns = {
        result_key: put_role(iam, role_name, trust_name, policy_name, values, f"DMS {target.stage}")
        for result_key, (role_name, trust_name, policy_name) in roles.items()
    }
    log.info("iam ready web_role=%s worker_role=%s", target.web_role_name, target.worker_role_name)
    return arns


def put_role(
    iam: Any, role_name: str, trust_name: str, policy_name: str, values: Mapping[str, str], description: str
) -> str:
    """Create the role or bring its trust and its one inline policy up to date; returns its ARN."""
    trust = json.dumps(render_policy(trust_name, values))
    try:
        role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust, Description=description)
    except iam.exceptions.EntityAlreadyExistsException:
        iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=trust)
        role = iam.get_role(RoleName=role_name)
    iam.put_role_policy(
        RoleName=role_name,
        PolicyName=f"{role_name}-access",
        PolicyDocument=json.dumps(render_policy(policy_name, values)),
    )
    return str(role["Role"]["Arn"])


def apply_api_logging_role(iam: Any, apigateway: Any, target: DeployTarget) -> str:
    """The role API Gateway writes every REST API's logs with, set in the account's API Gateway settings.

    A REST API stage logs nothing without it. It is one setting for the whole account and region, so a role
    someone else set is kept (other APIs log through it); ours is set only where there is none."""
    current = apigateway.get_account().get("cloudwatchRoleArn")
    if current and not current.endswith(f":role/{target.api_logging_role_name}"):
        log.info("api gateway logging role kept role=%s", current)
        return str(current)
    values = policy_values(target, queue_arn="")
    arn = put_role(
        iam,
        target.api_logging_role_name,
        "apigateway-logs-trust-policy",
        "apigateway-logs-policy",
        values,
        "API Gateway writes DMS access logs to CloudWatch",
    )
    if current != arn:
        patch = [{"op": "replace", "path": "/cloudwatchRoleArn", "value": arn}]
        for attempt in range(1, IAM_PROPAGATION_ATTEMPTS + 1):
            try:
                apigateway.update_account(patchOperations=patch)
                break
            except apigateway.exceptions.BadRequestException:
                # API Gateway checks that it may assume the role, which a role made a moment ago may fail.
                if attempt == IAM_PROPAGATION_ATTEMPTS:
                    raise
                time.sleep(IAM_PROPAGATION_PAUSE_SECONDS)
    log.info("api gateway logging role set role=%s", arn)
    return arn


def create_access_log_group(logs: Any, target: DeployTarget, retention_days: int) -> None:
    """The CloudWatch log group of the stage's access logs, with its retention."""
    if retention_days not in LOG_RETENTION_DAYS:
        raise ConfigurationError(f"Log retention must be one of {LOG_RETENTION_DAYS} days (CloudWatch's).")
    try:
        logs.create_log_group(logGroupName=target.access_log_group, tags={"application": target.project_name})
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    logs.put_retention_policy(logGroupName=target.access_log_group, retentionInDays=retention_days)


def find_rest_api(apigateway: Any, name: str) -> str | None:
    """The id of the REST API zappa made for the function (it names the API after it), or None before."""
    ids = [
        api["id"]
        for page in apigateway.get_paginator("get_rest_apis").paginate()
        for api in page.get("items", [])
        if api["name"] == name
    ]
    if len(ids) > 1:
        raise ConfigurationError(f"{len(ids)} REST APIs are named {name} ({', '.join(ids)}); keep only one.")
    return ids[0] if ids else None


def deployed_api(apigateway: Any, target: DeployTarget) -> str | None:
    """The id of the REST API zappa made for the function if its stage is deployed, else None."""
    api_id = find_rest_api(apigateway, target.function_name)
    if api_id is None:
        return None
    try:
        apigateway.get_stage(restApiId=api_id, stageName=target.stage)
    except apigateway.exceptions.NotFoundException:
        return None
    return api_id


def enable_access_logs(
    apigateway: Any, logs: Any, target: DeployTarget, retention_days: int
) -> dict[str, str]:
    """The stage's access logs to their log group, once zappa has deployed the stage; says whether they are on."""
    create_access_log_group(logs, target, retention_days)
    summary = {"access_log_group": target.access_log_group}
    api_id = deployed_api(apigateway, target)
    if api_id is None:
        log.warning(
            "access logs pending api=%s stage=%s: run this again after zappa deploy",
            target.function_name,
            target.stage,
        )
        return {**summary, "access_logs": "pending: run deploy.aws_setup again after `zappa deploy`"}
    if not apigateway.get_account().get("cloudwatchRoleArn"):
        log.warning("access logs pending: API Gateway has no CloudWatch role in this account and region")
        return {
            **summary,
            "access_logs": "pending: API Gateway needs its CloudWatch role (run without --skip-iam)",
        }
    apigateway.update_stage(
        restApiId=api_id,
        stageName=target.stage,
        patchOperations=[
            {
                "op": "replace",
                "path": "/accessLogSettings/destinationArn",
                "value": target.access_log_group_arn,
            },
            {"op": "replace", "path": "/accessLogSettings/format", "value": ACCESS_LOG_FORMAT},
        ],
    )
    log.info("access logs on api=%s stage=%s group=%s", api_id, target.stage, target.access_log_group)
    return {**summary, "access_logs": "on", "rest_api_id": api_id}


def setup(
    target: DeployTarget,
    settings: Mapping[str, Any],
    session: Any,
    endpoint_url: str | None = None,
    with_iam: bool = True,
    access_log_retention_days: int = ACCESS_LOG_RETENTION_DAYS,
) -> dict[str, Any]:
    """Queues, bucket, (optionally) IAM and access logs for one target; the summary the next deploy steps need."""
    client = lambda name: session.client(name, region_name=target.region, endpoint_url=endpoint_url)  # noqa: E731
    queues = create_queues(
        client("sqs"),
        target.queue_name,
        target.dead_letter_queue_name,
        visibility_timeout=int(settings["SQS_VISIBILITY_TIMEOUT"]),
        longest_task_seconds=float(settings["TASK_TIME_LIMIT"]),
        max_receive_count=int(settings["SQS_MAX_RECEIVE_COUNT"]),
    )
    create_bucket(client("s3"), target.bucket, target.region, target.allowed_origins)
    summary: dict[str, Any] = {
        "stage": target.stage,
        "region": target.region,
        **queues,
        "bucket": target.bucket,
    }
    apigateway = client("apigateway")
    if with_iam:
        summary.update(apply_iam(client("iam"), target, queues["queue_arn"]))
        summary["api_logging_role_arn"] = apply_api_logging_role(client("iam"), apigateway, target)
    summary.update(enable_access_logs(apigateway, client("logs"), target, access_log_retention_days))
    prefix = target.blob_prefix.strip("/")
    summary["environment"] = {
        "DMS_SQS_QUEUE_NAME": target.queue_name,
        "DMS_SQS_DEAD_LETTER_QUEUE_NAME": target.dead_letter_queue_name,
        "DMS_SQS_QUEUE_URL": queues["queue_url"],
        "DMS_AWS_REGION": target.region,
        "DMS_AWS_ACCOUNT_ID": target.account_id,
        "DMS_BLOB_STORE_URL": f"s3://{target.bucket}/{prefix}" if prefix else f"s3://{target.bucket}",
    }
    return summary


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m deploy.aws_setup", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", required=True, help="the zappa stage: dev or production")
    parser.add_argument("--region", required=True)
    parser.add_argument("--bucket", required=True, help="the blob bucket (uploads and result files)")
    parser.add_argument(
        "--deploy-bucket", required=True, help="zappa's s3_bucket (code archive, dms.env.json)"
    )
    parser.add_argument("--blob-prefix", default="", help="a key prefix inside the blob bucket")
    parser.add_argument("--account-id", help="default: the caller's account (STS)")
    parser.add_argument(
        "--origin", action="append", default=[], help="browser origin allowed to POST uploads"
    )
    parser.add_argument("--skip-iam", action="store_true", help="no IAM roles or API Gateway account setting")
    parser.add_argument(
        "--access-log-retention-days",
        type=int,
        default=ACCESS_LOG_RETENTION_DAYS,
        choices=LOG_RETENTION_DAYS,
        metavar="DAYS",
        help=f"how long the API's access logs are kept (default {ACCESS_LOG_RETENTION_DAYS})",
    )
    parser.add_argument("--endpoint-url", help="a stand-in AWS endpoint (moto_server) for trying it out")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the setup and print its summary as JSON."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    args = parse_args(argv)
    session = boto3.Session(region_name=args.region)
    account_id = (
        args.account_id
        or session.client(
            "sts", region_name=args.region, endpoint_url=args.endpoint_url
        ).get_caller_identity()["Account"]
    )
    target = DeployTarget(
        stage=args.stage,
        region=args.region,
        account_id=account_id,
        bucket=args.bucket,
        deploy_bucket=args.deploy_bucket,
        blob_prefix=args.blob_prefix,
        allowed_origins=tuple(args.origin),
    )
    try:
        summary = setup(
            target,
            load_settings(),
            session,
            args.endpoint_url,
            with_iam=not args.skip_iam,
            access_log_retention_days=args.access_log_retention_days,
        )
    except ConfigurationError as exc:
        sys.stderr.write(f"error: {exc.message}\n")
        return 2
    sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
