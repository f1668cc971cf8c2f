"""``thermogap jobs`` and ``thermogap job UUID``: the jobs of a results database.

Jobs run locally have their outputs in jobflow's ``outputs`` collection (state
``COMPLETED``); jobs submitted with ``thermogap run --submit`` are also in the jobflow-remote
queue (``jfr_jobs``) of the same database, which records every state (READY, RUNNING,
FAILED, ...).
"""

from __future__ import annotations

import re
from typing import Any

import click

from thermogap.cli.common import echo_json, json_option, open_existing_db, store_option
from thermogap.errors import InputError, UnknownEntryError

QUEUE_JOBS = "jfr_jobs"
_UUID_PREFIX = re.compile(r"^[0-9a-f-]{6,36}$")


def _stored_jobs(db: Any) -> dict[str, dict[str, Any]]:
    """``{uuid: row}`` of every job with an output (latest index), state COMPLETED."""
    outputs = db.config.outputs_collection
    rows: dict[str, dict[str, Any]] = {}
    fields = ["uuid", "index", "name", "completed_at", "metadata"]
    for doc in db.query(outputs, properties=fields):
        if doc["uuid"] in rows and rows[doc["uuid"]]["index"] >= doc["index"]:
            continue
        thermogap_meta = (doc.get("metadata") or {}).get("thermogap") or {}
        rows[doc["uuid"]] = {
            "uuid": doc["uuid"],
            "index": doc["index"],
            "name": doc.get("name"),
            "state": "COMPLETED",
            "reused": bool(thermogap_meta.get("reused")),
            "updated": str(doc.get("completed_at") or ""),
        }
    return rows


def _queued_jobs(db: Any) -> dict[str, dict[str, Any]]:
    """``{uuid: row}`` from the jobflow-remote queue in the same database (may be empty)."""
    rows: dict[str, dict[str, Any]] = {}
    fields = ["uuid", "index", "state", "job.name", "db_id", "worker", "updated_on"]
    for doc in db.query(QUEUE_JOBS, properties=fields):
        if doc["uuid"] in rows and rows[doc["uuid"]]["index"] >= doc["index"]:
            continue
        rows[doc["uuid"]] = {
            "uuid": doc["uuid"],
            "index": doc["index"],
            "name": (doc.get("job") or {}).get("name"),
            "state": doc.get("state"),
            "db_id": doc.get("db_id"),
            "worker": doc.get("worker"),
            "updated": str(doc.get("updated_on") or ""),
        }
    return rows


def list_jobs(db: Any, states: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Return the jobs of ``db`` (queue state where the queue knows them), oldest first."""
    rows = _stored_jobs(db)
    for uuid, row in _queued_jobs(db).items():
        rows[uuid] = rows.get(uuid, {}) | {k: v for k, v in row.items() if v is not None}
    wanted = {s.upper() for s in states}
    found = [r for r in rows.values() if not wanted or str(r["state"]).upper() in wanted]
    return sorted(found, key=lambda r: (r["updated"], r["name"] or ""))


@click.command("jobs")
@store_option
@click.option(
    "--state",
    "states",
    multiple=True,
    metavar="STATE",
    help="Only jobs in this state (COMPLETED, READY, RUNNING, FAILED, ...); repeatable.",
)
@json_option
def jobs_command(store: str | None, states: tuple[str, ...], as_json: bool) -> None:
    """List the jobs of the results database with their state."""
    db = open_existing_db(store)
    rows = list_jobs(db, states)
    db.close()
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no jobs" + (f" in state {', '.join(states)}" if states else ""))
    for row in rows:
        reused = " (reused)" if row.get("reused") else ""
        click.echo(f"{row['uuid']}  {row['state']:<12} {row['name']}{reused}")
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["state"]] = counts.get(row["state"], 0) + 1
    if rows:
        click.echo("total: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))


def find_job(db: Any, uuid: str) -> dict[str, Any]:
    """Return the output document (latest index) of the job ``uuid`` or of a unique prefix.

    Raises
    ------
    InputError
        If ``uuid`` is not a uuid or a prefix of at least 6 characters.
    UnknownEntryError
        If no job, or more than one, matches.
    """
    uuid = uuid.lower()
    if not _UUID_PREFIX.match(uuid):
        raise InputError(f"{uuid=} is not a job uuid (or a prefix of at least 6 hex characters)")
    criteria = {"uuid": uuid} if len(uuid) == 36 else {"uuid": {"$regex": f"^{uuid}"}}
    docs = db.query(db.config.outputs_collection, criteria, sort={"index": -1})
    queued = db.query(QUEUE_JOBS, criteria, properties=["uuid", "state", "error", "job.name"])
    uuids = {d["uuid"] for d in docs} | {d["uuid"] for d in queued}
    if len(uuids) > 1:
        raise UnknownEntryError(f"job uuid prefix {uuid!r} matches {len(uuids)} jobs; give more")
    if not uuids:
        raise UnknownEntryError(f"no job with uuid {uuid!r} in {db.name}")
    if docs:
        doc = docs[0]
        return {k: doc.get(k) for k in ("uuid", "index", "name", "completed_at", "metadata")} | {
            "state": "COMPLETED",
            "output": doc.get("output"),
        }
    q = queued[0]
    return {"uuid": q["uuid"], "name": (q.get("job") or {}).get("name"), "state": q.get("state"),
            "error": q.get("error"), "output": None}  # fmt: skip


@click.command("job")
@click.argument("uuid")
@store_option
def job_command(uuid: str, store: str | None) -> None:
    """Print one job's output document as JSON (UUID or a unique prefix of it)."""
    db = open_existing_db(store)
    try:
        echo_json(find_job(db, uuid))
    finally:
        db.close()
