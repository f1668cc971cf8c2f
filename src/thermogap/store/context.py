"""Find the results database from inside a running jobflow job."""

from __future__ import annotations

from thermogap.errors import StoreError
from thermogap.store.database import ResultsDB

_CACHE: dict[int, ResultsDB] = {}


def current_db() -> ResultsDB:
    """Return the :class:`ResultsDB` of the job store the current job runs against.

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
    key = id(store.docs_store)
    if key not in _CACHE:
        _CACHE.clear()  # one job store per process at a time; do not pile up connections
        _CACHE[key] = ResultsDB.from_jobstore(store)
    return _CACHE[key]
