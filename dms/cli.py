"""The `dms` command line: a client of the DMS HTTP API (local or deployed), plus `dms dev`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from dms.cliclient import Api, api_option, download, exit_code, follow
from dms.cliconfig import save_config
from dms.cliplans import plan
from dms.pipeline.model import FINAL_STATES


def summary(job: dict[str, Any]) -> str:
    """One line a person reads at a glance."""
    c = job["counters"]
    parts = [f"job {job['id']} {job['state']}:", f"{c.get('total', 0)} rows"]
    if job["options"].get("dry_run"):
        parts.append(f"{c.get('valid', 0)} would load, {c.get('invalid', 0)} invalid")
        if job.get("estimated_api_calls") is not None:
            parts.append(f"~{job['estimated_api_calls']} API calls to load")
    else:
        parts.append(
            f"{c.get('succeeded', 0)} succeeded ({c.get('created', 0)} created, {c.get('updated', 0)} updated),"
        )
        parts.append(
            f"{c.get('failed', 0)} failed, {c.get('invalid', 0)} invalid, {c.get('cancelled', 0)} cancelled"
        )
        calls = job.get("api_calls") or {}
        parts.append(f"— {sum(calls.values())} API calls")
    if job.get("error"):
        parts.append(f"— {job['error']['code']}: {job['error']['message']}")
    return " ".join(parts)


def wait_for(api: Api, job_id: str) -> dict[str, Any]:
    """Follow a job to its end with a progress bar on stderr."""
    with click.progressbar(length=1000, label=f"job {job_id}", file=sys.stderr, show_eta=False) as bar:

        def advance(job: dict[str, Any]) -> None:
            bar.update(int(job.get("percent", 0) * 10) - bar.pos)

        return follow(api, f"/api/v1/jobs/{job_id}", FINAL_STATES, advance)


@click.group()
def main() -> None:
    """DMS, a Data Migration System: legacy exports into Salesforce."""


main.add_command(plan)  # `dms plan ...`, in its own module


@main.command()
@click.option("--port", type=int, help="Port of the web app.  [default: the port of DMS_PUBLIC_URL, 8000]")
@click.option("--workers", default=1, show_default=True, help="Worker processes to start.")
@click.option(
    "--var-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the stack keeps its data, logs and dev secrets.  [default: var/ in the repository]",
)
def dev(port: int | None, workers: int, var_dir: Path | None) -> None:
    """Run the whole local stack (services, web, worker) on its embedded defaults.

    Services already listening on their ports (DMS_REDIS_URL, DMS_SQS_ENDPOINT_URL, DMS_COUCHDB_URL,
    DMS_SALESFORCE_LOGIN_URL) are used when they answer like that service; anything else there is an error.
    """
    # Only `dms dev` needs the local stack (boto3, kombu): every other command stays a light HTTP client.
    from dms.devstack import run_dev_stack

    sys.exit(run_dev_stack(web_port=port, workers=workers, var=var_dir))


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--object", "object_name", required=True, help="Target object API name, e.g. Account.")
@click.option(
    "--operation",
    type=click.Choice(["insert", "update", "upsert", "delete", "hardDelete"]),
    default="insert",
    show_default=True,
)
@click.option("--external-id", help="External id field for upsert, e.g. Legacy_Id__c.")
@click.option("--mapping", help="A mapping spec JSON file, or the name of a saved template.")
@click.option("--connection", "connection_id", default="default", show_default=True)
@click.option("--encoding", help="Source encoding (detected when not given).")
@click.option("--delimiter", help="Source delimiter (sniffed when not given).")
@click.option("--sheet", help="Excel sheet name or 0-based index.")
@click.option(
    "--dry-run", is_flag=True, help="Rehearse: validate everything, load nothing, count the API calls."
)
@click.option("--wait/--no-wait", default=False, help="Follow the job to its end.")
@api_option
def migrate(
    file: Path,
    object_name: str,
    operation: str,
    external_id: str | None,
    mapping: str | None,
    connection_id: str,
    encoding: str | None,
    delimiter: str | None,
    sheet: str | None,
    dry_run: bool,
    wait: bool,
    url: str,
) -> None:
    """Upload FILE and load it into Salesforce (or rehearse with --dry-run)."""
    api = Api(url)
    upload = api.upload(file)
    body: dict[str, Any] = {
        "upload_id": upload["id"],
        "object": object_name,
        "operation": operation,
        "external_id": external_id,
        "connection_id": connection_id,
        "dry_run": dry_run,
    }
    read_options = {
        k: v for k, v in (("encoding", encoding), ("delimiter", delimiter), ("sheet", sheet)) if v
    }
    if read_options:
        body["read_options"] = read_options
    if mapping:
        if os.path.isfile(mapping):
            body["mapping"] = json.loads(Path(mapping).read_text(encoding="utf-8"))
        else:
            body["template"] = mapping
    job = api.json("POST", "/api/v1/jobs", json=body)
    if not wait:
        click.echo(f"job {job['id']} {job['state']} — follow it with: dms status {job['id']}")
        return
    job = wait_for(api, job["id"])
    click.echo(summary(job))
    if job["counters"].get("failed") or job["counters"].get("invalid"):
        click.echo(f"errors: dms results {job['id']} --errors", err=True)
    sys.exit(exit_code(job))


@main.command()
@click.option("--limit", default=20, show_default=True)
@api_option
def jobs(limit: int, url: str) -> None:
    """List recent jobs."""
    for job in Api(url).json("GET", f"/api/v1/jobs?limit={limit}")["jobs"]:
        click.echo(summary(job))


@main.command()
@click.argument("job_id")
@click.option("--wait/--no-wait", default=False)
@api_option
def status(job_id: str, wait: bool, url: str) -> None:
    """Show a job's state and counters (exit code 1 when rows failed, 2 when the job failed)."""
    api = Api(url)
    job = wait_for(api, job_id) if wait else api.json("GET", f"/api/v1/jobs/{job_id}")
    click.echo(summary(job))
    sys.exit(exit_code(job) if job["state"] in FINAL_STATES else 0)


