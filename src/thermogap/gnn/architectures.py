"""GNN architectures for scalar properties of crystals (band gap, energy, VBM, stress).

All architectures share one shape (seed paper 001, Supplementary Fig. 4, and 000 Methods)::

    [GraphConv -> BatchNorm -> ReLU] x n_conv -> global pool -> dropout(p)
        -> Linear(h, 16) -> ReLU -> Linear(16, 1) -> output activation

GraphConv is Morris et al.'s operator ``x'_i = W1 x_i + W2 sum_j e_ji x_j`` with the
normalised edge distance as the edge weight ``e_ji``.  The output lies in [0, 1] (sigmoid) or
[0, inf) (ReLU) and is mapped back to physical units with the target's min–max range.

Registry :data:`ARCHITECTURES`:

=====================  ======  ========  ==========  =================================
name                   n_conv  pooling   output      notes
=====================  ======  ========  ==========  =================================
``benitez2026``        2       max       sigmoid     seed 000's best band-gap model
``conv3_max_sigmoid``  3       max       sigmoid     seed 001 model 1
``conv3_mean_sigmoid`` 3       mean      sigmoid     seed 001 model 2
``conv3_max_relu``     3       max       relu        seed 001 model 3
``conv3_mean_relu``    3       mean      relu        seed 001 model 4
``conv2_max_sigmoid``  2       max       sigmoid     seed 001 model 5 (= benitez2026)
``conv4_max_sigmoid``  4       max       sigmoid     seed 001 model 6
=====================  ======  ========  ==========  =================================

:data:`SEARCH_FAMILY` lists the six variants the hyperparameter search explores.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from thermogap.errors import InputError
from thermogap.gnn.features import FEATURE_NAMES
from thermogap.registry import Registry

__all__ = [
    "ARCHITECTURES",
    "SEARCH_FAMILY",
    "ArchitectureSpec",
    "GraphConvRegressor",
    "build_model",
]

POOLINGS = ("max", "mean")
OUTPUT_ACTIVATIONS = ("sigmoid", "relu")


@dataclass(frozen=True)
class ArchitectureSpec:
    """Shape of a :class:`GraphConvRegressor`.

    Parameters
    ----------
    n_conv
        Number of GraphConv + BatchNorm + ReLU blocks (>= 1).
    pooling
        Graph readout, ``"max"`` or ``"mean"``.
    output_activation
        ``"sigmoid"`` (target in [0, 1]) or ``"relu"``.
    readout_channels
        Width of the hidden linear layer of the head (16 in the papers).
    """

    n_conv: int = 2
    pooling: str = "max"
    output_activation: str = "sigmoid"
    readout_channels: int = 16

    def __post_init__(self) -> None:
        if not isinstance(self.n_conv, int) or self.n_conv < 1:
            raise InputError(f"n_conv={self.n_conv!r} must be a positive integer")
        if self.pooling not in POOLINGS:
            raise InputError(f"pooling={self.pooling!r} is not allowed; allowed: {POOLINGS}")
        if self.output_activation not in OUTPUT_ACTIVATIONS:
            raise InputError(
                f"output_activation={self.output_activation!r} is not allowed; "
                f"allowed: {OUTPUT_ACTIVATIONS}"
            )
        if self.readout_channels < 1:
            raise InputError(f"readout_channels={self.readout_channels!r} must be positive")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly representation."""
        return asdict(self)


