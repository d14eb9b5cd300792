"""The `dms` command line."""

from __future__ import annotations

import sys

import click


@click.group()
def main() -> None:
    """DMS, a Data Migration System: legacy exports into Salesforce."""


@main.command()
@click.option("--port", default=8000, show_default=True, help="Port of the web app.")
@click.option("--workers", default=1, show_default=True, help="Worker processes to start.")
def dev(port: int, workers: int) -> None:
    """Run the whole local stack (services, web, worker) on its embedded defaults."""
    from dms.devstack import run_dev_stack

    sys.exit(run_dev_stack(web_port=port, workers=workers))


if __name__ == "__main__":
    main()
