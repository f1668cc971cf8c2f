"""Run a flow on this machine with jobflow's ``run_locally``; report what ran and was reused."""

from __future__ import annotations

import logging
import time
from typing import Any

from jobflow import Flow, Job, run_locally
from jobflow.core.reference import find_and_resolve_references
from pydantic import BaseModel, Field

from thermogap.execution.cache import METADATA_KEY
from thermogap.execution.reuse import ReuseReport, RunnerSideReuse, reuse_finished
from thermogap.store import collections as names
from thermogap.store.database import ResultsDB

logger = logging.getLogger(__name__)


class RunSummary(BaseModel):
    """What one execution of a flow did."""

    flow_uuid: str = Field(..., description="uuid of the flow that was run.")
    n_jobs: int = Field(..., description="Jobs with an output in the store after the run.")
    n_ran: int = Field(..., description="Jobs whose function was executed in this run.")
    n_reused: int = Field(..., description="Jobs whose output was reused from an earlier run.")
    reused: list[dict[str, str]] = Field(
        default_factory=list,
        description="Jobs reused at submission: name, uuid in this flow, uuid of the output used.",
    )
    n_failed: int = Field(0, description="Jobs of the flow without an output after the run.")
    wall_time_s: float = Field(..., description="Wall time of the run, in seconds.")
    built: dict[str, int] = Field(
        default_factory=dict, description="Documents written per derived collection after the run."
    )
    store: str = Field(..., description="Where the results were written (no credentials).")
    outputs: dict[str, Any] = Field(
        default_factory=dict, description="Flow output (resolved), when it has one."
    )
    errors: list[str] = Field(
        default_factory=list, description="One line per failed job: job name and exception."
    )
    status: str = Field(
        "completed", description="'completed' if every job has an output, else 'failed'."
    )


