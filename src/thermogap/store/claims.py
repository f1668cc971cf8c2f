"""Claims: keep two runners sharing a store from running the same job at the same time.

Before a resumable job runs its function it claims its cache key in the ``claims``
collection. A second runner that reaches a job with the same key finds the claim and waits
for the first one's output instead of computing it again; a claim whose process has died
(same host), which was released after a failure, or whose job finished without an output
appearing, is taken over. Claims are atomic per key: a unique index on MongoDB, the store's
write lock on the embedded store.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import psutil

from thermogap.store.database import ResultsDB

__all__ = [
    "CLAIMS_COLLECTION",
    "claim",
    "holder_is_alive",
    "mark_finished",
    "release",
    "release_jobs",
]

CLAIMS_COLLECTION = "claims"
#: A claim from another host older than this many seconds is considered abandoned.
CLAIM_TTL_S = 24 * 3600.0


def _me(key: str, job_uuid: str) -> dict[str, Any]:
    process = psutil.Process()
    return {
        "cache_key": key,
        "job_uuid": job_uuid,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "create_time": process.create_time(),
        "state": "running",
        "claimed_at": time.time(),
    }


def holder_is_alive(holder: dict[str, Any]) -> bool:
    """Whether the process that holds a claim may still be working on it."""
    if holder.get("host") != socket.gethostname():
        return time.time() - float(holder.get("claimed_at", 0.0)) < CLAIM_TTL_S
    try:
        process = psutil.Process(int(holder["pid"]))
        return abs(process.create_time() - float(holder["create_time"])) < 1.0
    except (psutil.Error, KeyError, ValueError):
        return False


def claim(
    db: ResultsDB, key: str, job_uuid: str, take_over: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """Claim ``key`` for ``job_uuid``; return ``None`` on success, else the current holder.

    Parameters
    ----------
    db
        The results database.
    key
        Cache key of the job.
    job_uuid
        uuid of the job that wants to run.
    take_over
        A holder found dead or stuck: its claim is replaced if it is still the same one.
    """
    coll = db._raw(CLAIMS_COLLECTION)
    mine = _me(key, job_uuid)
    if db.config.backend == "mongodb":
        from pymongo.errors import DuplicateKeyError

        db.ensure_index(CLAIMS_COLLECTION, ["cache_key"], unique=True)
        if take_over is not None:
            coll.delete_one({"cache_key": key, "job_uuid": take_over["job_uuid"]})
        try:
            coll.insert_one(mine)
            return None
        except DuplicateKeyError:
            holder: dict[str, Any] | None = coll.find_one({"cache_key": key}, {"_id": 0})
            if holder is None or holder.get("job_uuid") == job_uuid:
                return claim(db, key, job_uuid) if holder is None else None
            return holder
    with db.write_lock():
        holder = coll.find_one({"cache_key": key}, {"_id": 0})
        replace = holder is not None and (
            holder.get("job_uuid") == job_uuid
            or (take_over is not None and holder.get("job_uuid") == take_over.get("job_uuid"))
        )
        if holder is not None and not replace:
            return holder
        if holder is not None:
            coll.delete_many({"cache_key": key})
        coll.insert_one(mine)
    return None


def mark_finished(db: ResultsDB, key: str, job_uuid: str) -> None:
    """Record that the claiming job returned (its output is being written)."""
    with db.write_lock():
        db._raw(CLAIMS_COLLECTION).update_one(
            {"cache_key": key, "job_uuid": job_uuid}, {"$set": {"state": "finished"}}
        )


def release(db: ResultsDB, key: str, job_uuid: str) -> None:
    """Drop the claim of ``job_uuid`` on ``key`` (after a failure: another runner may try)."""
    with db.write_lock():
        coll = db._raw(CLAIMS_COLLECTION)
        if coll.find_one({"cache_key": key, "job_uuid": job_uuid}) is not None:
            coll.delete_many({"cache_key": key, "job_uuid": job_uuid})


def release_jobs(db: ResultsDB, job_uuids: list[str]) -> None:
    """Drop every claim held by ``job_uuids`` (at the end of a run, outputs are stored)."""
    if not job_uuids:
        return
    with db.write_lock():
        coll = db._raw(CLAIMS_COLLECTION)
        selector = {"job_uuid": {"$in": list(job_uuids)}}
        if coll.find_one(selector) is not None:
            coll.delete_many(selector)
