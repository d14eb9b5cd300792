"""The browser UI: pages render, their scripts call API routes that exist, and the wizard's calls load a file."""

from __future__ import annotations

import io
import json
import re
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound

from dms.pipeline.prepare.date_formats import check_date_format
from dms.security.bootstrap import create_user
from dms.settings import load_settings
from tests.conftest import calling_as
from tests.integration.pipeline_helpers import org_client, result_rows, wait_job

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((ROOT / "static" / "js").glob("*.js"))
# api("GET", `/objects/${name}?connection_id=...`) and postForm("/api/v1/uploads", ...) in static/js.
API_CALL = re.compile(r"""\bapi\(\s*"(GET|POST|PUT|DELETE)",\s*[`"]([^`"]+)[`"]""")
FORM_POST = re.compile(r"""\bpostForm\(\s*"(/api/v1/[^"]+)\"""")


def api_calls_in_scripts() -> list[tuple[str, str]]:
    """(method, path) of every API call the scripts make, with `${...}` parts filled by a sample id."""
    calls = []
    for script in SCRIPTS:
        text = script.read_text(encoding="utf-8")
        found = [(m, p) for m, p in API_CALL.findall(text)] + [("POST", p) for p in FORM_POST.findall(text)]
        for method, path in found:
            path = re.sub(r"\$\{[^}]*\}", "sample-1", path).split("?")[0]
            calls.append((method, path if path.startswith("/api/") else "/api/v1" + path))
    return calls


def test_start_page_renders_every_wizard_step_and_its_script(client: Any, app: Any) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for step in ("step-upload", "step-preview", "step-target", "step-mapping", "step-run"):
        assert f'id="{step}"' in html
    # Where the scripts' uploads switch to presigned (static/js/api.js reads it from every page).
    limit = app.config["MAX_INLINE_UPLOAD_BYTES"]
    assert f'<meta name="dms-inline-upload-limit" content="{limit}">' in html
    assert 'src="/static/js/wizard.js"' in html and 'href="/static/dms.css"' in html
    assert html.count("data-job-panel") == 2  # the rehearsal and the load
    assert 'href="/jobs"' in html and 'href="/status"' in html  # the client is an admin: the status page


def test_static_assets_are_served_with_their_types(client: Any) -> None:
    for name, kind in [("dms.css", "text/css")] + [(f"js/{s.name}", "javascript") for s in SCRIPTS]:
        response = client.get(f"/static/{name}")
        assert response.status_code == 200, name
        assert kind in response.content_type, (name, response.content_type)
        response.close()


def test_every_api_call_in_the_scripts_names_a_real_route(app: Any) -> None:
    calls = api_calls_in_scripts()
    called = {path.split("/")[3] for _, path in calls}
    assert {"uploads", "connections", "objects", "mappings", "templates", "jobs"} <= called
    adapter = app.url_map.bind("localhost")
    for method, path in calls:
        try:
            endpoint, _ = adapter.match(path, method=method)
        except (NotFound, MethodNotAllowed):
            pytest.fail(f"{method} {path} (from static/js) is not an API route")
        assert endpoint.startswith("api."), (method, path, endpoint)


def test_pages_forbid_inline_and_foreign_scripts(client: Any) -> None:
    for path in ("/", "/jobs", "/connections", "/account"):
        response = client.get(path)
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        # Every <script> either loads from this origin or is inert JSON data.
        for tag in re.findall(r"<script\b[^>]*>", response.get_data(as_text=True)):
            assert 'src="/static/' in tag or 'type="application/json"' in tag, tag


def test_the_date_format_input_offers_and_explains_both_pattern_styles() -> None:
    wizard = (ROOT / "static" / "js" / "wizard.js").read_text(encoding="utf-8")
    offered = json.loads(re.search(r"const DATE_FORMATS = (\[.*?\]);", wizard, re.S).group(1))
    assert "dd/MM/yyyy" in offered and "yyyy-MM-dd'T'HH:mm:ss.SSSZ" in offered
    for fmt in offered:
        check_date_format(fmt)  # every format the input offers is one the server accepts
    hint = re.search(r"const DATE_FORMAT_HINT = N_\(\"([^\"]+)\"\)", wizard).group(1)
    assert "%d/%m/%Y" in hint and "dd/MM/yyyy" in hint
    assert "title: t(DATE_FORMAT_HINT)" in wizard