class _FailureCollector(logging.Handler):
    """Collect the one-line reasons of jobs that jobflow's local manager reports as failed."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if " failed with exception:" in message:
            name, _, trace = message.partition(" failed with exception:")
            last = [line for line in trace.strip().splitlines() if line.strip()][-1:]
            self.errors.append(f"{name}: {last[0] if last else 'unknown error'}")


def _all_uuids(flow: Flow | Job) -> list[str]:
    if isinstance(flow, Job):
        return [flow.uuid]
    return list({j.uuid for j, _ in flow.iterflow()}) if flow.jobs else []


def summarize(
    db: ResultsDB,
    uuids: list[str],
    flow_uuid: str,
    wall_time_s: float,
    reuse: ReuseReport | None = None,
) -> RunSummary:
    """Count completed, executed and reused jobs among ``uuids`` (and the jobs they created).

    Jobs removed from the flow because their output was reused (``reuse``) count as jobs
    with an output and as reused; so do jobs that took the output of a concurrent twin run.
    """
    outputs = db.collection(db.config.outputs_collection)
    docs = list(
        outputs.query(
            {"$or": [{"uuid": {"$in": uuids}}, {"hosts": {"$in": [flow_uuid]}}]},
            properties=["uuid", "index", "metadata"],
        )
    )
    latest: dict[str, dict[str, Any]] = {}
    for doc in docs:
        if doc["uuid"] not in latest or doc["index"] > latest[doc["uuid"]]["index"]:
            latest[doc["uuid"]] = doc
    twins = sum(
        bool((d.get("metadata") or {}).get(METADATA_KEY, {}).get("reused")) for d in latest.values()
    )
    at_submission = reuse.n_reused if reuse is not None else 0
    return RunSummary(
        flow_uuid=flow_uuid,
        n_jobs=len(latest) + at_submission,
        n_ran=len(latest) - twins,
        n_reused=twins + at_submission,
        reused=[
            {"name": r.name, "uuid": r.uuid, "old_uuid": r.old_uuid}
            for r in (reuse.reused if reuse is not None else [])
        ],
        n_failed=len(set(uuids) - set(latest)),
        wall_time_s=round(wall_time_s, 3),
        store=db.name,
    )


def validate_flow_inputs(flow: Flow | Job) -> None:
    """Check every structure given to a job, and every phonon supercell, before anything runs.

    Structures must be ordered with a sane cell; a Maker's ``supercell_matrix`` must be a
    positive integer matrix within the size cap
    (:func:`thermogap.structures.validation.validate_supercell`).

    Raises
    ------
    InputError
        Naming the job and the bad value.
    """
    from pymatgen.core import Structure

    from thermogap.structures.validation import validate_structure, validate_supercell

    jobs = [j for j, _ in flow.iterflow()] if isinstance(flow, Flow) else [flow]
    for job in jobs:
        inputs = [*job.function_args, *job.function_kwargs.values()]
        structures = [v for v in inputs if isinstance(v, Structure)]
        maker = getattr(job.function, "__self__", None)
        matrix = getattr(maker, "supercell_matrix", None)
        for structure in structures:
            validate_structure(structure, f"input structure of job {job.name!r}")
            if matrix is not None:
                validate_supercell(matrix, len(structure), f"{job.name!r}: supercell_matrix")


def run_flow(
    flow: Flow | Job, db: ResultsDB, *, log: bool = False, run_info: dict[str, Any] | None = None
) -> RunSummary:
    """Run ``flow`` locally against ``db`` and count ran versus reused jobs.

    Parameters
    ----------
    flow
        A jobflow ``Flow`` or ``Job`` whose jobs were made with :func:`thermogap.execution.tg_job`.
    db
        The results database; jobflow's outputs go to its ``outputs`` collection.
    log
        Whether jobflow prints its own per-job log lines.
    run_info
        Extra fields of the run's record in the ``runs`` collection (the CLI records the
        preset or workflow and its settings).

    Returns
    -------
    RunSummary
        Counts of jobs that ran and were reused; failed jobs are counted, not raised.

    Notes
    -----
    Before anything runs, every job whose flow key matches a completed output in the store
    is removed from ``flow`` and its readers point at that output
    (:func:`thermogap.execution.reuse.reuse_finished`): ``flow`` is changed in place.
    """
    if isinstance(flow, Job):
        flow = Flow([flow])
    validate_flow_inputs(flow)
    db.check_writable()
    started_at = time.time()
    start = time.perf_counter()
    jobstore = db.jobstore()
    # reuse is decided here, before anything runs, from the flow's own keys
    reuse = reuse_finished(flow, jobstore)
    if reuse.n_reused:
        logger.info("%s", reuse.message())
    uuids = _all_uuids(flow)
    # what submission could not decide (readers of volatile jobs, jobs added at run time)
    # the runner decides between jobs
    late = RunnerSideReuse(flow, jobstore, reuse)
    late.install()
    collector = _FailureCollector()
    manager_logger = logging.getLogger("jobflow.managers.local")
    manager_logger.addHandler(collector)
    previous = manager_logger.level, manager_logger.propagate
    manager_logger.setLevel(logging.INFO)
    manager_logger.propagate = log  # the collector sees INFO records; the console only if asked
    try:
        responses = (
            run_locally(
                flow,
                store=jobstore,
                log=log,
                ensure_success=False,
                allow_external_references=True,  # references to reused outputs
            )
            if flow.jobs
            else {}
        )
    finally:
        manager_logger.removeHandler(collector)
        manager_logger.setLevel(previous[0])
        manager_logger.propagate = previous[1]
    uuids = [u for u in uuids if u not in late.skipped_uuids]
    summary = summarize(db, uuids, flow.uuid, time.perf_counter() - start, reuse)
    summary.errors = collector.errors
    # jobflow's own account: a job of the flow without a response failed or never ran
    # (its parent failed); a job added at run time that has none failed too
    responded = set(responses or {})
    unfinished = set(uuids) - responded
    summary.n_failed = max(summary.n_failed, len(unfinished))
    if summary.n_failed and not summary.errors:
        summary.errors = [f"{len(unfinished)} job(s) did not finish (a parent job failed?)"]
    summary.status = "failed" if summary.n_failed else "completed"
    if responses is not None and flow.output is not None:
        try:  # the output may be a reference or a container of references
            resolved = find_and_resolve_references(flow.output, jobstore)
            summary.outputs = {"flow": resolved}
        except Exception:  # a failed flow has no output to resolve; the counts say why
            summary.outputs = {}
    from thermogap.store.builders import build_collections

    # the derived collections (tdph, optics, ...) are views of the job outputs: refresh them
    summary.built = build_collections(db)
    record = summary.model_dump(exclude={"outputs"}) | {
        "started_at": started_at,
        "finished_at": time.time(),
    }
    record |= run_info or {}
    db.upsert(names.RUNS, [record], key="flow_uuid")
    from thermogap.store.claims import release_jobs

    release_jobs(db, sorted(set(uuids) | responded))
    return summary
