"""What the mapping editor reads to build value maps and try rules: a column's distinct values over the whole
file, the picklist's values with their labels, and a live sample of field rules by the pipeline's prepare."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import calling_as
from tests.integration.pipeline_helpers import upload
from tests.integration.test_security import new_user

LEGACY = "name;tier;active;founded\n" + "".join(
    f"Firm {n};{'GSB'[n % 3]};{'JN'[n % 2]};{(n % 28) + 1:02d}.03.2001\n" for n in range(3000)
)


def legacy_upload(client: Any, tmp_path: Path) -> str:
    path = tmp_path / "legacy.csv"
    path.write_text(LEGACY + "Firm X;;vielleicht;31.02.2001\n", encoding="utf-8")
    return upload(client, path)


def test_a_columns_distinct_values_are_counted_over_the_whole_file(client: Any, tmp_path: Path) -> None:
    upload_id = legacy_upload(client, tmp_path)
    answer = client.get(f"/api/v1/uploads/{upload_id}/columns/tier/values?delimiter=semicolon")
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert body["values"] == [
        {"value": "B", "count": 1000},
        {"value": "G", "count": 1000},
        {"value": "S", "count": 1000},
    ]
    assert (body["rows_read"], body["blank"], body["complete"], body["capped"]) == (3001, 1, True, False)
    limited = client.get(f"/api/v1/uploads/{upload_id}/columns/name/values?limit=2").json
    assert len(limited["values"]) == 2 and limited["truncated"] and limited["distinct"] == 3001


def test_column_values_say_what_is_wrong_and_where(client: Any, app: Any, tmp_path: Path) -> None:
    upload_id = legacy_upload(client, tmp_path)
    missing = client.get(f"/api/v1/uploads/{upload_id}/columns/tiers/values")
    assert missing.status_code == 404
    assert missing.json["error"]["code"] == "UNKNOWN_COLUMN" and "'tier'" in missing.json["error"]["message"]
    for query in ("limit=0", "limit=abc", "limit=1001"):
        bad = client.get(f"/api/v1/uploads/{upload_id}/columns/tier/values?{query}")
        assert bad.status_code == 400 and bad.json["error"]["where"]["field"] == "limit"
    bad_delimiter = client.get(f"/api/v1/uploads/{upload_id}/columns/tier/values?delimiter=%22")
    assert bad_delimiter.status_code == 400 and bad_delimiter.json["error"]["where"]["field"] == "delimiter"
    someone_else = calling_as(app, new_user("operator")[2])
    assert someone_else.get(f"/api/v1/uploads/{upload_id}/columns/tier/values").status_code == 404


def test_an_objects_picklists_come_with_their_labels_and_booleans_with_the_tokens_read(client: Any) -> None:
    fields = {f["name"]: f for f in client.get("/api/v1/objects/Account").json["fields"]}
    tier = fields["Tier__c"]
    assert tier["picklistValues"] == ["Gold", "Silver", "Bronze"] and tier["restrictedPicklist"]
    assert [e["value"] for e in tier["picklistEntries"]] == ["Gold", "Silver", "Bronze"]
    assert {"value", "label", "default"} <= set(tier["picklistEntries"][0])
    assert "是" in fields["Employees_Verified__c"]["booleanTokens"]["true"]


def test_a_field_rule_is_sampled_on_the_files_first_rows(client: Any, tmp_path: Path) -> None:
    upload_id = legacy_upload(client, tmp_path)
    body = {
        "upload_id": upload_id,
        "object": "Account",
        "read_options": {"delimiter": ";"},
        "rows": 3,
        "field": {
            "target": "Tier__c",
            "source": "tier",
            "transforms": [{"op": "map", "values": {"G": "Gold", "S": "Silver"}, "else": "error"}],
        },
    }
    answer = client.post("/api/v1/mappings/preview", json=body)
    assert answer.status_code == 200, answer.json
    rows = answer.json["rows"]
    assert [r["row"] for r in rows] == [1, 2, 3]  # data rows, counted from the first under the header
    assert [(r["values"]["tier"], r["fields"]["Tier__c"]["value"]) for r in rows] == [
        ("G", "Gold"),
        ("S", "Silver"),
        ("B", None),
    ]
    assert rows[2]["fields"]["Tier__c"]["errors"][0]["code"] == "UNMAPPED_VALUE"
    assert answer.json["fields"][0]["invalid"] == 1

    flags = {
        **body,
        "field": {
            "target": "Employees_Verified__c",
            "source": "active",
            "true_values": ["J"],
            "false_values": ["N"],
        },
    }
    sampled = client.post("/api/v1/mappings/preview", json=flags).json
    assert [r["fields"]["Employees_Verified__c"]["value"] for r in sampled["rows"]] == [
        "true",
        "false",
        "true",
    ]

    # A whole mapping too: the dates' format is inferred from the head as a job's plan infers it.
    mapping = {
        "fields": [{"target": "Name", "source": "name"}, {"target": "Founded__c", "source": "founded"}]
    }
    whole = client.post("/api/v1/mappings/preview", json={**body, "field": None, "mapping": mapping}).json
    assert [r["fields"]["Founded__c"]["value"] for r in whole["rows"]] == [
        "2001-03-01",
        "2001-03-02",
        "2001-03-03",
    ]


def test_a_sample_request_that_cannot_be_served_says_which_field(client: Any, tmp_path: Path) -> None:
    upload_id = legacy_upload(client, tmp_path)
    base = {"upload_id": upload_id, "object": "Account"}
    cases = [
        ({**base, "rows": 0}, "rows"),
        ({**base, "rows": "3"}, "rows"),
        ({**base, "field": "Name"}, "field"),
        ({**base, "field": {"target": "Name", "source": "name"}, "mapping": {"fields": []}}, "field"),
        ({**base, "mapping": {"fields": "Name"}}, None),
        ({"object": "Account"}, "upload_id"),
    ]
    for request, field in cases:
        answer = client.post("/api/v1/mappings/preview", json=request)
        if field is None:  # a mapping of the wrong shape is sampled as far as it goes, its problems said
            assert answer.status_code == 200 and answer.json["problems"], answer.json
            continue
        assert answer.status_code == 400, (request, answer.json)
        assert answer.json["error"]["where"]["field"] == field
    unknown = client.post("/api/v1/mappings/preview", json={**base, "object": "Acount"})
    assert unknown.status_code == 422 and "Account" in unknown.json["error"]["message"]


def test_a_chinese_export_is_auto_mapped_by_the_suggestion(client: Any, tmp_path: Path) -> None:
    path = tmp_path / "客户.csv"
    path.write_text(
        "公司名称,电话,城市,行业,网站\n北京科技有限公司,010-1234,北京,Technology,https://bj.example\n"
    )
    answer = client.post(
        "/api/v1/mappings/suggest", json={"upload_id": upload(client, path), "object": "Account"}
    )
    assert answer.status_code == 200, answer.json
    assert answer.json["mapping"]["fields"] == [
        {"target": "Name", "source": "公司名称"},
        {"target": "Phone", "source": "电话"},
        {"target": "BillingCity", "source": "城市"},
        {"target": "Industry", "source": "行业"},
        {"target": "Website", "source": "网站"},
    ]
