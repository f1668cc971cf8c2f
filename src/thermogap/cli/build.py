"""``thermogap build``: build the derived collections of a store from its job outputs."""

from __future__ import annotations

import click

from thermogap.cli.common import echo_json, json_option, open_db, store_option


@click.command("build")
@store_option
@click.option(
    "--collection",
    "collections",
    multiple=True,
    help="Derived collection to build (repeatable); all registered ones by default.",
)
@json_option
def command(store: str | None, collections: tuple[str, ...], as_json: bool) -> None:
    """Build derived collections (tdph, optics, ...) from the job outputs of a store.

    Run it after a jobflow-remote runner finished a flow: its workers wrote only job outputs.
    """
    from thermogap.store.builders import build_collections

    db = open_db(store)
    try:
        written = build_collections(db, list(collections) or None)
    finally:
        db.close()
    if as_json:
        echo_json({"store": db.name, "written": written})
        return
    for name, count in written.items():
        click.echo(f"{name}: {count} document(s) built")
