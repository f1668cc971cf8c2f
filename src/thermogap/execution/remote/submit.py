"""Submit flows to a jobflow-remote queue, run its runner in-process and wait for results."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from jobflow import Flow, Job

from thermogap.errors import (
    CalculationError,
    ConfigError,
    InputError,
)
from thermogap.execution.reuse import ReuseReport, reuse_finished, stamp_flow_keys
from thermogap.store.server import check_reachable

__all__ = [
    "TERMINAL_STATES",
    "SubmittedFlow",
    "flow_job_states",
    "initialize_queue",
    "release_stale_locks",
    "run_until_done",
    "submit_flow",
    "wait_for_flow",
]

logger = logging.getLogger(__name__)

TERMINAL_STATES = frozenset(
    {"COMPLETED", "FAILED", "REMOTE_ERROR", "CANCELLED", "STOPPED", "USER_STOPPED", "PAUSED"}
)
"""Job states in which a job does not advance without a user's action."""


def _project(project: str) -> Any:
    """Load a project and check that its queue database answers (one clear line if not)."""
    from jobflow_remote import ConfigManager
    from jobflow_remote.config.base import ConfigError as JfrConfigError

    try:
        proj = ConfigManager().get_project(project)
    except JfrConfigError as exc:
        raise ConfigError(f"jobflow-remote project {project!r}: {exc}") from None
    queue = proj.queue.store
    uri = (
        queue.get("uri") or f"mongodb://{queue.get('host', 'localhost')}:{queue.get('port', 27017)}"
    )
    timeout_ms = (queue.get("mongoclient_kwargs") or {}).get("serverSelectionTimeoutMS", 5000)
    check_reachable(uri, timeout_s=min(float(timeout_ms) / 1000, 10.0))
    return proj


def initialize_queue(project: str) -> bool:
    """Create the queue collections of a project if they do not exist yet (``jf admin reset``).

    Never deletes anything: a queue that is already initialised, or that holds flows, is left
    as it is. Job outputs are never touched.

    Returns
    -------
    bool
        True if the queue was initialised now, False if it already was.

    Raises
    ------
    ConfigError
        If the queue holds flows but lacks jobflow-remote's bookkeeping document.
    """
    controller = _project(project).get_job_controller()
    try:
        if controller.auxiliary.find_one({"next_id": {"$exists": True}}) is not None:
            return False
        if not controller.reset(reset_output=False, max_limit=1):
            raise ConfigError(
                f"the queue of project {project!r} holds flows but no 'next_id' document; "
                f"inspect it with `jf -p {project} flow list` before `jf -p {project} admin reset`"
            )
        return True
    finally:
        controller.close()


class SubmittedFlow(list[str]):
    """The jobflow-remote db ids of a submission (a list), with what was reused instead."""

    def __init__(self, db_ids: list[str], reuse: ReuseReport) -> None:
        super().__init__(db_ids)
        self.reuse = reuse


def submit_flow(
    flow: Flow | Job | list[Job],
    project: str,
    worker: str | None = None,
    priority: int = 0,
    reuse: bool = True,
) -> SubmittedFlow:
    """Add ``flow`` to the queue of a jobflow-remote project (the runner executes it).

    The queue is initialised on first use (:func:`initialize_queue`). Before submission,
    every job whose flow key matches a completed output in the project's job store is
    removed from ``flow`` and its readers point at that output
    (:func:`thermogap.execution.reuse.reuse_finished`; ``flow`` is changed in place); the
    runner resolves those references from the job store like any other, so workers need no
    database access. A flow whose jobs are all reused submits nothing.

    Parameters
    ----------
    flow
        The flow or job to submit; job functions must be importable on the worker.
    project
        Project name (a file in the projects folder, see :func:`projects_folder`).
    worker
        Worker name; default the project's first worker.
    priority
        Higher runs first.
    reuse
        Reuse finished jobs (default); ``False`` submits every job (their flow keys are
        still recorded).

    Returns
    -------
    SubmittedFlow
        jobflow-remote database ids of the submitted jobs (a list); its ``reuse``
        attribute is the :class:`~thermogap.execution.reuse.ReuseReport`.
    """
    from jobflow_remote import submit_flow as jfr_submit_flow

    proj = _project(project)
    if worker is not None and worker not in proj.workers:
        raise ConfigError(
            f"{worker=} is not a worker of project {project!r}; allowed: {list(proj.workers)}"
        )
    initialize_queue(project)
    if isinstance(flow, list):
        flow = Flow(list[Flow | Job](flow))
    if reuse:
        jobstore = proj.get_jobstore()
        jobstore.connect()
        try:
            report = reuse_finished(flow, jobstore)
        finally:
            jobstore.close()
    else:
        report = ReuseReport(n_remaining=len(stamp_flow_keys(flow)))
    logger.info("flow %s: %s", flow.uuid, report.message())
    if isinstance(flow, Flow) and not flow.jobs:
        return SubmittedFlow([], report)
    db_ids = jfr_submit_flow(
        flow,
        worker=worker,
        project=project,
        priority=priority,
        allow_external_references=True,  # references to reused outputs, by uuid
    )
    return SubmittedFlow(list(db_ids), report)


def release_stale_locks(project: str) -> tuple[int, int]:
    """Drop the locks a runner that died (``kill -9``, lost node) left on jobs and flows.

    jobflow-remote's runner locks a job or flow document while it changes its state; a
    runner killed in that moment leaves the lock, and no later runner touches the document.
    Call this before restarting the project's only runner, never while another one runs.

    Returns
    -------
    tuple of int
        Job and flow documents unlocked.
    """
    controller = _project(project).get_job_controller()
    try:
        return controller.unlock_jobs(), controller.unlock_flows()
    finally:
        controller.close()


