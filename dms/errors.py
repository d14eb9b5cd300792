"""The domain's one base error, with a stable `code` the API maps to JSON once, and Text, the sentences errors say."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Translate = Callable[[str], str]  # a msgid to the reader's language (gettext); English is the msgid itself


class Text:
    """A sentence a person reads: an English msgid with named `%(name)s` placeholders and their values.

    It stays English (`str()`) for logs, job documents and the CLI, and is rendered in a reader's language only
    where a request's answer is made (`render(gettext)`). `make translations` extracts every `Text("...")`.
    A value that is itself a Text (a fragment such as "an array") is translated with the sentence.
    """

    __slots__ = ("msgid", "params")

    def __init__(self, msgid: str, **params: Any) -> None:
        self.msgid = msgid
        self.params = params

    def render(self, translate: Translate = str) -> str:
        """The sentence in the language `translate` gives; English when its translation cannot be filled in."""
        params = {k: _rendered(v, translate) for k, v in self.params.items()}
        try:
            return translate(self.msgid) % params
        except (KeyError, ValueError, TypeError):
            return self.msgid % params  # a translation with a mistyped placeholder: say it in English

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"Text({self.msgid!r}, **{self.params!r})"


def _rendered(value: Any, translate: Translate) -> Any:
    # An error given as a value ("... has %(exc)s") says its own sentence in the same language.
    if isinstance(value, DMSError):
        value = value.text
    elif isinstance(value, BaseException) and value.args and isinstance(value.args[0], Text):
        value = value.args[0]
    return value.render(translate) if isinstance(value, Text) else value


def text_to_json(value: Any) -> Any:
    """A Text (or an error's) as JSON a document can keep, so a page can say it later in its reader's language."""
    if isinstance(value, DMSError):
        value = value.text
    if isinstance(value, Text):
        return {"msgid": value.msgid, "params": {k: text_to_json(v) for k, v in value.params.items()}}
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


def text_from_json(value: Any) -> Any:
    """The Text text_to_json kept (a plain value as it is)."""
    if isinstance(value, dict) and set(value) == {"msgid", "params"}:
        return Text(str(value["msgid"]), **{k: text_from_json(v) for k, v in dict(value["params"]).items()})
    return value


def render_text(value: Any, translate: Translate = str) -> Any:
    """A Text in the reader's language; anything else (a plain str, None) as it is."""
    return value.render(translate) if isinstance(value, Text) else value


class DMSError(Exception):
    """Base of every error DMS reports to a person: a stable code, a message, and where it happened."""

    code = "DMS_ERROR"
    http_status = 400

    def __init__(
        self, message: str | Text, *, code: str | None = None, http_status: int | None = None, **where: Any
    ):
        super().__init__(str(message))
        self.message = str(message)  # English, stable: logs, job documents, the CLI
        self.text = message  # what to_dict renders in the reader's language
        if code:
            self.code = code
        if http_status:
            self.http_status = http_status
        self.where = {k: v for k, v in where.items() if v is not None}

    def to_dict(self, translate: Translate = str) -> dict[str, Any]:
        """The JSON error body: code, message (in `translate`'s language), and where (file, row...) when known."""
        body: dict[str, Any] = {"code": self.code, "message": render_text(self.text, translate)}
        if self.where:
            body["where"] = self.where
        return body


class ConfigurationError(DMSError):
    """A setting is missing or malformed."""

    code = "CONFIGURATION_ERROR"
    http_status = 500


class NotFound(DMSError):
    """The thing asked for does not exist."""

    code = "NOT_FOUND"
    http_status = 404


class Conflict(DMSError):
    """The request conflicts with the current state (e.g. a document revision)."""

    code = "CONFLICT"
    http_status = 409


class ServiceUnavailable(DMSError):
    """A service DMS depends on did not answer."""

    code = "SERVICE_UNAVAILABLE"
    http_status = 503


class InvalidRequest(DMSError):
    """A request field is missing, of the wrong JSON type, or out of range; `where.field` names it."""

    code = "INVALID_REQUEST"
    http_status = 400


# The JSON type names a person reads in an error, for the Python types json.loads makes.
_JSON_TYPE_NAMES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer"}


def json_type_name(value: Any) -> str:
    """The JSON name of a decoded value's type (`object`, `array`, `number`...), for error messages."""
    if value is None:
        return "null"
    return next((name for kind, name in _JSON_TYPE_NAMES.items() if type(value) is kind), "number")


# The same names as sentences' fragments, for a reader of another language (JSON's own words stay the msgids).
_JSON_TYPE_TEXTS = {
    "null": Text("null"),
    "object": Text("object"),
    "array": Text("array"),
    "string": Text("string"),
    "boolean": Text("boolean"),
    "integer": Text("integer"),
    "number": Text("number"),
}


def typed_field(
    value: Any,
    kind: type | tuple[type, ...],
    field: str,
    what: str | Text,
    *,
    error: type[DMSError] = InvalidRequest,
) -> Any:
    """A request field of the JSON type it must have (None when absent), or a 400 naming the field.

    JSON's true and false decode to bool, a subclass of int: they pass as a number only when bool is asked for.
    """
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if value is None:
        return None
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        kind_name = _JSON_TYPE_TEXTS[json_type_name(value)]
        raise error(
            Text("`%(field)s` must be %(what)s, not %(kind)s.", field=field, what=what, kind=kind_name),
            field=field,
        )
    return value
