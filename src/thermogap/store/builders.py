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

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jobflow import JobStore
from maggma.core import Builder, Store

from thermogap.errors import InputError
from thermogap.execution.artifacts import ARTIFACTS_KEY
from thermogap.store import collections as names

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
        result (several fields: a tuple). ``"job_uuid"`` keeps one entry per job.
    explode
        Field of the output holding a list of documents; each element becomes one entry
        (a sampling batch holds its configurations, a labelling batch its labels).
    """

    name: str
    document_class: str | tuple[str, ...]
    key: str | tuple[str, ...]
    explode: str | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        """The key field(s): together they identify one entry."""
        return (self.key,) if isinstance(self.key, str) else tuple(self.key)

    @property
    def classes(self) -> list[str]:
        """The output document classes this collection is built from."""
        if isinstance(self.document_class, str):
            return [self.document_class]
        return list(self.document_class)


#: collection name -> how it is built; flows register their documents here
DERIVED_COLLECTIONS: dict[str, DerivedCollection] = {}


def register_derived_collection(
    name: str,
    document_class: str | tuple[str, ...],
    key: str | tuple[str, ...],
    explode: str | None = None,
) -> None:
    """Register (or replace) the derived collection ``name``."""
    DERIVED_COLLECTIONS[name] = DerivedCollection(name, document_class, key, explode)


class JobOutputBuilder(Builder):
    """Copy the job outputs of some document classes into a derived collection.

    The bytes the outputs carry (``artifacts``, see :mod:`thermogap.execution.artifacts`)
    are written to ``blobs`` under their ids, so that the derived documents' blob
    references resolve from the results database; other data-store fields stay references.

    Parameters
    ----------
    outputs
        jobflow's job store (outputs plus the ``data`` additional store).
    target
        The derived collection.
    derived
        Which outputs go there and under which key.
    blobs
        Blob store of the results database (``None``: artifacts are not copied).
    """

    def __init__(
        self, outputs: JobStore, target: Store, derived: DerivedCollection, blobs: Any = None
    ) -> None:
        self.outputs = outputs
        self.target = target
        self.derived = derived
        self.blobs = blobs
        super().__init__(sources=[outputs], targets=[target])

    def get_items(self) -> Iterator[dict[str, Any]]:
        """Yield the newest output of each job whose document has a registered class."""
        criteria = {"output.@class": {"$in": self.derived.classes}}
        latest: dict[str, dict[str, Any]] = {}
        query = self.outputs.query(
            criteria,
            properties=["uuid", "index", "name", "output", "completed_at"],
            # the carried bytes, and the list an exploded collection is made of
            load={"data": [ARTIFACTS_KEY, *filter(None, [self.derived.explode])]},
        )
        for doc in query:
            if doc["uuid"] not in latest or doc["index"] > latest[doc["uuid"]]["index"]:
                latest[doc["uuid"]] = doc
        # oldest first, so that of two jobs with the same key the newer result is written last
        yield from sorted(latest.values(), key=lambda d: str(d.get("completed_at") or ""))

    def _ingest(self, carried: Any) -> None:
        if self.blobs is None or not isinstance(carried, dict):
            return
        for blob_id, text in carried.items():
            if isinstance(text, str) and not self.blobs.exists(blob_id):
                ref = self.blobs.put_bytes(base64.b64decode(text))
                if ref.blob_id != blob_id:
                    raise InputError(f"artifact {blob_id} does not hash to its id ({ref.blob_id})")

    def _strip_artifacts(self, value: Any) -> None:
        # carried bytes go to the blob store, also from documents nested in a document
        if isinstance(value, dict):
            self._ingest(value.pop(ARTIFACTS_KEY, None))
            for nested in value.values():
                self._strip_artifacts(nested)
        elif isinstance(value, list):
            for nested in value:
                self._strip_artifacts(nested)

    def process_item(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        """Turn one job output into the documents of the derived collection.

        An output that is a list (a job returning one document per replica) contributes
        each of its elements of a registered class.
        """
        raw = item["output"]
        if isinstance(raw, list):
            outputs = [
                o for o in raw if isinstance(o, dict) and o.get("@class") in self.derived.classes
            ]
        else:
            outputs = [raw]
        entries = []
        for one in outputs:
            output = {k: v for k, v in one.items() if k not in _SERIALISATION_KEYS}
            self._ingest(output.pop(ARTIFACTS_KEY, None))
            if self.derived.explode is None:
                entries.append(output)
            else:
                entries += [
                    {k: v for k, v in entry.items() if k not in _SERIALISATION_KEYS}
                    for entry in output.get(self.derived.explode) or []
                ]
        docs = []
        for entry in entries:
            self._strip_artifacts(entry)
            entry["job_uuid"] = item["uuid"]
            if any(k not in entry for k in self.derived.keys):
                raise InputError(
                    f"output of job {item['uuid']} ({item.get('name')!r}) has no key field "
                    f"{self.derived.key!r} for collection {self.derived.name!r}"
                )
            entry["job_name"] = item.get("name")
            entry["completed_at"] = item.get("completed_at")
            docs.append(entry)
        return docs

    def update_targets(self, items: list[dict[str, Any]]) -> None:
        """Write the processed documents, replacing those with the same key."""
        if items:
            self.target.update(items, key=list(self.derived.keys))


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
    outputs = db.jobstore()
    written: dict[str, int] = {}
    for name in wanted:
        builder = JobOutputBuilder(
            outputs, db.collection(name), DERIVED_COLLECTIONS[name], blobs=db.blobs
        )
        items = [doc for item in builder.get_items() for doc in builder.process_item(item)]
        builder.update_targets(items)
        written[name] = len(items)
    return written


def _register_builtin() -> None:
    # the documents of thermogap's flows; imported lazily so the store knows no schemas
    for name, document_class, key, *explode in _BUILTIN:
        DERIVED_COLLECTIONS.setdefault(name, DerivedCollection(name, document_class, key, *explode))


#: (collection, output document class(es), key field[, exploded list field]) of thermogap's
#: own flows; a flow's data path adds its collections here
_BUILTIN: list[tuple[Any, ...]] = [
    ("optics", "OpticsResultDoc", "job_uuid"),
    ("optics_spectra", "OpticsSpectrumDoc", "job_uuid"),
    ("tdph", "TdphDoc", "job_uuid"),
    (names.BAND_GAPS, "BandGapDoc", "result_id"),
    # a longer run of the same trajectory (same id, more steps) is another entry
    (names.TRAJECTORIES, "TrajectoryDoc", ("trajectory_id", "n_steps_done")),
    (names.PHONONS, ("PhononDoc", "FiniteTemperaturePhononDoc"), "phonon_id"),
    (names.DISORDER, "DisorderRankingDoc", "ranking_id"),
    (names.ELECTRON_PHONON, "ElectronPhononDoc", "electron_phonon_id"),
    (names.STRUCTURES, "RelaxedStructureDoc", "structure_id"),
    (names.MODELS, ("MlipModelDoc", "GNNModelDoc"), "model_id"),
    ("gnn_datasets", "GNNDatasetDoc", "job_uuid"),
    ("gnn_studies", ("GNNSearchDoc", "DatasetStudyDoc"), "job_uuid"),
    ("gnn_explanations", "GNNExplanationDoc", "job_uuid"),
    ("gnn_predictions", "GNNPredictionDoc", "job_uuid"),
    ("mlip_evaluations", ("SinglePointDoc", "RelaxationDoc", "PhononValidationDoc"), "job_uuid"),
    (names.CONFIGURATIONS, "ConfigurationBatchDoc", "config_id", "configurations"),
    (names.LABELS, "LabelBatchDoc", "label_id", "labels"),
    ("studies", "TemperatureStudyDoc", "job_uuid"),
]
