"""The `localorg` command: serve, reset, import-describe, faults."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import secrets
import shutil
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from localorg.auth import ADMIN_TOKEN_HEADER, DEFAULT_SESSION_TTL, Credentials
from localorg.builtin_schema import build_schema
from localorg.org import DEFAULT_DAILY_API_LIMIT, OrgSettings
from localorg.schema import SchemaError, describes_in_document, load_schema_file

DEFAULT_CERT_DIR = "var/localorg"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="localorg", description="A Salesforce-compatible server.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8443, help="0 picks a free port")
    serve.add_argument("--db", default="var/localorg/org.db", help="SQLite file, or :memory:")
    serve.add_argument("--cert-dir", default=DEFAULT_CERT_DIR)
    serve.add_argument("--schema", help="JSON/YAML schema file with custom objects and fields")
    serve.add_argument("--session-ttl", type=int, default=DEFAULT_SESSION_TTL, help="seconds")
    serve.add_argument("--api-limit", type=int, default=DEFAULT_DAILY_API_LIMIT, help="DailyApiRequests Max")
    serve.add_argument("--verbose", action="store_true", help="log every request")

    reset = commands.add_parser("reset", help="delete all records and bulk jobs of a database")
    reset.add_argument("--db", required=True)

    imports = commands.add_parser("import-describe", help="enforce describe JSON saved from a real org")
    imports.add_argument("files", nargs="+", help="output of /sobjects/<Object>/describe")
    target = imports.add_mutually_exclusive_group(required=True)
    target.add_argument("--db", help="store the describes in this database")
    target.add_argument("--schema-out", help="write a schema file (use with serve --schema)")

    faults = commands.add_parser("faults", help="inspect or change fault injection of a running server")
    faults.add_argument("--url", required=True, help="the server's base URL, e.g. https://127.0.0.1:8443")
    faults.add_argument("--ca", default=os.path.join(DEFAULT_CERT_DIR, "ca.pem"), help="CA file to trust")
    faults.add_argument(
        "--admin-token-file",
        default=os.path.join(DEFAULT_CERT_DIR, ADMIN_TOKEN_FILE),
        help="the file serve wrote the admin token to (LOCALORG_ADMIN_TOKEN, when set, wins)",
    )
    actions = faults.add_subparsers(dest="action", required=True)
    set_action = actions.add_parser("set", help="replace the rules with one rule")
    set_action.add_argument("kind", help="unavailable | request_limit | session_expired | lock_row | latency")
    set_action.add_argument("--rate", type=float, default=0.0)
    set_action.add_argument("--every-nth", type=int, default=0)
    set_action.add_argument("--path-prefix", default="")
    set_action.add_argument("--latency-ms", type=int, default=0)
    set_action.add_argument("--times", type=int, default=0)
    actions.add_parser("clear", help="remove all rules")
    actions.add_parser("show", help="print the rules")
    actions.add_parser("expire-sessions", help="expire every session now")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "reset":
            return _reset(args.db)
        if args.command == "import-describe":
            return _import(args)
        return _faults(args)
    except (SchemaError, OSError, ValueError) as exc:
        print(f"localorg: error: {exc}", file=sys.stderr)
        return 2


ADMIN_TOKEN_FILE = "admin-token"
# Query parameters whose values are secrets; a request line logs them as "***".
SECRET_PARAMETERS = re.compile(
    r"((?:^|[?&;])(?:password|client_secret|code|code_verifier|refresh_token|assertion|access_token|"
    r"oauth_token|token|sessionId|sid)=)[^&;\s\"]*",
    re.IGNORECASE,
)


class RedactSecrets(logging.Filter):
    """Takes secrets out of werkzeug's request lines (`--verbose`): a client may put them in a query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(
                SECRET_PARAMETERS.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args
            )
        record.msg = SECRET_PARAMETERS.sub(r"\1***", str(record.msg))
        return True


