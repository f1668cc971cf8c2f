"""GNN datasets, models' metadata and predictions as blobs of returned documents.

The Makers of :mod:`thermogap.jobs.gnn` call these helpers. Labels arrive as a list of
LabelDoc dicts (the labelling flow's output, passed by reference); a dataset is one JSON blob
of structures, targets and configuration ids (:class:`~thermogap.schemas.gnn.GNNDatasetDoc`
points to it) and predictions are an array blob. Blobs are written to the running job's blob
store (:func:`~thermogap.execution.artifacts.current_blobs`) and travel with the documents
that refer to them; no database is read or written here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import numpy as np
from pydantic import BaseModel
from pymatgen.core import Structure

from thermogap.errors import InputError
from thermogap.schemas.base import make_provenance
from thermogap.schemas.gnn import (
    TARGET_UNITS,
    GNNDatasetDoc,
    GNNPredictionDoc,
    GNNTrainingSettings,
)
from thermogap.store import collections as names
from thermogap.structures.identity import as_structure

__all__ = [
    "LABELS_COLLECTION",
    "as_document",
    "export_labels",
    "load_dataset",
    "matches",
    "model_document_fields",
    "store_dataset",
    "store_predictions",
]

#: name of the collection the labels are built into (for readers outside jobs)
LABELS_COLLECTION = names.LABELS
_Doc = TypeVar("_Doc", bound=BaseModel)


#: fields a derived collection's builder adds to a job output (see thermogap.store.builders)
_BUILT_KEYS = frozenset({"_id", "job_uuid", "job_name", "completed_at"})


def as_document(model: Any, cls: type[_Doc]) -> _Doc:
    """Accept a pydantic document or its dict form.

    The dict may be a resolved job output (``@class`` keys) or a document of a built
    collection passed on with :func:`~thermogap.execution.artifacts.document_with_artifacts`
    (the builder's ``job_uuid``, ``job_name`` and ``completed_at`` are dropped).
    """
    if isinstance(model, cls):
        return model
    return cls.model_validate(
        {k: v for k, v in dict(model).items() if not k.startswith("@") and k not in _BUILT_KEYS}
    )


def _blobs(blobs: Any) -> Any:
    from thermogap.execution.artifacts import current_blobs

    return blobs if blobs is not None else current_blobs()


def load_dataset(dataset: GNNDatasetDoc | dict[str, Any], blobs: Any = None) -> Any:
    """Read a dataset blob back as a :class:`thermogap.gnn.dataset_study.LabelledSet`.

    Parameters
    ----------
    dataset
        The dataset job's output document (by reference: it carries the blob's bytes).
    blobs
        Blob store to read from; default: the running job's.
    """
    from thermogap.gnn.dataset_study import LabelledSet

    doc = as_document(dataset, GNNDatasetDoc)
    payload = json.loads(_blobs(blobs).get_bytes(doc.blob))
    return LabelledSet(
        name=doc.name,
        structures=[Structure.from_dict(d) for d in payload["structures"]],
        targets=np.asarray(payload["targets"], dtype=float),
        ids=list(payload["config_ids"]),
        test_ids=doc.test_config_ids,
    )


def store_dataset(
    name: str, level: str, target: str, labelled: Any, blobs: Any = None
) -> GNNDatasetDoc:
    """Write ``labelled`` (a ``LabelledSet``) as one JSON blob and return its dataset document.

    Parameters
    ----------
    name, level, target
        Dataset name, level of theory and target property (unit from ``TARGET_UNITS``).
    labelled
        :class:`~thermogap.gnn.dataset_study.LabelledSet` to store.
    blobs
        Blob store receiving the dataset; default: the running job's.
    """
    payload = {
        "config_ids": labelled.ids,
        "structures": [s.as_dict() for s in labelled.structures],
        "targets": [float(t) for t in labelled.targets],
    }
    ref = _blobs(blobs).put_bytes(
        json.dumps(payload, sort_keys=True).encode(), kind="gnn_dataset", filename=f"{name}.json"
    )
    return GNNDatasetDoc(
        name=name,
        level=level,
        target=target,
        target_unit=TARGET_UNITS[target],
        n_structures=len(labelled.ids),
        config_ids=list(labelled.ids),
        blob=ref.model_dump(),
        test_config_ids=labelled.test_ids,
        provenance=make_provenance(level=level),
    )


def model_document_fields(
    result: Any, parity_ref: Any, settings: GNNTrainingSettings, parent: str | None
) -> dict[str, Any]:
    """Return the model document's fields that describe how ``result`` was trained.

    Parameters
    ----------
    result
        :class:`~thermogap.gnn.training.TrainingResult` of the training.
    parity_ref
        BlobRef of the parity plot, or ``None``.
    settings
        Training settings (architecture and width are taken from the trained bundle).
    parent
        Model id the training started from (fine-tuning), or ``None``.
    """
    return {
        "settings": settings.model_copy(
            update={
                "architecture": result.bundle.architecture,
                "hidden_channels": result.bundle.hidden_channels,
            }
        ),
        "training_config_ids": result.ids["train"],
        "validation_config_ids": result.ids["validation"],
        "test_config_ids": result.ids["test"],
        "metrics": result.metrics,
        "history": result.history,
        "parent_model_id": parent,
        "parity_plot": None if parity_ref is None else parity_ref.model_dump(),
    }


def matches(doc: Mapping[str, Any], criteria: Mapping[str, Any] | None) -> bool:
    """Whether a label document matches simple query ``criteria``.

    Each criterion is ``field: value`` (equality; a missing field is ``None``) or
    ``field: {"$in": [...]}`` / ``{"$nin": [...]}`` / ``{"$ne": value}`` / ``{"$eq": value}``,
    the subset of MongoDB's query language the GNN flows use (e.g. ``{"scheme": "phonon"}``).

    Raises
    ------
    InputError
        For another operator.
    """
    for key, condition in (criteria or {}).items():
        value = doc.get(key)
        if isinstance(condition, Mapping) and any(str(k).startswith("$") for k in condition):
            for op, operand in condition.items():
                if op == "$in":
                    ok = value in list(operand)
                elif op == "$nin":
                    ok = value not in list(operand)
                elif op == "$ne":
                    ok = value != operand
                elif op == "$eq":
                    ok = value == operand
                else:
                    raise InputError(
                        f"label criterion {key}: {{{op!r}: ...}} unsupported; "
                        "allowed: equality, $eq, $ne, $in, $nin"
                    )
                if not ok:
                    return False
        elif value != condition:
            return False
    return True


def export_labels(
    labels: Iterable[Mapping[str, Any] | BaseModel],
    level: str,
    target: str,
    name: str = "dataset",
    criteria: dict[str, Any] | None = None,
    config_ids: list[str] | None = None,
) -> Any:
    """Select the ``ok`` labels of ``level`` as a :class:`~thermogap.gnn.dataset_study.LabelledSet`.

    Parameters
    ----------
    labels
        LabelDoc dicts (the labelling flow's output) or documents, any levels and statuses.
    level
        Level of theory to keep.
    target
        Property (see :data:`thermogap.labels.export.GNN_TARGETS`).
    name
        Name of the set.
    criteria
        Further conditions on the label fields (see :func:`matches`), e.g.
        ``{"scheme": "phonon"}``.
    config_ids
        Keep only these configurations.

    Returns
    -------
    LabelledSet
        Sorted by ``config_id``; one record per configuration (the first label of a
        duplicated ``config_id`` is kept); labels without a finite target value are skipped.

    Raises
    ------
    InputError
        If ``target`` is unknown or fewer than 3 labels match.
    """
    from thermogap.gnn.dataset_study import LabelledSet
    from thermogap.labels.export import GNN_TARGETS

    if target not in GNN_TARGETS:
        raise InputError(f"{target=} is not a GNN target; allowed: {', '.join(GNN_TARGETS)}")
    wanted = None if config_ids is None else {str(c) for c in config_ids}
    as_dicts = [d.model_dump(mode="json") if isinstance(d, BaseModel) else d for d in labels]
    docs = [
        d
        for d in as_dicts
        if d.get("level") == level
        and d.get("status", "ok") == "ok"  # LabelDoc's default
        and matches(d, criteria)
        and (wanted is None or str(d.get("config_id")) in wanted)
    ]
    docs.sort(key=lambda d: str(d.get("config_id")))
    getter = GNN_TARGETS[target]
    structures, values, ids = [], [], []
    seen: set[str] = set()
    for doc in docs:
        value = getter(doc)
        config_id = str(doc["config_id"])
        if value is None or not np.isfinite(value) or config_id in seen:
            continue
        seen.add(config_id)
        structures.append(as_structure(doc["structure"]))
        values.append(float(value))
        ids.append(config_id)
    if len(ids) < 3:
        raise InputError(
            f"only {len(ids)} ok labels with a {target} value for level={level!r} "
            f"and criteria={criteria!r}; "
            "need at least 3"
        )
    return LabelledSet(name, structures, np.array(values), ids)


def store_predictions(
    bundle: Any,
    model_id: str,
    values: np.ndarray,
    inline_limit: int,
    extra: dict[str, Any],
    blobs: Any = None,
) -> GNNPredictionDoc:
    """Write ``values`` to an array blob and return the prediction document.

    Values are inlined in the document as well when there are at most ``inline_limit``;
    ``extra`` holds further document fields (what was predicted on); ``blobs`` receives
    the array (default: the running job's blob store).
    """
    ref = _blobs(blobs).put_array(values.astype(np.float64), kind="gnn_predictions")
    n = len(values)
    return GNNPredictionDoc(
        model_id=model_id,
        model_sha256=bundle.sha256 or "",
        target=bundle.target,
        target_unit=bundle.target_unit,
        n_structures=n,
        mean=float(values.mean()) if n else None,
        std=float(values.std(ddof=1)) if n > 1 else None,
        stderr=float(values.std(ddof=1) / np.sqrt(n)) if n > 1 else None,
        values=[float(v) for v in values] if n <= inline_limit else None,
        values_blob=ref.model_dump(),
        provenance=make_provenance(
            level=bundle.levels[-1] if bundle.levels else None,
            model_id=model_id,
            model_sha256=bundle.sha256,
        ),
        **extra,
    )
