"""Suggestions for an object the org does not have."""

from __future__ import annotations

from dms.pipeline.context import closest, unknown_object


def test_a_misspelt_object_name_suggests_only_the_nearest_names() -> None:
    assert closest("acount", ["account", "contact", "accountteammember"]) == ["account"]
    assert closest("zzz", ["account", "contact"]) == []


def test_the_unknown_object_error_names_the_field_and_the_suggestions() -> None:
    error = unknown_object("Acount", ["Account", "Contact", "Lead"])
    assert error.http_status == 422 and error.code == "INVALID_TYPE"
    assert "Did you mean Account?" in error.message
    assert error.where == {"field": "target.object", "suggestions": ["Account"]}
