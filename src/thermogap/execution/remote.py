"""Run thermogap flows with jobflow-remote: project configs, submission, waiting.

jobflow-remote keeps a queue of jobs in MongoDB and a *runner* process moves each job
through its states (READY → CHECKED_OUT → UPLOADED → SUBMITTED → RUNNING →
RUN_FINISHED → DOWNLOADED → COMPLETED), submitting it to a *worker* (the local
machine with ``scheduler_type: shell``, or a cluster through SLURM/PBS via qtoolkit).
On the worker a job writes its jobflow output into a *file* job store in its run
directory; the runner copies that into the real job store when the job has finished.

This module writes a project configuration whose job store *is* a thermogap
:class:`~thermogap.store.ResultsDB` (same database, jobflow outputs in its
``outputs`` collection, large outputs in GridFS), and whose queue lives in the same
database in collections prefixed ``jfr_``. Because the worker's own job store is a
file, thermogap jobs that write collections and blobs open the database named by
``$THERMOGAP_STORE``, which the project exports in every worker's ``pre_run``
(:func:`~thermogap.store.current_db`); the worker must then reach the database.

jobflow-remote reads its project files from ``$JFREMOTE_PROJECTS_FOLDER`` (default
``~/.jfremote``) when it is first imported. :func:`projects_folder` points it at another
folder for the duration of a ``with`` block and restores the previous setting after.

Ready-made YAML templates (SLURM worker, local worker, job store) are in
``configs/jobflow-remote/`` of the source tree.

Examples
--------
On one machine, with ``thermogap db start --port 27017`` running::

    from thermogap.execution import remote

    project = remote.build_project_config(
        "thermogap", "mongodb://127.0.0.1:27017/thermogap", work_dir="/scratch/tg"
    )
    remote.write_project_config(project, "~/.jfremote")
    with remote.projects_folder("~/.jfremote"):
        flow = remote.worker_check_flow()
        remote.submit_flow(flow, project="thermogap")
        remote.run_until_done("thermogap", timeout_s=600, flow_uuid=flow.uuid)
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import numpy as np
import yaml
from jobflow import Flow, Job

from thermogap.errors import (
    CalculationError,
    ConfigError,
    InputError,
    first_validation_problem,
)
from thermogap.execution.cache import tg_job
from thermogap.store.config import STORE_ENV_VAR, StoreConfig, resolve_store_config
from thermogap.store.context import current_db
from thermogap.store.database import ResultsDB
from thermogap.store.server import check_reachable

__all__ = [
    "FAST_RUNNER_OPTIONS",
    "QUEUE_COLLECTIONS",
    "TERMINAL_STATES",
    "WORKER_CHECK_COLLECTION",
    "build_project_config",
    "environment_activation",
    "flow_job_states",
    "initialize_queue",
    "local_worker_config",
    "projects_folder",
    "read_probe",
    "run_until_done",
    "submit_flow",
    "wait_for_flow",
    "worker_check_flow",
    "write_probe",
    "write_project_config",
]

logger = logging.getLogger(__name__)

QUEUE_COLLECTIONS = {
    "jobs": "jfr_jobs",
    "flows": "jfr_flows",
    "auxiliary": "jfr_auxiliary",
    "batches": "jfr_batches",
}
"""Collections of the jobflow-remote queue, in the results database."""

DATA_COLLECTION_SUFFIX = "_data"
"""GridFS collection (``<outputs>_data``) of the job store's ``data`` additional store."""

FAST_RUNNER_OPTIONS: dict[str, Any] = {
    "delay_checkout": 1,
    "delay_check_run_status": 1,
    "delay_advance_status": 1,
    "delay_refresh_limited": 5,
    "delay_update_batch": 5,
    "max_step_attempts": 2,
    "delta_retry": (1, 2),
}
"""Runner options (seconds) for a single machine or tests; jobflow-remote's defaults are 30 s."""

TERMINAL_STATES = frozenset(
    {"COMPLETED", "FAILED", "REMOTE_ERROR", "CANCELLED", "STOPPED", "USER_STOPPED", "PAUSED"}
)
"""Job states in which a job does not advance without a user's action."""

WORKER_CHECK_COLLECTION = "worker_checks"
"""Collection where :func:`write_probe` records the documents of :func:`worker_check_flow`."""


# --- project configuration ---------------------------------------------------------------------


