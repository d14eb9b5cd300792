"""prepare(): mapping + transforms + validation of every row against a describe, on literal chunks."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest

from dms.pipeline.prepare.chunk import NULL_MARKER, prepare
from dms.pipeline.prepare.compile import compile_mapping
from dms.pipeline.prepare.options import PrepareOptions
from dms.pipeline.prepare.spec import MappingError
from tests.unit.pipeline.prepare.describes import ACCOUNT, CONTACT


def id18(id15: str) -> str:
    """Reference implementation of Salesforce's 15 -> 18 character Id checksum, written from the docs."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    suffix = ""
    for chunk in range(3):
        bits = sum(1 << i for i, ch in enumerate(id15[chunk * 5 : chunk * 5 + 5]) if "A" <= ch <= "Z")
        suffix += alphabet[bits]
    return id15 + suffix


def chunk(rows: list[int] | None = None, **columns: list[Any]) -> pa.Table:
    length = len(next(iter(columns.values())))
    data = {"__row__": pa.array(rows or list(range(2, 2 + length)), pa.int64())}
    for name, values in columns.items():
        data[name] = values if isinstance(values, pa.Array) else pa.array(values, pa.string())
    return pa.table(data)


def account(operation: str = "insert", *fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    base = [{"target": "Name", "source": "name"}] if operation == "insert" else []
    if operation == "update":
        base = [{"target": "Id", "source": "id"}]
    if operation == "upsert":
        base = [{"target": "Legacy_Id__c", "source": "key"}]
        extra.setdefault("external_id", "Legacy_Id__c")
    return {"object": "Account", "operation": operation, "fields": base + list(fields), **extra}


def errors(result) -> list[tuple]:
    return [(e.row, e.field, e.code) for e in result.errors]


# Valid rows and Bulk 2.0 formatting ----------------------------------------------------------------------


def test_valid_rows_come_out_as_bulk_api_text_with_their_row_numbers() -> None:
    table = chunk(
        rows=[10, 11],
        name=[" Acme ", "Globex"],
        founded=["07/03/2024", "31/12/1999"],
        audit=["2024-03-07T10:00:00+01:00", "2024-03-07 10:00"],
        revenue=["1.234.567,89", "12"],
        active=["Y", "否"],
        tier=["G", "silver"],
        regions=["emea; APAC", "AMER"],
        opens=["9:30", "1:05 PM"],
        score=["12,5", "-999,99"],
    )
    spec = account(
        "insert",
        {"target": "Founded__c", "source": "founded", "format": "%d/%m/%Y"},
        {"target": "Last_Audit__c", "source": "audit"},
        {"target": "AnnualRevenue", "source": "revenue", "decimal": ",", "thousands": "."},
        {"target": "Active__c", "source": "active"},
        {"target": "Tier__c", "source": "tier", "transforms": [{"op": "map", "values": {"G": "Gold"}}]},
        {"target": "Regions__c", "source": "regions"},
        {"target": "Opens_At__c", "source": "opens"},
        {"target": "Score__c", "source": "score", "decimal": ","},
        {"target": "Description", "constant": "Migrated by DMS"},
    )
    result = prepare(table, spec, ACCOUNT, PrepareOptions())
    assert result.errors == [] and result.invalid_rows == 0
    assert result.table.column_names == [
        "__row__",
        "Name",
        "Founded__c",
        "Last_Audit__c",
        "AnnualRevenue",
        "Active__c",
        "Tier__c",
        "Regions__c",
        "Opens_At__c",
        "Score__c",
        "Description",
    ]
    assert all(pa.types.is_string(t) for t in result.table.schema.types[1:])
    assert result.table.to_pylist() == [
        {
            "__row__": 10,
            "Name": " Acme ",
            "Founded__c": "2024-03-07",
            "Last_Audit__c": "2024-03-07T09:00:00.000Z",
            "AnnualRevenue": "1234567.89",
            "Active__c": "true",
            "Tier__c": "Gold",
            "Regions__c": "EMEA;APAC",
            "Opens_At__c": "09:30:00.000Z",
            "Score__c": "12.5",
            "Description": "Migrated by DMS",
        },
        {
            "__row__": 11,
            "Name": "Globex",
            "Founded__c": "1999-12-31",
            "Last_Audit__c": "2024-03-07T10:00:00.000Z",
            "AnnualRevenue": "12",
            "Active__c": "false",
            "Tier__c": "Silver",
            "Regions__c": "AMER",
            "Opens_At__c": "13:05:00.000Z",
            "Score__c": "-999.99",
            "Description": "Migrated by DMS",
        },
    ]


def test_native_excel_types_are_converted() -> None:
    table = chunk(
        name=["A", "B"],
        founded=pa.array([dt.datetime(2024, 3, 7), None], pa.timestamp("ms")),
        revenue=pa.array([1234.5, 1e17]),
        employees=pa.array([12, None], pa.int64()),
        active=pa.array([True, False]),
        serial=pa.array([45358, 45359], pa.int64()),
    )
    spec = account(
        "insert",
        {"target": "Founded__c", "source": "founded"},
        {"target": "AnnualRevenue", "source": "revenue"},
        {"target": "NumberOfEmployees", "source": "employees"},
        {"target": "Active__c", "source": "active"},
        {"target": "Last_Audit__c", "source": "serial"},
    )
    result = prepare(table, spec, ACCOUNT)
    assert result.errors == []
    assert result.table.column("Founded__c").to_pylist() == ["2024-03-07", None]
    assert result.table.column("AnnualRevenue").to_pylist() == ["1234.5", "100000000000000000"]
    assert result.table.column("NumberOfEmployees").to_pylist() == ["12", None]
    assert result.table.column("Active__c").to_pylist() == ["true", "false"]
    assert result.table.column("Last_Audit__c").to_pylist() == [
        "2024-03-07T00:00:00.000Z",
        "2024-03-08T00:00:00.000Z",
    ]


def test_a_table_without_row_numbers_counts_records_from_one() -> None:
    table = pa.table({"name": pa.array(["A", None], pa.string())})
    result = prepare(table, account("insert"), ACCOUNT)
    assert errors(result) == [(2, "Name", "REQUIRED_FIELD_MISSING")]
    assert result.table.column("__row__").to_pylist() == [1]


# One rule at a time: code and message ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "code", "message"),
    [
        (
            {"target": "Founded__c", "format": "%d/%m/%Y"},
            "31/02/2024",
            "INVALID_DATE",
            "'31/02/2024' is not a date in format dd/mm/yyyy (or is outside 1700-4000)",
        ),
        (
            {"target": "Founded__c"},
            "07/03/2024",
            "INVALID_DATE",
            "'07/03/2024' is not a date in a recognised format (yyyy-mm-dd (ISO), yyyy/mm/dd, yyyy年m月d日, yyyymmdd "
            "or an Excel serial number); set the column's date format",
        ),
        (
            {"target": "Last_Audit__c", "format": "%Y-%m-%d %H:%M"},
            "2024-03-07 25:00",
            "INVALID_DATETIME",
            "'2024-03-07 25:00' is not a date and time in format yyyy-mm-dd HH:MM (or is outside 1700-4000)",
        ),
        ({"target": "Opens_At__c"}, "25:61", "INVALID_TIME", "'25:61' is not a time of day (HH:MM[:SS])"),
        (
            {"target": "AnnualRevenue"},
            "1,234",
            "INVALID_NUMBER",
            "'1,234' is not a number (decimal separator '.', no thousands separator)",
        ),
        (
            {"target": "Score__c"},
            "1000",
            "NUMBER_OUTSIDE_VALID_RANGE",
            "'1000' is too large for Score__c (at most 3 digits before the decimal point)",
        ),
        (
            {"target": "NumberOfEmployees"},
            "123456789",
            "NUMBER_OUTSIDE_VALID_RANGE",
            "'123456789' is too large for NumberOfEmployees (at most 8 digits before the decimal point)",
        ),
        (
            {"target": "NumberOfEmployees"},
            "12.5",
            "INVALID_NUMBER",
            "'12.5' is not a whole number, which NumberOfEmployees needs",
        ),
        (
            {"target": "Active__c"},
            "maybe",
            "INVALID_BOOLEAN",
            "'maybe' is not true or false (expected yes/no, true/false, y/n, 1/0, 是/否)",
        ),
        (
            {"target": "Tier__c"},
            "Platinum",
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            "'Platinum' is not an allowed value of Tier__c (Gold, Silver, Bronze)",
        ),
        (
            {"target": "Regions__c"},
            "EMEA;Mars",
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            "'EMEA;Mars' is not an allowed value of Regions__c (EMEA, APAC, AMER)",
        ),
        (
            {"target": "Billing_Email__c"},
            "jane@@example.com",
            "INVALID_EMAIL_ADDRESS",
            "'jane@@example.com' is not a valid email address",
        ),
        ({"target": "Website"}, "not a url", "INVALID_URL", "'not a url' does not look like a web address"),
        (
            {"target": "BillingCity"},
            "x" * 41,
            "STRING_TOO_LONG",
            "BillingCity takes at most 40 characters; this value has 41",
        ),
        (
            {"target": "BillingCity"},
            "😀" * 21,
            "STRING_TOO_LONG",
            "BillingCity takes at most 40 characters; this value has 42",
        ),
        (
            {"target": "ParentId"},
            "001ABC",
            "MALFORMED_ID",
            "'001ABC' is not a Salesforce Id (15 or 18 letters and digits, valid checksum)",
        ),
        (
            {"target": "ParentId"},
            "001000000000001AAB",
            "MALFORMED_ID",
            "'001000000000001AAB' is not a Salesforce Id (15 or 18 letters and digits, valid checksum)",
        ),
        (
            {"target": "ParentId"},
            "003000000000001",
            "FIELD_INTEGRITY_EXCEPTION",
            "'003000000000001' is not the Id of a record of type Account",
        ),
    ],
)
def test_each_rule_rejects_with_code_and_message(field: dict, value: str, code: str, message: str) -> None:
    table = chunk(rows=[7], name=["Acme"], value=[value])
    result = prepare(table, account("insert", {**field, "source": "value"}), ACCOUNT)
    assert [(e.row, e.column, e.field, e.value, e.code, e.message) for e in result.errors] == [
        (7, "value", field["target"], value, code, message)
    ]
    assert result.invalid_rows == 1 and result.table.num_rows == 0


