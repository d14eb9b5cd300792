"""Settings: config_dev defaults, DMS_* environment cast once, secrets from the environment only."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dms.errors import ConfigurationError
from dms.pipeline.context import PipelineSettings
from dms.settings import load_settings, redacted
from factories.celery_instance import celery_settings


def test_environment_overrides_are_cast_to_the_default_type() -> None:
    settings = load_settings(
        environ={
            "DMS_SQS_VISIBILITY_TIMEOUT": "7200",
            "DMS_SQS_CREATE_QUEUES": "no",
            "DMS_SQS_POLLING_INTERVAL": "0.5",
            "DMS_REDIS_URL": "redis://x:1/2",
        }
    )
    assert settings["SQS_VISIBILITY_TIMEOUT"] == 7200
    assert settings["SQS_CREATE_QUEUES"] is False
    assert settings["SQS_POLLING_INTERVAL"] == 0.5
    assert settings["REDIS_URL"] == "redis://x:1/2"


def test_a_malformed_value_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="DMS_SQS_VISIBILITY_TIMEOUT"):
        load_settings(environ={"DMS_SQS_VISIBILITY_TIMEOUT": "an hour"})
    with pytest.raises(ConfigurationError, match="DMS_SQS_CREATE_QUEUES"):
        load_settings(environ={"DMS_SQS_CREATE_QUEUES": "maybe"})


def test_secrets_come_only_from_the_environment_and_are_redacted() -> None:
    assert load_settings(environ={})["CREDENTIALS_KEY"] is None
    settings = load_settings(environ={"DMS_SALESFORCE_PASSWORD": "hunter2"})
    assert settings["SALESFORCE_PASSWORD"] == "hunter2"
    shown = redacted(settings)
    assert shown["SALESFORCE_PASSWORD"] == "***"
    assert "hunter2" not in repr(shown)


def test_overrides_win_over_the_environment() -> None:
    settings = load_settings(
        environ={"DMS_REDIS_URL": "redis://env"}, overrides={"REDIS_URL": "redis://override"}
    )
    assert settings["REDIS_URL"] == "redis://override"


def test_celery_holder_imports_no_flask_and_no_factory() -> None:
    code = "import sys, celery_holder; print(sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'factories')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_worker_module_prints_the_customers_flags() -> None:
    code = "import worker; print(worker.celery.conf.task_acks_late, worker.celery.conf.worker_enable_remote_control)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "True False"


def test_the_planners_chunk_lease_follows_the_limits_that_take_effect() -> None:
    # A short visibility timeout caps every limit, whatever TASK_SOFT_TIME_LIMIT says (3000 s by default).
    settings = load_settings(environ={"DMS_SQS_VISIBILITY_TIMEOUT": "60"})
    pipeline = PipelineSettings.from_settings(settings)
    celery = celery_settings(settings)
    assert celery["task_time_limit"] <= 54 and celery["task_soft_time_limit"] < celery["task_time_limit"]
    assert pipeline.task_soft_time_limit == celery["task_soft_time_limit"]
    # A planner that dies holding a chunk stalls it for a quarter of a task's effective time, not 750 s.
    assert pipeline.planner_lease_seconds == celery["task_soft_time_limit"] / 4 < 15
