"""jobflow-remote project configurations whose job store and queue are a thermogap database."""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from thermogap.errors import (
    ConfigError,
    InputError,
    first_validation_problem,
)
from thermogap.execution.remote.folders import _projects_dir, _settings_for
from thermogap.store.config import STORE_ENV_VAR, StoreConfig, resolve_store_config

__all__ = [
    "DATA_COLLECTION_SUFFIX",
    "FAST_RUNNER_OPTIONS",
    "QUEUE_COLLECTIONS",
    "build_project_config",
    "environment_activation",
    "local_worker_config",
    "write_project_config",
]

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
    export_store: bool = False,
) -> dict[str, Any]:
    """Return a jobflow-remote project whose job store and queue are a thermogap database.

    jobflow-remote hands a job on a worker a *file* job store that the runner copies
    into the real job store after the job ends, so the worker never needs the job
    store's address; thermogap jobs take their inputs by reference and return their
    documents, so they do not need it either. ``export_store`` only serves scripts of
    your own that call :func:`~thermogap.store.current_db` inside a job.

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
        Append ``export THERMOGAP_STORE=...`` to each worker's ``pre_run`` (off by default:
        no thermogap job needs it): the URI
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
