"""Batched inference: property predictions for many structures (e.g. MD snapshots)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from thermogap.errors import InputError
from thermogap.gnn.bundle import GNNBundle, load_gnn
from thermogap.gnn.graphs import GraphBatch, batch_graphs

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from thermogap.gnn.architectures import GraphConvRegressor

__all__ = ["load_gnn", "predict", "predict_normalised"]


def predict_normalised(model: GraphConvRegressor, batch: GraphBatch) -> np.ndarray:
    """Raw (normalised) model output for a graph batch, ``shape=(n_graphs,)``, eval mode."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            out = model(batch.x, batch.edge_index, batch.edge_weight, batch.batch)
    finally:
        model.train(was_training)
    return out.double().numpy()


def predict(bundle: GNNBundle, structures: Sequence[Structure], batch_size: int = 256) -> np.ndarray:
    """Predict the bundle's target for many structures.

    Graphs are built and evaluated ``batch_size`` structures at a time (graph construction is
    vectorised within a batch), so memory stays bounded for long trajectories.

    Parameters
    ----------
    bundle
        A trained model (:func:`load_gnn` or training output).
    structures
        Ordered periodic structures, any sizes.
    batch_size
        Structures per forward pass.

    Returns
    -------
    numpy.ndarray
        ``shape=(len(structures),)``, float64, in ``bundle.target_unit`` (eV for band gaps).
    """
    if batch_size < 1:
        raise InputError(f"{batch_size=} must be a positive integer")
    if len(structures) == 0:
        return np.zeros(0)
    out = np.empty(len(structures))
    for start in range(0, len(structures), batch_size):
        chunk = structures[start : start + batch_size]
        graphs = batch_graphs(chunk, bundle.graph_settings)
        out[start : start + len(chunk)] = predict_normalised(bundle.model, graphs)
    return bundle.scaler.denormalise(out)