@pytest.mark.parametrize(
    ("target", "value", "expected"),
    [
        ("ParentId", "001000000000001", "001000000000001"),
        ("ParentId", id18("001Aa0000000XyZ"), id18("001Aa0000000XyZ")),
        ("ParentId", id18("001Aa0000000XyZ").lower()[:15] + id18("001Aa0000000XyZ")[15:].lower(), None),
        ("BillingCity", "😀" * 20, "😀" * 20),
        ("Website", "https://example.com/a?b=c", "https://example.com/a?b=c"),
        ("Website", "www.example.co.uk", "www.example.co.uk"),
        ("Billing_Email__c", " jane.o'neil+tag@mail.example.com ", "jane.o'neil+tag@mail.example.com"),
        ("Tier__c", "gold", "Gold"),
        ("Type", "Anything goes", "Anything goes"),  # unrestricted picklist
        ("Regions__c", "EMEA;;apac;", "EMEA;APAC"),
        ("Score__c", "999.999", "999.999"),  # Salesforce rounds extra decimals itself
    ],
)
def test_values_the_org_accepts_pass(target: str, value: str, expected: str | None) -> None:
    result = prepare(
        chunk(name=["Acme"], value=[value]), account("insert", {"target": target, "source": "value"}), ACCOUNT
    )
    if expected is None:  # lower-cased Id body: the checksum no longer matches
        assert [e.code for e in result.errors] == ["MALFORMED_ID"]
        return
    assert result.errors == []
    assert result.table.column(target).to_pylist() == [expected]


