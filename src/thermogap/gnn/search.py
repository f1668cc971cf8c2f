"""Hyperparameter search: the grid of seed 001 and the ranking of its results.

The paper's grid is 6 architectures x 5 learning rates x 4 widths x 4 dropouts = 480 models
per property (:meth:`SearchGrid.paper`); models are ranked by validation R².  Running the
grid is a flow (:class:`thermogap.flows.gnn.GNNSearchFlowMaker`, one job per point); a small
grid runs on a laptop, the full one on a cluster.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from thermogap.errors import InputError
from thermogap.gnn.architectures import ARCHITECTURES, SEARCH_FAMILY
from thermogap.schemas.gnn import GNNSearchPoint

__all__ = ["SearchGrid", "rank_points"]


@dataclass(frozen=True)
class SearchGrid:
    """Cartesian grid of hyperparameters.

    Parameters
    ----------
    architectures
        Architecture names (see ``thermogap.gnn.ARCHITECTURES``).
    learning_rates
        Adam learning rates.
    hidden_channels
        GraphConv widths.
    dropouts
        Dropout probabilities.
    """

    architectures: tuple[str, ...] = ("benitez2026",)
    learning_rates: tuple[float, ...] = (1e-3,)
    hidden_channels: tuple[int, ...] = (64,)
    dropouts: tuple[float, ...] = (0.4,)

    def __post_init__(self) -> None:
        for name in self.architectures:
            if name not in ARCHITECTURES:
                raise InputError(
                    f"architecture {name!r} unknown; allowed: {', '.join(ARCHITECTURES.names())}"
                )
        for label, values in (
            ("architectures", self.architectures),
            ("learning_rates", self.learning_rates),
            ("hidden_channels", self.hidden_channels),
            ("dropouts", self.dropouts),
        ):
            if len(values) == 0:
                raise InputError(f"search grid has no {label}")
        if any(lr <= 0 for lr in self.learning_rates):
            raise InputError(f"learning rates {self.learning_rates} must be positive")
        if any(h < 1 for h in self.hidden_channels):
            raise InputError(f"hidden channels {self.hidden_channels} must be positive")
        if any(not 0 <= p < 1 for p in self.dropouts):
            raise InputError(f"dropouts {self.dropouts} must be in [0, 1)")

    @classmethod
    def paper(cls) -> SearchGrid:
        """Seed 001's grid: 6 architectures x 5 learning rates x 4 widths x 4 dropouts."""
        return cls(
            architectures=SEARCH_FAMILY,
            learning_rates=(1e-2, 1e-3, 1e-4, 1e-5, 1e-6),
            hidden_channels=(32, 64, 128, 256),
            dropouts=(0.0, 0.2, 0.4, 0.6),
        )

    def points(self) -> list[dict[str, float | int | str]]:
        """Return every grid point as a dict (architecture, learning rate, width, dropout)."""
        return [
            {"architecture": a, "learning_rate": lr, "hidden_channels": h, "dropout": p}
            for a, lr, h, p in itertools.product(
                self.architectures, self.learning_rates, self.hidden_channels, self.dropouts
            )
        ]

    def __len__(self) -> int:
        return (
            len(self.architectures)
            * len(self.learning_rates)
            * len(self.hidden_channels)
            * len(self.dropouts)
        )


def rank_points(points: Sequence[GNNSearchPoint]) -> list[GNNSearchPoint]:
    """Sort search points by validation R², best first (points without R² last).

    Ties are broken by validation MAE (smaller first).
    """

    def key(point: GNNSearchPoint) -> tuple[int, float, float]:
        r2 = point.validation.r2
        mae = point.validation.mae
        return (
            0 if r2 is not None else 1,
            -(r2 if r2 is not None else 0.0),
            mae if mae is not None else float("inf"),
        )

    return sorted(points, key=key)