def flow_job_states(flow_uuid: str, project: str) -> dict[str, str]:
    """Return ``{job uuid: state}`` for the jobs of a submitted flow (latest index of each)."""
    controller = _project(project).get_job_controller()
    try:
        infos = controller.get_jobs_info(flow_ids=[flow_uuid])
    finally:
        controller.close()
    latest: dict[str, Any] = {}
    for info in infos:
        if info.uuid not in latest or info.index > latest[info.uuid].index:
            latest[info.uuid] = info
    return {uid: info.state.value for uid, info in latest.items()}


def _failed_jobs_message(project: str, flow_uuid: str | None) -> str:
    controller = _project(project).get_job_controller()
    try:
        query = {"flow_ids": [flow_uuid]} if flow_uuid else {}
        infos = controller.get_jobs_info(**query)
    finally:
        controller.close()
    parts = []
    for info in infos:
        if info.state.value == "COMPLETED":
            continue
        last_line = (info.error or "").strip().splitlines()[-1:]  # the exception, not the trace
        reason = f": {last_line[0]}" if last_line else ""
        parts.append(f"{info.name} (db_id {info.db_id}) {info.state.value}{reason}")
    return "; ".join(parts[:5])


def _close_runner(runner: Any) -> None:
    """Close the runner's connections (its cleanup logs an error for an unopened job store)."""
    try:
        runner.jobstore.connect()
    except Exception:  # an unreachable database: cleanup below then reports it
        logger.debug("could not reconnect the runner's job store before closing it")
    runner.cleanup()


@contextmanager
def _runner_logging() -> Iterator[None]:
    """Undo the runner's ``logging.config.dictConfig`` (it disables every other logger)."""
    loggers = logging.Logger.manager.loggerDict
    disabled = {n: lg.disabled for n, lg in loggers.items() if isinstance(lg, logging.Logger)}
    jfr = logging.getLogger("jobflow_remote")
    saved = (list(jfr.handlers), jfr.level, jfr.propagate)
    try:
        yield
    finally:
        for name, lg in list(loggers.items()):
            if isinstance(lg, logging.Logger):
                lg.disabled = disabled.get(name, False)
        for handler in jfr.handlers:
            if handler not in saved[0]:
                handler.close()
        jfr.handlers, jfr.level, jfr.propagate = saved[0], saved[1], saved[2]


def run_until_done(
    project: str, timeout_s: float = 600.0, flow_uuid: str | None = None
) -> dict[str, str]:
    """Run the project's runner in this process until no job can advance.

    Meant for one machine (and tests): it performs what ``jf runner start`` does, with
    the project's polling delays, and returns when no job is READY, being transferred,
    queued or running. On a cluster, start the runner daemon instead and use
    :func:`wait_for_flow`.

    Parameters
    ----------
    project
        Project name.
    timeout_s
        Give up after this many seconds.
    flow_uuid
        If given, the states of this flow's jobs are returned and any that did not
        complete is reported.

    Returns
    -------
    dict
        ``{job uuid: state}`` of ``flow_uuid`` (empty if it is ``None``).

    Raises
    ------
    CalculationError
        On timeout, or if a job of ``flow_uuid`` ended in a state other than COMPLETED.
    """
    from jobflow_remote.jobs.runner import Runner

    if timeout_s <= 0:
        raise InputError(f"{timeout_s=} must be > 0 seconds")
    _project(project)  # a clear error for an unknown project before the runner starts
    with _runner_logging():
        runner = Runner(project_name=project)
        try:
            runner.run_all_jobs(max_seconds=int(np.ceil(timeout_s)))
        except RuntimeError as exc:
            if "within the selected amount of time" not in str(exc):
                raise
            raise CalculationError(
                f"jobflow-remote project {project!r}: jobs still unfinished after "
                f"{timeout_s:g} s: {_failed_jobs_message(project, flow_uuid)}"
            ) from None
        finally:
            _close_runner(runner)
    if flow_uuid is None:
        return {}
    states = flow_job_states(flow_uuid, project)
    if any(state != "COMPLETED" for state in states.values()):
        raise CalculationError(
            f"flow {flow_uuid} in project {project!r} did not complete: "
            f"{_failed_jobs_message(project, flow_uuid)}"
        )
    return states


def wait_for_flow(
    flow_uuid: str, project: str, timeout_s: float = 3600.0, poll_s: float = 10.0
) -> dict[str, str]:
    """Wait until every job of a flow is in a terminal state (a runner must be running).

    Parameters
    ----------
    flow_uuid
        uuid of the submitted flow.
    project
        Project name.
    timeout_s, poll_s
        Give up after ``timeout_s`` seconds; look every ``poll_s`` seconds.

    Returns
    -------
    dict
        ``{job uuid: state}``; every state is in :data:`TERMINAL_STATES`.

    Raises
    ------
    CalculationError
        On timeout (the states reached so far are in the message).
    """
    if timeout_s <= 0 or poll_s <= 0:
        raise InputError(f"{timeout_s=} and {poll_s=} must be > 0 seconds")
    deadline = time.monotonic() + timeout_s
    while True:
        states = flow_job_states(flow_uuid, project)
        if not states:
            raise InputError(f"{flow_uuid=} has no jobs in project {project!r}")
        if all(state in TERMINAL_STATES for state in states.values()):
            return states
        if time.monotonic() > deadline:
            counts = {s: list(states.values()).count(s) for s in sorted(set(states.values()))}
            raise CalculationError(
                f"flow {flow_uuid} in project {project!r} not finished after {timeout_s:g} s: "
                f"{counts}; is a runner running (`jf -p {project} runner status`)?"
            )
        time.sleep(poll_s)
