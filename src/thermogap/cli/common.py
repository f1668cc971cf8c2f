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


def backend_error_message(exc: BaseException) -> str | None:
    """Return one line for an error of a storage backend or the OS, or ``None`` if unknown.

    Authentication failures (MongoDB code 18) are named as such; credentials in any URI of
    the message are replaced by ``***``.
    """
    from thermogap.store.config import redact_credentials

    module = type(exc).__module__
    code = getattr(exc, "code", None)
    text = redact_credentials(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    if module.startswith(("pymongo", "gridfs")) and code == 18:
        return "authentication failed: the MongoDB server refused the user name or password"
    if module.startswith(("pymongo", "gridfs", "montydb", "sqlite3", "bson", "maggma")):
        return f"database error ({type(exc).__name__}): {text}"
    if isinstance(exc, PermissionError) or getattr(exc, "errno", None) == 30:
        return f"cannot write: {text} (is the store read-only?)"
    if isinstance(exc, OSError):
        return f"{type(exc).__name__}: {text}"
    return None


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
