"""Training: splits, metrics, learning on a synthetic target, early stopping, seeding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from thermogap.errors import InputError
from thermogap.gnn.graphs import structures_to_data
from thermogap.gnn.training import regression_metrics, split_indices, train_gnn

from .conftest import TINY


def test_split_is_a_seeded_partition_with_paper_fractions():
    split = split_indices(200, (0.7, 0.15, 0.15), seed=3)
    assert (len(split.train), len(split.validation), len(split.test)) == (140, 30, 30)
    assert sorted(np.concatenate([split.train, split.validation, split.test]).tolist()) == list(
        range(200)
    )
    again = split_indices(200, (0.7, 0.15, 0.15), seed=3)
    other = split_indices(200, (0.7, 0.15, 0.15), seed=4)
    assert (again.test == split.test).all() and not (other.test == split.test).all()
    with pytest.raises(InputError, match="summing to 1"):
        split_indices(10, (0.5, 0.2, 0.2))


def test_regression_metrics_by_hand():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([1.5, 2.0, 2.0, 4.0])
    m = regression_metrics(p, y)  # predicted first, reference second
    assert m.mae == pytest.approx((0.5 + 0 + 1 + 0) / 4)
    assert m.rmse == pytest.approx(np.sqrt((0.25 + 1) / 4))
    assert m.r2 == pytest.approx(1 - 1.25 / 5.0)
    assert regression_metrics(np.full(4, y.mean()), y).r2 == pytest.approx(0.0)


def test_model_learns_the_synthetic_gap(trained, synthetic_data):
    _, gaps = synthetic_data
    test = trained.metrics.test
    baseline_mae = np.abs(gaps[trained.split.test] - gaps[trained.split.train].mean()).mean()
    assert test.r2 > 0.6, trained.metrics
    assert test.mae < 0.6 * baseline_mae
    y_true, _ = trained.parity["test"]
    np.testing.assert_allclose(y_true, gaps[trained.split.test])
    assert trained.bundle.scaler.minimum == pytest.approx(gaps[trained.split.train].min())
    assert trained.bundle.scaler.maximum == pytest.approx(gaps[trained.split.train].max())
    assert trained.ids["test"] == [str(i) for i in trained.split.test]


def test_kept_weights_are_those_of_the_best_validation_epoch(trained, synthetic_data):
    structures, gaps = synthetic_data
    h = trained.history
    assert 1 <= h.best_epoch <= len(h.validation_loss)
    assert h.validation_loss[h.best_epoch - 1] == pytest.approx(min(h.validation_loss))
    if h.stopped_early:
        assert len(h.validation_loss) - h.best_epoch == TINY.patience
    # recompute the validation MSE of the returned model independently
    scaler = trained.bundle.scaler
    graphs = structures_to_data(
        [structures[i] for i in trained.split.validation], trained.bundle.graph_settings
    )
    batch = Batch.from_data_list(graphs)
    with torch.no_grad():
        out = (
            trained.bundle.model(batch.x, batch.edge_index, batch.edge_weight, batch.batch)
            .double()
            .numpy()
        )
    mse = np.mean((out - scaler.normalise(gaps[trained.split.validation])) ** 2)
    assert mse == pytest.approx(min(h.validation_loss), rel=1e-4)


def test_training_is_seeded_and_leaves_global_rng_alone(synthetic_data):
    structures, gaps = synthetic_data
    settings = TINY.model_copy(update={"max_epochs": 2})
    state = torch.get_rng_state()
    a = train_gnn(structures[:40], gaps[:40], settings)
    assert torch.equal(state, torch.get_rng_state())
    b = train_gnn(structures[:40], gaps[:40], settings)
    c = train_gnn(structures[:40], gaps[:40], settings.model_copy(update={"model_seed": 7}))
    wa, wb, wc = (r.bundle.model.lin2.weight for r in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)


def test_training_input_errors(synthetic_data):
    structures, gaps = synthetic_data
    with pytest.raises(InputError, match="targets"):
        train_gnn(structures[:10], gaps[:9])
    with pytest.raises(InputError, match="max > min"):
        train_gnn(structures[:10], np.ones(10), TINY)
    with pytest.raises(InputError, match="architecture"):
        train_gnn(structures[:10], gaps[:10], TINY.model_copy(update={"architecture": "nope"}))


def test_torch_threads_context_restores_the_setting():
    from thermogap.threads import limited_threads as torch_threads

    before = torch.get_num_threads()
    with torch_threads(2):
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == before
    with pytest.raises(InputError), torch_threads(0):
        pass
