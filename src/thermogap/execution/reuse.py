"""Reuse finished jobs, decided before a flow runs, from keys derived from the flow itself.

Every job of a flow gets a *flow key* (:func:`flow_keys`), computed the way a build system
keys its targets: a SHA-256 of

- the job's function (``module:qualname``; for a Maker method the Maker's class, the method
  and the Maker's serialised fields, its ``name`` left out),
- its static inputs (serialised with ``jsanitize``; ``provenance`` entries and ``@version``
  markers left out),
- for every reference to another job of the flow, that job's key and the attributes read
  from its output (``job.output.a[0]`` contributes ``(key(job), [a, 0])``); a reference to a
  job outside the flow contributes that job's uuid,
- the versions of the libraries that determine a result
  (:func:`thermogap.execution.cache.library_versions`).

The key needs no job to have run, so it is known at submission. :func:`stamp_flow_keys`
writes it into each job's ``metadata["thermogap"]["flow_key"]``; jobflow copies a job's
metadata into its output document, so every finished output in the job store carries the key
of the job that made it. :func:`reuse_finished` looks the keys of a new flow up in the job
store, removes every job whose key matches a completed output, and points the references of
the remaining jobs (and the flow's output) at the uuid of that earlier output. jobflow's
``run_locally`` (with ``allow_external_references=True``) and the jobflow-remote runner
resolve references by uuid from the job store, whether or not the job is part of the flow,
so the remaining jobs read the earlier results; no job looks anything up while it runs, and
a worker needs no route to the database.

Jobs made with ``@tg_job(reuse=False)`` are *volatile*: their result depends on more than
their inputs (they read a database collection), so their key is salted with their own uuid.
They always run, and so does everything downstream of them. A job whose output replaced or
extended the flow at run time (a dynamic ``Response``) is marked ``dynamic`` in its metadata
and never reused: the jobs it added are not part of any submitted flow.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from jobflow import Flow, Job, JobStore
from jobflow.core.reference import OutputReference
from monty.json import MontyDecoder, jsanitize
from pydantic import BaseModel, Field

from thermogap.execution.cache import FLOW_KEY, METADATA_KEY, library_versions

__all__ = [
    "FLOW_KEY",
    "ReuseReport",
    "ReusedJob",
    "RunnerSideReuse",
    "content_key",
    "find_finished",
    "flow_keys",
    "is_volatile",
    "reuse_finished",
    "stamp_flow_keys",
]

logger = logging.getLogger(__name__)

_REFERENCE = ("jobflow.core.reference", "OutputReference")


def _job_function(job: Job) -> Callable[..., Any]:
    """Return what jobflow calls when the job runs (the undecorated function or method)."""
    function: Callable[..., Any] = getattr(job.function, "original", job.function)
    return function


def is_volatile(job: Job) -> bool:
    """Whether ``job`` was made with ``@tg_job(reuse=False)`` (its result is not input-only)."""
    return getattr(_job_function(job), "_thermogap_reuse", True) is False


def _canonical(value: Any, reference_key: Callable[[str], str]) -> Any:
    """Return ``value`` (sanitised) with provenance and versions dropped, references keyed."""
    if isinstance(value, dict):
        if (value.get("@module"), value.get("@class")) == _REFERENCE:
            return {"@reference": reference_key(value["uuid"]), "attributes": value["attributes"]}
        return {
            # carried blob bytes are named by their ids, the SHA-256 of the bytes
            k: sorted(v)
            if k == "artifacts" and isinstance(v, dict)
            else _canonical(v, reference_key)
            for k, v in value.items()
            if k not in ("provenance", "@version")
        }
    if isinstance(value, list):
        return [_canonical(v, reference_key) for v in value]
    return value


def _function_identity(job: Job) -> dict[str, Any]:
    function = _job_function(job)
    maker = getattr(job.function, "__self__", None)
    if maker is None or isinstance(maker, type):
        return {"function": f"{function.__module__}:{function.__qualname__}"}
    cls = type(maker)
    fields = _sanitized(maker)
    if isinstance(fields, dict):
        fields = {k: v for k, v in fields.items() if k != "name"}  # a label, not a setting
    return {
        "function": f"{cls.__module__}:{cls.__qualname__}.{function.__name__}",
        "maker": fields,
    }


def _sanitized(value: Any) -> Any:
    """Serialise ``value`` for a key; objects jsanitize cannot serialise become their ``str``.

    A ``str`` that holds a memory address differs from run to run, so such a job is simply
    never reused: the safe side.
    """
    try:
        return jsanitize(value, strict=True, enum_values=True, allow_bson=False)
    except (AttributeError, TypeError, ValueError):
        return jsanitize(value, strict=False, enum_values=True, allow_bson=False)


def _hash(payload: Any) -> str:
    blob = json.dumps(payload, sort_keys=True, default=str, allow_nan=True).encode()
    return hashlib.sha256(blob).hexdigest()


def _jobs(flow: Flow | Job) -> list[Job]:
    """Return the jobs of ``flow``, each after the jobs it reads."""
    if isinstance(flow, Job):
        return [flow]
    return [job for job, _ in flow.iterflow()]


def _job_key(job: Job, reference_key: Callable[[str], str], versions: dict[str, str]) -> str:
    inputs = _sanitized({"args": list(job.function_args), "kwargs": dict(job.function_kwargs)})
    payload: dict[str, Any] = {
        **_function_identity(job),
        "inputs": _canonical(inputs, reference_key),
        "versions": versions,
    }
    if is_volatile(job):
        payload["volatile"] = job.uuid  # never equal to another job's key
    return _hash(payload)


def flow_keys(flow: Flow | Job, known: dict[str, str] | None = None) -> dict[str, str]:
    """Return ``{job uuid: flow key}`` for every job of ``flow`` (see the module docstring).

    Parameters
    ----------
    flow
        A jobflow ``Flow`` or ``Job``; nothing is run or looked up.
    known
        Keys of jobs outside ``flow`` that its jobs may reference (``{uuid: key}``); any
        other outside reference contributes its uuid.

    Returns
    -------
    dict
        A SHA-256 hex key per job uuid. Two flows built from the same functions, Makers,
        inputs and library versions get the same keys, whatever their uuids.
    """
    versions = library_versions()
    keys: dict[str, str] = dict(known or {})

    def reference_key(uuid: str) -> str:
        return keys.get(uuid, f"external:{uuid}")

    jobs = _jobs(flow)
    for job in jobs:
        keys[job.uuid] = _job_key(job, reference_key, versions)
    return {job.uuid: keys[job.uuid] for job in jobs}


def stamp_flow_keys(flow: Flow | Job, known: dict[str, str] | None = None) -> dict[str, str]:
    """Compute :func:`flow_keys` and write each into ``job.metadata["thermogap"]["flow_key"]``.

    ``submitted_at`` (now, in jobflow's ``completed_at`` format) goes beside it: a job that
    waits for a concurrent twin takes only outputs finished after it.
    """
    from datetime import datetime

    keys = flow_keys(flow, known)
    now = datetime.now().isoformat()  # jobflow's format for completed_at
    for job in _jobs(flow):
        info = job.metadata.setdefault(METADATA_KEY, {})
        info[FLOW_KEY] = keys[job.uuid]
        info["submitted_at"] = now
        if is_volatile(job):
            info["volatile"] = True
    return keys


class ReusedJob(BaseModel):
    """A job of a flow replaced by the output of an earlier job with the same flow key."""

    name: str = Field(..., description="Name of the job in the new flow.")
    uuid: str = Field(..., description="uuid of the job in the new flow (it does not run).")
    old_uuid: str = Field(..., description="uuid of the earlier job whose output is used.")
    flow_key: str = Field(..., description="Flow key both jobs share (SHA-256 hex).")


class ReuseReport(BaseModel):
    """What :func:`reuse_finished` did to a flow before it ran."""

    reused: list[ReusedJob] = Field(
        default_factory=list, description="Jobs removed from the flow; their outputs are reused."
    )
    volatile: list[str] = Field(
        default_factory=list,
        description="Names of jobs that always run (reuse=False: they read the database).",
    )
    dynamic: list[str] = Field(
        default_factory=list,
        description="Names of jobs whose earlier output added jobs at run time: run again.",
    )
    broken: list[str] = Field(
        default_factory=list,
        description="One line per earlier output not reused because its stored data is missing.",
    )
    n_remaining: int = Field(0, description="Jobs left in the flow, to run.")

    @property
    def n_reused(self) -> int:
        """Number of jobs reused."""
        return len(self.reused)

    @property
    def old_uuids(self) -> dict[str, str]:
        """``{uuid in the new flow: uuid of the reused output}``."""
        return {r.uuid: r.old_uuid for r in self.reused}

    def message(self) -> str:
        """One line for logs: ``reused N finished jobs`` (and what was not reused, why)."""
        text = f"reused {self.n_reused} finished jobs, {self.n_remaining} to run"
        if self.broken:
            text += f"; {len(self.broken)} earlier outputs with missing data not reused"
        return text


def _data_store_problems(store: JobStore, doc: dict[str, Any]) -> list[str]:
    """Return what is missing of the ``data``-store (additional store) blobs ``doc`` refers to."""
    from thermogap.store.verify import blob_references

    wanted: dict[str, set[str]] = {}
    problems = []
    for path, ref in blob_references(doc.get("output")):
        if "blob_uuid" in ref:
            wanted.setdefault(str(ref.get("store")), set()).add(str(ref["blob_uuid"]))
        else:
            problems.extend(_thermogap_blob_problems(store, path, ref))
    for name, uuids in wanted.items():
        stores: dict[str, Any] = dict(getattr(store, "additional_stores", {}))
        additional = stores.get(name)
        if additional is None:
            problems.append(f"additional store {name!r} is not configured")
            continue
        found = additional.count({"blob_uuid": {"$in": sorted(uuids)}})
        if found < len(uuids):
            problems.append(f"{len(uuids) - found} of {len(uuids)} {name!r} blobs missing")
    return problems


def _thermogap_blob_problems(store: JobStore, path: str, ref: dict[str, Any]) -> list[str]:
    """Check a thermogap blob reference (an output written by a job that used the blob store)."""
    from thermogap.errors import StoreError
    from thermogap.store.context import db_for_jobstore

    try:
        db = db_for_jobstore(store)
    except StoreError:
        return []  # no thermogap database behind this store: nothing to check against
    problem = db.blobs.check(str(ref["blob_id"]), str(ref["sha256"]))
    return [f"{path}: {problem}"] if problem else []


def _index_flow_keys(store: JobStore) -> None:
    """Index the outputs by flow key (once per store; a store without indexes is fine)."""
    try:
        store.docs_store.ensure_index(f"metadata.{METADATA_KEY}.{FLOW_KEY}")
    except Exception as exc:  # an index is an optimisation, never a failure
        logger.debug("no flow-key index on %s: %s", store.docs_store, exc)


def find_finished(
    store: JobStore, key: str, exclude: Iterable[str] = ()
) -> tuple[dict[str, Any] | None, list[str], bool]:
    """Return the newest completed output with flow ``key`` whose stored data is intact.

    Parameters
    ----------
    store
        A connected job store.
    key
        Flow key to look for.
    exclude
        uuids not to return (the jobs of the flow being submitted).

    Returns
    -------
    tuple
        ``(document or None, problems of skipped outputs, whether a dynamic output matched)``;
        the document has ``uuid``, ``index`` and ``metadata``.
    """
    excluded = set(exclude)
    criteria = {f"metadata.{METADATA_KEY}.{FLOW_KEY}": key}
    docs = store.query(
        criteria,
        properties=["uuid", "index", "metadata", "output", "completed_at"],
        sort={"completed_at": -1},
        load=False,
    )
    problems: list[str] = []
    dynamic = False
    for doc in docs:
        if doc["uuid"] in excluded:
            continue
        info = (doc.get("metadata") or {}).get(METADATA_KEY) or {}
        replaced = doc["index"] > 1 or store.query_one(
            {"uuid": doc["uuid"], "index": {"$gt": doc["index"]}}, ["uuid"]
        )
        if info.get("dynamic") or replaced:
            dynamic = True  # the job added jobs at run time (or was itself a replacement)
            continue
        found = _data_store_problems(store, doc)
        if found:
            problems.append(f"job {doc['uuid']}: {'; '.join(found[:3])}")
            continue
        return doc, problems, dynamic
    return None, problems, dynamic


def _rewrite(value: Any, old: dict[str, str]) -> Any:
    """Return ``value`` with every reference to a uuid in ``old`` pointed at ``old[uuid]``."""
    if isinstance(value, OutputReference):
        if value.uuid in old:
            return OutputReference(old[value.uuid], value.attributes, value.output_schema)
        return value
    if isinstance(value, dict):
        return {k: _rewrite(v, old) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, old) for v in value]
    if isinstance(value, tuple):
        return tuple(_rewrite(v, old) for v in value)
    if _references(value, old):
        # a reference inside another object (a pydantic model, an MSONable): rewrite its
        # serialised form and rebuild it
        data = jsanitize(value, strict=True, enum_values=True, allow_bson=True)
        return MontyDecoder().process_decoded(_rewrite_serialised(data, old))
    return value


def _rewrite_serialised(value: Any, old: dict[str, str]) -> Any:
    if isinstance(value, dict):
        if (value.get("@module"), value.get("@class")) == _REFERENCE and value["uuid"] in old:
            return {**value, "uuid": old[value["uuid"]]}
        return {k: _rewrite_serialised(v, old) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite_serialised(v, old) for v in value]
    return value


def _references(value: Any, uuids: Iterable[str]) -> bool:
    from jobflow.core.reference import find_and_get_references

    wanted = set(uuids)
    if isinstance(value, str | int | float | bool) or value is None:
        return False
    return any(ref.uuid in wanted for ref in find_and_get_references(value))


def _prune(flow: Flow, removed: set[str], old: dict[str, str]) -> None:
    """Remove the jobs ``removed`` from ``flow`` and its sub-flows; rewrite outputs."""
    kept: list[Flow | Job] = []
    for item in flow.jobs:
        if isinstance(item, Flow):
            _prune(item, removed, old)
            if item.jobs:
                kept.append(item)
        elif item.uuid not in removed:
            kept.append(item)
    # set the private fields: remove_jobs refuses outputs that refer outside the flow,
    # which they now do on purpose
    flow._output = _rewrite(flow.output, old)
    flow._jobs = tuple(kept)


def reuse_finished(flow: Flow | Job, store: JobStore) -> ReuseReport:
    """Replace the jobs of ``flow`` that already finished (same flow key) by their outputs.

    Stamps every job's flow key (:func:`stamp_flow_keys`), then, for each job whose key
    matches a completed output in ``store`` (newest first, skipping outputs whose stored data
    does not load and outputs of jobs that added jobs at run time), removes the job from the
    flow and points every reference to it (job inputs, nested in lists and dicts, and the
    flow's output) at the earlier job's uuid. Run the remaining flow with external
    references allowed.

    Parameters
    ----------
    flow
        The flow, changed in place. A bare ``Job`` is only stamped (it cannot be removed
        from itself): wrap it in a ``Flow`` to reuse it.
    store
        The job store results go to (connected here if needed).

    Returns
    -------
    ReuseReport
        Reused jobs (new and old uuids), jobs not reused and why, jobs left to run.
    """
    keys = stamp_flow_keys(flow)
    jobs = _jobs(flow)
    report = ReuseReport(volatile=[j.name for j in jobs if is_volatile(j)])
    if isinstance(flow, Job):
        report.n_remaining = 1
        return report
    store.connect()
    _index_flow_keys(store)
    old: dict[str, str] = {}
    for job in jobs:
        if is_volatile(job):
            continue
        doc, problems, dynamic = find_finished(store, keys[job.uuid])
        report.broken.extend(problems)
        if doc is None:
            if dynamic:
                report.dynamic.append(job.name)
            continue
        old[job.uuid] = doc["uuid"]
        report.reused.append(
            ReusedJob(name=job.name, uuid=job.uuid, old_uuid=doc["uuid"], flow_key=keys[job.uuid])
        )
    if old:
        for job in jobs:
            if job.uuid in old:
                continue
            job.function_args = tuple(_rewrite(list(job.function_args), old))
            job.function_kwargs = _rewrite(dict(job.function_kwargs), old)
        _prune(flow, set(old), old)
    report.n_remaining = len(jobs) - len(old)
    for reused in report.reused:
        logger.info("Reused job - %s (%s) from %s", reused.name, reused.uuid, reused.old_uuid)
    for problem in report.broken:
        logger.warning("not reusing %s", problem)
    logger.info("%s", report.message())
    return report


def content_key(store: JobStore, uuid: str) -> str:
    """Return a key of the stored output of job ``uuid`` (latest index), from its content.

    Used for the jobs downstream of a volatile job: their keys are known once its output is.
    ``provenance`` entries are left out; data-store arrays are loaded, so the key does not
    depend on where they were stored.
    """
    doc = store.query_one({"uuid": uuid}, properties=["output"], sort={"index": -1}, load=True)
    if doc is None:
        return f"missing:{uuid}"
    output = _sanitized(doc.get("output"))
    return _hash({"output": _canonical(output, lambda u: f"external:{u}")})


class RunnerSideReuse:
    """Reuse decided by the local runner between jobs, where submission could not decide.

    Two kinds of jobs get their key only while the flow runs:

    - jobs downstream of a volatile job (``reuse=False``): once the volatile job's output is
      stored, its content stands in for its key and the keys of the jobs that read it are
      recomputed; one that matches a finished output does not run (its readers point at that
      output instead) and every other one is stamped with the new key, so a later run can
      reuse it;
    - jobs that a job adds at run time (a dynamic ``Response``): they are keyed when the
      ``Response`` is returned and those that match finished outputs are removed from the
      added flow before it runs.

    Nothing is looked up inside a running job: the checks run in the runner between two
    jobs. :meth:`install` wraps the ``run`` of each job of the flow (and of the jobs added at
    run time) for one ``run_locally`` call.

    Parameters
    ----------
    flow
        The flow, after :func:`reuse_finished`.
    store
        The job store the flow runs against.
    report
        The report of :func:`reuse_finished`; jobs reused while the flow runs are added to it.
    """

    def __init__(self, flow: Flow, store: JobStore, report: ReuseReport) -> None:
        self.flow = flow
        self.store = store
        self.report = report
        self.keys: dict[str, str] = {r.old_uuid: r.flow_key for r in report.reused}
        self.pending: dict[str, Job] = {}
        self.flows: list[Flow] = [flow]
        self.skipped: dict[str, str] = {}
        self.volatile: set[str] = set()
        self.ran: set[str] = set()

    @property
    def skipped_uuids(self) -> set[str]:
        """Return the uuids of the jobs that did not run: their output was reused."""
        return set(self.skipped)

    def install(self) -> None:
        """Wrap the ``run`` of every job of the flow (jobflow's local manager calls it)."""
        for job in _jobs(self.flow) if self.flow.jobs else []:
            self._adopt(job)

    def _adopt(self, job: Job) -> None:
        info = job.metadata.get(METADATA_KEY) or {}
        if FLOW_KEY in info:
            self.keys.setdefault(job.uuid, info[FLOW_KEY])
        if is_volatile(job):
            self.volatile.add(job.uuid)
        self.pending[f"{job.uuid}:{job.index}"] = job
        original = job.run

        def run(*args: Any, **kwargs: Any) -> Any:
            return self._run(job, original, *args, **kwargs)

        job.run = run  # type: ignore[method-assign]

    def _run(self, job: Job, original: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        from jobflow import Response

        self.pending.pop(f"{job.uuid}:{job.index}", None)
        if job.uuid in self.skipped:
            return Response()  # its readers point at the reused output: nothing to store
        response = original(*args, **kwargs)
        self.ran.add(job.uuid)
        for attribute in ("replace", "detour", "addition"):
            added = getattr(response, attribute)
            if added is not None:
                self._reuse_added(job, added)
                if not added.jobs:
                    setattr(response, attribute, None)
        if job.uuid in self.volatile and response.replace is None:
            # the volatile job's final output is stored: it keys what reads it
            self.keys[job.uuid] = content_key(self.store, job.uuid)
            self._rekey_pending()
        return response

    def _reuse_added(self, parent: Job, added: Flow) -> None:
        """Key the jobs ``parent`` added at run time; drop those already finished."""
        own = [j for j in _jobs(added) if j.uuid != parent.uuid]  # not parent's replacement
        keys = flow_keys(added, known=self.keys) if own else {}
        keys.pop(parent.uuid, None)  # the parent's replacement keeps the parent's key
        old: dict[str, str] = {}
        for job in own:
            info = dict(job.metadata.get(METADATA_KEY) or {})  # not shared with the parent
            info[FLOW_KEY] = keys[job.uuid]
            info["submitted_at"] = (parent.metadata.get(METADATA_KEY) or {}).get("submitted_at")
            job.metadata[METADATA_KEY] = info
            if is_volatile(job):
                continue
            doc, _, _ = find_finished(self.store, keys[job.uuid])
            if doc is not None:
                old[job.uuid] = doc["uuid"]
                self._record(job, doc["uuid"], keys[job.uuid])
        self.keys.update(keys)
        if old:
            for job in _jobs(added):
                if job.uuid not in old:
                    job.function_args = tuple(_rewrite(list(job.function_args), old))
                    job.function_kwargs = _rewrite(dict(job.function_kwargs), old)
            _prune(added, set(old), old)
        self.flows.append(added)
        for job in _jobs(added) if added.jobs else []:
            self._adopt(job)

    def _rekey_pending(self) -> None:
        """Recompute the keys of the jobs not run yet; skip those that finished before."""
        versions = library_versions()

        def reference_key(uuid: str) -> str:
            return self.keys.get(uuid, f"external:{uuid}")

        for job in list(self.pending.values()):
            if job.uuid in self.skipped or job.uuid in self.volatile:
                continue
            key = _job_key(job, reference_key, versions)
            if key == self.keys.get(job.uuid):
                continue
            self.keys[job.uuid] = key
            job.metadata.setdefault(METADATA_KEY, {})[FLOW_KEY] = key
            doc, _, _ = find_finished(self.store, key)
            if doc is None:
                continue
            self._record(job, doc["uuid"], key)
            self.skipped[job.uuid] = doc["uuid"]
            self.keys[doc["uuid"]] = key
            redirect = {job.uuid: doc["uuid"]}
            for reader in self.pending.values():
                if reader.uuid != job.uuid:
                    reader.function_args = tuple(_rewrite(list(reader.function_args), redirect))
                    reader.function_kwargs = _rewrite(dict(reader.function_kwargs), redirect)
            for flow in self.flows:
                flow._output = _rewrite(flow.output, redirect)

    def _record(self, job: Job, old_uuid: str, key: str) -> None:
        self.report.reused.append(
            ReusedJob(name=job.name, uuid=job.uuid, old_uuid=old_uuid, flow_key=key)
        )
        logger.info("Reused job - %s (%s) from %s", job.name, job.uuid, old_uuid)
