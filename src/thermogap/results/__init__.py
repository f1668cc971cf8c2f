"""Presentation of results: figures of band gaps against temperature and composition."""

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
    "figure_gap_vs_composition",
    "figure_gap_vs_temperature",
    "figure_mode_gap_changes",
    "figure_relative_change",
    "plot_gap_vs_composition",
    "plot_gap_vs_temperature",
    "plot_mode_gap_changes",
    "plot_relative_change",
]