def _admin_token(state_dir: Path) -> tuple[str, str]:
    """The admin API's token: LOCALORG_ADMIN_TOKEN, else one made now and kept (mode 600) in the state directory
    beside the CA; returns it and where it is, for the ready line (which never shows the token itself)."""
    given = os.environ.get("LOCALORG_ADMIN_TOKEN", "")
    if given:
        return given, "env:LOCALORG_ADMIN_TOKEN"
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / ADMIN_TOKEN_FILE
    token = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(token)
    os.chmod(path, 0o600)
    return token, str(path.resolve())


def _serve(args: argparse.Namespace) -> int:
    from localorg.server import ServerInfo, serve

    if not args.verbose:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("werkzeug").addFilter(RedactSecrets())
    if args.db != ":memory:":
        Path(args.db).parent.mkdir(parents=True, exist_ok=True)
    admin_token, token_source = _admin_token(Path(args.cert_dir))
    settings = OrgSettings(
        db=args.db,
        schema_file=args.schema,
        session_ttl=args.session_ttl,
        credentials=Credentials.from_env(),
        daily_api_limit=args.api_limit,
        admin_token=admin_token,
    )

    def announce(info: ServerInfo) -> None:
        # Never the password nor the client secret: whoever starts localorg set them (or uses the defaults).
        print(
            f"localorg ready url={info.url} ca={info.ca_path} username={info.username} "
            f"client_id={info.client_id} admin_token={token_source}",
            flush=True,
        )

    serve(settings, args.host, args.port, args.cert_dir, announce)
    return 0


def _reset(db: str) -> int:
    if not Path(db).exists():
        print(f"localorg: error: no database at {db}", file=sys.stderr)
        return 2
    connection = sqlite3.connect(db)
    try:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND (name LIKE 'o!_%' ESCAPE '!' "
                "OR name IN ('_lo_jobs', '_lo_job_outcomes', '_lo_query_jobs'))"
            )
        ]
        for table in tables:
            connection.execute(f'DELETE FROM "{table}"')
        connection.commit()
    finally:
        connection.close()
    shutil.rmtree(db + ".jobs", ignore_errors=True)
    print(f"localorg: reset {db}: emptied {len(tables)} tables")
    return 0


def _import(args: argparse.Namespace) -> int:
    describes: list[Any] = []
    for name in args.files:
        describes.extend(describes_in_document(load_schema_file(name), name))
    # Validate everything before writing anything.
    schema = build_schema(describes=describes)
    names = [d["name"] for d in describes]
    if args.schema_out:
        Path(args.schema_out).write_text(json.dumps({"describes": describes}, indent=1), encoding="utf-8")
        print(f"localorg: wrote {args.schema_out} with {', '.join(names)}")
        return 0
    from localorg.store import Store

    Path(args.db).parent.mkdir(parents=True, exist_ok=True)
    store = Store(args.db, schema, Credentials.from_env().username)
    for describe in describes:
        store.import_describe(describe)
    store.conn.close()
    print(f"localorg: {args.db} now enforces {', '.join(names)}")
    return 0


def _faults(args: argparse.Namespace) -> int:
    import requests

    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override the CA given here
    session.verify = args.ca
    token = os.environ.get("LOCALORG_ADMIN_TOKEN") or Path(args.admin_token_file).read_text().strip()
    session.headers[ADMIN_TOKEN_HEADER] = token
    base = args.url.rstrip("/") + "/_localorg"
    if args.action == "set":
        spec = {
            "kind": args.kind,
            "rate": args.rate,
            "every_nth": args.every_nth,
            "path_prefix": args.path_prefix,
            "latency_ms": args.latency_ms,
            "times": args.times,
        }
        response = session.post(base + "/faults", json=spec, timeout=30)
    elif args.action == "clear":
        response = session.delete(base + "/faults", timeout=30)
    elif args.action == "expire-sessions":
        response = session.post(base + "/sessions/expire", timeout=30)
    else:
        response = session.get(base + "/faults", timeout=30)
    print(json.dumps(response.json(), indent=1))
    return 0 if response.ok else 1
