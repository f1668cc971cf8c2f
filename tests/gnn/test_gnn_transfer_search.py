"""Two-stage transfer learning and the hyperparameter grid."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from thermogap.errors import InputError
from thermogap.gnn.search import SearchGrid, rank_points
from thermogap.gnn.transfer import fine_tune, train_two_stage
from thermogap.schemas.gnn import GNNSearchPoint, SplitMetrics

from .conftest import TINY


def test_two_stage_transfer_learns_the_second_level(synthetic_data, trained):
    structures, gaps = synthetic_data
    # a "hybrid functional" level: larger and stretched gaps, only 45 labels
    hse = 1.35 * gaps + 0.9
    idx = np.arange(45)
    result = train_two_stage(
        structures,
        gaps,
        [structures[i] for i in idx],
        hse[idx],
        TINY,
        TINY.model_copy(update={"learning_rate": 3e-3, "max_epochs": 40, "batch_size": 8}),
        level_a="pbesol",
        level_b="hsesol",
    )
    assert result.stage_b.bundle.levels == ["pbesol", "hsesol"]
    assert result.stage_b.bundle.scaler.minimum == pytest.approx(
        hse[idx][result.stage_b.split.train].min()
    )
    # the unchanged stage-A model is off by ~0.9-1.5 eV on level B; fine-tuning removes that
    assert result.stage_a_on_b_test.mae > 0.7
    assert result.stage_b.metrics.test.mae < 0.3 * result.stage_a_on_b_test.mae
    assert result.stage_a.metrics.test.r2 is not None


def test_fine_tuning_starts_from_the_stage_a_weights(trained, synthetic_data):
    structures, gaps = synthetic_data
    frozen = TINY.model_copy(
        update={"learning_rate": 1e-12, "max_epochs": 1, "hidden_channels": 99}
    )
    tuned = fine_tune(trained.bundle, structures[:20], gaps[:20] + 1.0, frozen)
    assert tuned.bundle.hidden_channels == 16  # the initial model's width, not the settings'
    for conv_a, conv_b in zip(trained.bundle.model.convs, tuned.bundle.model.convs, strict=True):
        torch.testing.assert_close(conv_a.lin_rel.weight, conv_b.lin_rel.weight, atol=1e-8, rtol=0)


def test_paper_grid_has_480_points():
    grid = SearchGrid.paper()
    points = grid.points()
    assert len(grid) == len(points) == 480
    assert len({tuple(sorted(p.items())) for p in points}) == 480
    assert {p["learning_rate"] for p in points} == {1e-2, 1e-3, 1e-4, 1e-5, 1e-6}
    assert {p["hidden_channels"] for p in points} == {32, 64, 128, 256}
    assert {p["dropout"] for p in points} == {0.0, 0.2, 0.4, 0.6}
    with pytest.raises(InputError, match="allowed"):
        SearchGrid(architectures=("nope",))


def test_ranking_by_validation_r2():
    def point(r2, mae, name):
        return GNNSearchPoint(
            architecture=name,
            learning_rate=1e-3,
            hidden_channels=8,
            dropout=0.0,
            validation=SplitMetrics(n=5, mae=mae, rmse=mae, r2=r2),
        )

    points = [
        point(0.5, 0.1, "a"),
        point(None, 0.1, "b"),
        point(0.9, 0.3, "c"),
        point(0.9, 0.2, "d"),
    ]
    assert [p.architecture for p in rank_points(points)] == ["d", "c", "a", "b"]
