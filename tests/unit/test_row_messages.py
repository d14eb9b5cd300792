"""dms.row_messages: a row's error is stored in English, and a page's answer says it again in the reader's
language with the same values; a message no template made passes through as stored."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pyarrow as pa
import pytest
from flask_babel import gettext

from dms.errors import Text
from dms.pipeline.prepare.date_formats import AUTO_LABEL
from dms.pipeline.prepare.rejections import quote
from dms.pipeline.prepare.transforms import apply_transform
from dms.row_messages import (
    NO_REASON_RECORDED,
    NOT_A_DATE_IN_RANGE,
    NOT_IN_PICKLIST,
    PARENT_NOT_LOADED,
    RECOGNISED_DATE_FORMATS,
    REQUIRED_ON_CREATE,
    registered,
    translate_row_message,
)


@pytest.fixture(scope="module")
def chinese() -> Iterator[None]:
    from factories.flask_instance import create_app

    app = create_app({"TESTING": True})
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        yield


def _sample_values(msgid: str) -> dict[str, str]:
    # Distinct values that hold no template's words, as a cell's quoted text or a field's name would be.
    names = dict.fromkeys(re.findall(r"%\((\w+)\)s", msgid))
    return {name: f"'v{position}_{name}'" for position, name in enumerate(names)}


@pytest.mark.parametrize("template", registered(), ids=lambda t: t.msgid[:60])
def test_every_template_round_trips_with_its_values(template, chinese) -> None:
    values = _sample_values(template.msgid)
    english = template(**values)
    assert template.match(english) == values
    said = translate_row_message(english, gettext)
    assert said == Text(template.msgid, **values).render(gettext)
    assert said != english, "every row message has a Chinese translation"
    for value in values.values():
        assert value in said
    assert translate_row_message(english, str) == english  # English stays byte for byte


def test_the_issues_messages_in_chinese(chinese) -> None:
    picklist = NOT_IN_PICKLIST(value=quote("Platinum"), field="Tier__c", allowed="Gold, Silver, Bronze")
    assert picklist == "'Platinum' is not an allowed value of Tier__c (Gold, Silver, Bronze)"
    assert (
        translate_row_message(picklist, gettext) == "'Platinum' 不是 Tier__c 允许的值（Gold, Silver, Bronze）"
    )
    # The longer template wins over "... in format %(format)s", whose placeholder could swallow the rest.
    date = NOT_A_DATE_IN_RANGE(value=quote("31/02/2001"), format="dd/mm/yyyy")
    assert date == "'31/02/2001' is not a date in format dd/mm/yyyy (or is outside 1700-4000)"
    assert translate_row_message(date, gettext) == (
        "'31/02/2001' 不是格式为 dd/mm/yyyy 的日期（或超出 1700-4000 年范围）"
    )
    required = REQUIRED_ON_CREATE(field="Name", object="Account", external_id="Legacy_Id__c", key="K-1051")
    assert required == (
        "Name is required: no Account has Legacy_Id__c 'K-1051' yet, so this row creates one."
    )
    assert translate_row_message(required, gettext) == (
        "Name 为必填项：还没有 Legacy_Id__c 为 'K-1051' 的 Account，因此这一行会新建一条记录。"
    )


def test_values_that_are_sentences_are_said_in_the_same_language(chinese) -> None:
    blank = quote(None)
    assert blank == "(blank)"
    assert translate_row_message(NOT_A_DATE_IN_RANGE(value=blank, format="yyyy-mm-dd"), gettext).startswith(
        "（空）"
    )
    reason = REQUIRED_ON_CREATE(field="Name", object="Account", external_id="Key__c", key="A1")
    parent = PARENT_NOT_LOADED(
        target="AccountId", row=4, step="accounts", key="Key__c", value="'A1'", reason=reason
    )
    said = translate_row_message(parent, gettext)
    assert said.startswith("AccountId：其父记录（步骤 accounts 的第 4 行，Key__c 为 'A1'）未加载：")
    assert said.endswith("Name 为必填项：还没有 Key__c 为 'A1' 的 Account，因此这一行会新建一条记录。")
    no_reason = PARENT_NOT_LOADED(
        target="AccountId", row=4, step="accounts", key="Key__c", value="'A1'", reason=NO_REASON_RECORDED()
    )
    assert translate_row_message(no_reason, gettext).endswith("未加载：未记录原因")
    assert AUTO_LABEL == RECOGNISED_DATE_FORMATS.msgid


def test_a_builders_message_is_the_english_it_was_and_translates(chinese) -> None:
    _, rejected = apply_transform(pa.array(["1,5", "x"]), {"op": "number", "decimal": ","}, target="Amount")
    assert rejected is not None
    english = rejected.message("x")
    assert english == "'x' is not a number (decimal separator ',', no thousands separator)"
    assert translate_row_message(english, gettext) == "'x' 不是数字（小数点为 ','，无千位分隔符）"


def test_a_message_no_template_made_passes_through(chinese) -> None:
    for message in (
        "Required fields are missing: [Name]",  # Salesforce's own
        "'x' is not a valid email address, or so they say",
        "",
    ):
        assert translate_row_message(message, gettext) == message
