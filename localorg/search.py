"""A basic SOSL: `search?q=FIND {term} IN ... FIELDS RETURNING Obj(fields WHERE ... LIMIT n)` and
`parameterizedSearch`, answered by running one SOQL query per returned object."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from flask import Blueprint, Response, request

from localorg.errors import SalesforceError
from localorg.query import QueryRunner
from localorg.rest_io import json_response, org
from localorg.schema import Field, Schema, SObjectType
from localorg.soql import Token, tokenize

MAX_SEARCH_RESULTS = 2000
_SEARCHED_TYPES = {"string", "email", "phone", "url", "textarea", "combobox"}
# SOSL clauses Salesforce has and localorg does not.
_UNSUPPORTED = {"WITH", "USING", "UPDATE", "TYPEOF", "TO", "SNIPPET", "DIVISION", "NETWORK", "METADATA"}

search_api = Blueprint("search_api", __name__, url_prefix="/services/data/v<version>")


class SearchScope(StrEnum):
    """Which fields a search looks in: `IN ALL FIELDS`, `IN NAME FIELDS`, ..."""

    ALL = "ALL"
    NAME = "NAME"
    EMAIL = "EMAIL"
    PHONE = "PHONE"

    @classmethod
    def parse(cls, word: str) -> SearchScope | None:
        """The scope a word names (any case), or None."""
        return cls.__members__.get(word.upper())


def malformed_search(message: str) -> SalesforceError:
    """The error Salesforce answers for SOSL it cannot parse."""
    return SalesforceError("MALFORMED_SEARCH", message)


@dataclass
class Returning:
    """One object of RETURNING: its fields and the SOQL clauses given in its parentheses."""

    obj: SObjectType
    fields: str = "Id"
    where: str = ""
    order_by: str = ""
    limit: int | None = None
    offset: int | None = None


@dataclass
class Search:
    """A parsed search: the term's word groups (OR of ANDs), the field scope, the objects, the overall limit."""

    groups: list[list[str]]
    scope: SearchScope
    returning: list[Returning]
    limit: int


def _term_groups(term: str) -> list[list[str]]:
    """`acme corp OR globex` -> [["acme", "corp"], ["globex"]]: words of a group must all match."""
    words = re.findall(r'"[^"]*"|\S+', term)
    groups: list[list[str]] = [[]]
    for word in words:
        if word.upper() == "OR":
            groups.append([])
        elif word.upper() != "AND":
            groups[-1].append(word.strip('"'))
    groups = [g for g in groups if g]
    if not groups or all(len(w.replace("*", "").replace("?", "")) < 2 for g in groups for w in g):
        raise SalesforceError("INVALID_SEARCH", "search term must be longer than one character")
    return groups


def _returning_objects(schema: Schema) -> list[Returning]:
    return [Returning(obj) for obj in schema.objects.values() if obj.searchable]


def parse_sosl(text: str, schema: Schema) -> Search:
    """Parse the SOSL subset localorg answers; MALFORMED_SEARCH for anything else."""
    match = re.match(r"\s*FIND\s*\{((?:[^{}\\]|\\.)*)\}", text or "", re.IGNORECASE | re.DOTALL)
    if match is None:
        raise malformed_search("No search term found. The search term must be enclosed in braces.")
    groups = _term_groups(re.sub(r"\\(.)", r"\1", match.group(1)))
    rest = text[match.end() :]
    try:
        tokens = tokenize(rest)
    except SalesforceError as exc:
        raise malformed_search(exc.message) from None
    parser = _SoslParser(rest, tokens, schema)
    return parser.parse(groups)