def test_template_names_in_any_script_are_saved_listed_loaded_and_used(client: Any) -> None:
    mapping = {"fields": [{"target": "Name", "source": "公司名称"}]}
    saved = {}
    # Names that differ only in their non-ASCII letters are different templates.
    for name in ("中文客户导出", "中文客户导入", "Müller Export", "Møller Export"):
        response = client.put(f"/api/v1/templates/Account/{quote(name, safe='')}", json={"mapping": mapping})
        assert response.status_code == 200, response.json
        assert response.json["name"] == name and response.json["id"].isascii()  # the document id is encoded
        saved[name] = response.json["id"]
    assert len(set(saved.values())) == 4
    listed = {t["name"] for t in client.get("/api/v1/templates?object=Account").json["templates"]}
    assert set(saved) <= listed
    path = f"/api/v1/templates/Account/{quote('中文客户导出', safe='')}"
    assert client.get(path).json["mapping"] == mapping
    again = client.put(path, json={"mapping": {"fields": []}}).json
    assert again["id"] == saved["中文客户导出"]  # the same name is the same template
    assert client.delete(path).status_code == 204
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("name", ["a\\b", "tab\there", "bell\x07", "\u202eevil"])
def test_template_names_with_path_or_control_characters_are_refused(client: Any, name: str) -> None:
    response = client.put(
        f"/api/v1/templates/Account/{quote(name, safe='')}", json={"mapping": {"fields": []}}
    )
    assert response.status_code == 400, response.json
    assert response.json["error"]["code"] == "INVALID_TEMPLATE"


CHINESE = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}


def test_a_chinese_browser_gets_the_page_in_chinese(client: Any) -> None:
    html = client.get("/", environ_base=CHINESE).get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert "新建加载" in html and "选择文件" in html and "New load" not in html
    words = json.loads(
        re.search(r'<script type="application/json" id="dms-words">(.*?)</script>', html).group(1)
    )
    assert words["states"]["completed_with_errors"] == "已完成（有错误）"  # Python's lazy labels, resolved
    scripts = json.loads(
        re.search(r'<script type="application/json" id="dms-messages">(.*?)</script>', html).group(1)
    )
    assert scripts["Could not cancel"] == "无法取消"  # the scripts' catalog, for the page's locale
    english = client.get("/", environ_base={"HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.8"}).get_data(as_text=True)
    assert '<html lang="en">' in english and "New load" in english
    assert '<script type="application/json" id="dms-messages">{}</script>' in english


def test_the_language_switch_sticks_in_a_cookie_over_the_browsers_language(client: Any) -> None:
    switched = client.get("/jobs?lang=zh-CN", environ_base={"HTTP_ACCEPT_LANGUAGE": "en"})
    assert switched.status_code == 302 and switched.location == "/jobs"  # the parameter does not linger
    assert "dms_locale=zh_CN" in switched.headers["Set-Cookie"]
    page = client.get("/jobs", environ_base={"HTTP_ACCEPT_LANGUAGE": "en"})
    assert '<html lang="zh-CN">' in page.get_data(as_text=True)
    assert "Accept-Language" in page.headers["Vary"] and "Cookie" in page.headers["Vary"]
    back = client.get("/jobs?lang=en")
    assert "dms_locale=en" in back.headers["Set-Cookie"]
    assert '<html lang="en">' in client.get("/jobs", environ_base=CHINESE).get_data(as_text=True)
    client.delete_cookie("dms_locale")


def test_an_unknown_page_is_a_page_in_the_readers_language(client: Any) -> None:
    response = client.get("/no/such/page", environ_base=CHINESE, headers={"Accept": "text/html"})
    assert response.status_code == 404 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html and "未找到" in html and "/no/such/page" in html
    api = client.get("/api/v1/no-such-route")
    assert api.status_code == 404 and api.json["error"]["code"] == "NOT_FOUND"  # the API still answers JSON


@pytest.mark.parametrize(
    "job_id", ["job-20990101T000000000000Z-abcdef", "not-a-job", "job-<img src=x onerror=alert(1)>"]
)
def test_job_page_for_an_unknown_or_malformed_id_is_a_readable_404(client: Any, job_id: str) -> None:
    response = client.get(f"/jobs/{job_id}")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "There is no job" in html
    assert "<img" not in html  # the id is echoed escaped, never as markup


ACCOUNT_COLUMNS = ["Legacy Id", "Account Name", "Tier", "Founded", "Credit Limit"]


def _accounts_file(prefix: str) -> bytes:
    """Four good rows and one with a tier the restricted picklist refuses; day-first dates, decimal commas."""
    lines = [";".join(ACCOUNT_COLUMNS)]
    for n, tier in enumerate(["Gold", "Silver", "Bronze", "Gold"], start=1):
        lines.append(f"{prefix}-{n};Company {n};{tier};{n + 12}/03/1999;1.{n}00,25")
    lines.append(f"{prefix}-bad;Bad Tier Inc;Platinum;20/04/2001;2,00")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _apply_profiles_like_the_wizard(spec: dict[str, Any], preview: dict[str, Any], describe: dict[str, Any]):
    """What wizard.js applyProfile() does: fill inferred date formats and decimal commas where unambiguous."""
    profiles = {c["name"]: c for c in preview["columns"]}
    types = {f["name"]: f["type"] for f in describe["fields"]}
    for entry in spec["fields"]:
        profile = profiles.get(entry.get("source"))
        kind = types.get(entry["target"])
        if not profile or profile.get("ambiguous"):
            continue
        if kind in ("date", "datetime") and profile.get("format"):
            entry.setdefault("format", profile["format"])
        if kind in ("double", "currency", "percent", "int") and profile.get("decimal") not in (None, "."):
            entry.setdefault("decimal", profile["decimal"])
            entry.setdefault("thousands", profile.get("thousands"))
    return spec


