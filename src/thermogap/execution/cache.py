"""Resumable jobs: reuse the stored output of a job that already ran with the same inputs.

A job made with :func:`tg_job` computes, when it starts, a key from its function, its resolved
inputs and the thermogap version. If the job store already holds a completed output under that
key, the output is returned without running the function again; otherwise the function runs and
the key is written into the job's metadata, which jobflow saves beside the output. Because the
key is computed on the worker after references are resolved, a flow re-submitted after an
interruption, on the same or another machine sharing the store, runs only what is missing.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar, overload

from jobflow import Job, Response, job
from jobflow.core.job import JobConfig
from monty.json import MontyDecoder, jsanitize

import thermogap
from thermogap.execution.artifacts import ARTIFACTS_KEY, attach_artifacts, job_blob_scope

logger = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
METADATA_KEY = "thermogap"


def _without_provenance(value: Any) -> Any:
    # provenance (creation time, host, job uuid) says where an input came from, not what it
    # is: two identical upstream results made at different times must give the same key;
    # carried blob bytes are represented by their ids (SHA-256 of the bytes)
    if isinstance(value, dict):
        return {
            k: sorted(v) if k == "artifacts" and isinstance(v, dict) else _without_provenance(v)
            for k, v in value.items()
            if k != "provenance"
        }
    if isinstance(value, list):
        return [_without_provenance(v) for v in value]
    return value


#: libraries whose version can change a job's result: a new release of any of them makes
#: every key new, so nothing computed with the old one is reused
RESULT_LIBRARIES = ("thermogap", "torch", "mace-torch", "chgnet", "phonopy", "tblite", "ase")


@functools.lru_cache(maxsize=1)
def library_versions() -> dict[str, str]:
    """Return the installed versions of :data:`RESULT_LIBRARIES` (``"absent"`` if missing)."""
    from importlib import metadata

    versions = {}
    for name in RESULT_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    versions["thermogap"] = thermogap.__version__  # the source tree's, also when not installed
    return versions


def cache_key(function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """Return the SHA-256 key of a call: function path, resolved inputs, library versions.

    ``provenance`` entries of the inputs are left out of the key; the versions are those of
    :data:`RESULT_LIBRARIES`.
    """
    sanitized = jsanitize(
        {"args": list(args), "kwargs": kwargs}, strict=True, enum_values=True, allow_bson=False
    )
    payload = {
        "function": f"{function.__module__}:{function.__qualname__}",
        **_without_provenance(sanitized),
        "versions": library_versions(),
    }
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def _results_db(store: Any) -> Any:
    """Return the :class:`ResultsDB` behind a job store (``None`` for an in-memory store)."""
    from thermogap.errors import StoreError
    from thermogap.store.context import db_for_jobstore

    try:
        return db_for_jobstore(store)
    except StoreError:
        return None


def _lookup(store: Any, key: str) -> dict[str, Any] | None:
    """Return a stored output with ``key`` whose blobs are all intact, else ``None``.

    An output that refers to a missing or corrupted blob is not reused: the job runs again
    and rewrites the blob (see :meth:`thermogap.store.blobs.BlobStore.put_bytes`).
    """
    from thermogap.store.context import is_worker_file_store
    from thermogap.store.verify import broken_references

    if is_worker_file_store(store.docs_store):
        # a jobflow-remote worker writes to a per-job file: earlier outputs are in the database
        worker_db = _results_db(store)
        if worker_db is None:
            # a standard worker has no route to the database: the runner, not the job, knows
            # what finished (it skips COMPLETED jobs on resubmission), so the job just runs
            return None
        store = worker_db.jobstore()
    db = _results_db(store)
    criteria = {f"metadata.{METADATA_KEY}.cache_key": key}
    seen: dict[Any, str | None] = {}
    for candidate in store.query(criteria, properties=["output", "uuid"], load=False):
        problems = broken_references(db, candidate.get("output"), seen) if db else []
        if problems:
            logger.warning("not reusing job %s: %s", candidate["uuid"], "; ".join(problems[:3]))
            continue
        try:  # resolve data-store references (a missing one is a broken output too)
            found: dict[str, Any] | None = store.query_one(
                {"uuid": candidate["uuid"], **criteria}, properties=["output", "uuid"], load=True
            )
        except Exception as exc:  # jobflow raises several types for unresolvable blobs
            logger.warning("not reusing job %s: %s", candidate["uuid"], exc)
            continue
        if found is not None:
            return found
    return None


#: Seconds a finished claim waits for its output to appear before another runner takes over.
CLAIM_OUTPUT_GRACE_S = 60.0
#: Seconds between polls of a runner that waits for another one's job.
CLAIM_POLL_S = 0.5


def _wait_or_claim(store: Any, key: str, job_uuid: str) -> dict[str, Any] | None:
    """Claim ``key`` for this job, or wait for the runner that holds it; return its output.

    Returns ``None`` once this job holds the claim (it must run), or the other runner's
    output when that appears first. Where the store cannot tell (no claims collection
    reachable), the job simply runs.
    """
    from thermogap.store.claims import claim, holder_is_alive, release

    db = _results_db(store)
    if db is None:
        return None
    waited_since: float | None = None
    while True:
        holder = claim(db, key, job_uuid)
        if holder is None:
            # another runner may have finished (and let go) between our lookup and the claim
            found = _lookup(store, key)
            if found is not None:
                release(db, key, job_uuid)
            return found
        previous = _lookup(store, key)
        if previous is not None:
            return previous
        if not holder_is_alive(holder):
            claim(db, key, job_uuid, take_over=holder)
            continue
        if holder.get("state") == "finished":
            waited_since = waited_since or time.monotonic()
            if time.monotonic() - waited_since > CLAIM_OUTPUT_GRACE_S:
                claim(db, key, job_uuid, take_over=holder)
                continue
        logger.info("job with key %s is running elsewhere (%s); waiting", key[:12], holder)
        time.sleep(CLAIM_POLL_S)


def _resumable(function: F, reuse: bool = True) -> F:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from jobflow import CURRENT_JOB

        current = CURRENT_JOB.job
        store = CURRENT_JOB.store
        if current is None or store is None:  # called as a plain function
            with job_blob_scope(args, kwargs) as blobs:
                return attach_artifacts(function(*args, **kwargs), blobs)
        key = cache_key(function, args, kwargs)
        info = {"cache_key": key, "reused": False, "version": thermogap.__version__}
        previous = _lookup(store, key) if reuse else None
        if previous is None and reuse:
            previous = _wait_or_claim(store, key, current.uuid)
        if previous is not None and previous.get("uuid") != current.uuid:
            info |= {"reused": True, "reused_from": previous["uuid"]}
            current.metadata[METADATA_KEY] = info
            logger.info("reusing output of %s from job %s", current.name, previous["uuid"])
            return MontyDecoder().process_decoded(previous["output"])
        start = time.perf_counter()
        try:
            with job_blob_scope(args, kwargs) as blobs:
                result = attach_artifacts(function(*args, **kwargs), blobs)
        except BaseException:
            _release(store, key, current.uuid, reuse)
            raise
        info["wall_time_s"] = round(time.perf_counter() - start, 4)
        if isinstance(result, Response) and (result.replace or result.addition or result.detour):
            info["dynamic"] = True  # outputs that add jobs are not reused: their children are
            info.pop("cache_key")
            _release(store, key, current.uuid, reuse)
        elif reuse:
            _finish(store, key, current.uuid)
        current.metadata[METADATA_KEY] = info
        return result

    return wrapper  # type: ignore[return-value]


def _release(store: Any, key: str, job_uuid: str, reuse: bool) -> None:
    if not reuse:
        return
    from thermogap.store.claims import release

    db = _results_db(store)
    if db is not None:
        release(db, key, job_uuid)


def _finish(store: Any, key: str, job_uuid: str) -> None:
    # the output is written by jobflow just after this returns: waiters poll for it
    from thermogap.store.claims import mark_finished

    db = _results_db(store)
    if db is not None:
        mark_finished(db, key, job_uuid)


@overload
def tg_job(method: Callable[..., Any]) -> Callable[..., Job]: ...
@overload
def tg_job(
    method: None = None, **job_kwargs: Any
) -> Callable[[Callable[..., Any]], Callable[..., Job]]: ...


def tg_job(method: Callable[..., Any] | None = None, **job_kwargs: Any) -> Any:
    """Decorate a function or Maker method as a resumable jobflow job.

    Use it exactly like :func:`jobflow.job`. Besides making the job resumable, it exposes
    the job store to the function so that :func:`thermogap.store.current_db` works inside it.
    ``@tg_job(reuse=False)`` always runs the function: use it for jobs whose result depends on
    what the database holds rather than on their inputs alone (selecting the labels to train
    on), so that their downstream jobs see new data.

    Examples
    --------
    >>> @tg_job
    ... def add(a, b):
    ...     return a + b
    """
    reuse = job_kwargs.pop("reuse", True)
    data = job_kwargs.pop("data", None)
    if data is not True:  # the bytes of referenced blobs always go to the data store
        keys = [data] if isinstance(data, str) else list(data or [])
        job_kwargs["data"] = [*keys, ARTIFACTS_KEY]
    else:
        job_kwargs["data"] = True
    config = job_kwargs.pop("config", None) or JobConfig()
    config.expose_store = True

    def decorator(function: Callable[..., Any]) -> Callable[..., Job]:
        return job(_resumable(function, reuse), config=config, **job_kwargs)

    return decorator(method) if method is not None else decorator
