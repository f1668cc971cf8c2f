"""Check that every blob a document refers to can be read and matches its SHA-256.

Used before a finished job is reused (:func:`broken_references`) and by
``thermogap db verify`` (:func:`verify_store`). A reference is any mapping with the fields
of :class:`~thermogap.store.blobs.BlobRef` (``blob_id``, ``sha256``, ``size_bytes``), or a
jobflow reference to an additional store (``blob_uuid`` and ``store``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, Field

from thermogap.store.collections import COLLECTIONS, MODELS
from thermogap.store.database import ResultsDB

__all__ = ["StoreVerification", "blob_references", "broken_references", "verify_store"]

_BLOB_FIELDS = frozenset({"blob_id", "sha256", "size_bytes"})


def blob_references(value: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(path, reference)`` for every blob reference nested in ``value``."""
    if isinstance(value, dict):
        if value.keys() >= _BLOB_FIELDS or {"blob_uuid", "store"} <= value.keys():
            yield path or ".", value
            return
        for key, item in value.items():
            yield from blob_references(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from blob_references(item, f"{path}[{i}]")


def _check_reference(db: ResultsDB, ref: dict[str, Any], seen: dict[Any, str | None]) -> str | None:
    if "blob_uuid" in ref:  # jobflow additional store (e.g. "data")
        key: Any = ("jobflow", ref["store"], ref["blob_uuid"])
        if key not in seen:
            stores: dict[str, Any] = dict(getattr(db.jobstore(), "additional_stores", {}))
            store = stores.get(ref["store"])
            if store is None:
                seen[key] = f"additional store {ref['store']!r} is not configured"
            else:
                found = store.query_one({"blob_uuid": ref["blob_uuid"]}, properties=["blob_uuid"])
                seen[key] = None if found else f"{ref['store']} blob {ref['blob_uuid']} missing"
        return seen[key]
    key = (ref["blob_id"], ref["sha256"])
    if key not in seen:
        seen[key] = db.blobs.check(str(ref["blob_id"]), str(ref["sha256"]))
    return seen[key]


def broken_references(
    db: ResultsDB, document: Any, seen: dict[Any, str | None] | None = None
) -> list[str]:
    """Return one line per blob reference of ``document`` that is missing or corrupted."""
    seen = {} if seen is None else seen
    problems = []
    for path, ref in blob_references(document):
        problem = _check_reference(db, ref, seen)
        if problem is not None:
            problems.append(f"{path}: {problem}")
    return problems


class StoreVerification(BaseModel):
    """What ``thermogap db verify`` found."""

    store: str = Field(..., description="The store checked (no credentials).")
    n_documents: int = Field(0, description="Documents read.")
    n_references: int = Field(0, description="Blob references found in them.")
    n_blobs: int = Field(0, description="Distinct blobs read and hashed.")
    problems: list[str] = Field(
        default_factory=list, description="One line per broken reference or hash mismatch."
    )

    @property
    def ok(self) -> bool:
        """Whether every reference resolved and every hash matched."""
        return not self.problems


def verify_store(db: ResultsDB, collections: list[str] | None = None) -> StoreVerification:
    """Read every document and check every blob it refers to.

    Parameters
    ----------
    db
        The results database.
    collections
        Collections to check; default: jobflow's outputs and all of :data:`COLLECTIONS`.

    Returns
    -------
    StoreVerification
        Counts and one line per problem (collection, document, field path, what is wrong).
    """
    names = collections or [db.config.outputs_collection, *COLLECTIONS]
    report = StoreVerification(store=db.name)
    seen: dict[Any, str | None] = {}
    for name in names:
        for doc in db._raw(name).find({}):
            report.n_documents += 1
            ident = doc.get("uuid") or next(
                (doc[k] for k in doc if k.endswith("_id") and k != "_id"), doc.get("_id")
            )
            for path, ref in blob_references({k: v for k, v in doc.items() if k != "_id"}):
                report.n_references += 1
                problem = _check_reference(db, ref, seen)
                if problem is not None:
                    report.problems.append(f"{name} {ident} {path}: {problem}")
            model_blob = doc.get("model_blob") if name == MODELS else None
            if isinstance(model_blob, dict) and model_blob.get("sha256") != doc.get("sha256"):
                report.problems.append(
                    f"models {ident}: model_blob sha256 differs from the document's sha256"
                )
    report.n_blobs = sum(1 for key in seen if key[0] != "jobflow")
    return report
