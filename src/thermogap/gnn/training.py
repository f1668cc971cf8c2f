"""Training GNN property models: split, Adam + MSE, early stopping, per-split metrics.

The target is min–max normalised with the range of the *training* split (so the sigmoid
output can represent it); the range is stored with the model.  Training minimises the MSE of
the normalised target with Adam; after every epoch the validation MSE is computed and the
weights of the best epoch are kept; training stops after ``patience`` epochs without
improvement.  All randomness (split, initialisation, shuffling, dropout) is seeded and
contained: the global torch RNG is left as it was.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from thermogap.errors import InputError
from thermogap.gnn.architectures import ARCHITECTURES, build_model
from thermogap.gnn.bundle import GNNBundle, TargetScaler
from thermogap.gnn.graphs import GraphSettings, structures_to_data
from thermogap.regression import regression_metrics
from thermogap.schemas.gnn import (
    TARGET_UNITS,
    GNNMetrics,
    GNNTrainingSettings,
    TrainingHistory,
)
from thermogap.splits import DataSplit
from thermogap.splits import split_indices as _split_indices

if TYPE_CHECKING:
    from pymatgen.core import Structure
    from torch_geometric.data import Data

__all__ = [
    "DataSplit",
    "TrainingResult",
    "regression_metrics",
    "split_indices",
    "train_gnn",
]


def split_indices(
    n: int, fractions: Sequence[float] = (0.7, 0.15, 0.15), seed: int = 42
) -> DataSplit:
    """Random train/validation/test split with at least two training structures.

    The sizes follow the one rounding rule of :mod:`thermogap.splits` (held-out sizes are
    ``fraction * n`` rounded half up, at least 1 for a positive fraction).

    Parameters
    ----------
    n
        Dataset size.
    fractions
        ``(train, validation, test)``, non-negative, summing to 1.
    seed
        Seed of the permutation.
    """
    return _split_indices(n, fractions, seed, min_train=2)


@dataclass
class TrainingResult:
    """Outcome of :func:`train_gnn`.

    Attributes
    ----------
    bundle
        The trained model (best-validation weights).
    metrics
        MAE/RMSE/R² per split, target unit.
    history
        Loss curves.
    split
        Indices of the three splits.
    ids
        Identifiers of the structures of each split.
    parity
        ``{split: (y_true, y_pred)}`` in the target unit, for parity plots.
    """

    bundle: GNNBundle
    metrics: GNNMetrics
    history: TrainingHistory
    split: DataSplit
    ids: dict[str, list[str]] = field(default_factory=dict)
    parity: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


def _evaluate(model: torch.nn.Module, graphs: list[Data]) -> np.ndarray:
    from torch_geometric.data import Batch

    if not graphs:
        return np.zeros(0)
    batch = Batch.from_data_list(graphs)
    model.eval()
    with torch.inference_mode():
        out = model(batch.x, batch.edge_index, batch.edge_weight, batch.batch)
    return out.double().numpy()


def _run_epochs(
    model: torch.nn.Module,
    train_graphs: list[Data],
    val_graphs: list[Data],
    settings: GNNTrainingSettings,
) -> TrainingHistory:
    from torch_geometric.loader import DataLoader

    generator = torch.Generator().manual_seed(settings.model_seed)
    loader = DataLoader(
        train_graphs, batch_size=settings.batch_size, shuffle=True, generator=generator
    )
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    loss_fn = torch.nn.MSELoss()
    val_targets = np.array([float(g.y) for g in val_graphs])
    history = TrainingHistory()
    best_loss, best_state, since_best = np.inf, copy.deepcopy(model.state_dict()), 0
    for epoch in range(1, settings.max_epochs + 1):
        model.train()
        total, count = 0.0, 0
        for batch in loader:
            if batch.num_graphs < 2 and len(train_graphs) > 1:
                continue  # BatchNorm statistics of a lone graph are meaningless
            optimiser.zero_grad()
            loss = loss_fn(
                model(batch.x, batch.edge_index, batch.edge_weight, batch.batch), batch.y
            )
            loss.backward()
            optimiser.step()
            total += loss.item() * batch.num_graphs
            count += batch.num_graphs
        train_loss = total / max(count, 1)
        if val_graphs:
            val_loss = float(np.mean((_evaluate(model, val_graphs) - val_targets) ** 2))
        else:
            val_loss = train_loss
        history.train_loss.append(train_loss)
        history.validation_loss.append(val_loss)
        if val_loss < best_loss - settings.min_delta:
            best_loss, best_state, since_best = val_loss, copy.deepcopy(model.state_dict()), 0
            history.best_epoch = epoch
        else:
            since_best += 1
            if since_best >= settings.patience:
                history.stopped_early = True
                break
    model.load_state_dict(best_state)
    model.eval()
    return history


def train_gnn(
    structures: Sequence[Structure],
    targets: Sequence[float] | np.ndarray,
    settings: GNNTrainingSettings | None = None,
    *,
    graph_settings: GraphSettings | None = None,
    ids: Sequence[str] | None = None,
    levels: Sequence[str] = (),
    split: DataSplit | None = None,
    initial: GNNBundle | None = None,
) -> TrainingResult:
    """Train a GNN to predict a scalar property from structures.

    Parameters
    ----------
    structures
        Ordered periodic structures, ``n`` of them.
    targets
        ``shape=(n,)`` property values in the unit of ``settings.target`` (eV for band gaps).
    settings
        Architecture, hyperparameters, split fractions and seeds.
    graph_settings
        Cutoff and fixed feature ranges (default 5.5 Å); with ``initial`` the initial model's
        settings are used and this must be ``None`` or equal.
    ids
        Identifier of every structure (``config_id``), recorded per split; default ``"0"..``.
    levels
        Levels of theory of the labels (recorded with the model).
    split
        Explicit split (overrides ``settings.split_fractions``/``split_seed``).
    initial
        Start from this model's weights (transfer learning / fine-tuning); its architecture
        and width are used, and the target range is refitted to the new training split.

    Returns
    -------
    TrainingResult
    """
    settings = settings or GNNTrainingSettings()
    targets_arr = np.asarray(targets, dtype=float)
    if len(structures) != len(targets_arr):
        raise InputError(f"{len(structures)} structures but {len(targets_arr)} targets")
    if not np.isfinite(targets_arr).all():
        raise InputError("targets contain NaN/inf; remove failed labels first")
    if settings.architecture not in ARCHITECTURES:
        raise InputError(
            f"architecture={settings.architecture!r} unknown; "
            f"allowed: {', '.join(ARCHITECTURES.names())}"
        )
    ids = [str(i) for i in (ids if ids is not None else range(len(structures)))]
    if len(ids) != len(structures):
        raise InputError(f"{len(ids)} ids for {len(structures)} structures")
    if initial is not None:
        if graph_settings is not None and graph_settings != initial.graph_settings:
            raise InputError(
                "graph_settings differ from the initial model's; a fine-tuned model must keep them"
            )
        graph_settings = initial.graph_settings
        settings = settings.model_copy(
            update={
                "architecture": initial.architecture,
                "hidden_channels": initial.hidden_channels,
            }
        )
    graph_settings = graph_settings or GraphSettings()
    split = split or split_indices(len(structures), settings.split_fractions, settings.split_seed)
    scaler = TargetScaler.fit(targets_arr[split.train])
    graphs = structures_to_data(structures, graph_settings, scaler.normalise(targets_arr))

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.model_seed)
        model = build_model(settings.architecture, settings.hidden_channels, settings.dropout)
        if initial is not None:
            model.load_state_dict(initial.model.state_dict())
        history = _run_epochs(
            model, [graphs[i] for i in split.train], [graphs[i] for i in split.validation], settings
        )

    metrics, parity = {}, {}
    for name, idx in split.items():
        y_pred = scaler.denormalise(_evaluate(model, [graphs[i] for i in idx]))
        parity[name] = (targets_arr[idx], y_pred)
        metrics[name] = regression_metrics(y_pred, targets_arr[idx])
    bundle = GNNBundle(
        model=model,
        architecture=settings.architecture,
        hidden_channels=settings.hidden_channels,
        dropout=settings.dropout,
        graph_settings=graph_settings,
        target=settings.target,
        target_unit=TARGET_UNITS[settings.target],
        scaler=scaler,
        levels=[*(initial.levels if initial is not None else []), *levels],
        training_ids=[ids[i] for i in split.train],
    )
    return TrainingResult(
        bundle=bundle,
        metrics=GNNMetrics(**metrics),
        history=history,
        split=split,
        ids={name: [ids[i] for i in idx] for name, idx in split.items()},
        parity=parity,
    )
