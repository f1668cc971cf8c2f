"""Find the results database from inside a running jobflow job."""

from __future__ import annotations

import os

from thermogap.errors import StoreError
from thermogap.store.config import STORE_ENV_VAR
from thermogap.store.database import ResultsDB

_CACHE: dict[object, ResultsDB] = {}


def is_worker_file_store(docs_store: object) -> bool:
    """Whether a job store is jobflow-remote's per-job file store rather than the database.

    On jobflow-remote workers a job writes its output to a JSON/msgpack file in its run
    directory (``StdJSONStore``/``MinimalFileStore``), which the runner copies to the database
    after the job ends; such a store cannot tell where the results database is.
    """
    from maggma.stores import JSONStore

    # (MontyStore also derives from MemoryStore, so test for the file stores themselves)
    names = {cls.__name__ for cls in type(docs_store).__mro__}
    return isinstance(docs_store, JSONStore) or "MinimalFileStore" in names


def db_for_jobstore(store: object) -> ResultsDB:
    """Return the :class:`ResultsDB` a job running against ``store`` should use.

    For jobflow's own stores (``run_locally``) it is derived from the store itself; on a
    jobflow-remote worker, whose store is a per-job file, it is ``$THERMOGAP_STORE`` (the
    worker's ``pre_run`` exports it, see ``configs/jobflow-remote/``).

    Raises
    ------
    StoreError
        On a jobflow-remote worker where ``$THERMOGAP_STORE`` is not set.
    """
    docs = store.docs_store  # type: ignore[attr-defined]
    if is_worker_file_store(docs):
        spec = os.environ.get(STORE_ENV_VAR)
        if not spec:
            raise StoreError(
                f"this job runs on a jobflow-remote worker, whose job store is a local file; "
                f"set ${STORE_ENV_VAR} in the worker's pre_run to the results database URI"
            )
        key: object = ("env", spec)
        if key not in _CACHE:
            _CACHE[key] = ResultsDB.from_spec(spec)
        return _CACHE[key]
    key = ("jobstore", id(docs))
    if key not in _CACHE:
        for old in [k for k in _CACHE if k[0] == "jobstore"]:  # type: ignore[index]
            del _CACHE[old]  # one local job store at a time: do not pile up connections
        _CACHE[key] = ResultsDB.from_jobstore(store)  # type: ignore[arg-type]
    return _CACHE[key]


def current_db() -> ResultsDB:
    """Return the :class:`ResultsDB` of the running job.

    Works inside jobs created with :func:`thermogap.execution.tg_job` (which expose the store),
    under ``run_locally`` and on jobflow-remote workers alike.

    Raises
    ------
    StoreError
        If called outside a running job.
    """
    from jobflow import CURRENT_JOB

    store = CURRENT_JOB.store
    if store is None:
        raise StoreError(
            "current_db() needs a running job with an exposed store; "
            "decorate the job with thermogap.execution.tg_job"
        )
    return db_for_jobstore(store)