def environment_activation(prefix: str | os.PathLike[str] | None = None) -> str:
    """Return a shell line that activates the Python environment ``prefix``.

    Parameters
    ----------
    prefix
        Environment prefix; default: the one of the running interpreter (``sys.prefix``).

    Returns
    -------
    str
        ``source PREFIX/bin/activate`` for a virtual environment,
        ``conda activate PREFIX`` for a conda environment, otherwise a ``PATH`` export
        that puts ``PREFIX/bin`` (where ``jf`` and ``python`` live) first.
    """
    root = Path(prefix if prefix is not None else sys.prefix).expanduser().resolve()
    activate = root / "bin" / "activate"
    if activate.is_file():
        return f"source {shlex.quote(str(activate))}"
    if (root / "conda-meta").is_dir():
        return f"conda activate {shlex.quote(str(root))}"
    return f'export PATH={shlex.quote(str(root / "bin"))}:"$PATH"'


def local_worker_config(
    work_dir: str | os.PathLike[str], pre_run: str | None = None, max_jobs: int | None = None
) -> dict[str, Any]:
    """Return a jobflow-remote worker that runs jobs on this machine as shell processes.

    Parameters
    ----------
    work_dir
        Directory under which each job gets its run directory; created if missing.
    pre_run
        Shell lines run before each job; default :func:`environment_activation` of the
        running interpreter, so that ``jf`` and thermogap are importable in the job.
    max_jobs
        At most this many jobs submitted at once (``None``: no limit).
    """
    path = Path(work_dir).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    worker: dict[str, Any] = {
        "type": "local",
        "scheduler_type": "shell",
        "work_dir": str(path),
        "resources": {},
        "pre_run": pre_run if pre_run is not None else environment_activation(),
    }
    if max_jobs is not None:
        if max_jobs < 1:
            raise InputError(f"{max_jobs=} must be >= 1 or None")
        worker["max_jobs"] = max_jobs
    return worker


def _mongo_store_spec(config: StoreConfig, collection: str, store_type: str) -> dict[str, Any]:
    return {
        "type": store_type,
        "database": config.database,
        "collection_name": collection,
        "uri": config.mongo_uri(),
        "mongoclient_kwargs": {
            "serverSelectionTimeoutMS": int(config.timeout_s * 1000),
            "connectTimeoutMS": int(config.timeout_s * 1000),
        },
    }


def build_project_config(
    name: str,
    store: str | os.PathLike[str] | StoreConfig,
    work_dir: str | os.PathLike[str] | None = None,
    workers: Mapping[str, Mapping[str, Any]] | None = None,
    runner: Mapping[str, Any] | None = None,
    base_dir: str | os.PathLike[str] | None = None,
    log_level: str = "info",
    export_store: bool = True,
) -> dict[str, Any]:
    """Return a jobflow-remote project whose job store and queue are a thermogap database.

    jobflow-remote hands a job on a worker a *file* job store that the runner copies
    into the real job store after the job ends, so the worker never needs the job
    store's address. thermogap jobs that write collections and blobs themselves do:
    with ``export_store`` every worker's ``pre_run`` exports ``$THERMOGAP_STORE`` and
    :func:`~thermogap.store.current_db` opens that database inside the job.

    Parameters
    ----------
    name
        Project name (letters, digits, ``-`` and ``_``).
    store
        A MongoDB results database: ``mongodb://`` URI, store YAML or
        :class:`~thermogap.store.StoreConfig`. The embedded (MontyDB) backend cannot
        hold a jobflow-remote queue.
    work_dir
        Run directory of the default local worker; needed when ``workers`` is ``None``.
    workers
        Worker name → jobflow-remote worker settings. Default: one ``local`` worker
        from :func:`local_worker_config`.
    runner
        Runner options (delays in seconds, see ``jobflow_remote.config.base.RunnerOptions``);
        default jobflow-remote's own (30 s polling). :data:`FAST_RUNNER_OPTIONS` suits a
        single machine.
    base_dir
        Folder of the project's logs and daemon files; default
        ``<projects folder>/<name>``.
    log_level
        Runner log level: ``error``, ``warn``, ``info`` or ``debug``.
    export_store
        Append ``export THERMOGAP_STORE=...`` to each worker's ``pre_run``: the URI
        (without credentials), or, when ``store`` is a YAML file, its path, which must
        then exist on the worker and keeps credentials in the worker's environment.

    Returns
    -------
    dict
        The project, ready for :func:`write_project_config`. It holds the MongoDB URI with
        credentials (if the store config names credential variables).

    Raises
    ------
    ConfigError
        For an embedded store, a bad name or settings jobflow-remote rejects.
    """
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ConfigError(f"project {name=} must be non-empty letters, digits, '-' or '_'")
    config = resolve_store_config(store)
    if config.backend != "mongodb":
        raise ConfigError(
            f"jobflow-remote needs a MongoDB-protocol server for its queue; store "
            f"{config.display_name!r} is backend {config.backend!r}; allowed: 'mongodb' "
            "(start a local one with `thermogap db start`)"
        )
    if workers is None:
        if work_dir is None:
            raise ConfigError("give work_dir (for the default local worker) or workers")
        workers = {"local": local_worker_config(work_dir)}
    worker_dicts = {k: dict(v) for k, v in workers.items()}
    if export_store:
        line = f"export {STORE_ENV_VAR}={shlex.quote(_worker_store_spec(store, config))}"
        for worker in worker_dicts.values():
            worker["pre_run"] = "\n".join(filter(None, [worker.get("pre_run"), line]))
    outputs = config.outputs_collection
    project: dict[str, Any] = {
        "name": name,
        "log_level": log_level,
        "workers": worker_dicts,
        "queue": {
            "store": _mongo_store_spec(config, QUEUE_COLLECTIONS["jobs"], "MongoStore"),
            "flows_collection": QUEUE_COLLECTIONS["flows"],
            "auxiliary_collection": QUEUE_COLLECTIONS["auxiliary"],
            "batches_collection": QUEUE_COLLECTIONS["batches"],
        },
        "jobstore": {
            "docs_store": _mongo_store_spec(config, outputs, "MongoStore"),
            "additional_stores": {
                "data": _mongo_store_spec(config, outputs + DATA_COLLECTION_SUFFIX, "GridFSStore")
            },
        },
    }
    if runner is not None:
        project["runner"] = dict(runner)
    if base_dir is not None:
        project["base_dir"] = str(Path(base_dir).expanduser().resolve())
    _validate_project(project)
    return project


