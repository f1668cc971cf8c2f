"""Persistence and queries of GNN datasets, models' metadata and predictions.

The Makers of :mod:`thermogap.jobs.gnn` call these helpers: a dataset is one JSON blob of
structures, targets and configuration ids (:class:`~thermogap.schemas.gnn.GNNDatasetDoc` points
to it), labels are queried from the ``labels`` collection, and predictions go to an array blob.
"""

from __future__ import annotations

import json
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

__all__ = [
    "LABELS_COLLECTION",
    "as_document",
    "export_labels",
    "load_dataset",
    "model_document_fields",
    "store_dataset",
    "store_predictions",
]

LABELS_COLLECTION = names.LABELS
_Doc = TypeVar("_Doc", bound=BaseModel)


def as_document(model: Any, cls: type[_Doc]) -> _Doc:
    """Accept a pydantic document or its dict form (as resolved from a job output)."""
    if isinstance(model, cls):
        return model
    return cls.model_validate({k: v for k, v in dict(model).items() if not k.startswith("@")})


def load_dataset(db: Any, dataset: GNNDatasetDoc | dict[str, Any]) -> Any:
    """Read a dataset blob back as a :class:`thermogap.gnn.dataset_study.LabelledSet`."""
    from thermogap.gnn.dataset_study import LabelledSet

    doc = as_document(dataset, GNNDatasetDoc)
    payload = json.loads(db.blobs.get_bytes(doc.blob))
    return LabelledSet(
        name=doc.name,
        structures=[Structure.from_dict(d) for d in payload["structures"]],
        targets=np.asarray(payload["targets"], dtype=float),
        ids=list(payload["config_ids"]),
        test_ids=doc.test_config_ids,
    )


def store_dataset(db: Any, name: str, level: str, target: str, labelled: Any) -> GNNDatasetDoc:
    """Write ``labelled`` (a ``LabelledSet``) as one JSON blob and return its dataset document.

    Parameters
    ----------
    db
        Results database whose blob store receives the dataset.
    name, level, target
        Dataset name, level of theory and target property (unit from ``TARGET_UNITS``).
    labelled
        :class:`~thermogap.gnn.dataset_study.LabelledSet` to store.
    """
    payload = {
        "config_ids": labelled.ids,
        "structures": [s.as_dict() for s in labelled.structures],
        "targets": [float(t) for t in labelled.targets],
    }
    ref = db.blobs.put_bytes(
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


def export_labels(
    db: Any,
    level: str,
    target: str,
    name: str = "dataset",
    criteria: dict[str, Any] | None = None,
    config_ids: list[str] | None = None,
) -> Any:
    """Labels of ``level`` as a :class:`~thermogap.gnn.dataset_study.LabelledSet`.

    Raises
    ------
    InputError
        If ``target`` is unknown or fewer than 3 labels match.
    """
    from thermogap.gnn.dataset_study import LabelledSet
    from thermogap.labels.export import GNN_TARGETS

    if target not in GNN_TARGETS:
        raise InputError(f"{target=} is not a GNN target; allowed: {', '.join(GNN_TARGETS)}")
    query = {**(criteria or {}), "level": level, "status": "ok"}
    if config_ids is not None:
        query["config_id"] = {"$in": list(config_ids)}
    docs = db.query(LABELS_COLLECTION, query, sort={"config_id": 1})
    getter = GNN_TARGETS[target]
    structures, values, ids = [], [], []
    for doc in docs:
        value = getter(doc)
        if value is None or not np.isfinite(value) or str(doc["config_id"]) in ids:
            continue
        structures.append(Structure.from_dict(doc["structure"]))
        values.append(float(value))
        ids.append(str(doc["config_id"]))
    if len(ids) < 3:
        raise InputError(
            f"only {len(ids)} ok labels with a {target} value for level={level!r} "
            f"and criteria={criteria!r}; "
            "need at least 3"
        )
    return LabelledSet(name, structures, np.array(values), ids)


def store_predictions(
    db: Any,
    bundle: Any,
    model_id: str,
    values: np.ndarray,
    inline_limit: int,
    extra: dict[str, Any],
) -> GNNPredictionDoc:
    """Write ``values`` to an array blob and return the prediction document.

    Values are inlined in the document as well when there are at most ``inline_limit``;
    ``extra`` holds further document fields (what was predicted on).
    """
    ref = db.blobs.put_array(values.astype(np.float64), kind="gnn_predictions")
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
