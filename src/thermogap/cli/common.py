"""Options and output helpers shared by the CLI commands."""

from __future__ import annotations

import json
from typing import Any

import click

from thermogap.store import ResultsDB

store_option = click.option(
    "--store",
    "store",
    default=None,
    metavar="PATH_OR_URI",
    help="Results database: a directory (embedded), a mongodb:// URI or a store YAML. "
    "Default: $THERMOGAP_STORE, then ./thermogap-data.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON only.")


def open_db(store: str | None) -> ResultsDB:
    """Open the results database named on the command line (fails fast if unreachable)."""
    return ResultsDB.from_spec(store)


def echo_json(data: Any) -> None:
    """Print ``data`` as JSON (datetimes and numpy scalars as strings/numbers)."""
    click.echo(json.dumps(data, indent=2, default=str))
