"""Neighbour shells on the graph cutoff, and the optional smooth cutoff envelope."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from thermogap.gnn.graphs import (
    CutoffShellWarning,
    GraphSettings,
    batch_graphs,
    dense_adjacency_batched,
    warn_if_shells_near_cutoff,
)
from thermogap.structures import antiperovskite


def test_ag_s_second_shell_on_the_cutoff_is_reported():
    structure = antiperovskite(4.90, a="Ag", b="S", x="Br")
    # independent geometry: Ag at a face centre, S at the body centre: sqrt(a²/4 + a²)
    expected = 4.90 * np.sqrt(1.25)
    assert expected == pytest.approx(5.478, abs=1e-3)
    with pytest.warns(CutoffShellWarning, match="Ag-S 5.478"):
        shells = warn_if_shells_near_cutoff(structure)
    assert ("Ag", "S", round(expected, 3)) in shells


def test_no_warning_without_a_shell_near_the_cutoff():
    # simple cubic, a = 3 Å: shells at 3, 4.243, 5.196 and 6 Å, none within 0.1 Å of 5.5 Å
    structure = Structure(Lattice.cubic(3.0), ["Po"], [[0, 0, 0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error", CutoffShellWarning)
        assert warn_if_shells_near_cutoff(structure) == []


def test_cosine_envelope_takes_edge_weights_smoothly_to_zero():
    structure = Structure(Lattice.cubic(20.0), ["Ag", "S"], [[0, 0, 0], [0.2745, 0, 0]])
    distance = 0.2745 * 20.0  # 5.49 Å, just inside the cutoff
    plain = batch_graphs([structure], GraphSettings())
    smooth = batch_graphs([structure], GraphSettings(envelope="cosine"))
    assert plain.edge_weight.max().item() == pytest.approx(distance / 5.5, rel=1e-5)
    expected = distance / 5.5 * 0.5 * (1 + np.cos(np.pi * distance / 5.5))
    assert smooth.edge_weight.max().item() == pytest.approx(expected, rel=1e-4)
    assert expected < 1e-4  # continuous at the cutoff, instead of a jump of ~1
    assert GraphSettings.from_dict(GraphSettings().to_dict()).envelope == "none"
    # the dense path used at inference agrees with the edge list
    settings = GraphSettings(envelope="cosine")
    cell = antiperovskite(4.90)
    dense = dense_adjacency_batched(cell.lattice.matrix[None], cell.frac_coords[None], settings)
    edges = batch_graphs([cell], settings)
    assert dense.sum() == pytest.approx(edges.edge_weight.sum().item(), rel=1e-4)
