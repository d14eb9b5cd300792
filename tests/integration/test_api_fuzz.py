"""A bounded schema fuzz of the served OpenAPI document: no input gives a 5xx, and every answer conforms.

Schemathesis generates requests from /api/v1/openapi.json for every operation, both ones the document
allows (positive) and ones it does not (negative: wrong JSON types, missing fields, bad parameters), and
sends them to the app on the real test stack (CouchDB, Redis, SQS, localorg, a worker). Positive requests
sometimes name a real upload or job, so the fuzz reaches past the 404s into previews, suggestions, jobs
and retries. The run is derandomized (the same requests every time) and bounded per operation.
"""

from __future__ import annotations

import io
import time
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import calling_as, wait_for

EXAMPLES_PER_OPERATION = 25
RUN_SECONDS_LIMIT = 120
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
CSV = b"Name,Legacy Id,Amount\nAcme,L-1,12.50\nGlobex,L-2,7\n"


@pytest.fixture(scope="module")
def real_ids(app: Any, worker: str, admin_token: str) -> dict[str, str]:
    """An upload and a finished rehearsal job the generated requests can name, so they get past 404."""
    client = calling_as(app, admin_token)
    upload = client.post(
        "/api/v1/uploads",
        data={"file": (io.BytesIO(CSV), "accounts.csv")},
        content_type="multipart/form-data",
    ).json
    job = client.post(
        "/api/v1/jobs",
        json={"upload_id": upload["id"], "object": "Account", "operation": "insert", "dry_run": True},
    ).json
    wait_for(
        lambda: (
            client.get(f"/api/v1/jobs/{job['id']}").json["state"] not in ("created", "planning", "loading")
        ),
        timeout=90,
        what="the rehearsal to finish",
    )
    return {"upload_id": upload["id"], "job_id": job["id"]}


def _with_real_ids(case: Any, ids: dict[str, str]) -> Any:
    """The positive case naming the real upload, job and an object the org has, wherever it names one."""
    for name, value in {**ids, "object": "Account", "object_name": "Account"}.items():
        if name in (case.path_parameters or {}):
            case.path_parameters[name] = value
        if isinstance(case.body, dict) and name in case.body:
            case.body[name] = value
    return case


def _cases(operation: Any, ids: dict[str, str]) -> st.SearchStrategy[Any]:
    positive = operation.as_strategy(GenerationMode.POSITIVE)
    return st.one_of(
        positive,
        positive.map(lambda case: _with_real_ids(case, ids)),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )


def test_schema_fuzz_finds_no_server_error_and_no_answer_off_the_schema(
    app: Any, real_ids: dict[str, str], admin_token: str
) -> None:
    """Authenticated (as an admin, so that every operation is reached), as the security issue asks."""
    schema = schemathesis.openapi.from_wsgi(
        "/api/v1/openapi.json", app, headers={"Authorization": f"Bearer {admin_token}"}
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    failures: list[str] = []
    answered: set[tuple[str, int]] = set()
    started = time.monotonic()
    for operation in operations:

        @given(case=_cases(operation, real_ids))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any) -> None:
            response = case.call(headers={"Authorization": f"Bearer {admin_token}"})
            answered.add((case.operation.label, response.status_code))
            case.validate_response(response, checks=CHECKS)

        try:
            fuzz()
        # Schemathesis raises its checks' failures as a BaseExceptionGroup; each operation's are reported.
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.label}: {exc}")
    elapsed = time.monotonic() - started
    print(f"fuzz: {len(operations)} operations, {EXAMPLES_PER_OPERATION} cases each, in {elapsed:.1f}s")
    assert not failures, "\n\n".join(failures)
    # The fuzz got past the 404s into real work: jobs created, previews read, mappings suggested.
    for reached in (
        ("POST /api/v1/jobs", 201),
        ("GET /api/v1/uploads/{upload_id}/preview", 200),
        ("POST /api/v1/mappings/suggest", 200),
    ):
        assert reached in answered, sorted(answered)
    assert elapsed < RUN_SECONDS_LIMIT, f"the fuzz took {elapsed:.0f}s; keep it bounded"