class _SoslParser:
    def __init__(self, text: str, tokens: list[Token], schema: Schema) -> None:
        self.text = text
        self.tokens = tokens
        self.index = 0
        self.schema = schema

    def peek_word(self) -> str | None:
        token = self.tokens[self.index] if self.index < len(self.tokens) else None
        return token.text.upper() if token is not None else None

    def take(self) -> Token:
        if self.index >= len(self.tokens):
            raise malformed_search("unexpected end of search")
        self.index += 1
        return self.tokens[self.index - 1]

    def parse(self, groups: list[list[str]]) -> Search:
        scope: SearchScope | None = None
        returning: list[Returning] | None = None
        limit = MAX_SEARCH_RESULTS
        while self.index < len(self.tokens):
            word = self.peek_word()
            if word == "IN" and scope is None:
                self.take()
                named = self.take().text
                scope = SearchScope.parse(named)
                if scope is None or self.peek_word() != "FIELDS":
                    raise malformed_search(f"unexpected token in the IN clause: '{named}'")
                self.take()
            elif word == "RETURNING" and returning is None:
                self.take()
                returning = self._returning_list()
            elif word == "LIMIT":
                self.take()
                limit = min(self._integer("LIMIT"), MAX_SEARCH_RESULTS)
            elif word in _UNSUPPORTED:
                raise malformed_search(f"the {word} clause is not supported by localorg")
            else:
                raise malformed_search(f"unexpected token: '{self.take().text}'")
        if returning is None:
            returning = _returning_objects(self.schema)
        return Search(groups, scope or SearchScope.ALL, returning, limit)

    def _integer(self, after: str) -> int:
        number = self.take()
        if number.kind != "number" or not number.text.isdigit():
            raise malformed_search(f"expecting a non-negative integer after {after}, found '{number.text}'")
        return int(number.text)

    def _returning_list(self) -> list[Returning]:
        specs: list[Returning] = []
        while True:
            name = self.take()
            obj = self.schema.get(name.text) if name.kind == "name" else None
            if obj is None:
                raise SalesforceError("INVALID_TYPE", f"sObject type '{name.text}' is not supported.")
            spec = Returning(obj)
            if self.index < len(self.tokens) and self.tokens[self.index].text == "(":
                self.take()
                self._returning_options(spec)
            specs.append(spec)
            if self.index < len(self.tokens) and self.tokens[self.index].text == ",":
                self.take()
                continue
            return specs

    def _returning_options(self, spec: Returning) -> None:
        """Fields, WHERE, ORDER BY, LIMIT and OFFSET inside `Obj(...)`, kept as SOQL text."""
        depth = 1
        start = self.index
        marks: dict[str, int] = {}
        while True:
            token = self.take()
            if token.text == "(":
                depth += 1
            elif token.text == ")":
                depth -= 1
                if depth == 0:
                    break
            elif (
                depth == 1
                and token.kind == "name"
                and token.text.upper() in {"WHERE", "ORDER", "LIMIT", "OFFSET"}
            ):
                marks.setdefault(token.text.upper(), self.index - 1)
            elif depth == 1 and token.kind == "name" and token.text.upper() in _UNSUPPORTED:
                raise malformed_search(f"the {token.text.upper()} clause is not supported by localorg")
        end = self.index - 1
        bounds = sorted([*marks.values(), end])

        def clause(word: str) -> str:
            if word not in marks:
                return ""
            begin = marks[word]
            stop = next(b for b in bounds if b > begin)
            text = self._text(begin + 1, stop)
            if not text:
                raise malformed_search(f"unexpected token: '{word}' (nothing follows it)")
            return text

        first = min(bounds)
        spec.fields = self._text(start, first) or "Id"
        spec.where = clause("WHERE")
        order = clause("ORDER")
        if order:
            spec.order_by = re.sub(r"^\s*BY\b", "", order, flags=re.IGNORECASE).strip()
            if not spec.order_by or spec.order_by == order:
                raise malformed_search("ORDER must be followed by BY and at least one field")
        for word in ("LIMIT", "OFFSET"):
            if word in marks:
                value = clause(word).strip()
                if not value.isdigit():
                    raise malformed_search(f"expecting a non-negative integer after {word}, found '{value}'")
                setattr(spec, word.lower(), int(value))

    def _text(self, first_token: int, stop_token: int) -> str:
        """The original text of tokens [first_token, stop_token)."""
        if first_token >= stop_token:
            return ""
        begin = self.tokens[first_token].pos
        last = self.tokens[stop_token - 1]
        return self.text[begin : last.pos + len(last.text)].strip()


