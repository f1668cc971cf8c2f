"""An end-to-end check of a jobflow-remote worker: write a probe, read it back by reference."""

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
from thermogap.execution.artifacts import current_blobs
from thermogap.execution.cache import tg_job
from thermogap.store.blobs import BlobStore

__all__ = [
    "read_probe",
    "read_probe_array",
    "worker_check_flow",
    "write_probe",
    "write_probe_array",
]


@tg_job
def write_probe(check_id: str, n_values: int, seed: int) -> dict[str, Any]:
    """Job: draw a random array and return it as a blob carried with the output.

    Returns
    -------
    dict
        ``check_id``, ``blob`` (a :class:`~thermogap.store.BlobRef` dump; the bytes travel
        in ``artifacts`` through jobflow's data store), ``hostname`` and ``python`` (the
        worker's interpreter).
    """
    return write_probe_array(current_blobs(), check_id, n_values, seed)


@tg_job
def read_probe(probe: dict[str, Any]) -> dict[str, Any]:
    """Job: read back the array of :func:`write_probe` from its output and summarise it.

    Returns
    -------
    dict
        ``check_id``, ``n_values``, ``sum`` and ``sum_of_squares`` of the array,
        ``bytes_carried`` and ``hostname``.
    """
    return read_probe_array(current_blobs(), probe)


def worker_check_flow(n_values: int = 1000, seed: int = 0, name: str = "worker check") -> Flow:
    """Return a two-job flow that checks a worker end to end.

    The first job draws ``n_values`` standard-normal numbers (``numpy`` generator with
    ``seed``) and returns them as a blob carried with its output; the second receives that
    output by reference (resolved by the runner, bytes from the ``data`` store), checks the
    bytes against their SHA-256 and returns the array's sum. Neither job opens the database:
    this is exactly what every thermogap job needs from a worker. A fresh check id is drawn
    on every call so the jobs run again instead of reusing an earlier check's output.

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
    second = cast(Job, read_probe(cast(Any, first.output)))  # resolved by the runner
    return Flow([first, second], output=second.output, name=name)


def write_probe_array(blobs: BlobStore, check_id: str, n_values: int, seed: int) -> dict[str, Any]:
    """Store ``n_values`` seeded standard-normal numbers in ``blobs`` (see :func:`write_probe`)."""
    values = np.random.default_rng(seed).standard_normal(n_values)
    ref = blobs.put_array(values, kind="npy")
    return {
        "check_id": check_id,
        "blob": ref.model_dump(),
        "hostname": socket.gethostname(),
        "python": sys.executable,
    }


def read_probe_array(blobs: BlobStore, probe: Mapping[str, Any]) -> dict[str, Any]:
    """Read back a :func:`write_probe_array` record from ``blobs`` and summarise the array."""
    values = np.asarray(blobs.get_array(probe["blob"]), dtype=float)  # SHA-256 checked
    return {
        "check_id": probe["check_id"],
        "n_values": int(values.size),
        "sum": float(values.sum()),
        "sum_of_squares": float(np.dot(values, values)),
        "bytes_carried": True,
        "hostname": socket.gethostname(),
    }
