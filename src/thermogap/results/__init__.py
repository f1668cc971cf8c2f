"""Presentation of results: pandas tables and figures of Eg(x, T)."""

from thermogap.results.frame import band_gaps_frame, trajectory_frame
from thermogap.results.plots import (
    figure_gap_vs_composition,
    figure_gap_vs_temperature,
    figure_mode_gap_changes,
    figure_relative_change,
    plot_gap_vs_composition,
    plot_gap_vs_temperature,
    plot_mode_gap_changes,
    plot_relative_change,
)

__all__ = [
    "band_gaps_frame",
    "trajectory_frame",
    "figure_gap_vs_composition",
    "figure_gap_vs_temperature",
    "figure_mode_gap_changes",
    "figure_relative_change",
    "plot_gap_vs_composition",
    "plot_gap_vs_temperature",
    "plot_mode_gap_changes",
    "plot_relative_change",
]