def test_url_shape_check_can_be_turned_off() -> None:
    spec = account("insert", {"target": "Website", "source": "value"})
    result = prepare(
        chunk(name=["Acme"], value=["intranet page"]), spec, ACCOUNT, PrepareOptions(check_url_shape=False)
    )
    assert result.errors == []


def test_unmapped_value_with_else_error() -> None:
    spec = account(
        "insert",
        {
            "target": "Tier__c",
            "source": "value",
            "transforms": [{"op": "map", "values": {"G": "Gold"}, "else": "error"}],
        },
    )
    result = prepare(chunk(name=["A", "B"], value=["G", "Q"]), spec, ACCOUNT)
    assert [(e.row, e.code, e.message) for e in result.errors] == [
        (3, "UNMAPPED_VALUE", "'Q' has no entry in the value map for Tier__c")
    ]


# Whole rows ------------------------------------------------------------------------------------------------


def test_a_row_with_several_errors_reports_each_and_counts_once() -> None:
    table = chunk(
        rows=[2, 3, 4],
        name=["Acme", None, "Initech"],
        founded=["2024-03-07", "nope", "2024-01-01"],
        email=["a@example.com", "bad", "c@example.com"],
    )
    spec = account(
        "insert",
        {"target": "Founded__c", "source": "founded"},
        {"target": "Billing_Email__c", "source": "email"},
    )
    result = prepare(table, spec, ACCOUNT)
    assert errors(result) == [
        (3, "Name", "REQUIRED_FIELD_MISSING"),
        (3, "Founded__c", "INVALID_DATE"),
        (3, "Billing_Email__c", "INVALID_EMAIL_ADDRESS"),
    ]
    assert result.errors[0].message == "Account Name (Name) is required"
    assert result.invalid_rows == 1
    assert result.table.column("__row__").to_pylist() == [2, 4]


