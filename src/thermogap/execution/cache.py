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

logger = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
METADATA_KEY = "thermogap"


def _without_provenance(value: Any) -> Any:
    # provenance (creation time, host, job uuid) says where an input came from, not what it
    # is: two identical upstream results made at different times must give the same key
    if isinstance(value, dict):
        return {k: _without_provenance(v) for k, v in value.items() if k != "provenance"}
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


def _lookup(store: Any, key: str) -> dict[str, Any] | None:
    from thermogap.store.context import db_for_jobstore, is_worker_file_store

    if is_worker_file_store(store.docs_store):
        # a jobflow-remote worker writes to a per-job file: earlier outputs are in the database
        store = db_for_jobstore(store).jobstore()
    criteria = {f"metadata.{METADATA_KEY}.cache_key": key}
    found: dict[str, Any] | None = store.query_one(
        criteria, properties=["output", "uuid"], load=True
    )
    return found


def _resumable(function: F, reuse: bool = True) -> F:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from jobflow import CURRENT_JOB

        current = CURRENT_JOB.job
        store = CURRENT_JOB.store
        if current is None or store is None:  # called as a plain function
            return function(*args, **kwargs)
        key = cache_key(function, args, kwargs)
        info = {"cache_key": key, "reused": False, "version": thermogap.__version__}
        previous = _lookup(store, key) if reuse else None
        if previous is not None and previous.get("uuid") != current.uuid:
            info |= {"reused": True, "reused_from": previous["uuid"]}
            current.metadata[METADATA_KEY] = info
            logger.info("reusing output of %s from job %s", current.name, previous["uuid"])
            return MontyDecoder().process_decoded(previous["output"])
        start = time.perf_counter()
        result = function(*args, **kwargs)
        info["wall_time_s"] = round(time.perf_counter() - start, 4)
        if isinstance(result, Response) and (result.replace or result.addition or result.detour):
            info["dynamic"] = True  # outputs that add jobs are not reused: their children are
            info.pop("cache_key")
        current.metadata[METADATA_KEY] = info
        return result

    return wrapper  # type: ignore[return-value]


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
    config = job_kwargs.pop("config", None) or JobConfig()
    config.expose_store = True

    def decorator(function: Callable[..., Any]) -> Callable[..., Job]:
        return job(_resumable(function, reuse), config=config, **job_kwargs)

    return decorator(method) if method is not None else decorator
