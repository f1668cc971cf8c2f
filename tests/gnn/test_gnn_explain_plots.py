"""GNNExplainer importances by bond type, and the figures."""

from __future__ import annotations

import io
from collections import Counter

import numpy as np
import pytest
import torch
from matplotlib.image import imread

from thermogap.gnn.explain import aggregate_by_bond_type, explain_structures, summarise_importances
from thermogap.gnn.plots import importance_png, learning_curves_png, parity_png, search_png


def _pair_counts(structure, cutoff):
    """Bond-type edge counts from pymatgen's neighbour list (independent reference)."""
    centre, neighbour, _, _ = structure.get_neighbor_list(cutoff)
    symbols = [site.specie.symbol for site in structure]
    return Counter(
        "-".join(sorted((symbols[i], symbols[j]))) for i, j in zip(centre, neighbour, strict=True)
    )


def test_explanations_are_per_edge_and_grouped_by_bond_type(trained, synthetic_data):
    structures, _ = synthetic_data
    state = torch.get_rng_state()
    explanations = explain_structures(trained.bundle, structures[:3], epochs=20, seed=1)
    assert torch.equal(state, torch.get_rng_state())
    expected = Counter()
    for structure, exp in zip(structures[:3], explanations, strict=True):
        assert exp.importance.shape == exp.bond_types.shape == (exp.edge_index.shape[1],)
        assert exp.importance.min() == 0.0 and exp.importance.max() == pytest.approx(1.0)
        assert Counter(exp.bond_types.tolist()) == _pair_counts(
            structure, trained.bundle.graph_settings.cutoff_ang
        )
        expected += _pair_counts(structure, trained.bundle.graph_settings.cutoff_ang)
    groups = aggregate_by_bond_type(explanations)
    assert {k: len(v) for k, v in groups.items()} == dict(expected)
    summary = summarise_importances(groups, threshold=0.5)
    for label, values in groups.items():
        assert summary[label]["mean"] == pytest.approx(values.mean())
        assert summary[label]["fraction_significant"] == pytest.approx((values > 0.5).mean())
    again = explain_structures(trained.bundle, structures[:1], epochs=20, seed=1)
    np.testing.assert_array_equal(again[0].raw_mask, explanations[0].raw_mask)


def test_figures_are_png_images():
    rng = np.random.default_rng(0)
    y = rng.random(20)
    figures = [
        parity_png({"train": (y, y + 0.1), "test": (y, y)}),
        learning_curves_png(
            [
                {
                    "train_dataset": "a",
                    "test_dataset": "a",
                    "train_size": n,
                    "mae_mean": 1 / n,
                    "mae_std": 0.01,
                    "r2_mean": 1 - 1 / n,
                    "r2_std": 0.0,
                }
                for n in (10, 20)
            ]
        ),
        importance_png({"Ag-S": y, "Br-Br": y / 2}),
        search_png(
            [
                {
                    "architecture": "a",
                    "learning_rate": 1e-3,
                    "hidden_channels": 8,
                    "dropout": 0.0,
                    "r2": 0.5,
                }
            ]
        ),
    ]
    for png in figures:
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        image = imread(io.BytesIO(png))
        assert image.ndim == 3 and image.shape[0] > 100
