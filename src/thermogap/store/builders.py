"""Derived collections built from job outputs with maggma Builders.

jobflow keeps every job's output document in the job store (``outputs``). The collections users
query (``tdph``, ``optics``, ...) are views of those outputs, one per document type, built the
way the Materials Project builds its collections from task documents: a Builder reads the
outputs of one document class and writes one document per key into the derived collection.
Builders run after a local run (:func:`build_collections`) and on demand against any store
(``thermogap build``), for instance after a jobflow-remote runner finished a flow whose workers
never saw the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from maggma.core import Builder, Store

from thermogap.errors import InputError

__all__ = [
    "DERIVED_COLLECTIONS",
    "DerivedCollection",
    "JobOutputBuilder",
    "build_collections",
    "register_derived_collection",
]

_SERIALISATION_KEYS = ("@module", "@class", "@version")


@dataclass(frozen=True)
class DerivedCollection:
    """How one derived collection is built from job outputs.

    Attributes
    ----------
    name
        Collection name.
    document_class
        Class name of the job-output documents it holds (``output.@class``).
    key
        Field of the output document that identifies one entry; a later output with the same
        key replaces the earlier one, so the key must include every setting that changes the
        result. ``"job_uuid"`` keeps one entry per job.
    """

    name: str
    document_class: str
    key: str


#: collection name -> how it is built; flows register their documents here
DERIVED_COLLECTIONS: dict[str, DerivedCollection] = {}


def register_derived_collection(name: str, document_class: str, key: str) -> None:
    """Register (or replace) the derived collection ``name``."""
    DERIVED_COLLECTIONS[name] = DerivedCollection(name, document_class, key)


class JobOutputBuilder(Builder):
    """Copy the job outputs of one document class into a derived collection.

    Parameters
    ----------
    outputs
        jobflow's job-output store (``JobStore.docs_store``).
    target
        The derived collection.
    derived
        Which outputs go there and under which key.
    """

    def __init__(self, outputs: Store, target: Store, derived: DerivedCollection) -> None:
        self.outputs = outputs
        self.target = target
        self.derived = derived
        super().__init__(sources=[outputs], targets=[target])

    def get_items(self) -> Iterator[dict[str, Any]]:
        """Yield the newest output of each job whose document has the registered class."""
        criteria = {"output.@class": self.derived.document_class}
        latest: dict[str, dict[str, Any]] = {}
        for doc in self.outputs.query(
            criteria, properties=["uuid", "index", "name", "output", "completed_at"]
        ):
            if doc["uuid"] not in latest or doc["index"] > latest[doc["uuid"]]["index"]:
                latest[doc["uuid"]] = doc
        # oldest first, so that of two jobs with the same key the newer result is written last
        yield from sorted(latest.values(), key=lambda d: str(d.get("completed_at") or ""))

    def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        """Turn one job output into one document of the derived collection."""
        output = {k: v for k, v in item["output"].items() if k not in _SERIALISATION_KEYS}
        output["job_uuid"] = item["uuid"]
        if self.derived.key not in output:
            raise InputError(
                f"output of job {item['uuid']} ({item.get('name')!r}) has no key field "
                f"{self.derived.key!r} for collection {self.derived.name!r}"
            )
        output["job_name"] = item.get("name")
        output["completed_at"] = item.get("completed_at")
        return output

    def update_targets(self, items: list[dict[str, Any]]) -> None:
        """Write the processed documents, replacing those with the same key."""
        if items:
            self.target.update(items, key=self.derived.key)


def build_collections(db: Any, names: list[str] | None = None) -> dict[str, int]:
    """Build derived collections of ``db`` from its job outputs.

    Parameters
    ----------
    db : thermogap.store.ResultsDB
        The results database (its job store and collections).
    names
        Collections to build; all registered ones when ``None``.

    Returns
    -------
    dict
        Documents written per collection.

    Raises
    ------
    InputError
        For a name that is not a registered derived collection.
    """
    _register_builtin()
    wanted = list(DERIVED_COLLECTIONS) if names is None else list(names)
    unknown = [n for n in wanted if n not in DERIVED_COLLECTIONS]
    if unknown:
        raise InputError(
            f"unknown derived collection(s) {unknown}; allowed: {sorted(DERIVED_COLLECTIONS)}"
        )
    outputs = db.jobstore().docs_store
    written: dict[str, int] = {}
    for name in wanted:
        builder = JobOutputBuilder(outputs, db.collection(name), DERIVED_COLLECTIONS[name])
        items = [builder.process_item(item) for item in builder.get_items()]
        builder.update_targets(items)
        written[name] = len(items)
    return written


def _register_builtin() -> None:
    # the documents of thermogap's flows; imported lazily so the store knows no schemas
    for name, document_class, key in _BUILTIN:
        DERIVED_COLLECTIONS.setdefault(name, DerivedCollection(name, document_class, key))


#: (collection, output document class, key field) of thermogap's own flows
_BUILTIN: list[tuple[str, str, str]] = [
    ("optics", "OpticsResultDoc", "job_uuid"),
    ("optics_spectra", "OpticsSpectrumDoc", "job_uuid"),
    ("tdph", "TdphDoc", "job_uuid"),
]
