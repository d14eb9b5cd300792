"""Auto-mapping by name and label, the auto-mapped spec, and inferred formats filled into a spec."""

from __future__ import annotations

from typing import Any

import pytest

from dms.pipeline.prepare.automap import apply_profiles, auto_map, new_mapping, normalize_name
from dms.pipeline.prepare.compile import check_mapping
from dms.pipeline.prepare.infer import ColumnProfile
from dms.pipeline.prepare.synonyms import field_synonyms
from tests.unit.pipeline.prepare.describes import ACCOUNT, CONTACT, field


def codes(problems, severity: str = "error") -> list[str]:
    return [p.code for p in problems if p.severity == severity]


def spec(operation: str = "insert", *fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"object": "Account", "operation": operation, "fields": list(fields), **extra}


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Billing City", "BillingCity"),
        ("legacy id", "Legacy_Id__c"),
        ("Région Code", "region_code__c"),
        ("E-Mail", "email"),
        ("  NAME ", "Name"),
    ],
)
def test_normalize_name_ignores_case_spaces_punctuation_accents_and_suffix(left: str, right: str) -> None:
    assert normalize_name(left) == normalize_name(right)


def test_auto_map_by_api_name_and_label() -> None:
    columns = [
        "Billing City",
        "legacy id",
        "Account Name",
        "TIER",
        "Région Code",
        "website",
        "nothing",
        "__row__",
    ]
    fields = auto_map(columns, ACCOUNT, "insert")
    assert fields == [
        {"target": "BillingCity", "source": "Billing City"},
        {"target": "Legacy_Id__c", "source": "legacy id"},
        {"target": "Name", "source": "Account Name"},
        {"target": "Tier__c", "source": "TIER"},
        {"target": "Region_Code__c", "source": "Région Code"},
        {"target": "Website", "source": "website"},
    ]


def test_auto_map_skips_fields_the_operation_cannot_write_and_takes_each_target_once() -> None:
    fields = auto_map(["Id", "Created Date", "Rating Formula", "Name", "name"], ACCOUNT, "insert")
    assert fields == [{"target": "Name", "source": "Name"}]
    assert {"target": "Id", "source": "Id"} in auto_map(["Id"], ACCOUNT, "update")
    assert auto_map(["Région Code"], ACCOUNT, "update") == []  # createable only


def test_auto_map_takes_relationship_headers() -> None:
    assert auto_map(["Account.Legacy_Id__c", "Last Name"], CONTACT, "insert") == [
        {"target": "Account.Legacy_Id__c", "source": "Account.Legacy_Id__c"},
        {"target": "LastName", "source": "Last Name"},
    ]


@pytest.mark.parametrize(
    ("header", "target"),
    [
        ("公司名称", "Name"),
        ("客户名称", "Name"),
        ("电话", "Phone"),
        ("网站", "Website"),
        ("城市", "BillingCity"),
        ("Firma", "Name"),
        ("Telefon", "Phone"),
        ("Straße", "BillingStreet"),
        ("Société", "Name"),
        ("Téléphone", "Phone"),
        ("Nombre de la cuenta", "Name"),
        ("País", "BillingCountry"),
        ("取引先名", "Name"),
        ("業種", "Industry"),
        ("従業員数", "NumberOfEmployees"),
    ],
)
def test_auto_map_knows_headers_written_in_other_languages(header: str, target: str) -> None:
    assert auto_map([header], ACCOUNT, "insert") == [{"target": target, "source": header}]


LEAD = {
    "name": "Lead",
    "fields": [
        field("LastName", "Last Name", "string", length=80, nillable=False),
        field("Company", "Company", "string", length=255, nillable=False),
        field("Phone", "Phone", "phone", length=40),
        field("Email", "Email", "email", length=80),
        field("City", "City", "string", length=40),
    ],
}


def test_synonyms_follow_the_object_and_never_override_a_name_or_label() -> None:
    assert auto_map(["Firma", "电话", "邮箱", "城市"], LEAD, "insert") == [
        {"target": "Company", "source": "Firma"},
        {"target": "Phone", "source": "电话"},
        {"target": "Email", "source": "邮箱"},
        {"target": "City", "source": "城市"},
    ]
    contact = {**CONTACT, "fields": [*CONTACT["fields"], field("MailingCity", "Mailing City", "string")]}
    assert auto_map(["Vorname", "Nachname", "城市"], contact, "insert") == [
        {"target": "FirstName", "source": "Vorname"},
        {"target": "LastName", "source": "Nachname"},
        {"target": "MailingCity", "source": "城市"},
    ]
    # A header that is an API name keeps its field, and the synonym's field is then taken only once.
    assert auto_map(["Name", "公司名称"], ACCOUNT, "insert") == [{"target": "Name", "source": "Name"}]