def test_original_value_is_reported_even_after_transforms() -> None:
    steps = [{"op": "trim"}, {"op": "map", "values": {"G": "Gold"}}]
    spec = account("insert", {"target": "Tier__c", "source": "value", "transforms": steps})
    result = prepare(chunk(name=["Acme"], value=["  Gld "]), spec, ACCOUNT)
    assert result.errors[0].value == "  Gld "
    assert result.errors[0].message.startswith("'Gld' is not an allowed value")


def test_concat_skips_blank_parts_and_reports_joined_columns() -> None:
    spec = account("insert", {"target": "BillingCity", "concat": ["a", "b"], "separator": " - "})
    result = prepare(
        chunk(name=["A", "B", "C"], a=["North", " ", "x" * 30], b=["Side", "Only", "y" * 30]), spec, ACCOUNT
    )
    assert result.table.column("BillingCity").to_pylist() == ["North - Side", "Only"]
    assert [(e.row, e.column, e.code) for e in result.errors] == [(4, "a+b", "STRING_TOO_LONG")]


# Blanks, defaults and operations --------------------------------------------------------------------------


def test_blank_means_null_on_update_writes_the_null_marker() -> None:
    spec = account(
        "update",
        {"target": "BillingCity", "source": "city"},
        {"target": "Active__c", "source": "active"},
        {"target": "Name", "source": "name"},
        blank_means="null",
    )
    table = chunk(
        id=["001000000000001", "001000000000002", "001000000000003"],
        city=["Paris", "  ", None],
        active=[None, "y", None],
        name=["Acme", "Globex", ""],
    )
    result = prepare(table, spec, ACCOUNT)
    assert errors(result) == [(4, "Name", "REQUIRED_FIELD_MISSING")]
    assert result.errors[0].message == "Account Name (Name) is required and cannot be set to blank"
    assert result.table.column("BillingCity").to_pylist() == ["Paris", NULL_MARKER]
    assert result.table.column("Active__c").to_pylist() == [None, "true"]  # booleans are never nulled


def test_blank_means_ignore_leaves_blanks_empty_and_allows_blank_required_on_update() -> None:
    spec = account(
        "update", {"target": "BillingCity", "source": "city"}, {"target": "Name", "source": "name"}
    )
    result = prepare(chunk(id=["001000000000001"], city=[None], name=[" "]), spec, ACCOUNT)
    assert result.errors == []
    assert result.table.to_pylist() == [
        {"__row__": 2, "Id": "001000000000001", "BillingCity": None, "Name": None}
    ]


def test_upsert_allows_blank_required_values_but_not_a_blank_key() -> None:
    spec = account("upsert", {"target": "Name", "source": "name"})
    result = prepare(chunk(key=["K-1", None], name=[None, "Acme"]), spec, ACCOUNT)
    assert errors(result) == [(3, "Legacy_Id__c", "REQUIRED_FIELD_MISSING")]
    assert result.errors[0].message == "the external id Legacy_Id__c is needed to match or create the record"
    assert result.table.column("Legacy_Id__c").to_pylist() == ["K-1"]


