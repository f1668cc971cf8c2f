"""A trained GNN with everything needed to use it: weights, normalisation, graph settings.

A :class:`GNNBundle` serialises to one byte string (a ``torch.save`` of the state dict plus a
JSON header; no pickled code), which goes to the blob store with its SHA-256.
:func:`save_gnn` writes it to the running job's blob store and returns the model document
(its bytes travel with it as ``artifacts``); :func:`gnn_from_model` loads a model from that
document, :func:`load_gnn` from a results database by id; both verify the hash.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from thermogap.errors import InputError, MissingModelError, StoreError
from thermogap.gnn.architectures import GraphConvRegressor, build_model
from thermogap.gnn.graphs import GraphSettings
from thermogap.store import collections as names

if TYPE_CHECKING:
    from thermogap.schemas.gnn import GNNModelDoc

__all__ = [
    "FORMAT_VERSION",
    "GNNBundle",
    "TargetScaler",
    "gnn_from_model",
    "load_gnn",
    "model_id_from_sha256",
    "register_gnn",
    "save_gnn",
]

FORMAT_VERSION = 1
MODELS_COLLECTION = names.MODELS


@dataclass(frozen=True)
class TargetScaler:
    """Min–max scaling of a target to [0, 1] (the range of the sigmoid output).

    Parameters
    ----------
    minimum, maximum
        Range in the target's unit; ``maximum > minimum``.
    """

    minimum: float
    maximum: float

    def __post_init__(self) -> None:
        if (
            not (np.isfinite(self.minimum) and np.isfinite(self.maximum))
            or self.maximum <= self.minimum
        ):
            raise InputError(
                f"target range ({self.minimum}, {self.maximum}) must be finite with max > min; "
                "a training set needs at least two different target values"
            )

    @classmethod
    def fit(cls, values: np.ndarray) -> TargetScaler:
        """Range of ``values`` (``shape=(n,)``)."""
        values = np.asarray(values, dtype=float)
        if values.size == 0:
            raise InputError("cannot fit a target range to zero values")
        return cls(float(values.min()), float(values.max()))

    def normalise(self, values: np.ndarray) -> np.ndarray:
        """Map physical values to [0, 1] (values outside the range map outside [0, 1])."""
        return (np.asarray(values, dtype=float) - self.minimum) / (self.maximum - self.minimum)

    def denormalise(self, values: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`normalise`."""
        return np.asarray(values, dtype=float) * (self.maximum - self.minimum) + self.minimum


