"""Graph neural networks for band gaps and other scalar properties of crystals.

Layers: :mod:`~thermogap.gnn.graphs` (periodic radius graphs), :mod:`~thermogap.gnn.features`
(node features), :mod:`~thermogap.gnn.architectures` (GraphConv models, registry),
:mod:`~thermogap.gnn.training`, :mod:`~thermogap.gnn.transfer`, :mod:`~thermogap.gnn.search`,
:mod:`~thermogap.gnn.dataset_study`, :mod:`~thermogap.gnn.explain`,
:mod:`~thermogap.gnn.inference` and :mod:`~thermogap.gnn.plots`.  Importing this package is
cheap; torch-geometric is imported when first needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "ARCHITECTURES",
    "GNNBundle",
    "GraphSettings",
    "gnn_from_model",
    "load_gnn",
    "predict",
    "predict_frames",
    "register_gnn",
    "save_gnn",
    "train_gnn",
    "train_two_stage",
]

_LAZY = {
    "ARCHITECTURES": "thermogap.gnn.architectures",
    "GNNBundle": "thermogap.gnn.bundle",
    "GraphSettings": "thermogap.gnn.graphs",
    "gnn_from_model": "thermogap.gnn.bundle",
    "load_gnn": "thermogap.gnn.bundle",
    "register_gnn": "thermogap.gnn.bundle",
    "save_gnn": "thermogap.gnn.bundle",
    "predict": "thermogap.gnn.inference",
    "predict_frames": "thermogap.gnn.inference",
    "train_gnn": "thermogap.gnn.training",
    "train_two_stage": "thermogap.gnn.transfer",
}

if TYPE_CHECKING:
    from thermogap.gnn.architectures import ARCHITECTURES
    from thermogap.gnn.bundle import GNNBundle, gnn_from_model, load_gnn, register_gnn, save_gnn
    from thermogap.gnn.graphs import GraphSettings
    from thermogap.gnn.inference import predict, predict_frames
    from thermogap.gnn.training import train_gnn
    from thermogap.gnn.transfer import train_two_stage


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'thermogap.gnn' has no attribute {name!r}")