def test_auto_map_matches_labels_of_an_org_in_another_language() -> None:
    translated = {
        **ACCOUNT,
        "fields": [
            {
                **f,
                "label": {"Name": "客户名", "Phone": "客户电话", "Legacy_Id__c": "旧系统编号"}.get(
                    f["name"], f["label"]
                ),
            }
            for f in ACCOUNT["fields"]
        ],
    }
    assert auto_map(["客户名", "客户电话", "旧系统编号"], translated, "insert") == [
        {"target": "Name", "source": "客户名"},
        {"target": "Phone", "source": "客户电话"},
        {"target": "Legacy_Id__c", "source": "旧系统编号"},
    ]


def test_new_mapping_is_a_valid_editable_spec() -> None:
    mapping = new_mapping(
        "Account", "upsert", ["Account Name", "Legacy ID"], ACCOUNT, external_id="Legacy_Id__c"
    )
    assert mapping["external_id"] == "Legacy_Id__c"
    assert codes(check_mapping(mapping, ACCOUNT, ["Account Name", "Legacy ID"])) == []


def test_apply_profiles_fills_inferred_formats_only_where_unset() -> None:
    profiles = {
        "founded": ColumnProfile(name="founded", kind="date", format="%d/%m/%Y"),
        "rev": {"kind": "number", "decimal": ",", "thousands": "."},
        "when": ColumnProfile(name="when", kind="date", format="%d/%m/%Y", ambiguous=True),
    }
    filled = apply_profiles(
        spec(
            "insert",
            {"target": "Founded__c", "source": "founded"},
            {"target": "AnnualRevenue", "source": "rev"},
            {"target": "Last_Audit__c", "source": "founded", "format": "%Y"},
        ),
        profiles,
    )
    assert filled["fields"][0]["format"] == "%d/%m/%Y"
    assert (filled["fields"][1]["decimal"], filled["fields"][1]["thousands"]) == (",", ".")
    assert filled["fields"][2]["format"] == "%Y"
    guess = apply_profiles(spec("insert", {"target": "Founded__c", "source": "when"}), profiles)
    assert "format" not in guess["fields"][0]


OPPORTUNITY = {
    "name": "Opportunity",
    "fields": [
        field("Name", "Name", "string", length=120, nillable=False),
        field("Amount", "Amount", "currency", precision=18, scale=2),
        field("StageName", "Stage", "picklist", length=255, nillable=False),
        field("CloseDate", "Close Date", "date", nillable=False),
    ],
}
INVOICE = {"name": "Invoice__c", "fields": [field("Name", "Invoice Name", "string", length=80)]}


@pytest.mark.parametrize(
    ("describe", "header", "target"),
    [
        (ACCOUNT, "名称", "Name"),
        (ACCOUNT, "公司名称", "Name"),
        (ACCOUNT, "电话", "Phone"),
        (ACCOUNT, "固定电话", "Phone"),
        (ACCOUNT, "城市", "BillingCity"),
        (ACCOUNT, "行业", "Industry"),
        (ACCOUNT, "所属行业", "Industry"),
        (ACCOUNT, "网站", "Website"),
        (ACCOUNT, "类型", "Type"),
        (CONTACT, "邮箱", "Email"),
        (CONTACT, "电子邮件", "Email"),
        (CONTACT, "电子邮箱", "Email"),
        (CONTACT, "姓", "LastName"),
        (CONTACT, "名", "FirstName"),
        (OPPORTUNITY, "名称", "Name"),
        (OPPORTUNITY, "金额", "Amount"),
        (OPPORTUNITY, "成交金额", "Amount"),
        (OPPORTUNITY, "阶段", "StageName"),
        (OPPORTUNITY, "结束日期", "CloseDate"),
        (INVOICE, "名称", "Name"),
        (LEAD, "公司名称", "Company"),
        (LEAD, "城市", "City"),
    ],
)
def test_common_simplified_chinese_headers_map_to_their_fields(
    describe: dict[str, Any], header: str, target: str
) -> None:
    assert auto_map([header], describe, "insert") == [{"target": target, "source": header}]


def test_a_whole_chinese_export_maps_column_by_column() -> None:
    # An Account has no Email field: 邮箱 is left for the person to map.
    columns = ["公司名称", "电话", "邮箱", "城市", "行业", "网站", "备注"]
    assert auto_map(columns, ACCOUNT, "insert") == [
        {"target": "Name", "source": "公司名称"},
        {"target": "Phone", "source": "电话"},
        {"target": "BillingCity", "source": "城市"},
        {"target": "Industry", "source": "行业"},
        {"target": "Website", "source": "网站"},
        {"target": "Description", "source": "备注"},
    ]


def test_a_persons_name_is_never_the_target_of_the_name_synonym() -> None:
    person = {
        **CONTACT,
        "fields": [*CONTACT["fields"], field("Name", "Full Name", "string", createable=False)],
    }
    assert auto_map(["名称"], person, "insert") == []


def test_an_objects_own_words_for_a_field_come_with_the_common_ones() -> None:
    words = field_synonyms("Account")["Name"]
    assert words[0] == "公司名称" and "名称" in words
    assert field_synonyms("Invoice__c")["Name"] == ("名称",)
