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


def open_existing_db(store: str | None) -> ResultsDB:
    """Open a results database for reading; refuse an embedded store path that does not exist.

    Read-only commands (``status``, ``query``, ``export``, ``plots``, ``jobs``) use this so a
    mistyped ``--store`` is an error instead of a new, empty database.

    Raises
    ------
    StoreError
        If the store is an embedded (directory) store whose directory does not exist.
    """
    from thermogap.errors import StoreError
    from thermogap.store import resolve_store_config

    config = resolve_store_config(store)
    if config.backend == "monty" and (config.path is None or not config.path.is_dir()):
        raise StoreError(
            f"store {str(config.path)!r} does not exist; give the --store of an existing "
            "results database (or run a flow first to create one)"
        )
    return ResultsDB.from_spec(config)
