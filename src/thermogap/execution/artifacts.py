"""Blobs that travel with job outputs through jobflow (the data path without a database).

A thermogap document refers to large bytes (a model file, force constants, a trajectory, a
figure) by a :class:`~thermogap.schemas.blobs.BlobRef`, whose id is the SHA-256 of the bytes.
Inside a running job those bytes are not written to the results database: the job writes
them to :func:`current_blobs`, and when it returns, every blob its output document refers to
is attached to the document as ``artifacts`` (blob id → base64). ``artifacts`` is one of the
keys every :func:`~thermogap.execution.tg_job` sends to jobflow's ``data`` additional store
(GridFS on MongoDB, a collection of the embedded store, a file on a jobflow-remote worker).

A downstream job receives the upstream document by reference; jobflow (or the jobflow-remote
runner) resolves it, ``artifacts`` included, and the job reads the bytes again through
:func:`current_blobs`, which finds them among its resolved inputs. So no job needs a route to
the database. After a run the maggma builders (:mod:`thermogap.store.builders`) copy the
artifacts of the outputs they ingest into the results database's blob store, where the CLI,
exports and plots find them by the same ids.
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from thermogap.errors import BlobIntegrityError, StoreError
from thermogap.store.blobs import BlobStore

__all__ = [
    "ARTIFACTS_KEY",
    "JobBlobStore",
    "attach_artifacts",
    "current_blobs",
    "document_with_artifacts",
    "find_artifacts",
    "job_blob_scope",
    "referenced_blob_ids",
]

logger = logging.getLogger(__name__)

#: output key holding the bytes of a document's blobs; sent to jobflow's ``data`` store
ARTIFACTS_KEY = "artifacts"

_CURRENT: contextvars.ContextVar[JobBlobStore | None] = contextvars.ContextVar(
    "thermogap_job_blobs", default=None
)


class JobBlobStore(BlobStore):
    """Blob store of one running job: the blobs of its inputs plus those it writes.

    Parameters
    ----------
    inputs
        Blob id → base64 bytes carried by the job's resolved inputs.
    fallback
        Optional further store read when a blob is not among the inputs (a results
        database's blob store, for code that runs outside jobflow with one at hand).
    """

    def __init__(self, inputs: dict[str, str] | None = None, fallback: Any = None) -> None:
        self._inputs: dict[str, str] = dict(inputs or {})
        self._written: dict[str, bytes] = {}
        self._fallback = fallback

    def exists(self, blob_id: str) -> bool:
        """Return whether the blob was written here or came with an input."""
        return blob_id in self._written or blob_id in self._inputs

    def _write(self, sha256: str, data: bytes, metadata: dict[str, Any]) -> None:
        self._written[sha256] = data

    def _read(self, blob_id: str) -> bytes:
        if blob_id in self._written:
            return self._written[blob_id]
        if blob_id in self._inputs:
            return base64.b64decode(self._inputs[blob_id])
        if self._fallback is not None:
            return self._fallback._read(blob_id)
        raise StoreError(
            f"blob {blob_id} is neither among this job's inputs nor written by it; pass the "
            "output document of the job that made it (by reference), not only its id"
        )

    def encoded(self, blob_id: str) -> str:
        """Return the base64 text of a blob, checked against its id (a SHA-256)."""
        if blob_id in self._inputs and blob_id not in self._written:
            text = self._inputs[blob_id]
            data = base64.b64decode(text)
        else:
            data = self._read(blob_id)
            text = base64.b64encode(data).decode("ascii")
        if hashlib.sha256(data).hexdigest() != blob_id:
            raise BlobIntegrityError(f"blob {blob_id} does not hash to its id")
        return text


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    """Yield every mapping inside ``value`` (pydantic models and dataclasses as dicts).

    The values of ``artifacts`` keys are not entered: they are bytes, not documents.
    """
    stack = [value]
    # visited objects are kept alive here: the dicts made below from models are temporary,
    # and a freed one's id could be handed to the next, which would then be skipped
    seen: dict[int, Any] = {}
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen[id(item)] = item
        if isinstance(item, dict):
            yield item
            stack.extend(v for k, v in item.items() if k != ARTIFACTS_KEY)
        elif isinstance(item, list | tuple | set):
            stack.extend(item)
        elif hasattr(item, "model_fields") and hasattr(item, "__dict__"):  # pydantic model
            stack.append(dict(item.__dict__))
        elif hasattr(item, "__dataclass_fields__"):
            stack.append({k: getattr(item, k, None) for k in item.__dataclass_fields__})


def find_artifacts(value: Any) -> dict[str, str]:
    """Collect the ``artifacts`` mappings carried anywhere in ``value`` (resolved inputs)."""
    found: dict[str, str] = {}
    for item in _dicts(value):
        carried = item.get(ARTIFACTS_KEY)
        if isinstance(carried, dict):
            found.update({k: v for k, v in carried.items() if isinstance(v, str)})
    return found


def _blob_refs(value: Any) -> dict[str, dict[str, Any]]:
    """Blob references (dicts with ``blob_id`` and ``sha256``) anywhere in ``value``, by id."""
    return {
        item["blob_id"]: item
        for item in _dicts(value)
        if isinstance(item.get("blob_id"), str) and isinstance(item.get("sha256"), str)
    }


def referenced_blob_ids(value: Any) -> set[str]:
    """Ids of the blob references (``blob_id`` + ``sha256``) anywhere in ``value``."""
    return set(_blob_refs(value))


def current_blobs() -> JobBlobStore:
    """Return the blob store of the running job.

    Outside a job (a plain function call) a fresh store without inputs is returned, so
    science code can write blobs the same way everywhere.
    """
    store = _CURRENT.get()
    return store if store is not None else JobBlobStore()


@contextmanager
def job_blob_scope(*inputs: Any, fallback: Any = None) -> Iterator[JobBlobStore]:
    """Make a :class:`JobBlobStore` of ``inputs``' artifacts current for the block."""
    store = JobBlobStore(find_artifacts(list(inputs)), fallback=fallback)
    token = _CURRENT.set(store)
    try:
        yield store
    finally:
        _CURRENT.reset(token)


def attach_artifacts(output: Any, store: JobBlobStore) -> Any:
    """Attach the bytes of every blob ``output`` refers to, as ``output.artifacts``.

    Works on thermogap documents (which have an ``artifacts`` field), on dicts and on lists
    of either (each element carries its own). Blobs that are neither written by the job nor
    among its inputs are left out with a warning: the document then needs the database.
    """
    from jobflow import Response

    if isinstance(output, Response):
        output.output = attach_artifacts(output.output, store)
        return output
    if isinstance(output, list):
        return [attach_artifacts(item, store) for item in output]
    has_field = hasattr(output, "model_fields") and ARTIFACTS_KEY in type(output).model_fields
    if not (has_field or isinstance(output, dict)):
        return output
    ids = referenced_blob_ids(output)
    if not ids:
        return output
    carried: dict[str, str] = {}
    for blob_id in sorted(ids):
        try:
            carried[blob_id] = store.encoded(blob_id)
        except StoreError:
            logger.warning("blob %s referenced by the output is not available to the job", blob_id)
    if has_field:
        setattr(output, ARTIFACTS_KEY, carried or None)
    else:
        output[ARTIFACTS_KEY] = carried
    return output


def document_with_artifacts(blobs: BlobStore, document: dict[str, Any]) -> dict[str, Any]:
    """Return a stored document with the bytes of its blobs attached as ``artifacts``.

    Used at submission, where the results database is at hand, to pass a stored result (a
    model given by id) to jobs as a static input that needs no database on the worker.
    """
    carried = {
        blob_id: base64.b64encode(blobs.get_bytes(ref)).decode("ascii")
        for blob_id, ref in _blob_refs(document).items()
    }
    clean = {k: v for k, v in document.items() if k not in ("_id", ARTIFACTS_KEY)}
    return clean | {ARTIFACTS_KEY: carried}
