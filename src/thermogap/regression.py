"""Error statistics of predictions against reference values, shared by the MLIP and GNN code."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from thermogap.errors import InputError
from thermogap.schemas.metrics import SplitMetrics

__all__ = ["ErrorStatistics", "error_statistics", "regression_metrics"]


class ErrorStatistics(NamedTuple):
    """MAE and RMSE (unit of the data), R² (``None`` when the reference has no spread)."""

    n: int
    mae: float | None
    rmse: float | None
    r2: float | None


def error_statistics(predicted: np.ndarray, reference: np.ndarray) -> ErrorStatistics:
    """Return n, MAE, RMSE and R² = 1 - SS_res/SS_tot of ``predicted`` against ``reference``.

    Both arrays are flattened, so every component counts once. Empty input gives ``n = 0``
    and ``None`` everywhere else.

    Raises
    ------
    InputError
        If the two arrays have different shapes.
    """
    pred = np.asarray(predicted, dtype=float)
    ref = np.asarray(reference, dtype=float)
    if pred.shape != ref.shape:
        raise InputError(f"predicted shape {pred.shape} != reference shape {ref.shape}")
    pred, ref = pred.ravel(), ref.ravel()
    if pred.size == 0:
        return ErrorStatistics(0, None, None, None)
    err = pred - ref
    ss_tot = float(np.sum((ref - ref.mean()) ** 2))
    return ErrorStatistics(
        n=int(pred.size),
        mae=float(np.mean(np.abs(err))),
        rmse=float(np.sqrt(np.mean(err**2))),
        r2=1.0 - float(np.sum(err**2)) / ss_tot if ss_tot > 0 else None,
    )


def regression_metrics(predicted: np.ndarray, reference: np.ndarray) -> SplitMetrics:
    """Return n, MAE, RMSE and R² of ``predicted`` against ``reference`` as a document.

    The one signature used by the GNN and MLIP code: predictions first, reference second
    (R² is not symmetric in the two).

    Parameters
    ----------
    predicted, reference
        Arrays of the same shape, in the same unit (flattened).

    Returns
    -------
    SplitMetrics
        ``None`` where a value is undefined (no data; R² of a reference without spread).

    Examples
    --------
    >>> m = regression_metrics(np.array([1.0, 2.0, 4.0]), np.array([1.0, 2.0, 3.0]))
    >>> m.n, round(m.mae, 4), round(m.r2, 4)
    (3, 0.3333, 0.5)
    """
    return SplitMetrics(**error_statistics(predicted, reference)._asdict())
