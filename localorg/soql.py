"""A SOQL subset compiled to SQLite: field lists with parent relationships, WHERE, ORDER BY, LIMIT, OFFSET."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from localorg.errors import SalesforceError
from localorg.ids import to_18
from localorg.schema import INTEGER_TYPES, NUMBER_TYPES, Field, Schema, SObjectType, make_field
from localorg.store import quote, table_name
from localorg.values import format_datetime, parse_date_text, parse_datetime_text

MAX_OFFSET = 2000
# A polymorphic relationship (Task.Who, Task.What) reaches the records it may point at through Salesforce's
# Name object: these fields, null where the record's own object has no such field.
NAME_OBJECT = SObjectType(
    name="Name",
    label="Name",
    label_plural="Names",
    key_prefix="000",
    custom=False,
    fields={
        f.name: f
        for f in (
            make_field("Id", "id", "Name ID"),
            make_field("Name", "string", length=255),
            make_field("Type", "string", length=40),
            make_field("FirstName", "string", length=40),
            make_field("LastName", "string", length=80),
            make_field("Email", "email", length=80),
            make_field("Phone", "phone", length=40),
            make_field("Title", "string", length=128),
            make_field("Alias", "string", length=8),
            make_field("Username", "string", length=80),
            make_field("IsActive", "boolean", "Active"),
        )
    },
)
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^'\\]|\\.)*')
    | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2}))
    | (?P<date>\d{4}-\d{2}-\d{2})
    | (?P<number>[+-]?\d+(?:\.\d+)?)
    | (?P<op><=|>=|!=|<>|=|<|>)
    | (?P<punct>[(),:])
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    )""",
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_RELATIVE_DATES = {"TODAY": 0, "YESTERDAY": -1, "TOMORROW": 1}
_KEYWORDS = {
    "SELECT",
    "FROM",
    "WHERE",
    "ORDER",
    "BY",
    "LIMIT",
    "OFFSET",
    "AND",
    "OR",
    "NOT",
    "IN",
    "LIKE",
    "ASC",
    "DESC",
    "NULLS",
    "FIRST",
    "LAST",
    "NULL",
    "TRUE",
    "FALSE",
    "GROUP",
    "HAVING",
}


def malformed(message: str) -> SalesforceError:
    """The error for a query Salesforce's parser would refuse."""
    return SalesforceError("MALFORMED_QUERY", message)


@dataclass
class Token:
    """One lexical token and where it starts."""

    kind: str
    text: str
    pos: int


def tokenize(soql: str) -> list[Token]:
    """Split SOQL into tokens; MALFORMED_QUERY on anything unrecognisable."""
    tokens: list[Token] = []
    pos = 0
    text = soql.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise malformed(f"unexpected token at column {pos + 1}: '{text[pos : pos + 20]}'")
        kind = match.lastgroup or ""
        tokens.append(Token(kind, match.group(kind), match.start(kind)))
        pos = match.end()
    return tokens


@dataclass
class Column:
    """A selected field path such as Account.Owner.Name, resolved to the field and its join alias."""

    path: list[str]
    field: Field
    alias: str
    relationships: list[tuple[str, str, SObjectType]]  # (relationshipName, join alias, object) per hop


@dataclass
class CompiledQuery:
    """SQL for the ids in order (or the count) plus what is needed to render records."""

    obj: SObjectType
    columns: list[Column]
    from_sql: str
    where_sql: str
    order_sql: str
    params: list[Any]
    limit: int | None
    offset: int
    count_only: bool
    count_alias: str | None = None
    joins: dict[str, tuple[str, SObjectType]] = field(default_factory=dict)
    # Join aliases of polymorphic relationships: their rows carry the record's own type in "Type".
    polymorphic_aliases: set[str] = field(default_factory=set)
    subqueries: list[SubQuery] = field(default_factory=list)


@dataclass
class SubQuery:
    """A child relationship subquery such as (SELECT LastName FROM Contacts): its rows per parent record."""

    relationship_name: str
    field: Field  # the child's reference to the parent
    query: CompiledQuery