def _worker_store_spec(store: str | os.PathLike[str] | StoreConfig, config: StoreConfig) -> str:
    """Return what a worker's ``$THERMOGAP_STORE`` says: a YAML path or a credential-free URI."""
    if not isinstance(store, StoreConfig) and Path(os.fspath(store)).suffix in {".yaml", ".yml"}:
        return str(Path(os.fspath(store)).expanduser().resolve())
    if config.username_env:
        raise ConfigError(
            f"store {config.display_name!r} needs credentials ({config.username_env}); give it "
            "as a store YAML file that exists on the worker, so they stay in its environment"
        )
    if not config.uri:
        raise ConfigError(f"store {config.display_name!r} has no MongoDB URI")
    return config.uri


def _validate_project(project: Mapping[str, Any]) -> None:
    from pydantic import ValidationError

    with _settings_for(None):  # base_dir defaults depend on the settings; no I/O happens
        from jobflow_remote.config.base import Project

        try:
            Project.model_validate(dict(project))
        except ValidationError as exc:
            problem = first_validation_problem(exc)
            raise ConfigError(f"invalid jobflow-remote project: {problem}") from None


def write_project_config(
    project: Mapping[str, Any], folder: str | os.PathLike[str] | None = None
) -> Path:
    """Write ``project`` as ``<folder>/<name>.yaml`` (readable only by the user).

    Parameters
    ----------
    project
        As returned by :func:`build_project_config`.
    folder
        jobflow-remote projects folder; default ``$JFREMOTE_PROJECTS_FOLDER`` or
        ``~/.jfremote``.

    Returns
    -------
    Path
        The file written.
    """
    _validate_project(project)
    target_dir = _projects_dir(folder)
    target_dir.mkdir(parents=True, exist_ok=True)
    path = target_dir / f"{project['name']}.yaml"
    text = yaml.safe_dump(_plain(project), sort_keys=False)
    # The file may hold database credentials: write a new private file and rename it over
    # the old one, so a pre-existing 0644 file (or a symlink) never receives them.
    fd, tmp = tempfile.mkstemp(dir=target_dir, prefix=f".{project['name']}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _projects_dir(folder: str | os.PathLike[str] | None) -> Path:
    if folder is None:
        folder = os.environ.get("JFREMOTE_PROJECTS_FOLDER", "~/.jfremote")
    return Path(folder).expanduser().resolve()


@contextmanager
def _settings_for(folder: str | os.PathLike[str] | None) -> Iterator[None]:
    """Swap jobflow-remote's import-time settings object; restore it on exit."""
    import jobflow_remote
    from jobflow_remote.config.settings import JobflowRemoteSettings

    previous = jobflow_remote.SETTINGS
    if folder is None:
        yield
        return
    jobflow_remote.SETTINGS = JobflowRemoteSettings(projects_folder=str(_projects_dir(folder)))
    try:
        yield
    finally:
        jobflow_remote.SETTINGS = previous


@contextmanager
def projects_folder(folder: str | os.PathLike[str]) -> Iterator[Path]:
    """Make jobflow-remote read its projects from ``folder`` inside the ``with`` block.

    Sets ``$JFREMOTE_PROJECTS_FOLDER`` (for ``jf`` subprocesses) and jobflow-remote's
    settings object (read when it was imported) and restores both on exit.

    Yields
    ------
    Path
        The absolute projects folder.
    """
    path = _projects_dir(folder)
    old_env = os.environ.get("JFREMOTE_PROJECTS_FOLDER")
    os.environ["JFREMOTE_PROJECTS_FOLDER"] = str(path)
    try:
        with _settings_for(path):
            yield path
    finally:
        if old_env is None:
            os.environ.pop("JFREMOTE_PROJECTS_FOLDER", None)
        else:
            os.environ["JFREMOTE_PROJECTS_FOLDER"] = old_env


# --- submission and waiting --------------------------------------------------------------------


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


def submit_flow(
    flow: Flow | Job | list[Job], project: str, worker: str | None = None, priority: int = 0
) -> list[str]:
    """Add ``flow`` to the queue of a jobflow-remote project (the runner executes it).

    The queue is initialised on first use (:func:`initialize_queue`).

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

    Returns
    -------
    list of str
        jobflow-remote database ids of the submitted jobs.
    """
    from jobflow_remote import submit_flow as jfr_submit_flow

    proj = _project(project)
    if worker is not None and worker not in proj.workers:
        raise ConfigError(
            f"{worker=} is not a worker of project {project!r}; allowed: {list(proj.workers)}"
        )
    initialize_queue(project)
    return list(jfr_submit_flow(flow, worker=worker, project=project, priority=priority))


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


# --- an end-to-end check of a worker ----------------------------------------------------------


@tg_job
def write_probe(check_id: str, n_values: int, seed: int) -> dict[str, Any]:
    """Job: write a random array to the blob store and a document to the results DB.

    Returns
    -------
    dict
        ``check_id``, ``blob`` (a :class:`~thermogap.store.BlobRef` dump), ``hostname``
        and ``python`` (the worker's interpreter).
    """
    return write_probe_array(current_db(), check_id, n_values, seed)


@tg_job
def read_probe(probe: dict[str, Any]) -> dict[str, Any]:
    """Job: read back what :func:`write_probe` stored and summarise it.

    Returns
    -------
    dict
        ``check_id``, ``n_values``, ``sum`` and ``sum_of_squares`` of the array,
        ``document_found`` and ``hostname``.
    """
    return read_probe_array(current_db(), probe)


def worker_check_flow(n_values: int = 1000, seed: int = 0, name: str = "worker check") -> Flow:
    """Return a two-job flow that checks a worker end to end.

    The first job stores ``n_values`` standard-normal numbers (``numpy`` generator
    with ``seed``) in the blob store and records a document in the
    :data:`WORKER_CHECK_COLLECTION` collection; the second job receives the first's
    output, reads both back and returns the array's sum. A fresh check id is drawn on
    every call so the jobs run again instead of reusing an earlier check's output.

    Examples
    --------
    >>> flow = worker_check_flow(n_values=10, seed=1)
    >>> [job.name for job in flow.jobs]
    ['write_probe', 'read_probe']
    """
    if n_values < 1:
        raise InputError(f"{n_values=} must be >= 1")
    check_id = uuid.uuid4().hex
    first = cast(Job, write_probe(check_id, n_values, seed))
    second = cast(Job, read_probe(cast(Any, first.output)))  # resolved on the worker
    return Flow([first, second], output=second.output, name=name)


def write_probe_array(db: ResultsDB, check_id: str, n_values: int, seed: int) -> dict[str, Any]:
    """Store ``n_values`` seeded standard-normal numbers in ``db`` (see :func:`write_probe`)."""
    values = np.random.default_rng(seed).standard_normal(n_values)
    ref = db.blobs.put_array(values, kind="npy")
    record = {
        "check_id": check_id,
        "blob": ref.model_dump(),
        "hostname": socket.gethostname(),
        "python": sys.executable,
    }
    db.upsert(WORKER_CHECK_COLLECTION, [record], key="check_id")
    return record


def read_probe_array(db: ResultsDB, probe: Mapping[str, Any]) -> dict[str, Any]:
    """Read back a :func:`write_probe_array` record from ``db`` and summarise the array."""
    values = np.asarray(db.blobs.get_array(probe["blob"]), dtype=float)
    document = db.query_one(WORKER_CHECK_COLLECTION, {"check_id": probe["check_id"]})
    return {
        "check_id": probe["check_id"],
        "n_values": int(values.size),
        "sum": float(values.sum()),
        "sum_of_squares": float(np.dot(values, values)),
        "document_found": document is not None and document.get("blob") == probe["blob"],
        "hostname": socket.gethostname(),
    }
