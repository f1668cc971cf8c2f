"""The self-check verdict comes out true for a faithful GNN and false for a wrong one."""

from __future__ import annotations

import numpy as np
import pytest

from thermogap.results.self_check import (
    compare_snapshot_gaps,
    ordering_reproduced,
    self_check_verdict,
    snapshot_sample,
)


def _reference(seed: int = 0) -> np.ndarray:
    return 1.0 + 0.1 * np.random.default_rng(seed).standard_normal(20)


def test_faithful_gnn_passes():
    ref = _reference()
    gnn = ref + 0.01 * np.random.default_rng(1).standard_normal(ref.size)
    c = compare_snapshot_gaps(ref, gnn, 1.3, 1.3, test_mae_ev=0.02)
    assert c.mae_ev == pytest.approx(np.mean(np.abs(gnn - ref)))
    assert c.reference_delta_ev == pytest.approx(ref.mean() - 1.3)
    assert c.mae_within_error and c.delta_within_error and c.correlation > 0.9
    verdict = self_check_verdict(
        [c.as_dict() | {"x": 0.5, "temperature_k": 300.0}],
        {0.0: 1.0, 1.0: 1.2},
        {0.0: 0.9, 1.0: 1.1},
        "ref",
    )
    assert verdict["passed"] and "REPRODUCES" in verdict["line"]


def test_wrong_gnn_fails_on_error_delta_and_ordering():
    ref = _reference()
    wrong = 0.5 + 0.1 * np.random.default_rng(2).standard_normal(ref.size)  # uncorrelated, offset
    c = compare_snapshot_gaps(ref, wrong, 1.3, 1.3, test_mae_ev=0.02)
    assert not c.mae_within_error and not c.delta_within_error
    assert not ordering_reproduced(
        {0.0: 0.89, 0.5: 1.03, 1.0: 1.25}, {0.0: 1.03, 0.5: 1.14, 1.0: 0.49}
    )
    verdict = self_check_verdict(
        [c.as_dict() | {"x": 1.0, "temperature_k": 300.0}],
        {0.0: 0.89, 1.0: 1.25},
        {0.0: 1.03, 1.0: 0.49},
        "ref",
    )
    assert not verdict["passed"] and "does NOT reproduce" in verdict["line"]
    # a GNN without a stated test error cannot pass the error check
    assert not compare_snapshot_gaps(ref, ref, 1.3, 1.3, test_mae_ev=None).mae_within_error


def test_snapshots_are_taken_after_equilibration():
    idx = snapshot_sample(100, 20, 0.2)
    assert len(idx) == 20 and idx.min() >= 20 and idx.max() == 99
    assert len(snapshot_sample(10, 20, 0.2)) == 8
