"""``thermogap status``: what the results database holds and what the last runs did."""

from __future__ import annotations

import click

from thermogap.cli.common import echo_json, json_option, open_existing_db, store_option
from thermogap.store import COLLECTIONS
from thermogap.store import collections as names


@click.command("status")
@store_option
@click.option(
    "--runs", "n_runs", default=5, show_default=True, help="How many recent runs to list."
)
@json_option
def command(store: str | None, n_runs: int, as_json: bool) -> None:
    """Summarise the results database: documents per collection and recent runs."""
    db = open_existing_db(store)
    counts = {name: db.count(name) for name in (db.config.outputs_collection, *COLLECTIONS)}
    runs = db.query(names.RUNS, sort={"finished_at": -1}, limit=n_runs)
    db.close()
    if as_json:
        echo_json({"store": db.name, "counts": counts, "recent_runs": runs})
        return
    click.echo(f"store: {db.name}")
    for name, count in counts.items():
        click.echo(f"  {name:<16} {count:>8}")
    for run in runs:
        click.echo(
            f"  run {run['flow_uuid'][:8]}: {run['n_jobs']} jobs, {run['n_ran']} ran, "
            f"{run['n_reused']} reused, {run['n_failed']} failed, {run['wall_time_s']:.1f} s"
        )
