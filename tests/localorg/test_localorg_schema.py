"""Schema files, import-describe (rehearsal against a real org's metadata), persistence, reset, ids."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from localorg.builtin_schema import build_schema
from localorg.ids import make_ids, to_18
from localorg.schema import SchemaError
from localorg.testing import LocalOrgHandle, running_localorg


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "localorg", *args], capture_output=True, text=True)


def test_ids_have_salesforce_checksums() -> None:
    assert to_18("001A0000006Vm9r") == "001A0000006Vm9rIAC"
    assert to_18("001A0000006Vm9rIAD") is None
    assert to_18("001A0000006Vm9riac") == "001A0000006Vm9rIAC"
    assert to_18("short") is None
    ids = make_ids("a00", 3840, 10)
    assert all(to_18(i[:15]) == i and i.startswith("a00") for i in ids)
    assert len(set(ids)) == 10


def test_imported_describe_is_enforced_like_the_real_org(sf: Any, tmp_path: Path) -> None:
    describe = sf.Account.describe()
    for fld in describe["fields"]:
        if fld["name"] == "Phone":
            fld["nillable"] = False  # the "real" org requires a phone
        if fld["name"] == "Industry":
            fld["restrictedPicklist"] = True
            fld["picklistValues"] = [
                {
                    "value": "Banking",
                    "label": "Banking",
                    "active": True,
                    "defaultValue": False,
                    "validFor": None,
                }
            ]
    describe["fields"].append(
        {
            **describe["fields"][3],
            "name": "Region__c",
            "label": "Region",
            "type": "string",
            "length": 5,
            "custom": True,
            "nillable": True,
            "createable": True,
            "updateable": True,
            "picklistValues": [],
            "restrictedPicklist": False,
        }
    )
    saved = tmp_path / "Account.describe.json"
    saved.write_text(json.dumps(describe))
    db = tmp_path / "rehearsal.db"
    imported = _cli("import-describe", str(saved), "--db", str(db))
    assert imported.returncode == 0, imported.stderr
    with running_localorg(db=str(db), workdir=str(tmp_path / "run1")) as handle:
        rehearsal = handle.salesforce()
        with pytest.raises(SalesforceMalformedRequest) as missing:
            rehearsal.Account.create({"Name": "No phone"})
        assert missing.value.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
        assert missing.value.content[0]["fields"] == ["Phone"]
        with pytest.raises(SalesforceMalformedRequest) as picklist:
            rehearsal.Account.create({"Name": "A", "Phone": "1", "Industry": "Retail"})
        assert picklist.value.content[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
        with pytest.raises(SalesforceMalformedRequest) as too_long:
            rehearsal.Account.create({"Name": "A", "Phone": "1", "Region__c": "EMEA-NORTH"})
        assert too_long.value.content[0]["errorCode"] == "STRING_TOO_LONG"
        kept = rehearsal.Account.create(
            {"Name": "A", "Phone": "1", "Industry": "Banking", "Region__c": "EMEA"}
        )
        fields = {f["name"]: f for f in rehearsal.Account.describe()["fields"]}
        assert fields["Region__c"]["length"] == 5 and fields["Phone"]["nillable"] is False
    # The database keeps records and the imported rules across restarts.
    with running_localorg(db=str(db), workdir=str(tmp_path / "run2")) as handle:
        again = handle.salesforce()
        assert again.Account.get(kept["id"])["Region__c"] == "EMEA"
        with pytest.raises(SalesforceMalformedRequest):
            again.Account.create({"Name": "Still no phone"})
    assert _cli("reset", "--db", str(db)).returncode == 0
    with running_localorg(db=str(db), workdir=str(tmp_path / "run3")) as handle:
        assert handle.salesforce().query("SELECT COUNT() FROM Account")["totalSize"] == 0


def test_import_describe_can_write_a_schema_file(sf: Any, tmp_path: Path) -> None:
    saved = tmp_path / "Lead.json"
    saved.write_text(json.dumps(sf.Lead.describe()))
    schema_file = tmp_path / "schema.json"
    assert _cli("import-describe", str(saved), "--schema-out", str(schema_file)).returncode == 0
    assert json.loads(schema_file.read_text())["describes"][0]["name"] == "Lead"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"name": "Lead"}))
    failed = _cli("import-describe", str(broken), "--schema-out", str(tmp_path / "x.json"))
    assert failed.returncode == 2 and "describe" in failed.stderr


def test_schema_file_adds_custom_objects_and_fields(tmp_path: Path) -> None:
    schema = tmp_path / "schema.yaml"
    schema.write_text(
        "objects:\n"
        "  Project__c:\n"
        "    label: Project\n"
        "    fields:\n"
        "      - {name: Account__c, type: reference, referenceTo: Account, relationshipName: Account__r}\n"
        "      - {name: Budget__c, type: currency, precision: 10, scale: 2, required: true}\n"
        "      - {name: Code__c, type: string, length: 10, externalId: true, unique: true}\n"
        "  Contact:\n"
        "    fields:\n"
        "      - {name: Shoe_Size__c, type: double, precision: 3, scale: 1}\n"
    )
    with running_localorg(schema=str(schema), workdir=str(tmp_path / "run")) as handle:
        sf = handle.salesforce()
        describe = sf.Project__c.describe()
        assert describe["keyPrefix"].startswith("a0") and describe["custom"] is True
        account = sf.Account.create({"Name": "Client"})
        project = sf.Project__c.create(
            {"Name": "P1", "Account__c": account["id"], "Budget__c": 99.5, "Code__c": "P-1"}
        )
        assert project["id"].startswith(describe["keyPrefix"])
        rows = sf.query("SELECT Name, Account__r.Name, Budget__c FROM Project__c")["records"]
        assert rows[0]["Account__r"]["Name"] == "Client" and rows[0]["Budget__c"] == 99.5
        with pytest.raises(SalesforceMalformedRequest) as missing:
            sf.Project__c.create({"Name": "P2"})
        assert missing.value.content[0]["fields"] == ["Budget__c"]
        assert sf.Contact.create({"LastName": "Big", "Shoe_Size__c": 45.5})["success"] is True


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"objects": {"Widget": {}}}, "must be custom"),
        ({"objects": {"Account": {"fields": [{"name": "X__c", "type": "galaxy"}]}}}, "unknown field type"),
        (
            {"objects": {"Account": {"fields": [{"name": "Bad Name", "type": "string"}]}}},
            "not a valid API name",
        ),
        ({"objects": {"Account": {"fields": [{"name": "R__c", "type": "reference"}]}}}, "referenceTo"),
        ({"things": {}}, "unknown top-level keys"),
    ],
)
def test_bad_schema_documents_say_what_and_where(document: dict[str, Any], message: str) -> None:
    with pytest.raises(SchemaError) as bad:
        build_schema([(document, "my-schema.yaml")])
    assert message in str(bad.value) and "my-schema.yaml" in str(bad.value)


def test_serve_refuses_a_broken_schema_file(tmp_path: Path) -> None:
    schema = tmp_path / "broken.yaml"
    schema.write_text("objects: [unclosed\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "localorg",
            "serve",
            "--port",
            "0",
            "--db",
            ":memory:",
            "--cert-dir",
            str(tmp_path / "certs"),
            "--schema",
            str(schema),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "cannot parse" in result.stderr


def test_reset_endpoint_keeps_the_schema(org: LocalOrgHandle, sf: Any) -> None:
    sf.Account.create({"Name": "Temporary"})
    org.reset()
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0
    assert sf.Account.create({"Name": "After reset", "Legacy_Id__c": "X"})["success"] is True
