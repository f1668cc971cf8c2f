"""One data split and one regression-metrics signature for the GNN and MLIP code."""

from __future__ import annotations

import math

import numpy as np
import pytest

from thermogap.errors import InputError
from thermogap.gnn.training import split_indices as gnn_split
from thermogap.mlip.training import split_dataset as mlip_split
from thermogap.splits import split_sizes, split_with_held_out_test


def _half_up(x: float) -> int:
    """Round half up with exact decimal arithmetic, independent of the code under test."""
    from decimal import ROUND_HALF_UP, Decimal

    return int(Decimal(repr(x)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _assert_partition(parts, n):
    sets = [set(p.tolist()) for p in parts]
    assert sum(len(s) for s in sets) == n == sum(len(p) for p in parts)  # no repeats
    assert set().union(*sets) == set(range(n))


@pytest.mark.parametrize("n", [4, 7, 10, 30, 101, 200, 333])
def test_gnn_split_sizes_follow_the_half_up_rule(n):
    fractions = (0.7, 0.15, 0.15)
    split = gnn_split(n, fractions, seed=5)
    expected = max(1, _half_up(0.15 * n))
    assert len(split.validation) == len(split.test) == expected
    assert len(split.train) == n - 2 * expected
    _assert_partition([split.train, split.validation, split.test], n)


@pytest.mark.parametrize(
    ("n", "valid", "test"), [(10, 0.1, 0.1), (200, 0.05, 0.05), (400, 0.05, 0.1), (37, 0.2, 0.0)]
)
def test_mlip_split_sizes_follow_the_same_rule(n, valid, test):
    split = mlip_split(n, valid_fraction=valid, test_fraction=test, seed=2)
    n_test = max(1, _half_up(round(test * n, 9))) if test > 0 else 0
    n_valid = max(1, _half_up(round((1 - test) * valid * n, 9)))
    assert (len(split.test), len(split.valid)) == (n_test, n_valid)
    assert split.valid is split.validation
    _assert_partition([split.train, split.valid, split.test], n)
    assert all(np.all(np.diff(p) > 0) for p in (split.train, split.valid, split.test))


def test_both_users_are_deterministic_and_seeded():
    a, b, c = (gnn_split(50, (0.6, 0.2, 0.2), seed=s) for s in (1, 1, 2))
    assert all(np.array_equal(x, y) for (_, x), (_, y) in zip(a.items(), b.items(), strict=True))
    assert not np.array_equal(a.test, c.test)
    m1, m2, m3 = (mlip_split(50, 0.1, 0.1, seed=s) for s in (1, 1, 2))
    assert np.array_equal(m1.valid, m2.valid) and np.array_equal(m1.test, m2.test)
    assert not np.array_equal(m1.test, m3.test)


def test_too_few_structures_is_refused():
    with pytest.raises(InputError, match="too few"):
        gnn_split(3, (0.4, 0.3, 0.3))  # 1 + 1 held out leaves 1 < 2 for training
    with pytest.raises(InputError, match="too few"):
        mlip_split(2, 0.05, 0.05, seed=0)
    with pytest.raises(InputError, match="summing to 1"):
        split_sizes(10, (0.5, 0.2, 0.2))


def test_held_out_test_ids_are_kept_and_the_rest_is_split():
    ids = [f"s{i}" for i in range(20)]
    held = ["s3", "s11", "s19"]
    split = split_with_held_out_test(ids, held, (0.7, 0.15, 0.15), seed=0)
    assert sorted(ids[i] for i in split.test) == sorted(held)
    assert len(split.validation) == _half_up(0.15 / 0.85 * 17)
    _assert_partition([split.train, split.validation, split.test], 20)


def test_one_regression_metrics_with_predictions_first():
    from thermogap.gnn.training import regression_metrics as gnn_metrics
    from thermogap.mlip.metrics import regression_metrics as mlip_metrics
    from thermogap.schemas.gnn import SplitMetrics as GnnSplitMetrics
    from thermogap.schemas.metrics import SplitMetrics

    assert gnn_metrics is mlip_metrics
    assert GnnSplitMetrics is SplitMetrics
    reference = np.array([1.0, 2.0, 3.0, 4.0])
    predicted = np.array([2.5, 2.5, 2.5, 2.5])
    m = gnn_metrics(predicted, reference)
    ss_res = float(np.sum((predicted - reference) ** 2))
    assert isinstance(m, SplitMetrics)
    assert m.r2 == pytest.approx(1 - ss_res / 5.0)  # SS_tot of the reference = 5
    assert gnn_metrics(reference, predicted).r2 is None  # constant "reference": undefined
    assert m.rmse == pytest.approx(math.sqrt(ss_res / 4))
