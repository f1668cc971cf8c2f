"""Two-stage transfer learning: train on level A (PBEsol), fine-tune on level B (HSEsol).

Stage B starts from the stage-A weights (same architecture, width and graph settings) and
continues training on the level-B labels; its target range is refitted to the level-B
training split, because hybrid-functional gaps lie well above semilocal ones and a sigmoid
output cannot reach beyond the stage-A range.  Seed paper 000 Methods: the band-gap model
used for finite-temperature gaps is the one trained on the HSEsol dataset.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from thermogap.gnn.bundle import GNNBundle
from thermogap.gnn.graphs import GraphSettings
from thermogap.gnn.inference import predict
from thermogap.gnn.training import DataSplit, TrainingResult, regression_metrics, train_gnn
from thermogap.schemas.gnn import GNNTrainingSettings, SplitMetrics

if TYPE_CHECKING:
    from pymatgen.core import Structure

__all__ = ["TransferResult", "fine_tune", "train_two_stage"]


@dataclass
class TransferResult:
    """Both stages of a transfer-learning run.

    Attributes
    ----------
    stage_a, stage_b
        Training results of level A and of the fine-tuned level-B model.
    stage_a_on_b_test
        The unchanged stage-A model evaluated on the level-B test split (baseline that the
        fine-tuning must beat), target unit.
    """

    stage_a: TrainingResult
    stage_b: TrainingResult
    stage_a_on_b_test: SplitMetrics


def fine_tune(
    initial: GNNBundle,
    structures: Sequence[Structure],
    targets: Sequence[float] | np.ndarray,
    settings: GNNTrainingSettings | None = None,
    *,
    ids: Sequence[str] | None = None,
    levels: Sequence[str] = (),
    split: DataSplit | None = None,
) -> TrainingResult:
    """Continue training ``initial`` on new labels (see :func:`thermogap.gnn.train_gnn`).

    The architecture, width and graph settings are the initial model's; the learning rate,
    epochs, batch size, dropout and split come from ``settings``.
    """
    return train_gnn(
        structures, targets, settings, ids=ids, levels=levels, split=split, initial=initial
    )


def train_two_stage(
    structures_a: Sequence[Structure],
    targets_a: Sequence[float] | np.ndarray,
    structures_b: Sequence[Structure],
    targets_b: Sequence[float] | np.ndarray,
    settings_a: GNNTrainingSettings | None = None,
    settings_b: GNNTrainingSettings | None = None,
    *,
    level_a: str = "pbesol",
    level_b: str = "hsesol",
    ids_a: Sequence[str] | None = None,
    ids_b: Sequence[str] | None = None,
    graph_settings: GraphSettings | None = None,
) -> TransferResult:
    """Train on level A, then fine-tune on level B from the stage-A weights.

    Parameters
    ----------
    structures_a, targets_a
        Level-A dataset (targets in the unit of ``settings_a.target``).
    structures_b, targets_b
        Level-B dataset (usually smaller).
    settings_a, settings_b
        Training settings of each stage (stage B's architecture fields are ignored).
    level_a, level_b
        Level names recorded with the models.
    ids_a, ids_b
        Structure identifiers.
    graph_settings
        Graph settings of both stages.

    Returns
    -------
    TransferResult
    """
    stage_a = train_gnn(
        structures_a,
        targets_a,
        settings_a,
        graph_settings=graph_settings,
        ids=ids_a,
        levels=[level_a],
    )
    stage_b = fine_tune(
        stage_a.bundle, structures_b, targets_b, settings_b, ids=ids_b, levels=[level_b]
    )
    test_idx = stage_b.split.test
    baseline = predict(stage_a.bundle, [structures_b[i] for i in test_idx])
    stage_a_on_b = regression_metrics(baseline, np.asarray(targets_b, dtype=float)[test_idx])
    return TransferResult(stage_a=stage_a, stage_b=stage_b, stage_a_on_b_test=stage_a_on_b)
