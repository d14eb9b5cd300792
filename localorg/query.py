"""Running SOQL: the first page, server-side cursors for nextRecordsUrl, and record rendering."""

from __future__ import annotations

import secrets
import threading
import time
from array import array
from dataclasses import dataclass
from typing import Any

from localorg.errors import SalesforceError
from localorg.ids import BASE62
from localorg.soql import CompiledQuery, SubQuery, compile_soql
from localorg.store import Store, quote
from localorg.values import to_json_value

DEFAULT_BATCH = 2000
MIN_BATCH = 200
CURSOR_TTL_SECONDS = 15 * 60
_FETCH_CHUNK = 500


@dataclass
class Cursor:
    """What remains of a query: the row ids in order, where the next page starts, and when it expires."""

    query: CompiledQuery
    rowids: array
    batch_size: int
    expires_at: float


def record_url(version: str, obj_name: str, record_id: str) -> str:
    """The attributes.url of a record."""
    return f"/services/data/v{version}/sobjects/{obj_name}/{record_id}"


class QueryRunner:
    """Runs compiled queries against the store and keeps cursors for the following pages."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cursors: dict[str, Cursor] = {}
        self._lock = threading.Lock()

    def run(self, soql: str, version: str, include_deleted: bool, batch_size: int | None) -> dict[str, Any]:
        """Execute SOQL and return the first page in Salesforce's QueryResult shape."""
        query = compile_soql(soql, self.store.schema, include_deleted)
        limit_sql = ""
        if query.limit is not None or query.offset:
            limit_sql = f" LIMIT {query.limit if query.limit is not None else -1} OFFSET {query.offset}"
        if query.count_only:
            with self.store.lock:
                sql = f"SELECT COUNT(*) FROM (SELECT 1 FROM {query.from_sql} WHERE {query.where_sql}{limit_sql})"
                (count,) = self.store.conn.execute(sql, query.params).fetchone()
            if query.count_alias:
                record = {"attributes": {"type": "AggregateResult"}, query.count_alias: count}
                return {"totalSize": 1, "done": True, "records": [record]}
            return {"totalSize": count, "done": True, "records": []}
        order = f" ORDER BY {query.order_sql}" if query.order_sql else " ORDER BY t0.rowid"
        with self.store.lock:
            sql = f"SELECT t0.rowid FROM {query.from_sql} WHERE {query.where_sql}{order}{limit_sql}"
            rowids = array("q", (row[0] for row in self.store.conn.execute(sql, query.params)))
        size = _clamp_batch(batch_size)
        cursor = Cursor(query, rowids, size, time.monotonic() + CURSOR_TTL_SECONDS)
        return self._page(cursor, 0, version)

    def more(self, locator: str, version: str) -> dict[str, Any]:
        """The page a nextRecordsUrl (`{cursor}-{position}`) points to."""
        cursor_id, _, position_text = locator.rpartition("-")
        with self._lock:
            self._expire()
            cursor = self._cursors.get(cursor_id)
        if cursor is None or not position_text.isdigit():
            raise SalesforceError("INVALID_QUERY_LOCATOR", "invalid query locator", status=400)
        return self._page(cursor, int(position_text), version, cursor_id)

    def _page(self, cursor: Cursor, start: int, version: str, cursor_id: str | None = None) -> dict[str, Any]:
        end = min(start + cursor.batch_size, len(cursor.rowids))
        records = self.render(cursor.query, cursor.rowids[start:end], version)
        result: dict[str, Any] = {"totalSize": len(cursor.rowids), "done": end >= len(cursor.rowids)}
        if end < len(cursor.rowids):
            with self._lock:
                if cursor_id is None:
                    cursor_id = "01g5L" + "".join(secrets.choice(BASE62) for _ in range(13))
                    self._cursors[cursor_id] = cursor
                cursor.expires_at = time.monotonic() + CURSOR_TTL_SECONDS
            result["nextRecordsUrl"] = f"/services/data/v{version}/query/{cursor_id}-{end}"
        elif cursor_id is not None:
            with self._lock:
                self._cursors.pop(cursor_id, None)
        result["records"] = records
        return result

    def _expire(self) -> None:
        now = time.monotonic()
        for key in [k for k, c in self._cursors.items() if c.expires_at < now]:
            del self._cursors[key]

    def render(self, query: CompiledQuery, rowids: Any, version: str) -> list[dict[str, Any]]:
        """Records for these row ids, in this order, as nested JSON with attributes."""
        selects = ["t0.rowid", 't0."Id"']
        join_aliases = sorted({alias for alias, _ in query.joins.values()})
        selects += [f'{alias}."Id"' for alias in join_aliases]
        # A polymorphic parent's attributes name its own type (Contact or Lead), not the Name object.
        typed_aliases = sorted(query.polymorphic_aliases)
        selects += [f'{alias}."Type"' for alias in typed_aliases]
        selects += [f"{c.alias}.{quote(c.field.name)}" for c in query.columns]
        rows: dict[int, tuple[Any, ...]] = {}
        ids = list(rowids)
        with self.store.lock:
            for begin in range(0, len(ids), _FETCH_CHUNK):
                chunk = ids[begin : begin + _FETCH_CHUNK]
                sql = (
                    f"SELECT {', '.join(selects)} FROM {query.from_sql} "
                    f"WHERE t0.rowid IN ({','.join('?' * len(chunk))})"
                )
                for row in self.store.conn.execute(sql, chunk):
                    rows[row[0]] = row
        obj_name = query.obj.name
        n_joins = len(join_aliases) + len(typed_aliases)
        join_index = {alias: 2 + i for i, alias in enumerate(join_aliases)}
        type_index = {alias: 2 + len(join_aliases) + i for i, alias in enumerate(typed_aliases)}
        records = []
        record_ids: list[str] = []
        for rowid in ids:
            row = rows.get(rowid)
            if row is None:
                continue  # deleted (hard) since the query ran
            record: dict[str, Any] = {
                "attributes": {"type": obj_name, "url": record_url(version, obj_name, row[1])}
            }
            for position, column in enumerate(query.columns):
                value = to_json_value(column.field, row[2 + n_joins + position])
                holder: dict[str, Any] | None = record
                for rel_name, alias, target in column.relationships:
                    assert holder is not None
                    parent_id = row[join_index[alias]]
                    if parent_id is None:
                        holder[rel_name] = None
                        holder = None
                        break
                    child = holder.get(rel_name)
                    if child is None:
                        parent_type = row[type_index[alias]] if alias in type_index else target.name
                        child = {
                            "attributes": {
                                "type": parent_type,
                                "url": record_url(version, parent_type, parent_id),
                            }
                        }
                        holder[rel_name] = child
                    holder = child
                if holder is not None:
                    holder[column.field.name] = value
            records.append(record)
            record_ids.append(row[1])
        for subquery in query.subqueries:
            self._attach_children(subquery, records, record_ids, version)
        return records

    def _attach_children(
        self, subquery: SubQuery, records: list[dict[str, Any]], parent_ids: list[str], version: str
    ) -> None:
        """Add each record's child rows as a nested QueryResult (null when it has none), as Salesforce does."""
        child = subquery.query
        fk = f"t0.{quote(subquery.field.name)}"
        order = child.order_sql or "t0.rowid"
        per_parent: dict[str, list[int]] = {}
        with self.store.lock:
            for begin in range(0, len(parent_ids), _FETCH_CHUNK):
                chunk = parent_ids[begin : begin + _FETCH_CHUNK]
                sql = (
                    f"SELECT t0.rowid, {fk} FROM {child.from_sql} WHERE {child.where_sql} "
                    f"AND {fk} IN ({','.join('?' * len(chunk))}) ORDER BY {order}"
                )
                for rowid, parent_id in self.store.conn.execute(sql, [*child.params, *chunk]):
                    per_parent.setdefault(parent_id, []).append(rowid)
        for record, parent_id in zip(records, parent_ids, strict=True):
            rowids = per_parent.get(parent_id, [])[child.offset :]
            if child.limit is not None:
                rowids = rowids[: child.limit]
            if not rowids:
                record[subquery.relationship_name] = None
                continue
            rows = self.render(child, rowids, version)
            record[subquery.relationship_name] = {"totalSize": len(rows), "done": True, "records": rows}


def _clamp_batch(batch_size: int | None) -> int:
    if batch_size is None:
        return DEFAULT_BATCH
    return max(MIN_BATCH, min(DEFAULT_BATCH, batch_size))