@dataclass
class GNNBundle:
    """A trained GNN ready for inference.

    Attributes
    ----------
    model
        The network, in eval mode.
    architecture, hidden_channels, dropout
        How to rebuild ``model``.
    graph_settings
        Cutoff and fixed feature ranges the model was trained with.
    target, target_unit
        Property and its unit.
    scaler
        Target normalisation.
    levels
        Levels of theory of the training labels.
    training_ids
        Identifiers (config ids) of the training split, stored in the blob with the weights.
    model_id, sha256
        Set once stored (or loaded).
    """

    model: GraphConvRegressor
    architecture: str
    hidden_channels: int
    dropout: float
    graph_settings: GraphSettings
    target: str
    target_unit: str
    scaler: TargetScaler
    levels: list[str] = field(default_factory=list)
    training_ids: list[str] = field(default_factory=list)
    model_id: str | None = None
    sha256: str | None = None

    def header(self) -> dict[str, Any]:
        """JSON header of the serialised bundle."""
        return {
            "format_version": FORMAT_VERSION,
            "architecture": self.architecture,
            "hidden_channels": self.hidden_channels,
            "dropout": self.dropout,
            "graph_settings": self.graph_settings.to_dict(),
            "target": self.target,
            "target_unit": self.target_unit,
            "target_range": [self.scaler.minimum, self.scaler.maximum],
            "levels": list(self.levels),
            "training_config_ids": list(self.training_ids),
        }

    def to_bytes(self) -> bytes:
        """Serialise (state dict + JSON header; deterministic for identical weights)."""
        buffer = io.BytesIO()
        state = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}
        torch.save(
            {"header": json.dumps(self.header(), sort_keys=True), "state_dict": state}, buffer
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> GNNBundle:
        """Inverse of :meth:`to_bytes` (``weights_only`` loading: no code is unpickled)."""
        try:
            payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
            header = json.loads(payload["header"])
        except Exception as exc:
            raise InputError(f"bytes are not a thermogap GNN bundle: {exc}") from exc
        if header.get("format_version") != FORMAT_VERSION:
            raise InputError(
                f"GNN bundle format {header.get('format_version')!r} unsupported; "
                f"allowed: {FORMAT_VERSION}"
            )
        model = build_model(header["architecture"], header["hidden_channels"], header["dropout"])
        model.load_state_dict(payload["state_dict"])
        model.eval()
        low, high = header["target_range"]
        return cls(
            model=model,
            architecture=header["architecture"],
            hidden_channels=int(header["hidden_channels"]),
            dropout=float(header["dropout"]),
            graph_settings=GraphSettings.from_dict(header["graph_settings"]),
            target=header["target"],
            target_unit=header["target_unit"],
            scaler=TargetScaler(float(low), float(high)),
            levels=list(header.get("levels", [])),
            training_ids=list(header.get("training_config_ids", [])),
        )


def model_id_from_sha256(sha256: str) -> str:
    """Model id derived from the bundle hash: ``"gnn-" + sha256[:16]``."""
    return f"gnn-{sha256[:16]}"


def save_gnn(bundle: GNNBundle, doc_fields: dict[str, Any], blobs: Any = None) -> GNNModelDoc:
    """Store a bundle's bytes in a blob store and return its model document.

    Nothing is written to a database: inside a job the bytes go to the job's blob store
    (:func:`~thermogap.execution.artifacts.current_blobs`) and travel with the returned
    document as its ``artifacts``; the ``models`` collection is built from job outputs
    afterwards (:mod:`thermogap.store.builders`). To put a model straight into a results
    database (test fixtures, imports) use :func:`register_gnn`.

    Parameters
    ----------
    bundle
        Trained model; its ``model_id`` and ``sha256`` are set on return.
    doc_fields
        Further :class:`~thermogap.schemas.gnn.GNNModelDoc` fields (settings, metrics,
        history, config ids, parent_model_id, parity_plot, ...).
    blobs
        Blob store receiving the bytes; default: the running job's.

    Returns
    -------
    GNNModelDoc
        Its ``model_id`` is derived from the bundle's SHA-256, so the same bundle always
        gets the same id.

    Raises
    ------
    InputError
        If ``bundle`` is not a :class:`GNNBundle` (e.g. the old ``save_gnn(db, bundle, ...)``
        call form).
    """
    from thermogap.execution.artifacts import current_blobs
    from thermogap.schemas.base import make_provenance
    from thermogap.schemas.gnn import GNNModelDoc

    if not isinstance(bundle, GNNBundle):
        raise InputError(
            f"save_gnn(bundle, doc_fields, blobs=None) needs a GNNBundle first, got "
            f"{type(bundle).__name__}; to store a model in a results database use "
            "register_gnn(db, bundle, doc_fields)"
        )
    data = bundle.to_bytes()
    store = blobs if blobs is not None else current_blobs()
    ref = store.put_bytes(data, kind="gnn_model", filename="gnn_bundle.pt")
    bundle.sha256 = ref.sha256
    bundle.model_id = model_id_from_sha256(ref.sha256)
    return GNNModelDoc(
        model_id=bundle.model_id,
        sha256=ref.sha256,
        blob=ref.model_dump(),
        architecture=bundle.architecture,
        graph_settings=bundle.graph_settings.to_dict(),
        target=bundle.target,
        target_unit=bundle.target_unit,
        target_range=(bundle.scaler.minimum, bundle.scaler.maximum),
        levels=list(bundle.levels),
        provenance=make_provenance(
            level=bundle.levels[-1] if bundle.levels else None,
            model_id=bundle.model_id,
            model_sha256=ref.sha256,
        ),
        **doc_fields,
    )


def register_gnn(db: Any, bundle: GNNBundle, doc_fields: dict[str, Any]) -> GNNModelDoc:
    """Store a bundle in a results database: bytes in its blobs, document in ``models``.

    For code outside jobs that has a database at hand (fixtures, imports of a trained
    model); jobs return :func:`save_gnn`'s document instead.

    Parameters
    ----------
    db
        A :class:`thermogap.store.ResultsDB`.
    bundle, doc_fields
        As for :func:`save_gnn`.

    Returns
    -------
    GNNModelDoc
        The document written (upserted by ``model_id``; storing the same bundle twice is a
        no-op).
    """
    doc = save_gnn(bundle, doc_fields, blobs=db.blobs)
    db.upsert(MODELS_COLLECTION, [doc.model_dump(mode="json")], key="model_id")
    return doc


def load_gnn(db: Any, model_id: str) -> GNNBundle:
    """Load a stored GNN, verifying its SHA-256.

    Parameters
    ----------
    db
        A :class:`thermogap.store.ResultsDB`.
    model_id
        ``model_id`` of a ``kind="gnn"`` document in the ``models`` collection.

    Returns
    -------
    GNNBundle

    Raises
    ------
    MissingModelError
        If no such GNN document exists.
    BlobIntegrityError
        If the stored bytes do not match the recorded SHA-256.
    StoreError
        If the document's hash and its blob reference disagree.
    """
    doc = db.query_one(MODELS_COLLECTION, {"model_id": model_id, "kind": "gnn"})
    if doc is None:
        known = [
            d["model_id"]
            for d in db.query(MODELS_COLLECTION, {"kind": "gnn"}, properties=["model_id"])
        ]
        raise MissingModelError(
            f"no GNN with model_id={model_id!r} in the models collection; "
            f"known: {known[:20] or '(none)'}"
        )
    ref = doc["blob"]
    if ref.get("sha256") != doc.get("sha256"):
        raise StoreError(
            f"model {model_id!r}: document sha256 {doc.get('sha256')} != blob {ref.get('sha256')}"
        )
    bundle = GNNBundle.from_bytes(db.blobs.get_bytes(ref))
    bundle.model_id = model_id
    bundle.sha256 = doc["sha256"]
    return bundle


def gnn_from_model(model: Any, blobs: Any = None) -> GNNBundle:
    """Load a GNN from its model document passed by reference (no database).

    Parameters
    ----------
    model
        :class:`~thermogap.schemas.gnn.GNNModelDoc` (or its dict) output by a training job,
        carrying the bundle's bytes as ``artifacts``.
    blobs
        Blob store to read from; default: the running job's (its resolved inputs), or
        outside a job the ``artifacts`` the document carries.

    Raises
    ------
    StoreError
        If the document's hash and its blob reference disagree, or the bytes are missing.
    BlobIntegrityError
        If the bytes do not match the recorded SHA-256.
    """
    doc = model.model_dump(mode="json") if hasattr(model, "model_dump") else model
    if not isinstance(doc, dict) or "blob" not in doc:
        raise StoreError(
            f"expected a GNN model document (the training job's output), got {str(model)[:80]!r}"
        )
    ref = doc["blob"]
    if ref.get("sha256") != doc.get("sha256"):
        raise StoreError(
            f"model {doc.get('model_id')!r}: document sha256 {doc.get('sha256')} "
            f"!= blob {ref.get('sha256')}"
        )
    bundle = GNNBundle.from_bytes(_model_blobs(model, ref, blobs).get_bytes(ref))
    bundle.model_id = doc.get("model_id")
    bundle.sha256 = doc["sha256"]
    return bundle


def _model_blobs(model: Any, ref: dict[str, Any], blobs: Any) -> Any:
    """Blob store holding ``ref``: ``blobs``, else the running job's, else the document's own."""
    from thermogap.execution.artifacts import JobBlobStore, current_blobs, find_artifacts

    if blobs is not None:
        return blobs
    store = current_blobs()
    if store.exists(ref["blob_id"]):
        return store
    carried = find_artifacts(model)
    return JobBlobStore(carried) if ref["blob_id"] in carried else store
