"""jsforce, the Node Salesforce client, unmodified against localorg: identity, userinfo, query paging, Bulk 2.0
ingest and query, and the OAuth web server flow with PKCE, refresh and revoke (tests/localorg/clients/)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from localorg.testing import LocalOrgHandle

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).parent / "clients" / "jsforce_client.mjs"
CALLBACK = "http://localhost:1717/OauthRedirect"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(
    NODE is None, reason="node is not installed; the jsforce tests run a Node script"
)


def _run(org: LocalOrgHandle, mode: str, **env: str) -> dict[str, Any]:
    """Run the script in one mode against the org; its last stdout line is JSON."""
    if not (ROOT / "node_modules" / "jsforce" / "package.json").exists():
        pytest.fail("jsforce is not installed: `make node_modules/.installed` (npm ci) installs package.json")
    child_env = {
        **os.environ,
        "NODE_EXTRA_CA_CERTS": org.ca_path,
        "LOCALORG_URL": org.base_url,
        "LOCALORG_CLIENT_ID": org.client_id,
        "LOCALORG_CALLBACK": CALLBACK,
        **env,
    }
    assert NODE is not None
    done = subprocess.run(
        [NODE, str(SCRIPT), mode], env=child_env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"jsforce_client.mjs {mode} failed:\n{done.stderr[-4000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _ok(result: Any) -> Any:
    assert not (isinstance(result, dict) and "error" in result), f"jsforce step failed: {result}"
    return result


@pytest.fixture(scope="module")
def jsforce_api(localorg: LocalOrgHandle) -> dict[str, Any]:
    """One run of the script's API steps on an emptied org, logged in from a bare access token."""
    localorg.reset()
    localorg.clear_faults()
    token, _ = localorg.login()
    return _run(localorg, "api", LOCALORG_TOKEN=token)


def test_jsforce_identity_follows_the_resources_identity_url(
    jsforce_api: dict[str, Any], localorg: LocalOrgHandle
) -> None:
    identity = _ok(jsforce_api["identity"])
    assert identity["username"] == localorg.username
    assert identity["id"] == f"{localorg.base_url}/id/{identity['organization_id']}/{identity['user_id']}"
    assert identity["organization_id"].startswith("00D") and identity["user_id"].startswith("005")


def test_jsforce_reads_userinfo(jsforce_api: dict[str, Any], localorg: LocalOrgHandle) -> None:
    userinfo = _ok(jsforce_api["userinfo"])
    assert userinfo == {"sub": jsforce_api["identity"]["id"], "preferred_username": localorg.username}


def test_jsforce_bulk2_ingest_reports_every_row(jsforce_api: dict[str, Any]) -> None:
    ingest = _ok(jsforce_api["bulkIngest"])
    assert (ingest["successful"], ingest["unprocessed"]) == (2500, 0)
    assert [failure["legacy"] for failure in ingest["failed"]] == ["JS-bad"]
    assert ingest["failed"][0]["error"].startswith("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST:")
    assert ingest["firstId"].startswith("001")


def test_jsforce_query_auto_fetch_returns_every_record(jsforce_api: dict[str, Any]) -> None:
    query = _ok(jsforce_api["queryAutoFetch"])
    assert query == {"totalSize": 2500, "done": True, "count": 2500, "distinct": 2500}


def test_jsforce_query_more_follows_pages_of_the_batch_size(jsforce_api: dict[str, Any]) -> None:
    assert _ok(jsforce_api["queryMore"]) == {"totalSize": 2500, "pages": [1000, 1000, 500]}


def test_jsforce_bulk2_query_returns_every_record(jsforce_api: dict[str, Any]) -> None:
    result = jsforce_api["bulkQuery"]
    if isinstance(result, dict) and result.get("error", {}).get("errorCode") == "NOT_FOUND":
        pytest.xfail("needs /jobs/query")  # Bulk 2.0 query jobs are being added to localorg separately
    assert _ok(result) == {"count": 2500, "distinct": 2500}


def test_jsforce_web_server_flow_with_pkce_refresh_and_revoke(org: LocalOrgHandle) -> None:
    start = _run(org, "authorize-url")
    assert "code_challenge=" in start["url"]
    code = parse_qs(urlsplit(org.approve_authorization(start["url"])).query)["code"][0]
    flow = _run(org, "exchange", LOCALORG_CODE=code, LOCALORG_VERIFIER=start["verifier"])
    authorized = _ok(flow["authorize"])
    assert authorized["hasRefreshToken"] is True
    assert authorized["organizationId"].startswith("00D")
    assert _ok(flow["refreshed"]) == {"totalSize": 0, "refreshed": True}
    assert _ok(flow["identity"]) == org.username
    assert _ok(flow["logout"]) == {"afterLogout": "INVALID_SESSION_ID"}


def test_jsforce_code_exchange_with_another_verifier_is_refused(org: LocalOrgHandle) -> None:
    start = _run(org, "authorize-url")
    code = parse_qs(urlsplit(org.approve_authorization(start["url"])).query)["code"][0]
    flow = _run(org, "exchange", LOCALORG_CODE=code, LOCALORG_VERIFIER="x" * 64)
    assert flow["authorize"]["error"]["name"] == "invalid_grant"
    assert flow["authorize"]["error"]["message"] == "invalid code verifier"