@main.command()
@click.argument("job_id")
@click.option("--errors", "errors", is_flag=True, help="The error file instead of the success file.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to a file (default: stdout).",
)
@api_option
def results(job_id: str, errors: bool, output: Path | None, url: str) -> None:
    """Download success.csv (or errors.csv with --errors), row-accurate to the source file."""
    kind = "errors.csv" if errors else "success.csv"
    download(Api(url).call("GET", f"/api/v1/jobs/{job_id}/results/{kind}", stream=True), output)


@main.command()
@click.argument("job_id")
@click.option(
    "--file",
    "corrected",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A corrected file to load instead of the failed rows.",
)
@click.option("--wait/--no-wait", default=False)
@api_option
def retry(job_id: str, corrected: Path | None, wait: bool, url: str) -> None:
    """Retry a job's failed rows as a new job (optionally from a corrected file)."""
    api = Api(url)
    body = {"upload_id": api.upload(corrected)["id"]} if corrected else {}
    job = api.json("POST", f"/api/v1/jobs/{job_id}/retry", json=body)
    if wait:
        job = wait_for(api, job["id"])
        click.echo(summary(job))
        sys.exit(exit_code(job))
    click.echo(f"job {job['id']} {job['state']} (retry of {job_id})")


@main.command()
@click.argument("job_id")
@api_option
def cancel(job_id: str, url: str) -> None:
    """Cancel a job: pending chunks stop, running Salesforce bulk jobs are aborted."""
    click.echo(summary(Api(url).json("POST", f"/api/v1/jobs/{job_id}/cancel")))


@main.command()
@click.option(
    "--token", prompt=True, hide_input=True, help="An API token (dms_...), shown once when created."
)
@api_option
def login(token: str, url: str) -> None:
    """Check a token against DMS and save it (and the URL) in the config file for later commands."""
    me = Api(url, token=token.strip()).json("GET", "/api/v1/session")
    path = save_config(url=url, token=token.strip())
    click.echo(f"Signed in as {me['user']['username']} ({me['user']['role']}); saved in {path}.")


@main.group()
def tokens() -> None:
    """API tokens for scripts: create (shown once), list, revoke."""


@tokens.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "operator", "admin"]), help="At most your own.")
@click.option("--save", is_flag=True, help="Also save the new token in the config file.")
@api_option
def tokens_create(name: str, role: str | None, save: bool, url: str) -> None:
    """Create a token; it is printed once."""
    created = Api(url).json("POST", "/api/v1/tokens", json={"name": name, **({"role": role} if role else {})})
    if save:
        save_config(url=url, token=created["secret"])
    click.echo(created["secret"])
    click.echo(f"token {created['token']['id']} role={created['token']['role']}: store it now.", err=True)


@tokens.command("list")
@api_option
def tokens_list(url: str) -> None:
    """Your tokens (never their secrets)."""
    for token in Api(url).json("GET", "/api/v1/tokens")["tokens"]:
        state = f"revoked {token['revoked_at']}" if token.get("revoked_at") else "active"
        click.echo(f"{token['id']}  {token['role']:<8}  {state:<30}  {token['name']}")


@tokens.command("revoke")
@click.argument("token_id")
@api_option
def tokens_revoke(token_id: str, url: str) -> None:
    """Revoke a token at once."""
    Api(url).json("DELETE", f"/api/v1/tokens/{token_id}")
    click.echo(f"revoked {token_id}")


@main.group()
def connections() -> None:
    """Salesforce orgs: connect one (browser or automation flow), list, test, delete."""


@connections.command("list")
@api_option
def connections_list(url: str) -> None:
    """Your connections and the deployment's default org (never their secrets)."""
    for c in Api(url).json("GET", "/api/v1/connections")["connections"]:
        click.echo(f"{c['id']}  {c.get('flow', 'settings'):<18}  {c['login_url']:<40}  {c['name']}")


