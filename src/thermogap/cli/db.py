"""``thermogap db start|stop|info``: a local MongoDB-protocol server for jobflow-remote.

The server (``secantusd-py``, from the optional ``thermogap[server]`` extra) runs as a
separate background process on a loopback port; its files live in one data directory
(``--data-dir``, default ``$THERMOGAP_DB_DIR`` or ``~/.thermogap/db``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from thermogap.cli.common import echo_json, json_option, open_db, store_option
from thermogap.store.server import (
    ServerInfo,
    check_reachable,
    default_data_dir,
    read_server_info,
    start_server,
    stop_server,
)

DATABASE_HINT = "thermogap"

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory of the server's storage, log and pidfile. "
    "Default: $THERMOGAP_DB_DIR, then ~/.thermogap/db.",
)


def _describe(info: ServerInfo) -> dict[str, Any]:
    return {
        "pid": info.pid,
        "uri": info.uri,
        "store": f"{info.uri}/{DATABASE_HINT}",
        "started_at": info.started_at,
        "data_dir": str(info.data_dir),
        "log": str(info.log_path),
    }


def _databases(uri: str) -> dict[str, dict[str, int]]:
    """Return ``{database: {collection: document count}}`` of the non-system databases."""
    import pymongo

    client: pymongo.MongoClient = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)
    try:
        found: dict[str, dict[str, int]] = {}
        for name in client.list_database_names():
            if name in {"admin", "config", "local"}:
                continue
            database = client[name]
            found[name] = {
                coll: int(database[coll].estimated_document_count())
                for coll in sorted(database.list_collection_names())
            }
        return found
    finally:
        client.close()


def _storage_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


@click.group("db")
def command() -> None:
    """Run a local MongoDB-protocol server (for jobflow-remote on one machine); verify a store."""


@command.command("start")
@data_dir_option
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Loopback address to listen on."
)
@click.option(
    "--port", type=int, default=None, help="TCP port. Default: the last one used, else a free one."
)
@click.option("--timeout", "timeout_s", type=float, default=30.0, show_default=True,
              help="Seconds to wait for the server to answer.")  # fmt: skip
@json_option
def start(
    data_dir: Path | None, host: str, port: int | None, timeout_s: float, as_json: bool
) -> None:
    """Start the server in the background (does nothing if it already runs)."""
    data_path = data_dir or default_data_dir()
    previous = read_server_info(data_path)
    already = previous is not None and previous.is_running()
    info = start_server(data_path, host=host, port=port, timeout_s=timeout_s)
    if as_json:
        echo_json(_describe(info) | {"already_running": already})
        return
    verb = "already running" if already else "started"
    click.echo(f"secantusd-py {verb} (pid {info.pid}) at {info.uri}; data in {info.data_dir}")
    click.echo(f"use it with:  export THERMOGAP_STORE={info.uri}/{DATABASE_HINT}")


@command.command("stop")
@data_dir_option
@click.option("--timeout", "timeout_s", type=float, default=10.0, show_default=True,
              help="Seconds to wait for a clean shutdown before killing it.")  # fmt: skip
def stop(data_dir: Path | None, timeout_s: float) -> None:
    """Stop the server (its data is kept)."""
    data_path = data_dir or default_data_dir()
    info = stop_server(data_path, timeout_s=timeout_s)
    if info is None:
        click.echo(f"no server running for {data_path}")
    else:
        click.echo(f"stopped secantusd-py (pid {info.pid}) at {info.uri}")


@command.command("info")
@data_dir_option
@json_option
def info(data_dir: Path | None, as_json: bool) -> None:
    """Show whether the server runs, where, and what databases it holds."""
    data_path = (data_dir or default_data_dir()).expanduser().resolve()
    server = read_server_info(data_path)
    running = server is not None and server.is_running()
    report: dict[str, Any] = {"running": running, "data_dir": str(data_path)}
    report["storage_bytes"] = _storage_bytes(data_path / "wiredtiger")
    if server is not None and running:
        check_reachable(server.uri, timeout_s=5.0)
        report |= _describe(server) | {"databases": _databases(server.uri)}
    if as_json:
        echo_json(report)
        return
    if not running:
        click.echo(f"no server running for {data_path} (start one with `thermogap db start`)")
        return
    click.echo(f"running: pid {report['pid']} at {report['uri']} since {report['started_at']}")
    click.echo(f"data:    {report['data_dir']} ({report['storage_bytes'] / 1e6:.1f} MB)")
    click.echo(f"log:     {report['log']}")
    for name, collections in report["databases"].items():
        total = sum(collections.values())
        click.echo(f"  {name}: {len(collections)} collections, {total} documents")


@command.command("verify")
@store_option
@json_option
def verify(store: str | None, as_json: bool) -> None:
    """Check that every blob reference resolves and every blob matches its SHA-256."""
    from thermogap.store.verify import verify_store

    db = open_db(store)
    try:
        report = verify_store(db)
    finally:
        db.close()
    if as_json:
        echo_json(report.model_dump() | {"ok": report.ok})
    else:
        click.echo(
            f"{report.store}: {report.n_documents} documents, {report.n_references} blob "
            f"references, {report.n_blobs} blobs hashed, {len(report.problems)} problems"
        )
        for problem in report.problems:
            click.echo(f"  {problem}")
    if not report.ok:
        raise click.exceptions.Exit(1)