def test_insert_with_blank_means_null_needs_no_marker() -> None:
    spec = account("insert", {"target": "BillingCity", "source": "city"}, blank_means="null")
    result = prepare(chunk(name=["Acme"], city=[None]), spec, ACCOUNT)
    assert result.table.column("BillingCity").to_pylist() == [None]


def test_defaults_and_null_tokens() -> None:
    spec = {
        "object": "Account",
        "fields": [
            {"target": "Phone", "source": "phone", "default": "n/a"},
            {"target": "Name", "source": "name", "default": "Unnamed"},
        ],
    }
    table = chunk(name=["NULL", "Acme", None], phone=["", "N/A", "+1 555"])
    result = prepare(table, spec, ACCOUNT, PrepareOptions(null_values=["null", "N/A"]))
    assert result.errors == []
    assert result.table.column("Name").to_pylist() == ["Unnamed", "Acme", "Unnamed"]
    assert result.table.column("Phone").to_pylist() == ["n/a", "n/a", "+1 555"]


def test_update_checks_the_id_and_its_object_prefix() -> None:
    good = id18("001Aa0000000XyZ")
    table = chunk(id=[good, "003000000000001", None, good[:15]])
    result = prepare(table, account("update"), ACCOUNT)
    # Errors come sorted by source row, whatever check found them.
    assert errors(result) == [
        (2, "Id", "DUPLICATE_VALUE"),
        (3, "Id", "MALFORMED_ID"),
        (4, "Id", "REQUIRED_FIELD_MISSING"),
        (5, "Id", "DUPLICATE_VALUE"),
    ]
    assert result.errors[1].message == "'003000000000001' is not the Id of a record of type Account"


def test_duplicate_external_ids_follow_the_field_case_sensitivity() -> None:
    result = prepare(chunk(key=["A-1", "a-1", "B-2"]), account("upsert"), ACCOUNT)
    assert errors(result) == [(2, "Legacy_Id__c", "DUPLICATE_VALUE"), (3, "Legacy_Id__c", "DUPLICATE_VALUE")]
    assert result.errors[0].message == "Legacy_Id__c value 'A-1' appears on more than one row of this file"
    contact = {
        "object": "Contact",
        "operation": "upsert",
        "external_id": "Legacy_Id__c",
        "fields": [{"target": "Legacy_Id__c", "source": "key"}],
    }
    assert prepare(chunk(key=["A-1", "a-1"]), contact, CONTACT).errors == []  # caseSensitive: true


def test_unique_fields_are_checked_on_insert() -> None:
    spec = account("insert", {"target": "Legacy_Id__c", "source": "key"})
    result = prepare(chunk(name=["A", "B", "C"], key=["X", "Y", "x"]), spec, ACCOUNT)
    assert errors(result) == [(2, "Legacy_Id__c", "DUPLICATE_VALUE"), (4, "Legacy_Id__c", "DUPLICATE_VALUE")]


# Lookups ---------------------------------------------------------------------------------------------------


def test_lookups_by_external_id_report_missing_parents() -> None:
    calls: list[tuple[str, str, set[str]]] = []

    def resolve(obj: str, field: str, values: set[str]) -> set[str]:
        calls.append((obj, field, set(values)))
        return {v for v in values if v.startswith("A-")}

    spec = {
        "object": "Contact",
        "operation": "insert",
        "fields": [
            {"target": "LastName", "source": "last"},
            {"target": "Account.Legacy_Id__c", "source": "acct"},
            {"target": "ReportsToId", "source": "boss"},
        ],
    }
    table = chunk(
        last=["Doe", "Roe", None, "Poe"],
        acct=["A-1", "Z-9", "Z-8", " A-1 "],
        boss=[None, None, None, "003000000000001"],
    )
    result = prepare(table, spec, CONTACT, PrepareOptions(resolve_lookups=resolve))
    assert errors(result) == [
        (3, "Account.Legacy_Id__c", "LOOKUP_NOT_FOUND"),
        (4, "LastName", "REQUIRED_FIELD_MISSING"),
        (4, "Account.Legacy_Id__c", "LOOKUP_NOT_FOUND"),
        (5, "ReportsToId", "LOOKUP_NOT_FOUND"),
    ]
    assert result.errors[0].message == "no Account record has Legacy_Id__c 'Z-9'"
    assert calls == [
        ("Account", "Legacy_Id__c", {"A-1", "Z-9", "Z-8"}),
        ("Contact", "Id", {"003000000000001"}),
    ]
    assert result.table.column("Account.Legacy_Id__c").to_pylist() == ["A-1"]