@connections.command("authorize")
@click.option("--name", required=True, help="A name for the org, e.g. 'Acme production'.")
@click.option("--login-url", required=True, help="https://login.salesforce.com, a My Domain, ...")
@click.option("--client-id", required=True, help="The connected app's consumer key.")
@click.option(
    "--client-secret-env",
    metavar="VAR",
    help="An environment variable holding the consumer secret, if the app requires one for this flow.",
)
@click.option("--username", help="Sent as a login hint.")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in this machine's browser.")
@api_option
def connections_authorize(
    name: str,
    login_url: str,
    client_id: str,
    client_secret_env: str | None,
    username: str | None,
    open_browser: bool,
    url: str,
) -> None:
    """Connect an org by the OAuth web server flow (PKCE): you approve in the org's page, in a browser
    signed in to DMS; DMS keeps the refresh token, encrypted."""
    spec = {"name": name, "login_url": login_url, "client_id": client_id, "username": username or ""}
    if client_secret_env:
        spec["client_secret"] = _secret_from_env(client_secret_env)
    started = Api(url).json("POST", "/api/v1/connections/authorize", json=spec)
    click.echo(started["authorize_url"])
    click.echo(
        f"Open this address in a browser signed in to DMS within {started['expires_in'] // 60} minutes and "
        f"approve; the org sends you back to {started['redirect_uri']}, which stores the connection. The "
        "connected app must list that address as a callback URL.",
        err=True,
    )
    if open_browser:
        import webbrowser  # only when asked: it may start a browser

        webbrowser.open(started["authorize_url"])


@connections.command("add")
@click.option("--name", required=True)
@click.option("--login-url", required=True)
@click.option(
    "--flow",
    type=click.Choice(["password", "client_credentials", "jwt_bearer"]),
    default="jwt_bearer",
    show_default=True,
)
@click.option("--client-id", required=True, help="The connected app's consumer key.")
@click.option("--username", help="The integration user (password and JWT bearer flows).")
@click.option("--private-key-file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@api_option
def connections_add(
    name: str,
    login_url: str,
    flow: str,
    client_id: str,
    username: str | None,
    private_key_file: Path | None,
    url: str,
) -> None:
    """Store a connection for automation. Secrets are read from DMS_SF_PASSWORD, DMS_SF_SECURITY_TOKEN and
    DMS_SF_CLIENT_SECRET (never from the command line, which other users of the machine can see)."""
    spec: dict[str, str] = {"name": name, "login_url": login_url, "flow": flow, "client_id": client_id}
    if username:
        spec["username"] = username
    for field, variable in (
        ("password", "DMS_SF_PASSWORD"),
        ("security_token", "DMS_SF_SECURITY_TOKEN"),
        ("client_secret", "DMS_SF_CLIENT_SECRET"),
    ):
        if os.environ.get(variable):
            spec[field] = os.environ[variable]
    if private_key_file is not None:
        spec["private_key"] = private_key_file.read_text()
    created = Api(url).json("POST", "/api/v1/connections", json=spec)
    click.echo(created["id"])
    click.echo(
        f"stored {created['name']} ({created['flow']}); secrets set: {', '.join(created['secrets_set'])}",
        err=True,
    )


@connections.command("test")
@click.argument("connection_id")
@api_option
def connections_test(connection_id: str, url: str) -> None:
    """Log in and read the org's API limits."""
    tested = Api(url).json("POST", f"/api/v1/connections/{connection_id}/test")
    daily = tested.get("daily_api_requests") or {}
    click.echo(f"ok {tested['instance_url']} daily API requests left: {daily.get('Remaining', '?')}")


@connections.command("delete")
@click.argument("connection_id")
@api_option
def connections_delete(connection_id: str, url: str) -> None:
    Api(url).call("DELETE", f"/api/v1/connections/{connection_id}")  # 204: no body
    click.echo(f"deleted {connection_id}")


def _secret_from_env(variable: str) -> str:
    value = os.environ.get(variable, "")
    if not value:
        raise click.ClickException(f"The environment variable {variable} is empty or not set.")
    return value


@main.group()
def users() -> None:
    """People who sign in (run on the server: it writes the document store directly)."""


@users.command("create")
@click.argument("username")
@click.option("--admin", is_flag=True, help="The role admin (the first user must be one).")
@click.option(
    "--role", type=click.Choice(["viewer", "operator", "admin"]), default="operator", show_default=True
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option(
    "--token", "with_token", is_flag=True, help="Also create an API token for the user, printed once."
)
def users_create(username: str, admin: bool, role: str, password_stdin: bool, with_token: bool) -> None:
    """Create a user with the deployment's settings (DMS_* environment), e.g. the first admin."""
    from dms.security.bootstrap import create_user  # needs the services: only this command loads them

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    user, token = create_user(username, password, "admin" if admin else role, with_token)
    click.echo(f"created user {user['username']} ({user['role']}) id={user['id']}")
    if token:
        click.echo(token)


if __name__ == "__main__":
    main()
