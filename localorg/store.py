"""SQLite persistence of records and the write engine every API (REST, Collections, Bulk) goes through."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from localorg.errors import SalesforceError, rolled_back
from localorg.ids import checksum, make_ids, to_18
from localorg.schema import INTEGER_TYPES, NUMBER_TYPES, Field, Schema, SObjectType
from localorg.values import format_datetime

log = logging.getLogger(__name__)


class _Keep:
    """Marker for "no value given": left unchanged on update, default or null on insert."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()
ORG_ID = "00D5L0000000001" + checksum("00D5L0000000001")
_IN_CHUNK = 900  # stays far below SQLite's bound-parameter limit


def table_name(obj: SObjectType) -> str:
    """The quoted SQLite table holding an object's records."""
    return f'"o_{obj.name}"'


def quote(name: str) -> str:
    """Quote a field name as an SQLite identifier (names are validated API names)."""
    return '"' + name.replace('"', "") + '"'


def _column_type(fld: Field) -> str:
    if fld.type == "boolean" or fld.type in INTEGER_TYPES:
        return "INTEGER"
    if fld.type in NUMBER_TYPES:
        return "REAL"
    return "TEXT"


def _sql_literal(value: Any) -> str | None:
    """The SQL literal of an int or a NUL-free str (stored exactly as if bound), else None."""
    if type(value) is int and -(2**63) <= value < 2**63:
        return str(value)
    if type(value) is str and "\x00" not in value:
        return "'" + value.replace("'", "''") + "'"
    return None


def _collation(fld: Field) -> str:
    return "BINARY" if fld.case_sensitive or fld.type in {"id", "reference"} else "NOCASE"


@dataclass
class RelationshipColumn:
    """A column that names a parent by external id, e.g. Account.Legacy_Id__c on Contact."""

    reference_field: Field
    target: SObjectType
    target_field: Field
    values: list[Any]


