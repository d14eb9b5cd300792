"""dms.errors.Text: an error's message is English wherever no reader is named (logs, job documents, the CLI,
a worker), and in a reader's language only where an answer is rendered for them."""

from __future__ import annotations

import json
import logging

import pytest

from dms.errors import DMSError, InvalidRequest, Text, typed_field
from dms.pipeline.prepare.spec import MappingError, MappingProblem

CHINESE = {
    "`%(field)s` must be %(what)s, not %(kind)s.": "`%(field)s` 必须是%(what)s，而不是%(kind)s。",
    "a string": "字符串",
    "array": "数组",
    "Upload %(upload_id)s is not complete yet.": "上传 %(upload_id)s 尚未完成。",
}


def chinese(msgid: str) -> str:
    return CHINESE.get(msgid, msgid)


def test_an_error_is_english_for_logs_and_its_body_follows_the_reader(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(InvalidRequest) as raised:
        typed_field(["x"], str, "upload_id", Text("a string"))
    error = raised.value
    assert str(error) == error.message == "`upload_id` must be a string, not array."
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("refused error=%s", error)
    assert "must be a string, not array." in caplog.text
    assert error.to_dict() == {
        "code": "INVALID_REQUEST",
        "message": "`upload_id` must be a string, not array.",
        "where": {"field": "upload_id"},
    }
    body = error.to_dict(chinese)
    assert body == {**error.to_dict(), "message": "`upload_id` 必须是字符串，而不是数组。"}
    assert json.loads(json.dumps(body)) == body  # plain JSON: nothing lazy is left in it


def test_a_translation_with_a_broken_placeholder_falls_back_to_english() -> None:
    text = Text("Upload %(upload_id)s is not complete yet.", upload_id="upl-1")
    assert text.render(lambda msgid: "上传 %(uploadid)s 尚未完成。") == "Upload upl-1 is not complete yet."
    assert text.render(chinese) == "上传 upl-1 尚未完成。"


def test_a_literal_percent_and_a_plain_message_stay_as_they_were() -> None:
    assert str(Text("format %(pattern)s ends with a lone '%%'", pattern="'%d/%'")) == (
        "format '%d/%' ends with a lone '%'"
    )
    assert DMSError("Plain English, as before.").to_dict(chinese)["message"] == "Plain English, as before."


def test_an_error_given_as_a_value_is_said_in_the_same_language() -> None:
    inner = DMSError(Text("Upload %(upload_id)s is not complete yet.", upload_id="upl-2"))
    outer = Text("`%(field)s` must be %(what)s, not %(kind)s.", field="f", what=inner, kind=Text("array"))
    assert str(outer) == "`f` must be Upload upl-2 is not complete yet., not array."
    assert outer.render(chinese) == "`f` 必须是上传 upl-2 尚未完成。，而不是数组。"


def test_a_mapping_error_lists_its_problems_in_the_readers_language() -> None:
    problem = MappingProblem(
        "error",
        "X",
        "Upload u is not complete yet.",
        text=Text("Upload %(upload_id)s is not complete yet.", upload_id="u"),
    )
    error = MappingError([problem])
    assert error.message == "Upload u is not complete yet."
    assert problem.to_dict() == {"severity": "error", "code": "X", "message": "Upload u is not complete yet."}
    body = error.to_dict(chinese)
    assert body["message"] == "上传 u 尚未完成。" and body["problems"][0]["message"] == "上传 u 尚未完成。"
    assert set(body) == {"code", "message", "problems"}


def test_outside_a_request_flask_babel_leaves_the_message_english() -> None:
    from flask_babel import gettext

    from factories.flask_instance import create_app

    app = create_app({"TESTING": True})
    with app.app_context():  # a worker's context: no request, so no reader's language
        assert Text("a string").render(gettext) == "a string"
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert Text("a string").render(gettext) == "字符串"


def test_a_text_kept_as_json_says_the_same_again_nested_values_too() -> None:
    from dms.errors import NotFound, text_from_json, text_to_json

    fragment = Text("a string")
    error = NotFound(Text("`%(field)s` must be %(what)s, not %(kind)s.", field="name", what=fragment, kind=3))
    kept = json.loads(json.dumps(text_to_json(error)))  # as a job document holds it
    again = text_from_json(kept)
    assert isinstance(again, Text) and str(again) == error.message == "`name` must be a string, not 3."
    catalog = {"a string": "字符串", again.msgid: "`%(field)s` 必须是%(what)s，而不是 %(kind)s。"}
    assert again.render(lambda msgid: catalog.get(msgid, msgid)) == "`name` 必须是字符串，而不是 3。"
    assert text_from_json("plain") == "plain" and text_to_json(None) is None