def test_the_wizards_calls_in_order_rehearse_run_and_retry_a_load(
    client: Any, worker: str, localorg: Any
) -> None:
    prefix = uuid.uuid4().hex[:8]
    # 1. Upload, as postForm() sends it.
    uploaded = client.post(
        "/api/v1/uploads",
        data={"file": (io.BytesIO(_accounts_file(prefix)), "legacy accounts.csv")},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 201, uploaded.json
    upload_id = uploaded.json["id"]

    # 2. Preview with detection, then with the delimiter the person confirmed.
    preview = client.get(f"/api/v1/uploads/{upload_id}/preview").json
    assert (preview["format"], preview["delimiter"]) == ("csv", ";")
    preview = client.get(f"/api/v1/uploads/{upload_id}/preview?delimiter=semicolon").json
    assert [c["name"] for c in preview["columns"]] == ACCOUNT_COLUMNS
    read_options = {k: preview[k] for k in ("format", "encoding", "delimiter") if preview[k]}

    # 3. Target: connection, object, operation, external id (only External ID fields are offered).
    connections = client.get("/api/v1/connections").json["connections"]
    connection_id = connections[0]["id"]
    objects = client.get(f"/api/v1/objects?connection_id={connection_id}").json["objects"]
    assert "Account" in {o["name"] for o in objects}
    describe = client.get(f"/api/v1/objects/Account?connection_id={connection_id}").json
    external_ids = [f["name"] for f in describe["fields"] if f["externalId"]]
    assert "Legacy_Id__c" in external_ids
    target = {
        "connection_id": connection_id,
        "object": "Account",
        "operation": "upsert",
        "external_id": "Legacy_Id__c",
    }

    # 4. Suggested mapping, inferred formats applied, saved and loaded back as a template.
    suggestion = client.post(
        "/api/v1/mappings/suggest", json={"upload_id": upload_id, "read_options": read_options, **target}
    ).json
    mapping = _apply_profiles_like_the_wizard(suggestion["mapping"], preview, describe)
    by_target = {e["target"]: e for e in mapping["fields"]}
    assert by_target["Legacy_Id__c"]["source"] == "Legacy Id"
    assert by_target["Name"]["source"] == "Account Name"
    assert by_target["Founded__c"]["format"] == "%d/%m/%Y"
    assert by_target["Credit_Limit__c"]["decimal"] == ","
    assert not [p for p in suggestion["problems"] if p["severity"] == "error"], suggestion["problems"]
    template_name = f"ui test {prefix}"
    saved = client.put(f"/api/v1/templates/Account/{template_name}", json={"mapping": mapping})
    assert saved.status_code == 200, saved.json
    listed = client.get("/api/v1/templates?object=Account").json["templates"]
    assert template_name in {t["name"] for t in listed}
    mapping = client.get(f"/api/v1/templates/Account/{template_name}").json["mapping"]

    job_request = {"upload_id": upload_id, **target, "mapping": mapping, "read_options": read_options}

    # 5. Rehearse: counters, an API-call estimate, the bad row in errors.csv, nothing written.
    created = client.post("/api/v1/jobs", json={**job_request, "dry_run": True})
    assert created.status_code == 201, created.json
    rehearsal = wait_job(client, created.json["id"])
    assert rehearsal["state"] == "completed_with_errors", rehearsal
    assert rehearsal["counters"]["invalid"] == 1 and rehearsal["estimated_api_calls"] >= 1
    assert [r["Legacy Id"] for r in result_rows(client, rehearsal["id"], "errors.csv")] == [f"{prefix}-bad"]
    sf = org_client(localorg)
    assert sf.query(f"SELECT COUNT() FROM Account WHERE Legacy_Id__c LIKE '{prefix}-%'")["totalSize"] == 0

    # Run, then the job page the wizard links to shows the outcome and the downloads.
    created = client.post("/api/v1/jobs", json={**job_request, "dry_run": False})
    assert created.status_code == 201, created.json
    job = wait_job(client, created.json["id"])
    assert job["state"] == "completed_with_errors", job
    assert (job["counters"]["succeeded"], job["counters"]["invalid"]) == (4, 1)
    soql = (
        f"SELECT Legacy_Id__c, Founded__c, Credit_Limit__c FROM Account WHERE Legacy_Id__c LIKE '{prefix}-%'"
    )
    second = {r["Legacy_Id__c"]: r for r in sf.query_all_iter(soql)}[f"{prefix}-2"]
    assert (second["Founded__c"], second["Credit_Limit__c"]) == ("1999-03-14", 1200.25)
    page = client.get(f"/jobs/{job['id']}").get_data(as_text=True)
    assert "Completed with errors" in page
    assert f'href="/api/v1/jobs/{job["id"]}/results/success.csv"' in page
    assert f'href="/api/v1/jobs/{job["id"]}/results/errors.csv"' in page
    assert 'data-job-action="retry"' in page and 'src="/static/js/job.js"' in page
    assert len(result_rows(client, job["id"], "success.csv")) == 4

    # 6. Retry the failed row: a new job that says where it came from, listed with the others.
    retried = client.post(f"/api/v1/jobs/{job['id']}/retry", json={})
    assert retried.status_code == 201, retried.json
    retry = wait_job(client, retried.json["id"])
    assert retry["retry_of"] == job["id"] and retry["counters"]["total"] == 1
    assert f'href="/jobs/{job["id"]}"' in client.get(f"/jobs/{retry['id']}").get_data(as_text=True)
    jobs_page = client.get("/jobs").get_data(as_text=True)
    assert 'src="/static/js/jobs.js"' in jobs_page
    for listed_id in (rehearsal["id"], job["id"], retry["id"]):
        assert f'href="/jobs/{listed_id}"' in jobs_page


def test_a_presigned_upload_as_the_wizard_sends_it_previews_like_an_inline_one(client: Any) -> None:
    content = b"Last Name,Email\nDoe,jane@example.com\n"
    grant = client.post("/api/v1/uploads/presign", json={"filename": "big.csv", "size": len(content)}).json
    form = {**grant["fields"], grant["file_field"]: (io.BytesIO(content), "big.csv")}
    sent = client.post(grant["url"], data=form, content_type="multipart/form-data")
    assert sent.status_code == 204, sent.data
    record = client.post(grant["complete_url"], json={"token": grant["token"]}).json
    assert (record["state"], record["size"]) == ("ready", len(content))
    preview = client.get(f"/api/v1/uploads/{record['id']}/preview").json
    assert [c["name"] for c in preview["columns"]] == ["Last Name", "Email"]


def test_api_errors_reach_the_page_as_code_and_message(client: Any) -> None:
    # api.js shows error.message and error.code; every failure the wizard can meet must carry both.
    for response in (
        client.get("/api/v1/uploads/upl-nope-000000/preview"),
        client.post("/api/v1/jobs", json={"object": "Account"}),
        client.post("/api/v1/uploads", data={}, content_type="multipart/form-data"),
    ):
        assert response.status_code >= 400
        error = response.json["error"]
        assert error["code"] and error["message"], error


def test_the_account_page_lists_my_tokens_and_offers_roles_up_to_mine(client: Any, app: Any) -> None:
    created = client.post("/api/v1/tokens", json={"name": f"page-{uuid.uuid4().hex[:6]}", "role": "viewer"})
    assert created.status_code == 201
    page = client.get("/account")
    html = page.get_data(as_text=True)
    assert (
        page.status_code == 200
        and created.json["token"]["id"] in html
        and created.json["token"]["name"] in html
    )
    assert created.json["secret"] not in html  # shown once, in the creation's answer only
    assert 'src="/static/js/account.js"' in html and '<option value="admin"' in html
    # A viewer is offered a viewer token only.
    _, viewer_token = create_user(
        f"v-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex, "viewer", True, load_settings()
    )
    assert viewer_token is not None
    viewer_page = calling_as(app, viewer_token).get("/account").get_data(as_text=True)
    assert '<option value="viewer"' in viewer_page and '<option value="operator"' not in viewer_page
    assert created.json["token"]["id"] not in viewer_page  # someone else's tokens are not listed


def test_the_orgs_page_lists_connections_and_names_the_callback_url(client: Any, localorg: Any) -> None:
    spec = {
        "name": f"page-org-{uuid.uuid4().hex[:6]}",
        "login_url": localorg.base_url,
        "flow": "client_credentials",
        "client_id": localorg.client_id,
        "client_secret": localorg.client_secret,
    }
    created = client.post("/api/v1/connections", json=spec)
    assert created.status_code == 201, created.json
    html = client.get("/connections").get_data(as_text=True)
    assert f'data-connection-id="{created.json["id"]}"' in html and spec["name"] in html
    assert 'data-connection-id="default"' in html
    assert "http://localhost/connections/callback" in html and localorg.client_secret not in html
    assert 'src="/static/js/connections.js"' in html
