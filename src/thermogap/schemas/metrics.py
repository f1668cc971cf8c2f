"""Errors of a model's predictions against reference values: the one metrics record.

Both the GNN and the MLIP code report MAE, RMSE and R² through :class:`SplitMetrics`
(computed by :func:`thermogap.regression.regression_metrics`); undefined values (no data, or
R² of a reference without spread) are ``None``.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["RegressionMetrics", "SplitMetrics"]


class SplitMetrics(BaseModel):
    """Errors of predictions of one quantity on one data split (all components pooled)."""

    n: int = Field(0, ge=0, description="Number of values compared (structures for a scalar).")
    mae: float | None = Field(None, description="Mean absolute error, in the quantity's unit.")
    rmse: float | None = Field(None, description="Root-mean-square error, in the quantity's unit.")
    r2: float | None = Field(
        None, description="Coefficient of determination 1 - SS_res/SS_tot (1 is perfect)."
    )


#: The MLIP code's name for the same record.
RegressionMetrics = SplitMetrics