@dataclass
class RowBatch:
    """Rows to write, column-wise: stored values, KEEP or None per field, plus errors found earlier."""

    size: int
    columns: dict[str, list[Any]] = field(default_factory=dict)
    relationships: list[RelationshipColumn] = field(default_factory=list)
    ids: list[Any] | None = None
    errors: list[SalesforceError | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.errors:
            self.errors = [None] * self.size


@dataclass
class RowResult:
    """The outcome of one row: an 18-character id and whether it was created, or an error."""

    id: str | None = None
    created: bool = False
    error: SalesforceError | None = None


@dataclass
class WriteOutcome:
    """What a write did, column-wise: per row the record id and whether it was created, or its error."""

    ids: list[str | None]
    created: list[bool]
    errors: list[SalesforceError | None]

    def row_results(self) -> list[RowResult]:
        """One RowResult per row (the id and created flag only where the row has no error)."""
        return [
            RowResult(id=record_id, created=created) if error is None else RowResult(error=error)
            for record_id, created, error in zip(self.ids, self.created, self.errors, strict=True)
        ]


@dataclass
class WriteOptions:
    """Who writes, whether one bad row rolls back the rest, and which rows a fault makes fail."""

    user_id: str
    all_or_none: bool = False
    external_id_field: str | None = None
    failing_rows: Callable[[int], set[int]] | None = None


class Store:
    """The org's records in one SQLite database, guarded by one lock."""

    def __init__(self, path: str, schema: Schema, username: str) -> None:
        self.path = path
        self.schema = schema
        self.lock = threading.RLock()
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        # Larger pages make bulk inserts ~10% faster; only a new database takes it (an existing one keeps its own).
        self.conn.execute("PRAGMA page_size=16384")
        if path != ":memory:":
            self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA cache_size=-65536")
        self.conn.execute("PRAGMA temp_store=MEMORY")
        self._has_json_each = self._sqlite_has_json_each()
        self.conn.execute("CREATE TABLE IF NOT EXISTS _lo_meta (key TEXT PRIMARY KEY, value TEXT)")
        self.conn.execute("CREATE TABLE IF NOT EXISTS _lo_describes (name TEXT PRIMARY KEY, describe TEXT)")
        self.conn.execute("CREATE TABLE IF NOT EXISTS _lo_jobs (id TEXT PRIMARY KEY, info TEXT)")
        # Each bulk chunk's row outcomes, committed in the transaction that wrote its rows (see write_outcome).
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS _lo_job_outcomes "
            "(job_id TEXT, seq INTEGER, lines TEXT, PRIMARY KEY (job_id, seq))"
        )
        for (describe_json,) in self.conn.execute("SELECT describe FROM _lo_describes").fetchall():
            from localorg.schema import object_from_describe

            self.schema.add(object_from_describe(json.loads(describe_json), f"{path}: imported describe"))
        for obj in self.schema.objects.values():
            self._ensure_table(obj)
        self.username = username
        self.user_id = self._ensure_default_user()
        self._ensure_organization()
        self._prefix_targets = {o.name: {o.key_prefix} for o in self.schema.objects.values()}

    # ---- setup ------------------------------------------------------------------------------------------

    def _sqlite_has_json_each(self) -> bool:
        try:
            row = self.conn.execute("SELECT value FROM json_each(?)", ('["a\\u00e9"]',)).fetchone()
        except sqlite3.Error:
            return False  # SQLite before 3.38 may be built without JSON
        return row is not None and row[0] == "a\u00e9"

    def _ensure_table(self, obj: SObjectType) -> None:
        table = table_name(obj)
        self.conn.execute(f'CREATE TABLE IF NOT EXISTS {table} ("Id" TEXT NOT NULL)')
        existing = {row[1] for row in self.conn.execute(f"PRAGMA table_xinfo({table})")}
        if "IsDeleted" not in existing and obj.field("IsDeleted") is None:
            # Objects without IsDeleted (Organization, RecordType) still get the column every query filters on.
            self.conn.execute(f'ALTER TABLE {table} ADD COLUMN "IsDeleted" INTEGER NOT NULL DEFAULT 0')
        for fld in obj.stored_fields:
            if fld.name in existing:
                continue
            if fld.sql_expression:
                column = f"{quote(fld.name)} {_column_type(fld)} GENERATED ALWAYS AS ({fld.sql_expression}) VIRTUAL"
            else:
                column = f"{quote(fld.name)} {_column_type(fld)} COLLATE {_collation(fld)}"
            self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
        self.conn.execute(f'CREATE UNIQUE INDEX IF NOT EXISTS "ix_{obj.name}_Id" ON {table}("Id")')
        for fld in obj.fields.values():
            # Cascade and restricted deletes look children up by their parent reference.
            looked_up = fld.unique or fld.external_id or fld.cascade_delete or fld.restricted_delete
            if fld.stored and looked_up and fld.name != "Id" and not fld.sql_expression:
                self.conn.execute(
                    f'CREATE INDEX IF NOT EXISTS "ix_{obj.name}_{fld.name}" ON {table}({quote(fld.name)})'
                )

    def _ensure_default_user(self) -> str:
        user = self.schema.get("User")
        assert user is not None, "the User object is part of every schema"
        saved = self.meta_get("default_user_id")
        row = self.conn.execute('SELECT "Id" FROM "o_User" WHERE "Username" = ?', (self.username,)).fetchone()
        if row:
            return str(row[0])
        user_id = saved or self.allocate_ids(user, 1)[0]
        now = format_datetime(datetime.now(UTC))
        self.conn.execute(
            'INSERT INTO "o_User" ("Id","IsDeleted","Username","LastName","FirstName","Email","Alias",'
            '"IsActive","TimeZoneSidKey","LocaleSidKey","EmailEncodingKey","LanguageLocaleKey","ProfileId",'
            '"CreatedDate","CreatedById","LastModifiedDate","LastModifiedById","SystemModstamp") '
            "VALUES (?,0,?,'User','Integration',?,'dms',1,'GMT','en_US','UTF-8','en_US',?,?,?,?,?,?)",
            (
                user_id,
                self.username,
                self.username if "@" in self.username else "dms@localorg.test",
                to_18("00e5L0000000001"),
                now,
                user_id,
                now,
                user_id,
                now,
            ),
        )
        self.meta_set("default_user_id", user_id)
        return user_id

    def _ensure_organization(self) -> None:
        """The one Organization row clients read on connect (when the schema has the object)."""
        organization = self.schema.get("Organization")
        if organization is None or self.deleted_state(organization, [ORG_ID]):
            return
        now = format_datetime(datetime.now(UTC))
        values = {
            "Id": ORG_ID,
            "Name": "localorg",
            "IsSandbox": 1,
            "InstanceName": "LO1",
            "OrganizationType": "Developer Edition",
            "DefaultLocaleSidKey": "en_US",
            "TimeZoneSidKey": "GMT",
            "LanguageLocaleKey": "en_US",
            "CreatedDate": now,
            "CreatedById": self.user_id,
            "LastModifiedDate": now,
            "LastModifiedById": self.user_id,
            "SystemModstamp": now,
        }
        present = {f.name: values[f.name] for f in organization.stored_fields if f.name in values}
        present["Id"] = ORG_ID
        self.conn.execute(
            f"INSERT INTO {table_name(organization)} ({', '.join(quote(n) for n in present)}) "
            f"VALUES ({', '.join('?' * len(present))})",
            list(present.values()),
        )

    def meta_get(self, key: str) -> str | None:
        """A value from the metadata table."""
        row = self.conn.execute("SELECT value FROM _lo_meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def meta_set(self, key: str, value: str) -> None:
        """Store a value in the metadata table."""
        self.conn.execute("INSERT OR REPLACE INTO _lo_meta (key, value) VALUES (?, ?)", (key, value))

    def meta_delete(self, key: str) -> None:
        """Remove a value from the metadata table."""
        self.conn.execute("DELETE FROM _lo_meta WHERE key = ?", (key,))

    def allocate_ids(self, obj: SObjectType, count: int) -> list[str]:
        """Reserve `count` new ids for an object (never reused, not even after a reset)."""
        return self.allocate_prefixed_ids(obj.key_prefix, count)

    def allocate_prefixed_ids(self, key_prefix: str, count: int) -> list[str]:
        """Reserve `count` new ids with this key prefix (records, bulk jobs)."""
        key = f"seq:{key_prefix}"
        with self.lock:
            first = int(self.meta_get(key) or 1)
            self.meta_set(key, str(first + count))
        return make_ids(key_prefix, first, count)

    def _next_numbers(self, obj: SObjectType, fld: Field, count: int) -> list[str]:
        key = f"autonumber:{obj.name}.{fld.name}"
        first = int(self.meta_get(key) or 1000)
        self.meta_set(key, str(first + count))
        return [f"{n:08d}" for n in range(first, first + count)]

    def import_describe(self, describe: dict[str, Any]) -> SObjectType:
        """Make the org enforce a describe saved from a real org (kept in the database)."""
        from localorg.schema import object_from_describe

        obj = object_from_describe(describe, "describe")
        with self.lock:
            self.conn.execute(
                "INSERT OR REPLACE INTO _lo_describes (name, describe) VALUES (?, ?)",
                (obj.name, json.dumps(describe)),
            )
            self.schema.add(obj)
            self._ensure_table(obj)
            self._prefix_targets = {o.name: {o.key_prefix} for o in self.schema.objects.values()}
        return obj

    @property
    def reference_prefixes(self) -> dict[str, set[str]]:
        """Key prefixes of every known object, for checking reference values."""
        return self._prefix_targets

    def reset(self) -> None:
        """Delete every record; keep the schema, id counters and the default user (jobs: JobWorker.forget_all)."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            for obj in self.schema.objects.values():
                self.conn.execute(f"DELETE FROM {table_name(obj)}")
            self.conn.execute("COMMIT")
            self.user_id = self._ensure_default_user()
            self._ensure_organization()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock and run a write transaction, rolled back on error."""
        with self.lock:
            if self.conn.in_transaction:
                # Nested: a savepoint inside the caller's transaction (Collections across object types).
                name = f"sp{id(object())}"
                self.conn.execute(f"SAVEPOINT {name}")
                try:
                    yield self.conn
                except BaseException:
                    self.conn.execute(f"ROLLBACK TO {name}")
                    self.conn.execute(f"RELEASE {name}")
                    raise
                self.conn.execute(f"RELEASE {name}")
                return
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    # ---- reads ------------------------------------------------------------------------------------------

    def fetch_by_ids(
        self, obj: SObjectType, ids: Sequence[str], fields: Sequence[Field], include_deleted: bool = False
    ) -> dict[str, dict[str, Any]]:
        """Rows by 18-character id: {id: {field name: stored value}}."""
        columns = ", ".join(quote(f.name) for f in fields)
        found: dict[str, dict[str, Any]] = {}
        with self.lock:
            for start in range(0, len(ids), _IN_CHUNK):
                chunk = list(ids[start : start + _IN_CHUNK])
                marks = ",".join("?" * len(chunk))
                sql = f'SELECT "Id", {columns} FROM {table_name(obj)} WHERE "Id" IN ({marks})'
                if not include_deleted:
                    sql += ' AND "IsDeleted" = 0'
                for row in self.conn.execute(sql, chunk):
                    found[row[0]] = {f.name: value for f, value in zip(fields, row[1:], strict=True)}
        return found

    def find_by_field(self, obj: SObjectType, fld: Field, values: Iterable[str]) -> dict[str, list[str]]:
        """Live record ids per value of an external id/unique field, keyed by the comparison form."""
        fold = not fld.case_sensitive and fld.type not in {"id", "reference"}
        distinct = list(dict.fromkeys(values))
        matches: dict[str, list[str]] = {}
        as_json = _column_type(fld) == "TEXT"
        with self.lock:
            for start in range(0, len(distinct), _IN_CHUNK):
                chunk = distinct[start : start + _IN_CHUNK]
                in_list, params = self._in_list(chunk, as_json)
                collate = " COLLATE NOCASE" if fold else ""
                sql = (
                    f'SELECT {quote(fld.name)}, "Id" FROM {table_name(obj)} '
                    f'WHERE {quote(fld.name)}{collate} IN {in_list} AND "IsDeleted" = 0'
                )
                for value, record_id in self.conn.execute(sql, params):
                    key = str(value).lower() if fold else str(value)
                    found = matches.setdefault(key, [])
                    # `LEG-5` and `leg-5` in two IN lists both find the record stored as `LEG-5`: once.
                    if record_id not in found:
                        found.append(record_id)
        return matches

    def _in_list(self, values: list[Any], as_json: bool) -> tuple[str, list[Any]]:
        """The right side of `column IN ...` for these values, and its parameters.

        Strings compared with a TEXT column go in one JSON array parameter: SQLite then compares exactly
        the same text values as with one parameter per value, and looks them up about twice as fast.
        """
        if as_json and self._has_json_each and all(type(v) is str for v in values):
            text = json.dumps(values, ensure_ascii=False)
            if "\\u0000" not in text:  # NUL would not survive json_each's decoding of the text
                return "(SELECT value FROM json_each(?))", [text]
        return "(" + ",".join("?" * len(values)) + ")", values

    def deleted_state(self, obj: SObjectType, ids: Sequence[str]) -> dict[str, bool]:
        """{id: is_deleted} for the ids that exist in the table at all."""
        state: dict[str, bool] = {}
        with self.lock:
            for start in range(0, len(ids), _IN_CHUNK):
                in_list, params = self._in_list(list(ids[start : start + _IN_CHUNK]), True)
                for record_id, deleted in self.conn.execute(
                    f'SELECT "Id", "IsDeleted" FROM {table_name(obj)} WHERE "Id" IN {in_list}', params
                ):
                    state[record_id] = bool(deleted)
        return state

    # ---- the write engine -------------------------------------------------------------------------------

    def write(
        self, obj: SObjectType, operation: str, batch: RowBatch, options: WriteOptions
    ) -> list[RowResult]:
        """Insert, update, upsert, delete or hardDelete a batch of rows, one transaction, row-level errors."""
        outcome = self.write_outcome(obj, operation, batch, options)
        if options.all_or_none and any(outcome.errors):
            # Every check runs before any write, so nothing was written: the valid rows report rollback.
            return [RowResult(error=e if e is not None else rolled_back()) for e in outcome.errors]
        return outcome.row_results()

    def write_outcome(
        self,
        obj: SObjectType,
        operation: str,
        batch: RowBatch,
        options: WriteOptions,
        journal: Callable[[sqlite3.Connection, WriteOutcome], None] | None = None,
    ) -> WriteOutcome:
        """Like write, but column-wise: no object per row, for large batches (valid allOrNone rows: no error).

        `journal` runs in the same transaction, so what it records commits with the rows or not at all.
        """
        with self.transaction() as conn:
            outcome = self._write_locked(obj, operation, batch, options)
            if journal is not None:
                journal(conn, outcome)
            return outcome

    def _write_locked(
        self, obj: SObjectType, operation: str, batch: RowBatch, options: WriteOptions
    ) -> WriteOutcome:
        errors = batch.errors
        n = batch.size
        targets: list[str | None] = [None] * n  # existing record id per row (update side)
        created = [False] * n
        unsupported = _unsupported_operation(obj, operation)
        if unsupported is not None:
            errors[:] = [e or unsupported for e in errors]
            return WriteOutcome([None] * n, created, errors)

        # Live records per value of a field, already looked up in this transaction (upsert's key field).
        known: dict[str, dict[str, list[str]]] = {}
        if operation in {"update", "delete", "hardDelete"}:
            self._resolve_targets_by_id(obj, batch, targets, errors, operation)
        elif operation == "upsert":
            self._resolve_upsert_targets(obj, batch, targets, errors, options, known)
        if operation in {"delete", "hardDelete"}:
            return self._delete(obj, operation, targets, errors, options)

        self._resolve_relationships(batch, errors)
        is_insert = [t is None for t in targets]
        self._check_writable(obj, batch, is_insert, errors)
        self._check_references(obj, batch, errors)
        self._check_record_types(obj, batch, errors)
        self._check_required(obj, batch, is_insert, errors)
        self._check_unique(obj, batch, targets, errors, known)
        if options.failing_rows is not None:
            for index in options.failing_rows(n):
                if errors[index] is None:
                    errors[index] = SalesforceError(
                        "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record or 1 records"
                    )
        if options.all_or_none and any(errors):
            return WriteOutcome([None] * n, created, errors)

        if not any(errors) and not any(targets):
            # The common bulk insert: every row is valid and new.
            new_ids = self._insert(obj, batch, range(n), options) if n else []
            return WriteOutcome(list(new_ids), [True] * n, errors)
        insert_rows = [i for i in range(n) if errors[i] is None and targets[i] is None]
        update_rows = [i for i in range(n) if errors[i] is None and targets[i] is not None]
        new_ids = self._insert(obj, batch, insert_rows, options) if insert_rows else []
        for i, new_id in zip(insert_rows, new_ids, strict=True):
            targets[i] = new_id
            created[i] = True
        if update_rows:
            self._update(obj, batch, update_rows, targets, options)
        return WriteOutcome(targets, created, errors)

    def _resolve_targets_by_id(
        self,
        obj: SObjectType,
        batch: RowBatch,
        targets: list[str | None],
        errors: list[SalesforceError | None],
        operation: str,
    ) -> None:
        ids = batch.ids or [KEEP] * batch.size
        wanted: dict[str, int] = {}
        for i, raw in enumerate(ids):
            if errors[i] is not None:
                continue
            if raw is KEEP or raw is None or raw == "":
                errors[i] = SalesforceError("MISSING_ARGUMENT", f"Id not specified in an {operation} call")
                continue
            full = to_18(str(raw))
            if full is None or full[:3] != obj.key_prefix:
                errors[i] = SalesforceError(
                    "MALFORMED_ID", f"{obj.label} ID: id value of incorrect type: {raw}", ["Id"]
                )
                continue
            if full in wanted:
                errors[i] = SalesforceError("DUPLICATE_VALUE", f"Duplicate id in list: {full}")
                continue
            wanted[full] = i
            targets[i] = full
        state = self.deleted_state(obj, list(wanted))
        for full, i in wanted.items():
            if full not in state:
                errors[i] = SalesforceError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
                targets[i] = None
            elif state[full]:
                errors[i] = SalesforceError("ENTITY_IS_DELETED", "entity is deleted")
                targets[i] = None

    def _resolve_upsert_targets(
        self,
        obj: SObjectType,
        batch: RowBatch,
        targets: list[str | None],
        errors: list[SalesforceError | None],
        options: WriteOptions,
        known: dict[str, dict[str, list[str]]],
    ) -> None:
        key_field = obj.field(options.external_id_field or "")
        if key_field is None:
            raise SalesforceError(
                "INVALID_FIELD", f"Field {options.external_id_field} does not exist", status=404
            )
        if key_field.name == "Id":
            ids = batch.ids or [KEEP] * batch.size
            present = [i for i in range(batch.size) if ids[i] not in (KEEP, None, "") and errors[i] is None]
            sub = RowBatch(
                size=len(present), ids=[ids[i] for i in present], errors=[errors[i] for i in present]
            )
            sub_targets: list[str | None] = [None] * len(present)
            self._resolve_targets_by_id(obj, sub, sub_targets, sub.errors, "update")
            for j, i in enumerate(present):
                targets[i], errors[i] = sub_targets[j], sub.errors[j]
            return
        values = batch.columns.get(key_field.name, [KEEP] * batch.size)
        fold = not key_field.case_sensitive
        first_row: dict[str, int] = {}
        duplicated: set[str] = set()
        for i, value in enumerate(values):
            if errors[i] is not None:
                continue
            if value is KEEP or value is None or value == "":
                errors[i] = SalesforceError("MISSING_ARGUMENT", f"{key_field.name} not specified")
                continue
            key = str(value).lower() if fold else str(value)
            if key in first_row:
                duplicated.add(key)
            else:
                first_row[key] = i
        for i, value in enumerate(values):
            if errors[i] is None and value not in (KEEP, None, ""):
                key = str(value).lower() if fold else str(value)
                if key in duplicated:
                    errors[i] = SalesforceError(
                        "DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {value}", [key_field.name]
                    )
        matches = self.find_by_field(obj, key_field, [str(values[i]) for i in first_row.values()])
        if all(type(values[i]) is str for i in first_row.values()):
            # The uniqueness check would look up these very strings again, one per distinct key.
            known[key_field.name] = matches
        for key, i in first_row.items():
            if errors[i] is not None:
                continue
            found = matches.get(key, [])
            if len(found) > 1:
                errors[i] = SalesforceError(
                    "DUPLICATE_EXTERNAL_ID",
                    f"{key_field.label}: more than one record found for external id field: [{', '.join(found)}]",
                    [key_field.name],
                )
            elif found:
                targets[i] = found[0]

    def _resolve_relationships(self, batch: RowBatch, errors: list[SalesforceError | None]) -> None:
        for rel in batch.relationships:
            wanted = [v for i, v in enumerate(rel.values) if errors[i] is None and v not in (KEEP, None)]
            if rel.target_field.name == "Id":
                matches = {full: [full] for full in (to_18(str(v)) for v in wanted) if full}
                live = self.deleted_state(rel.target, list(matches))
                matches = {k: v for k, v in matches.items() if live.get(k) is False}
            else:
                matches = self.find_by_field(rel.target, rel.target_field, [str(v) for v in wanted])
            fold = not rel.target_field.case_sensitive and rel.target_field.name != "Id"
            column = batch.columns.setdefault(rel.reference_field.name, [KEEP] * batch.size)
            for i, value in enumerate(rel.values):
                if errors[i] is not None or value is KEEP:
                    continue
                if value is None:
                    column[i] = None
                    continue
                key = str(value).lower() if fold else (to_18(str(value)) or str(value))
                found = matches.get(key, [])
                if len(found) == 1:
                    column[i] = found[0]
                elif not found:
                    errors[i] = SalesforceError(
                        "INVALID_FIELD",
                        f"Foreign key external ID: {value} not found for field {rel.target_field.name} "
                        f"in entity {rel.target.name}",
                    )
                else:
                    errors[i] = SalesforceError(
                        "INVALID_FIELD",
                        f"Foreign key external ID: {value} matched more than one record for field "
                        f"{rel.target_field.name} in entity {rel.target.name}",
                    )

    def _check_writable(
        self, obj: SObjectType, batch: RowBatch, is_insert: list[bool], errors: list[SalesforceError | None]
    ) -> None:
        for name, column in batch.columns.items():
            fld = obj.field(name)
            assert fld is not None
            if fld.createable and fld.updateable:
                continue
            for i, value in enumerate(column):
                if errors[i] is None and value is not KEEP:
                    if (is_insert[i] and not fld.createable) or (not is_insert[i] and not fld.updateable):
                        errors[i] = SalesforceError(
                            "INVALID_FIELD_FOR_INSERT_UPDATE",
                            f"Unable to create/update fields: {fld.name}. Please check the security settings "
                            "of this field and verify that it is read/write for your profile or permission set.",
                            [fld.name],
                        )

    def _check_references(
        self, obj: SObjectType, batch: RowBatch, errors: list[SalesforceError | None]
    ) -> None:
        resolved = {rel.reference_field.name for rel in batch.relationships}
        for name, column in batch.columns.items():
            fld = obj.field(name)
            assert fld is not None
            if fld.type != "reference" or name in resolved:
                continue
            by_prefix: dict[str, list[int]] = {}
            for i, value in enumerate(column):
                if value is not KEEP and value is not None and errors[i] is None:
                    by_prefix.setdefault(value[:3], []).append(i)
            for prefix, rows in by_prefix.items():
                target = self.schema.by_prefix(prefix)
                if target is None:
                    continue  # a reference to an object localorg does not model: accepted as is
                state = self.deleted_state(target, list({column[i] for i in rows}))
                for i in rows:
                    deleted = state.get(column[i])
                    if deleted is None:
                        errors[i] = SalesforceError(
                            "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [fld.name]
                        )
                    elif deleted:
                        errors[i] = SalesforceError("ENTITY_IS_DELETED", "entity is deleted", [fld.name])

    def _check_record_types(
        self, obj: SObjectType, batch: RowBatch, errors: list[SalesforceError | None]
    ) -> None:
        """A RecordTypeId must name an active record type of this very object."""
        fld = obj.field("RecordTypeId")
        record_type = self.schema.get("RecordType")
        column = batch.columns.get(fld.name) if fld is not None else None
        if fld is None or column is None or record_type is None:
            return
        sobject_type, is_active = record_type.field("SobjectType"), record_type.field("IsActive")
        if sobject_type is None or is_active is None:
            return
        wanted = list({v for i, v in enumerate(column) if v not in (KEEP, None) and errors[i] is None})
        rows = self.fetch_by_ids(record_type, wanted, [sobject_type, is_active])
        usable = {
            record_id
            for record_id, row in rows.items()
            if str(row[sobject_type.name]).lower() == obj.name.lower() and row[is_active.name]
        }
        for i, value in enumerate(column):
            if errors[i] is None and value not in (KEEP, None) and value not in usable:
                errors[i] = SalesforceError(
                    "INVALID_CROSS_REFERENCE_KEY",
                    f"Record Type ID: this ID value isn't valid for the user: {value}",
                    [fld.name],
                )

    def _check_required(
        self, obj: SObjectType, batch: RowBatch, is_insert: list[bool], errors: list[SalesforceError | None]
    ) -> None:
        missing: dict[int, list[str]] = {}
        for fld in obj.fields.values():
            if not fld.required:
                continue
            column = batch.columns.get(fld.name)
            for i in range(batch.size):
                if errors[i] is not None:
                    continue
                value = KEEP if column is None else column[i]
                if (is_insert[i] and (value is KEEP or value is None or value == "")) or (
                    not is_insert[i] and (value is None or value == "")
                ):
                    missing.setdefault(i, []).append(fld.name)
        for i, names in missing.items():
            errors[i] = SalesforceError(
                "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(names)}]", names
            )

    def _check_unique(
        self,
        obj: SObjectType,
        batch: RowBatch,
        targets: list[str | None],
        errors: list[SalesforceError | None],
        known: dict[str, dict[str, list[str]]],
    ) -> None:
        for fld in obj.unique_fields:
            column = batch.columns.get(fld.name)
            if column is None:
                continue
            fold = not fld.case_sensitive
            seen: dict[str, int] = {}
            rows: list[int] = []
            for i, value in enumerate(column):
                if value is KEEP or value is None or errors[i] is not None:
                    continue
                key = value.lower() if fold and type(value) is str else value
                if key in seen:
                    other = targets[seen[key]]
                    errors[i] = SalesforceError(
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {fld.name} duplicates value on record with id: "
                        f"{other or 'another record in this request'}",
                    )
                    continue
                seen[key] = i
                rows.append(i)
            if not rows:
                continue
            existing = known.get(fld.name)
            if existing is None:
                existing = self.find_by_field(obj, fld, [column[i] for i in rows])
            if not existing:
                continue
            for i in rows:
                key = column[i].lower() if fold and type(column[i]) is str else column[i]
                holders = [h for h in existing.get(key, ()) if h != targets[i]]
                if holders:
                    errors[i] = SalesforceError(
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {fld.name} duplicates value on record with id: {holders[0]}",
                    )

    def _insert(
        self, obj: SObjectType, batch: RowBatch, rows: Sequence[int], options: WriteOptions
    ) -> list[str]:
        new_ids = self.allocate_ids(obj, len(rows))
        now = format_datetime(datetime.now(UTC))
        names: list[str] = ["Id"]
        columns: list[Any] = [new_ids]
        constants: dict[str, Any] = {}
        for fld in obj.stored_fields:
            if fld.name == "Id" or fld.sql_expression:
                continue
            if fld.name == "IsDeleted":
                constants[fld.name] = 0
            elif fld.name in {"CreatedDate", "LastModifiedDate", "SystemModstamp"}:
                constants[fld.name] = now
            elif fld.name in {"CreatedById", "LastModifiedById"}:
                constants[fld.name] = options.user_id
            elif fld.auto_number:
                names.append(fld.name)
                columns.append(self._next_numbers(obj, fld, len(rows)))
                continue
            else:
                given = batch.columns.get(fld.name)
                default = self._default_for(fld, options)
                if given is not None:
                    names.append(fld.name)
                    if len(rows) == batch.size and KEEP not in given:
                        columns.append(given)  # every row, each with a value: nothing to fill in
                    else:
                        columns.append([default if given[i] is KEEP else given[i] for i in rows])
                    continue
                if default is None:
                    continue
                constants[fld.name] = default
            names.append(fld.name)
            columns.append(None)
        width = len(rows)
        # Values shared by every row go into the statement as literals: binding them once per row would
        # cost about a tenth of the insert.
        marks = [
            "?" if column is not None else (_sql_literal(constants[name]) or "?")
            for name, column in zip(names, columns, strict=True)
        ]
        bound = [
            column if column is not None else [constants[name]] * width
            for name, column, mark in zip(names, columns, marks, strict=True)
            if mark == "?"
        ]
        sql = (
            f"INSERT INTO {table_name(obj)} ({','.join(quote(n) for n in names)}) VALUES ({','.join(marks)})"
        )
        self.conn.executemany(sql, zip(*bound, strict=True))
        return new_ids

    def _default_for(self, fld: Field, options: WriteOptions) -> Any:
        if fld.name == "OwnerId":
            return options.user_id
        if fld.type == "boolean":
            default = fld.default_value
            if isinstance(default, str):
                return 1 if default.lower() == "true" else 0
            return 1 if default else 0
        if fld.type in {"picklist", "multipicklist"}:
            return fld.picklist_default
        return None

    def _update(
        self,
        obj: SObjectType,
        batch: RowBatch,
        rows: list[int],
        targets: list[str | None],
        options: WriteOptions,
    ) -> None:
        now = format_datetime(datetime.now(UTC))
        names = [n for n in batch.columns if not (obj.field(n) or Field(n, "string")).sql_expression]
        groups: dict[tuple[str, ...], list[int]] = {}
        if all(KEEP not in batch.columns[n] for n in names):
            groups[tuple(names)] = rows  # every row sets every column: one statement for all
        else:
            for i in rows:
                present = tuple(n for n in names if batch.columns[n][i] is not KEEP)
                groups.setdefault(present, []).append(i)
        # The audit values are the same on every row: literals, not parameters bound row by row.
        modified_at = _sql_literal(now) or "?"
        modified_by = _sql_literal(options.user_id) or "?"
        audit = (
            f'"LastModifiedDate" = {modified_at}, "LastModifiedById" = {modified_by}, '
            f'"SystemModstamp" = {modified_at}'
        )
        for present, members in groups.items():
            assignments = ", ".join(f"{quote(n)} = ?" for n in present)
            sql = f'UPDATE {table_name(obj)} SET {assignments + ", " if assignments else ""}{audit} WHERE "Id" = ?'
            whole = len(members) == batch.size
            columns: list[Sequence[Any]] = [
                batch.columns[n] if whole else [batch.columns[n][i] for i in members] for n in present
            ]
            for value, mark in ((now, modified_at), (options.user_id, modified_by), (now, modified_at)):
                if mark == "?":
                    columns.append([value] * len(members))
            columns.append(targets if whole else [targets[i] for i in members])
            self.conn.executemany(sql, zip(*columns, strict=True))

    def _delete(
        self,
        obj: SObjectType,
        operation: str,
        targets: list[str | None],
        errors: list[SalesforceError | None],
        options: WriteOptions,
    ) -> WriteOutcome:
        if options.failing_rows is not None:
            for index in options.failing_rows(len(targets)):
                if errors[index] is None:
                    errors[index] = SalesforceError(
                        "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record or 1 records"
                    )
        self._check_restricted_delete(obj, targets, errors)
        if options.all_or_none and any(errors):
            return WriteOutcome([None] * len(targets), [False] * len(targets), errors)
        live = [t for t, e in zip(targets, errors, strict=True) if e is None and t is not None]
        self._delete_ids(obj, operation, live, options.user_id)
        return WriteOutcome(list(targets), [False] * len(targets), errors)

    def _children_of(self, child: SObjectType, fld: Field, parent_ids: Sequence[str]) -> list[str]:
        """Ids of the live records of `child` whose `fld` points at one of `parent_ids`."""
        found: list[str] = []
        for start in range(0, len(parent_ids), _IN_CHUNK):
            in_list, params = self._in_list(list(parent_ids[start : start + _IN_CHUNK]), True)
            sql = (
                f'SELECT "Id" FROM {table_name(child)} '
                f'WHERE {quote(fld.name)} IN {in_list} AND "IsDeleted" = 0'
            )
            found += [row[0] for row in self.conn.execute(sql, params)]
        return found

    def _check_restricted_delete(
        self, obj: SObjectType, targets: list[str | None], errors: list[SalesforceError | None]
    ) -> None:
        for child, fld in self.schema.references_to(obj):
            if not fld.restricted_delete:
                continue
            wanted = [t for t, e in zip(targets, errors, strict=True) if e is None and t is not None]
            if not wanted:
                return
            holders: dict[str, str] = {}
            for start in range(0, len(wanted), _IN_CHUNK):
                in_list, params = self._in_list(wanted[start : start + _IN_CHUNK], True)
                sql = (
                    f'SELECT {quote(fld.name)}, "Id" FROM {table_name(child)} '
                    f'WHERE {quote(fld.name)} IN {in_list} AND "IsDeleted" = 0'
                )
                for parent_id, child_id in self.conn.execute(sql, params):
                    holders.setdefault(parent_id, child_id)
            for i, target in enumerate(targets):
                if errors[i] is None and target in holders:
                    errors[i] = SalesforceError(
                        "DELETE_FAILED",
                        f"Your attempt to delete {obj.label} {target} could not be completed because it is "
                        f"associated with the following {child.label_plural}: {holders[target]}",
                    )

    def _delete_ids(self, obj: SObjectType, operation: str, live: list[str], user_id: str) -> None:
        """Delete these records and, as Salesforce does, the children of every cascade-delete relationship."""
        if not live:
            return
        cascades = [
            (child, fld, self._children_of(child, fld, live))
            for child, fld in self.schema.references_to(obj)
            if fld.cascade_delete
        ]
        now = format_datetime(datetime.now(UTC))
        if operation == "hardDelete":
            self.conn.executemany(f'DELETE FROM {table_name(obj)} WHERE "Id" = ?', ((t,) for t in live))
        else:
            self.conn.executemany(
                f'UPDATE {table_name(obj)} SET "IsDeleted" = 1, "SystemModstamp" = ?, "LastModifiedDate" = ?, '
                '"LastModifiedById" = ? WHERE "Id" = ?',
                ((now, now, user_id, t) for t in live),
            )
        for child, _, child_ids in cascades:
            self._delete_ids(child, operation, child_ids, user_id)


def _unsupported_operation(obj: SObjectType, operation: str) -> SalesforceError | None:
    """The error for a write the object does not support (Organization is read-only), or None."""
    allowed = {
        "insert": obj.createable,
        "update": obj.updateable,
        "upsert": obj.createable and obj.updateable,
        "delete": obj.deletable,
        "hardDelete": obj.deletable,
    }
    if allowed.get(operation, True):
        return None
    verb = "delete" if operation == "hardDelete" else operation
    return SalesforceError("INVALID_TYPE_FOR_OPERATION", f"entity type {obj.name} does not support {verb}")
