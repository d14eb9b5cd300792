"""Settings: config_dev defaults, DMS_* environment cast once, secrets from the environment only."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dms.errors import ConfigurationError
from dms.settings import load_settings, redacted


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