class GraphConvRegressor(nn.Module):
    """Graph-level regressor built from GraphConv layers (see module docstring).

    Parameters
    ----------
    spec
        Architecture shape.
    hidden_channels
        Width ``h`` of the graph convolutions.
    dropout
        Dropout probability applied to the pooled graph embedding.
    in_channels
        Number of node features (4).
    """

    def __init__(
        self,
        spec: ArchitectureSpec,
        hidden_channels: int = 64,
        dropout: float = 0.4,
        in_channels: int = len(FEATURE_NAMES),
    ) -> None:
        from torch_geometric.nn import GraphConv

        super().__init__()
        if hidden_channels < 1:
            raise InputError(f"{hidden_channels=} must be a positive integer")
        if not 0.0 <= dropout < 1.0:
            raise InputError(f"{dropout=} must be in [0, 1)")
        self.spec = spec
        self.hidden_channels = int(hidden_channels)
        self.dropout = float(dropout)
        widths = [in_channels] + [hidden_channels] * spec.n_conv
        self.convs = nn.ModuleList(GraphConv(widths[k], widths[k + 1]) for k in range(spec.n_conv))
        self.norms = nn.ModuleList(nn.BatchNorm1d(hidden_channels) for _ in range(spec.n_conv))
        self.lin1 = nn.Linear(hidden_channels, spec.readout_channels)
        self.lin2 = nn.Linear(spec.readout_channels, 1)

    def embed(
        self,
        x: torch.Tensor,
        edge_index: torch.Tensor,
        edge_weight: torch.Tensor | None = None,
        batch: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Pooled graph embedding, ``shape=(n_graphs, hidden_channels)``."""
        from torch_geometric.nn import global_max_pool, global_mean_pool

        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = torch.relu(norm(conv(x, edge_index, edge_weight)))
        if batch is None:
            batch = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        pool = global_max_pool if self.spec.pooling == "max" else global_mean_pool
        return pool(x, batch)

    def forward(
        self,
        x: torch.Tensor,
        edge_index: torch.Tensor,
        edge_weight: torch.Tensor | None = None,
        batch: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Normalised prediction, ``shape=(n_graphs,)``.

        Parameters
        ----------
        x
            ``shape=(n_nodes, 4)`` node features.
        edge_index
            ``shape=(2, n_edges)``.
        edge_weight
            ``shape=(n_edges,)`` normalised distances.
        batch
            ``shape=(n_nodes,)`` graph index per node (``None``: one graph).
        """
        h = self.embed(x, edge_index, edge_weight, batch)
        h = nn.functional.dropout(h, p=self.dropout, training=self.training)
        h = torch.relu(self.lin1(h))
        h = self.lin2(h).squeeze(-1)
        return torch.sigmoid(h) if self.spec.output_activation == "sigmoid" else torch.relu(h)

    def forward_dense(self, x: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        """Run the same network on equally sized graphs given as dense adjacency (inference).

        Parameters
        ----------
        x
            ``shape=(B, N, 4)`` node features.
        adjacency
            ``shape=(B, N, N)``, ``A[b, i, j]`` = summed edge weights from ``j`` to ``i``
            (:func:`thermogap.gnn.graphs.dense_adjacency_batched`).

        Returns
        -------
        torch.Tensor
            ``shape=(B,)``, identical to :meth:`forward` on the equivalent edge lists.
        """
        h = x
        conv: Any
        for conv, norm in zip(self.convs, self.norms, strict=True):
            # GraphConv, sum aggregation: W_rel (A x)_i + b + W_root x_i
            h = conv.lin_rel(torch.bmm(adjacency, h)) + conv.lin_root(h)
            h = torch.relu(norm(h.reshape(-1, h.shape[-1])).reshape(h.shape))
        pooled = h.amax(dim=1) if self.spec.pooling == "max" else h.mean(dim=1)
        pooled = nn.functional.dropout(pooled, p=self.dropout, training=self.training)
        out = self.lin2(torch.relu(self.lin1(pooled))).squeeze(-1)
        return torch.sigmoid(out) if self.spec.output_activation == "sigmoid" else torch.relu(out)


def _factory(spec: ArchitectureSpec):
    def build(hidden_channels: int = 64, dropout: float = 0.4) -> GraphConvRegressor:
        return GraphConvRegressor(spec, hidden_channels=hidden_channels, dropout=dropout)

    build.spec = spec  # type: ignore[attr-defined]
    return build


# Builders, ``f(hidden_channels, dropout) -> GraphConvRegressor`` (registered by import path).
benitez2026 = _factory(ArchitectureSpec(2, "max", "sigmoid"))
conv2_max_sigmoid = _factory(ArchitectureSpec(2, "max", "sigmoid"))
conv3_max_sigmoid = _factory(ArchitectureSpec(3, "max", "sigmoid"))
conv3_mean_sigmoid = _factory(ArchitectureSpec(3, "mean", "sigmoid"))
conv3_max_relu = _factory(ArchitectureSpec(3, "max", "relu"))
conv3_mean_relu = _factory(ArchitectureSpec(3, "mean", "relu"))
conv4_max_sigmoid = _factory(ArchitectureSpec(4, "max", "sigmoid"))

#: The six architectures of seed 001's hyperparameter study.
SEARCH_FAMILY: tuple[str, ...] = (
    "conv3_max_sigmoid",
    "conv3_mean_sigmoid",
    "conv3_max_relu",
    "conv3_mean_relu",
    "conv2_max_sigmoid",
    "conv4_max_sigmoid",
)

ARCHITECTURES = Registry("GNN architecture")
for _name in ("benitez2026", *SEARCH_FAMILY):
    ARCHITECTURES.register(_name, f"thermogap.gnn.architectures:{_name}")


def build_model(
    architecture: str, hidden_channels: int = 64, dropout: float = 0.4
) -> GraphConvRegressor:
    """Instantiate a registered architecture with fresh (randomly initialised) weights.

    Parameters
    ----------
    architecture
        A name in :data:`ARCHITECTURES` (``ARCHITECTURES.names()``).
    hidden_channels
        Graph-convolution width ``h``.
    dropout
        Dropout probability ``p``.

    Raises
    ------
    UnknownEntryError
        If ``architecture`` is not registered (the message lists the names).
    """
    return ARCHITECTURES.get(architecture)(hidden_channels=hidden_channels, dropout=dropout)
