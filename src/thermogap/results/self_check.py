"""Self-check of the GNN against the reference level on the study's own MD snapshots.

The GNN replaces the reference level (HSEsol in the paper; IPEA1-xTB in the quick preset) on
thousands of MD snapshots.  Whether it can is checked where it is used: on a sample of the
same snapshots the reference gap is computed directly, and the GNN passes when

* its mean absolute error on those snapshots is within ``mae_factor`` (default 2) times its
  own test-set MAE, and
* its ΔEg(T) = ⟨Eg⟩_T − Eg(0 K) agrees with the reference ΔEg(T) within the combined
  2σ error bar of the two snapshot means (the same snapshots, so the spread is comparable).

At 0 K the reference gap of each relaxed structure is stored beside the GNN's, and the GNN
must reproduce their ordering across x.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from thermogap.errors import InputError

__all__ = [
    "SnapshotComparison",
    "compare_snapshot_gaps",
    "ordering_reproduced",
    "self_check_verdict",
    "snapshot_sample",
]


def snapshot_sample(n_frames: int, n_samples: int, equilibration_fraction: float) -> np.ndarray:
    """Return ``n_samples`` frame indices spread evenly after the equilibration, shape=(n,)."""
    if n_frames < 1 or n_samples < 1:
        raise InputError(f"{n_frames=} and {n_samples=} must be positive")
    start = min(int(np.ceil(equilibration_fraction * n_frames)), n_frames - 1)
    count = min(n_samples, n_frames - start)
    return np.unique(np.linspace(start, n_frames - 1, count).round().astype(int))


@dataclass
class SnapshotComparison:
    """Reference and GNN gaps on the same snapshots of one (x, T), eV."""

    n_snapshots: int
    reference_mean_ev: float
    reference_stderr_ev: float
    gnn_mean_ev: float
    gnn_stderr_ev: float
    reference_0k_ev: float
    gnn_0k_ev: float
    reference_delta_ev: float
    gnn_delta_ev: float
    mae_ev: float
    correlation: float | None
    test_mae_ev: float | None
    mae_within_error: bool
    delta_within_error: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


def _stderr(values: np.ndarray) -> float:
    return float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0


def compare_snapshot_gaps(
    reference_ev: Sequence[float] | np.ndarray,
    gnn_ev: Sequence[float] | np.ndarray,
    reference_0k_ev: float,
    gnn_0k_ev: float,
    test_mae_ev: float | None,
    mae_factor: float = 2.0,
) -> SnapshotComparison:
    """Compare GNN and reference gaps on the same snapshots and give the two verdicts.

    ``test_mae_ev`` None (no test set) makes the MAE verdict false: an error that is not
    stated cannot be reproduced.
    """
    ref = np.asarray(reference_ev, dtype=float)
    gnn = np.asarray(gnn_ev, dtype=float)
    if ref.shape != gnn.shape or ref.size == 0:
        raise InputError(f"need equal, non-empty gap lists; got {ref.shape} and {gnn.shape}")
    mae = float(np.mean(np.abs(gnn - ref)))
    corr = None
    if ref.size > 2 and ref.std() > 0 and gnn.std() > 0:
        corr = float(np.corrcoef(ref, gnn)[0, 1])
    ref_se, gnn_se = _stderr(ref), _stderr(gnn)
    ref_delta = float(ref.mean() - reference_0k_ev)
    gnn_delta = float(gnn.mean() - gnn_0k_ev)
    combined = 2.0 * float(np.hypot(ref_se, gnn_se))
    return SnapshotComparison(
        n_snapshots=int(ref.size),
        reference_mean_ev=float(ref.mean()),
        reference_stderr_ev=ref_se,
        gnn_mean_ev=float(gnn.mean()),
        gnn_stderr_ev=gnn_se,
        reference_0k_ev=float(reference_0k_ev),
        gnn_0k_ev=float(gnn_0k_ev),
        reference_delta_ev=ref_delta,
        gnn_delta_ev=gnn_delta,
        mae_ev=mae,
        correlation=corr,
        test_mae_ev=test_mae_ev,
        mae_within_error=test_mae_ev is not None and mae <= mae_factor * test_mae_ev,
        delta_within_error=abs(gnn_delta - ref_delta) <= combined,
    )


def ordering_reproduced(
    reference_by_x: Mapping[float, float], gnn_by_x: Mapping[float, float]
) -> bool:
    """Whether the GNN orders the 0 K gaps across x as the reference does."""
    xs = sorted(reference_by_x)
    ref_order = np.argsort([reference_by_x[x] for x in xs], kind="stable")
    gnn_order = np.argsort([gnn_by_x[x] for x in xs], kind="stable")
    return bool(np.array_equal(ref_order, gnn_order))


def self_check_verdict(
    comparisons: Sequence[Mapping[str, Any]],
    reference_0k_by_x: Mapping[float, float],
    gnn_0k_by_x: Mapping[float, float],
    level: str,
) -> dict[str, Any]:
    """Overall verdict and the one line the demo prints.

    Parameters
    ----------
    comparisons
        ``SnapshotComparison.as_dict()`` plus ``x`` and ``temperature_k`` per (x, T > 0).
    reference_0k_by_x, gnn_0k_by_x
        0 K gaps of the relaxed structures, eV.
    level
        Name of the reference level.
    """
    ordering = ordering_reproduced(reference_0k_by_x, gnn_0k_by_x)
    mae_ok = all(c["mae_within_error"] for c in comparisons)
    delta_ok = all(c["delta_within_error"] for c in comparisons)
    passed = bool(comparisons) and mae_ok and delta_ok and ordering
    worst = max(comparisons, key=lambda c: c["mae_ev"], default=None)
    n = sum(int(c["n_snapshots"]) for c in comparisons)
    detail = (
        f"worst snapshot MAE {worst['mae_ev']:.3f} eV vs test MAE "
        f"{(worst['test_mae_ev'] or float('nan')):.3f} eV (x={worst['x']:g}, "
        f"{worst['temperature_k']:g} K)"
        if worst
        else "no finite-temperature snapshots"
    )
    line = (
        f"self-check vs {level} on {n} MD snapshots: GNN "
        f"{'REPRODUCES' if passed else 'does NOT reproduce'} the reference within its stated "
        f"error (MAE <= 2x test MAE: {'yes' if mae_ok else 'no'}; ΔEg within 2σ: "
        f"{'yes' if delta_ok else 'no'}; 0 K ordering across x: {'yes' if ordering else 'no'}"
        f"; {detail})"
    )
    return {
        "passed": passed,
        "mae_within_error": mae_ok,
        "delta_within_error": delta_ok,
        "ordering_reproduced": ordering,
        "reference_0k_by_x": {str(k): v for k, v in reference_0k_by_x.items()},
        "gnn_0k_by_x": {str(k): v for k, v in gnn_0k_by_x.items()},
        "comparisons": [dict(c) for c in comparisons],
        "line": line,
    }