def _searched_fields(obj: SObjectType, scope: SearchScope) -> list[Field]:
    def wanted(fld: Field) -> bool:
        if not fld.stored or fld.type not in _SEARCHED_TYPES:
            return False
        if scope is SearchScope.NAME:
            return fld.name_field or fld.name in {"FirstName", "LastName"}
        if scope is SearchScope.EMAIL:
            return fld.type == "email"
        if scope is SearchScope.PHONE:
            return fld.type == "phone"
        return True

    return [fld for fld in obj.fields.values() if wanted(fld)]


def _like_literal(word: str) -> str:
    """A SOQL string literal matching `word` anywhere, with SOSL's * and ? wildcards."""
    pattern = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = "%" + pattern.replace("*", "%").replace("?", "_") + "%"
    return "'" + pattern.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _search_condition(fields: list[Field], groups: list[list[str]]) -> str:
    def word_matches(word: str) -> str:
        literal = _like_literal(word)
        return "(" + " OR ".join(f"{fld.name} LIKE {literal}" for fld in fields) + ")"

    return " OR ".join("(" + " AND ".join(word_matches(w) for w in group) + ")" for group in groups)


def run_search(search: Search, queries: QueryRunner, version: str) -> dict[str, object]:
    """searchRecords for a parsed search, object by object in RETURNING order, at most `limit` in all."""
    records: list[dict[str, object]] = []
    for spec in search.returning:
        remaining = search.limit - len(records)
        if remaining <= 0:
            break
        fields = _searched_fields(spec.obj, search.scope)
        if not fields:
            continue
        soql = f"SELECT {spec.fields} FROM {spec.obj.name} WHERE ({_search_condition(fields, search.groups)})"
        if spec.where:
            soql += f" AND ({spec.where})"
        if spec.order_by:
            soql += f" ORDER BY {spec.order_by}"
        soql += f" LIMIT {min(spec.limit if spec.limit is not None else remaining, remaining)}"
        if spec.offset:
            soql += f" OFFSET {spec.offset}"
        try:
            page = queries.run(soql, version, include_deleted=False, batch_size=MAX_SEARCH_RESULTS)
        except SalesforceError as exc:
            if exc.code == "MALFORMED_QUERY":
                raise malformed_search(exc.message) from None
            raise
        records += page["records"]
    return {"searchRecords": records}


def _parameterized(schema: Schema, args: Callable[[str], str | None], names: list[str]) -> Search:
    """The Search a parameterizedSearch request asks for (q, in, sobject, fields, Obj.fields, Obj.limit)."""
    term = args("q")
    if not term:
        raise SalesforceError("MISSING_ARGUMENT", "Missing required parameter: q")
    named = args("in") or "ALL"
    scope = SearchScope.parse(named)
    if scope is None:
        raise SalesforceError("INVALID_SEARCH_SCOPE", f"Invalid search scope: {named}")
    returning = []
    for name in names:
        obj = schema.get(name)
        if obj is None:
            raise SalesforceError("INVALID_TYPE", f"sObject type '{name}' is not supported.")
        limit = args(f"{name}.limit")
        returning.append(
            Returning(
                obj,
                fields=args(f"{name}.fields") or args("fields") or "Id",
                limit=int(limit) if limit and limit.isdigit() else None,
            )
        )
    overall = args("overallLimit")
    return Search(
        _term_groups(term),
        scope,
        returning or _returning_objects(schema),
        min(int(overall), MAX_SEARCH_RESULTS) if overall and overall.isdigit() else MAX_SEARCH_RESULTS,
    )


@search_api.get("/search")
def sosl_search(version: str) -> Response:
    """Run a SOSL search."""
    local = org()
    search = parse_sosl(request.args.get("q", ""), local.store.schema)
    return json_response(run_search(search, local.queries, version))


@search_api.get("/parameterizedSearch")
def parameterized_search(version: str) -> Response:
    """A search given as parameters instead of SOSL."""
    local = org()
    names = [n for value in request.args.getlist("sobject") for n in value.split(",") if n]
    search = _parameterized(local.store.schema, request.args.get, names)
    return json_response(run_search(search, local.queries, version))
