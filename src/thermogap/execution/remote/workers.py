"""An end-to-end check of a jobflow-remote worker: write a probe, read it back."""

from __future__ import annotations

import socket
import sys
import uuid
from collections.abc import Mapping
from typing import Any, cast

import numpy as np
from jobflow import Flow, Job

from thermogap.errors import (
    InputError,
)
from thermogap.execution.cache import tg_job
from thermogap.store.context import current_db
from thermogap.store.database import ResultsDB

__all__ = [
    "WORKER_CHECK_COLLECTION",
    "read_probe",
    "read_probe_array",
    "worker_check_flow",
    "write_probe",
    "write_probe_array",
]

WORKER_CHECK_COLLECTION = "worker_checks"
"""Collection where :func:`write_probe` records the documents of :func:`worker_check_flow`."""


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
