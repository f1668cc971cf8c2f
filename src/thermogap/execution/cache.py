"""The thermogap job decorator: metadata, the job store inside the job, claims.

Whether a finished job is reused is decided before the flow runs, from keys derived from the
flow itself (:mod:`thermogap.execution.reuse`): a job never looks its own result up. What
:func:`tg_job` still does while a job runs:

- it records in ``metadata["thermogap"]`` the thermogap version, the wall time and whether the
  job added jobs at run time (``dynamic``: such outputs are never reused);
- it makes the bytes of every blob the output refers to travel with it (``artifacts`` in
  jobflow's ``data`` store, :mod:`thermogap.execution.artifacts`) and gives the function the
  bytes its inputs carry (:func:`~thermogap.execution.artifacts.current_blobs`);
- it exposes the job store to the function (``current_db()`` inside jobs of your own that
  read the database; no thermogap job does);
- where a results database is reachable (a local run, or a worker with ``$THERMOGAP_STORE``),
  it claims the job's flow key, so that two runs of the same flow started at the same time
  compute each job once: the second waits for the first and takes its output. On a standard
  jobflow-remote worker (no database route) the claim steps aside and the job just runs.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar, overload

from jobflow import Job, Response, job
from jobflow.core.job import JobConfig
from monty.json import MontyDecoder

import thermogap
from thermogap.execution.artifacts import ARTIFACTS_KEY, attach_artifacts, job_blob_scope

logger = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
METADATA_KEY = "thermogap"


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


FLOW_KEY = "flow_key"
"""Field of ``metadata["thermogap"]`` with the job's flow key (see :mod:`.reuse`)."""


def _results_db(store: Any) -> Any:
    """Return the :class:`ResultsDB` behind a job store, or ``None`` where there is none.

    On a jobflow-remote worker the job store is a per-job file: the database is the one
    named by ``$THERMOGAP_STORE`` if the worker exports it; a standard worker has none.
    """
    from thermogap.errors import StoreError
    from thermogap.store.context import db_for_jobstore

    try:
        return db_for_jobstore(store)
    except StoreError:
        return None


def _twin_output(db: Any, key: str, job_uuid: str, since: str) -> dict[str, Any] | None:
    """Return the output of a concurrent job with flow ``key`` finished after ``since``.

    Only outputs completed after this flow was submitted count: older ones were there to be
    reused at submission, and were not (their stored data is missing, say).
    """
    from thermogap.execution.reuse import _data_store_problems

    store = db.jobstore()
    store.connect()
    criteria = {
        f"metadata.{METADATA_KEY}.{FLOW_KEY}": key,
        "uuid": {"$ne": job_uuid},
        "completed_at": {"$gt": since},
    }
    for candidate in store.query(criteria, properties=["uuid", "index", "output", "metadata"]):
        info = (candidate.get("metadata") or {}).get(METADATA_KEY) or {}
        if info.get("dynamic") or _data_store_problems(store, candidate):
            continue
        try:
            found: dict[str, Any] | None = store.query_one(
                {"uuid": candidate["uuid"], "index": candidate["index"]},
                properties=["output", "uuid", "index"],
                load=True,
            )
        except Exception as exc:  # jobflow raises several types for unresolvable data blobs
            logger.warning("the output of concurrent job %s does not load: %s", candidate, exc)
            continue
        return found
    return None


#: Seconds a finished claim waits for its output to appear before another runner takes over.
CLAIM_OUTPUT_GRACE_S = 60.0
#: Seconds between polls of a runner that waits for another one's job.
CLAIM_POLL_S = 0.5


def _wait_or_claim(db: Any, key: str, job_uuid: str, since: str) -> dict[str, Any] | None:
    """Claim ``key`` for this job, or wait for the concurrent run that holds it.

    This is not how finished jobs are reused (that is decided before the flow runs): it
    keeps two runs of one flow started at the same time from computing a job twice. Returns
    ``None`` once this job holds the claim (it must run), or the other run's output when
    that appears first.
    """
    from thermogap.store.claims import claim, holder_is_alive, release

    waited_since: float | None = None
    while True:
        holder = claim(db, key, job_uuid)
        if holder is None:
            # the other run may have finished (and let go) between the submission and now
            found = _twin_output(db, key, job_uuid, since)
            if found is not None:
                release(db, key, job_uuid)
            return found
        previous = _twin_output(db, key, job_uuid, since)
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


def _is_dynamic(result: Any) -> bool:
    return isinstance(result, Response) and bool(result.replace or result.addition or result.detour)


def _resumable(function: F, reuse: bool = True) -> F:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from jobflow import CURRENT_JOB

        current = CURRENT_JOB.job
        store = CURRENT_JOB.store
        if current is None or store is None:  # called as a plain function
            with job_blob_scope(args, kwargs) as blobs:
                return attach_artifacts(function(*args, **kwargs), blobs)
        stamped = current.metadata.get(METADATA_KEY) or {}
        info: dict[str, Any] = {
            k: v
            for k, v in stamped.items()
            if k in (FLOW_KEY, "submitted_at", "volatile", "dynamic")
        }
        info |= {"reused": False, "version": thermogap.__version__}
        key: str = str(info.get(FLOW_KEY) or "") if reuse else ""
        since: str = str(stamped.get("submitted_at") or "")
        db = _results_db(store) if key and since else None
        if db is not None:
            twin = _wait_or_claim(db, key, current.uuid, since)
            if twin is not None:
                info |= {"reused": True, "reused_from": twin["uuid"]}
                current.metadata[METADATA_KEY] = info
                logger.info("took the output of %s from concurrent job %s", current.name, twin)
                return MontyDecoder().process_decoded(twin["output"])
        start = time.perf_counter()
        try:
            with job_blob_scope(args, kwargs) as blobs:
                result = attach_artifacts(function(*args, **kwargs), blobs)
        except BaseException:
            if db is not None:
                _release(db, key, current.uuid)
            raise
        info["wall_time_s"] = round(time.perf_counter() - start, 4)
        if _is_dynamic(result):
            info["dynamic"] = True  # outputs that add jobs are not reused: their children are
            if db is not None:
                _release(db, key, current.uuid)
        elif db is not None:
            from thermogap.store.claims import mark_finished

            # the output is written by jobflow just after this returns: waiters poll for it
            mark_finished(db, key, current.uuid)
        current.metadata[METADATA_KEY] = info
        return result

    wrapper._thermogap_reuse = reuse  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def _release(db: Any, key: Any, job_uuid: str) -> None:
    from thermogap.store.claims import release

    release(db, key, job_uuid)


@overload
def tg_job(method: Callable[..., Any]) -> Callable[..., Job]: ...
@overload
def tg_job(
    method: None = None, **job_kwargs: Any
) -> Callable[[Callable[..., Any]], Callable[..., Job]]: ...


def tg_job(method: Callable[..., Any] | None = None, **job_kwargs: Any) -> Any:
    """Decorate a function or Maker method as a resumable jobflow job.

    Use it exactly like :func:`jobflow.job`. It records metadata, exposes the job store to the
    function (so that :func:`thermogap.store.current_db` works inside legacy jobs) and
    coordinates concurrent runs of one flow (see the module docstring). Reuse of finished jobs
    is decided before the flow runs (:func:`thermogap.execution.reuse.reuse_finished`).
    ``@tg_job(reuse=False)`` marks a job whose result depends on what the database holds
    rather than on its inputs alone: it is never reused, and neither is anything downstream
    of it (its flow key is unique to it).

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