def test_without_a_resolver_lookup_keys_pass_through_as_text() -> None:
    spec = {
        "object": "Contact",
        "fields": [
            {"target": "LastName", "source": "last"},
            {"target": "Account.Legacy_Id__c", "source": "acct"},
        ],
    }
    result = prepare(chunk(last=["Doe"], acct=pa.array([17], pa.int64())), spec, CONTACT)
    assert result.table.column("Account.Legacy_Id__c").to_pylist() == ["17"]


# Mapping problems ------------------------------------------------------------------------------------------


def test_a_broken_mapping_raises_before_any_row_is_checked() -> None:
    with pytest.raises(MappingError) as caught:
        prepare(chunk(name=["Acme"]), account("insert", {"target": "Nope", "source": "name"}), ACCOUNT)
    assert caught.value.problems[0].code == "UNKNOWN_FIELD"


def test_a_compiled_mapping_can_be_reused_across_chunks() -> None:
    compiled = compile_mapping(account("insert"), ACCOUNT, ["name"])
    first = prepare(chunk(rows=[2], name=["A"]), compiled, ACCOUNT)
    second = prepare(chunk(rows=[3], name=["B"]), compiled, ACCOUNT)
    assert first.table.to_pylist() + second.table.to_pylist() == [
        {"__row__": 2, "Name": "A"},
        {"__row__": 3, "Name": "B"},
    ]


def test_errors_are_json_ready() -> None:
    result = prepare(chunk(rows=[9], name=[None]), account("insert"), ACCOUNT)
    assert result.errors[0].to_dict() == {
        "row": 9,
        "column": "name",
        "field": "Name",
        "value": None,
        "code": "REQUIRED_FIELD_MISSING",
        "message": "Account Name (Name) is required",
    }


def test_a_chunk_missing_a_mapped_column_is_refused_by_name() -> None:
    compiled = compile_mapping(
        account("insert", {"target": "BillingCity", "source": "city"}), ACCOUNT, ["name", "city"]
    )
    with pytest.raises(MappingError) as caught:
        prepare(chunk(name=["Acme"]), compiled, ACCOUNT)
    assert [(p.code, p.source) for p in caught.value.problems] == [("UNKNOWN_COLUMN", "city")]


def test_nested_json_values_become_text_for_text_fields() -> None:
    table = pa.table(
        {"__row__": pa.array([1], pa.int64()), "name": pa.array(["Acme"]), "tags": pa.array([["a", "b"]])}
    )
    result = prepare(table, account("insert", {"target": "Description", "source": "tags"}), ACCOUNT)
    assert result.errors == []
    assert result.table.column("Description").to_pylist() == ["['a', 'b']"]


def test_key_prefixes_of_custom_parents_come_from_options_or_parent_describes() -> None:
    custom = {
        "object": "Contact",
        "fields": [{"target": "LastName", "source": "last"}, {"target": "AccountId", "source": "acct"}],
    }
    table = chunk(last=["Doe", "Roe"], acct=["001000000000001", "a0B000000000001"])
    assert [e.code for e in prepare(table, custom, CONTACT).errors] == ["FIELD_INTEGRITY_EXCEPTION"]
    relaxed = PrepareOptions(key_prefixes={"Account": "a0B"})
    assert [e.row for e in prepare(table, custom, CONTACT, relaxed).errors] == [2]


def test_every_row_invalid_still_reports_each_row() -> None:
    values = [f"bad-{i}" for i in range(1000)]
    result = prepare(
        chunk(name=["A"] * 1000, value=values),
        account("insert", {"target": "Founded__c", "source": "value"}),
        ACCOUNT,
    )
    assert result.invalid_rows == 1000 and result.table.num_rows == 0
    assert [e.row for e in result.errors] == list(range(2, 1002))
    assert result.errors[-1].value == "bad-999"