class _Parser:
    def __init__(self, soql: str, schema: Schema, include_deleted: bool) -> None:
        self.soql = soql
        self.tokens = tokenize(soql)
        self.index = 0
        self.schema = schema
        self.include_deleted = include_deleted
        self.joins: dict[str, tuple[str, SObjectType]] = {}  # path (lower) -> (alias, object)
        self.join_sql: list[str] = []
        self.polymorphic_aliases: set[str] = set()
        self.subqueries: list[SubQuery] = []
        self.params: list[Any] = []
        self.obj: SObjectType | None = None

    # ---- token helpers ------------------------------------------------------------------------------
    def peek(self, offset: int = 0) -> Token | None:
        position = self.index + offset
        return self.tokens[position] if position < len(self.tokens) else None

    def at_keyword(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "name" and token.text.upper() in words

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise malformed("unexpected end of query")
        self.index += 1
        return token

    def expect_keyword(self, word: str) -> None:
        token = self.take()
        if token.kind != "name" or token.text.upper() != word:
            raise malformed(f"unexpected token: '{token.text}' (expected {word})")

    def expect_punct(self, char: str) -> None:
        token = self.take()
        if token.text != char:
            raise malformed(f"unexpected token: '{token.text}' (expected '{char}')")

    # ---- grammar ------------------------------------------------------------------------------------
    def parse(self) -> CompiledQuery:
        self.expect_keyword("SELECT")
        select_start = self.index
        depth = 0  # a child subquery's own FROM sits inside parentheses
        while depth or not self.at_keyword("FROM"):
            if self.peek() is None:
                raise malformed("unexpected end of query: FROM is missing")
            text = self.take().text
            depth += {"(": 1, ")": -1}.get(text, 0)
        select_end = self.index
        self.expect_keyword("FROM")
        obj_token = self.take()
        if obj_token.kind != "name" or "." in obj_token.text:
            raise malformed(f"unexpected token: '{obj_token.text}'")
        obj = self.schema.get(obj_token.text)
        if obj is None:
            raise SalesforceError(
                "INVALID_TYPE",
                f"sObject type '{obj_token.text}' is not supported. If you are attempting to use a custom "
                "object, be sure to append the '__c' after the entity name. Please reference your WSDL or "
                "the describe call for the appropriate names.",
            )
        self.obj = obj
        # An alias after the object name (FROM Account a) is accepted and stripped from field paths.
        alias = None
        following = self.peek()
        if following is not None and following.kind == "name" and following.text.upper() not in _KEYWORDS:
            alias = self.take().text
        self.alias = alias
        count_only, count_alias, columns = self._select_list(self.tokens[select_start:select_end], obj)
        where_parts = [] if self.include_deleted else ['t0."IsDeleted" = 0']
        if self.at_keyword("WHERE"):
            self.take()
            where_parts.append("(" + self._or_expr() + ")")
        order_sql = ""
        if self.at_keyword("GROUP", "HAVING"):
            raise malformed("GROUP BY and HAVING are not supported by localorg")
        if self.at_keyword("ORDER"):
            self.take()
            self.expect_keyword("BY")
            order_sql = self._order_list()
        limit = None
        offset = 0
        while self.at_keyword("LIMIT", "OFFSET"):
            word = self.take().text.upper()
            number = self.take()
            if number.kind != "number" or not number.text.isdigit():
                raise malformed(f"expecting a non-negative integer after {word}, found '{number.text}'")
            if word == "LIMIT":
                limit = int(number.text)
            else:
                offset = int(number.text)
                if offset > MAX_OFFSET:
                    raise SalesforceError(
                        "NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}"
                    )
        if self.at_keyword("FOR", "ALL", "WITH", "UPDATE"):
            self.take()
            while self.peek() is not None:
                self.take()
        if self.peek() is not None:
            raise malformed(f"unexpected token: '{self.peek().text}'")  # type: ignore[union-attr]
        return CompiledQuery(
            obj=obj,
            columns=columns,
            from_sql=f"{table_name(obj)} AS t0 " + " ".join(self.join_sql),
            where_sql=" AND ".join(where_parts) or "1",
            order_sql=order_sql,
            params=self.params,
            limit=limit,
            offset=offset,
            count_only=count_only,
            count_alias=count_alias,
            joins=self.joins,
            polymorphic_aliases=self.polymorphic_aliases,
            subqueries=self.subqueries,
        )

    def _select_list(self, tokens: list[Token], obj: SObjectType) -> tuple[bool, str | None, list[Column]]:
        if not tokens:
            raise malformed("unexpected token: 'FROM'")
        texts = [t.text for t in tokens]
        if texts[0].upper() == "COUNT" and len(texts) >= 3 and texts[1] == "(":
            if ")" not in texts:
                raise malformed("unexpected end of COUNT(")
            close = texts.index(")")
            inner = texts[2:close]
            rest = texts[close + 1 :]
            if rest and len(rest) != 1:
                raise malformed("only COUNT() or COUNT(field) [alias] is supported in an aggregate query")
            if not inner:
                return True, None, []
            self._resolve_path(inner[0], obj)
            return True, rest[0] if rest else "expr0", []
        columns: list[Column] = []
        expect_name = True
        seen: set[str] = set()
        i = 0
        while i < len(tokens):
            token = tokens[i]
            if expect_name and token.text == "(":
                close = _matching_paren(tokens, i)
                self.subqueries.append(self._subquery(tokens[i + 1 : close], obj))
                i = close + 1
                expect_name = False
                continue
            if expect_name:
                if token.kind != "name":
                    raise malformed(f"unexpected token: '{token.text}'")
                if token.text.upper() == "FIELDS" and i + 3 < len(tokens) and tokens[i + 1].text == "(":
                    scope = tokens[i + 2].text.upper()
                    if scope not in {"ALL", "STANDARD", "CUSTOM"} or tokens[i + 3].text != ")":
                        raise malformed("FIELDS() takes ALL, STANDARD or CUSTOM")
                    for fld in obj.stored_fields:
                        if scope == "ALL" or (scope == "CUSTOM") == fld.custom:
                            if fld.name.lower() not in seen:
                                seen.add(fld.name.lower())
                                columns.append(self._resolve_path(fld.name, obj))
                    i += 4
                    expect_name = False
                    continue
                column = self._resolve_path(token.text, obj)
                key = ".".join(column.path).lower()
                if key in seen:
                    raise malformed(f"duplicate field selected: {'.'.join(column.path)}")
                seen.add(key)
                columns.append(column)
                expect_name = False
            else:
                if token.text != ",":
                    raise malformed(f"unexpected token: '{token.text}'")
                expect_name = True
            i += 1
        if expect_name:
            raise malformed("unexpected token: ','")
        return False, None, columns

    def _subquery(self, tokens: list[Token], parent: SObjectType) -> SubQuery:
        """Compile (SELECT ... FROM Contacts ...) as a query of the child object."""
        if not tokens or tokens[0].text.upper() != "SELECT":
            raise malformed("a parenthesis in the SELECT list must hold a child relationship subquery")
        depth = 0
        from_index = None
        for index, token in enumerate(tokens):
            depth += {"(": 1, ")": -1}.get(token.text, 0)
            if depth == 0 and token.kind == "name" and token.text.upper() == "FROM":
                from_index = index
                break
        if from_index is None or from_index + 1 >= len(tokens):
            raise malformed("unexpected end of subquery: FROM is missing")
        name = tokens[from_index + 1]
        found = self.schema.child_relationship(parent, name.text)
        if found is None:
            raise SalesforceError(
                "INVALID_TYPE",
                f"Didn't understand relationship '{name.text}' in FROM part of query call. If you are attempting "
                "to use a custom relationship, be sure to append the '__r' after the custom relationship name. "
                "Please reference your WSDL or the describe call for the appropriate names.",
            )
        child, reference = found
        last = tokens[-1]
        text = (
            self.soql[tokens[0].pos : name.pos]
            + child.name
            + self.soql[name.pos + len(name.text) : last.pos + len(last.text)]
        )
        if any(
            t.text == "(" and i + 1 < len(tokens) and tokens[i + 1].text.upper() == "SELECT"
            for i, t in enumerate(tokens)
        ):
            raise malformed("child subqueries cannot be nested")
        compiled = _Parser(text, self.schema, self.include_deleted).parse()
        relationship = next(
            str(r["relationshipName"])
            for r in self.schema.child_relationships(parent)
            if str(r.get("relationshipName") or "").lower() == name.text.lower()
        )
        return SubQuery(relationship, reference, compiled)

    def _resolve_path(self, dotted: str, obj: SObjectType) -> Column:
        parts = dotted.split(".")
        if self.alias and len(parts) > 1 and parts[0].lower() == self.alias.lower():
            parts = parts[1:]
        current = obj
        alias = "t0"
        hops: list[tuple[str, str, SObjectType]] = []
        for depth, name in enumerate(parts[:-1]):
            reference = current.relationship(name)
            if reference is None:
                raise self._no_column(name, current)
            polymorphic = len(reference.reference_to) > 1
            target = NAME_OBJECT if polymorphic else self.schema.get(reference.reference_to[0])
            if target is None:
                raise self._no_column(name, current)
            key = ".".join(p.lower() for p in parts[: depth + 1])
            if key not in self.joins:
                join_alias = f"j{len(self.joins) + 1}"
                self.joins[key] = (join_alias, target)
                source = self._name_union(reference) if polymorphic else table_name(target)
                if polymorphic:
                    self.polymorphic_aliases.add(join_alias)
                self.join_sql.append(
                    f'LEFT JOIN {source} AS {join_alias} ON {join_alias}."Id" = {alias}.{quote(reference.name)}'
                )
            alias = self.joins[key][0]
            hops.append((reference.relationship_name or name, alias, target))
            current = target
        fld = current.field(parts[-1])
        if fld is None or not fld.stored:
            raise self._no_column(parts[-1], current)
        path = [hop[0] for hop in hops] + [fld.name]
        return Column(path=path, field=fld, alias=alias, relationships=hops)

    def _name_union(self, reference: Field) -> str:
        """The Name rows of every modelled object a polymorphic reference may point at, as one subquery."""
        selects = []
        for target_name in reference.reference_to:
            target = self.schema.get(target_name)
            if target is None:
                continue
            columns = []
            for fld in NAME_OBJECT.fields.values():
                own = target.field(fld.name)
                if fld.name == "Type":
                    columns.append(f"'{target.name}' AS \"Type\"")
                elif own is not None and own.stored:
                    columns.append(f"{quote(own.name)} AS {quote(fld.name)}")
                else:
                    columns.append(f"NULL AS {quote(fld.name)}")
            selects.append(f"SELECT {', '.join(columns)} FROM {table_name(target)}")
        if not selects:
            nulls = ", ".join(f"NULL AS {quote(n)}" for n in NAME_OBJECT.fields)
            selects.append(f"SELECT {nulls} WHERE 0")
        return "(" + " UNION ALL ".join(selects) + ")"

    def _no_column(self, name: str, obj: SObjectType) -> SalesforceError:
        return SalesforceError(
            "INVALID_FIELD",
            f"No such column '{name}' on entity '{obj.name}'. If you are attempting to use a custom field, "
            "be sure to append the '__c' after the custom field name. Please reference your WSDL or the "
            "describe call for the appropriate names.",
        )

    def _or_expr(self) -> str:
        parts = [self._and_expr()]
        while self.at_keyword("OR"):
            self.take()
            parts.append(self._and_expr())
        return " OR ".join(parts) if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def _and_expr(self) -> str:
        parts = [self._not_expr()]
        while self.at_keyword("AND"):
            self.take()
            parts.append(self._not_expr())
        return " AND ".join(parts) if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def _not_expr(self) -> str:
        if self.at_keyword("NOT"):
            self.take()
            return f"NOT ({self._not_expr()})"
        token = self.peek()
        if token is not None and token.text == "(":
            self.take()
            inner = self._or_expr()
            self.expect_punct(")")
            return f"({inner})"
        return self._comparison()

    def _comparison(self) -> str:
        name = self.take()
        if name.kind != "name":
            raise malformed(f"unexpected token: '{name.text}'")
        assert self.obj is not None
        column = self._resolve_path(name.text, self.obj)
        sql_field = f"{column.alias}.{quote(column.field.name)}"
        negate = False
        if self.at_keyword("NOT"):
            self.take()
            negate = True
            if not self.at_keyword("IN", "LIKE"):
                raise malformed("NOT must be followed by IN or LIKE here")
        if self.at_keyword("IN"):
            self.take()
            self.expect_punct("(")
            values: list[Any] = []
            while True:
                token = self.peek()
                if token is not None and token.kind == "name" and token.text.upper() == "SELECT":
                    raise malformed("semi-join subqueries are not supported by localorg")
                values.append(self._value(column.field)[0])
                separator = self.take()
                if separator.text == ")":
                    break
                if separator.text != ",":
                    raise malformed(f"unexpected token: '{separator.text}'")
            non_null = [v for v in values if v is not None]
            marks = ",".join("?" * len(non_null))
            self.params.extend(non_null)
            clause = f"{sql_field} IN ({marks})" if non_null else "0"
            if None in values:
                clause = f"({clause} OR {sql_field} IS NULL)"
            return f"NOT ({clause})" if negate else clause
        if self.at_keyword("LIKE"):
            self.take()
            pattern = self.take()
            if pattern.kind != "string":
                raise malformed("LIKE needs a string pattern")
            self.params.append(_unquote(pattern.text))
            clause = f"{sql_field} LIKE ? ESCAPE '\\'"
            return f"NOT ({clause})" if negate else clause
        operator = self.take()
        if operator.kind != "op":
            raise malformed(f"unexpected token: '{operator.text}'")
        op = "!=" if operator.text == "<>" else operator.text
        value, date_range = self._value(column.field)
        if date_range is not None:
            start, end = date_range
            clause = {
                "=": f"({sql_field} >= ? AND {sql_field} < ?)",
                "!=": f"({sql_field} < ? OR {sql_field} >= ? OR {sql_field} IS NULL)",
                "<": f"{sql_field} < ?",
                ">=": f"{sql_field} >= ?",
                ">": f"{sql_field} >= ?",
                "<=": f"{sql_field} < ?",
            }[op]
            self.params.extend(
                {"=": [start, end], "!=": [start, end], "<": [start], ">=": [start], ">": [end], "<=": [end]}[
                    op
                ]
            )
            return clause
        if value is None:
            if op == "=":
                return f"{sql_field} IS NULL"
            if op == "!=":
                return f"{sql_field} IS NOT NULL"
            raise malformed(f"null can only be compared with = or !=, not {op}")
        self.params.append(value)
        if op == "!=":
            return f"({sql_field} != ? OR {sql_field} IS NULL)"
        return f"{sql_field} {op} ?"

    def _value(self, fld: Field) -> tuple[Any, tuple[str, str] | None]:
        token = self.take()
        kind, text = token.kind, token.text
        upper = text.upper()
        if kind == "name" and upper == "NULL":
            return None, None
        if kind == "name" and upper in {"TRUE", "FALSE"}:
            if fld.type != "boolean":
                raise malformed(f"{fld.name}: a boolean value is only valid for a boolean field")
            return (1 if upper == "TRUE" else 0), None
        if kind == "name" and (upper in _RELATIVE_DATES or upper.startswith(("LAST_N_DAYS", "NEXT_N_DAYS"))):
            return None, self._relative_date(upper, fld)
        if kind == "string":
            value = _unquote(text)
            if fld.type in {"id", "reference"}:
                return (to_18(value) or value), None
            if (
                fld.type in NUMBER_TYPES
                or fld.type in INTEGER_TYPES
                or fld.type in {"date", "datetime", "boolean"}
            ):
                raise malformed(f"value of incorrect type for {fld.name}: '{value}'")
            return value, None
        if kind == "number":
            if fld.type not in NUMBER_TYPES and fld.type not in INTEGER_TYPES:
                raise malformed(f"value of incorrect type for {fld.name}: {text}")
            return float(text), None
        if kind == "date":
            parsed = parse_date_text(text)
            if parsed is None:
                raise malformed(f"invalid date: {text}")
            if fld.type == "datetime":
                raise malformed(
                    f"value of filter criterion for field '{fld.name}' must be of type dateTime "
                    "and should not be enclosed in quotes"
                )
            if fld.type != "date":
                raise malformed(f"value of incorrect type for {fld.name}: {text}")
            return parsed, None
        if kind == "datetime":
            moment = parse_datetime_text(text)
            if moment is None or fld.type not in {"datetime", "date"}:
                raise malformed(f"value of incorrect type for {fld.name}: {text}")
            return (format_datetime(moment) if fld.type == "datetime" else moment.date().isoformat()), None
        raise malformed(f"unexpected token: '{text}'")

    def _relative_date(self, word: str, fld: Field) -> tuple[str, str]:
        if fld.type not in {"date", "datetime"}:
            raise malformed(f"{word} is only valid for date and dateTime fields")
        today = datetime.now(UTC).date()
        if word in _RELATIVE_DATES:
            start = today + timedelta(days=_RELATIVE_DATES[word])
            end = start + timedelta(days=1)
        else:
            self.expect_punct(":")
            number = self.take()
            if number.kind != "number" or not number.text.isdigit():
                raise malformed(f"{word} needs a number of days")
            days = int(number.text)
            if word == "LAST_N_DAYS":
                start, end = today - timedelta(days=days), today + timedelta(days=1)
            else:
                start, end = today + timedelta(days=1), today + timedelta(days=days + 1)
        return _bound(start, fld), _bound(end, fld)

    def _order_list(self) -> str:
        assert self.obj is not None
        parts = []
        while True:
            name = self.take()
            if name.kind != "name":
                raise malformed(f"unexpected token: '{name.text}'")
            column = self._resolve_path(name.text, self.obj)
            sql = f"{column.alias}.{quote(column.field.name)}"
            direction = "ASC"
            if self.at_keyword("ASC", "DESC"):
                direction = self.take().text.upper()
            nulls = ""
            if self.at_keyword("NULLS"):
                self.take()
                which = self.take().text.upper()
                if which not in {"FIRST", "LAST"}:
                    raise malformed("NULLS must be followed by FIRST or LAST")
                nulls = f" NULLS {which}"
            parts.append(f"{sql} {direction}{nulls}")
            if self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
                self.take()
                continue
            return ", ".join(parts)


def _matching_paren(tokens: list[Token], open_index: int) -> int:
    depth = 0
    for index in range(open_index, len(tokens)):
        depth += {"(": 1, ")": -1}.get(tokens[index].text, 0)
        if depth == 0:
            return index
    raise malformed("unbalanced parentheses in the SELECT list")


def _bound(day: date, fld: Field) -> str:
    return day.isoformat() + ("T00:00:00.000+0000" if fld.type == "datetime" else "")


def _unquote(literal: str) -> str:
    body = literal[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), body)


def compile_soql(soql: str, schema: Schema, include_deleted: bool = False) -> CompiledQuery:
    """Parse and compile a SOQL statement against the schema."""
    if not isinstance(soql, str) or not soql.strip():
        raise malformed("the query string is empty")
    return _Parser(soql, schema, include_deleted).parse()
