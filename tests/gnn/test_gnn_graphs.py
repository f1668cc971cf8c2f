"""Periodic radius graphs against independent neighbour lists (pymatgen, ASE)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from ase.neighborlist import neighbor_list
from pymatgen.core import Element, Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from thermogap.errors import InputError
from thermogap.gnn.features import DEFAULT_FEATURE_RANGES, node_features
from thermogap.gnn.graphs import (
    GraphSettings,
    batch_graphs,
    periodic_radius_edges,
    structure_to_data,
)


def _triclinic(
    seed: int, n_atoms: int, abc=(4.1, 5.3, 6.2), angles=(71.0, 98.0, 113.0)
) -> Structure:
    rng = np.random.default_rng(seed)
    lattice = Lattice.from_parameters(*abc, *angles)
    species = rng.choice(["Ag", "S", "Br", "I"], size=n_atoms).tolist()
    return Structure(lattice, species, rng.random((n_atoms, 3)) * 3 - 1)  # unwrapped coordinates


def _multiset(i, j, d) -> Counter:
    return Counter(
        zip(np.asarray(i).tolist(), np.asarray(j).tolist(), np.round(d, 6).tolist(), strict=True)
    )


@pytest.mark.parametrize(
    ("seed", "n_atoms", "abc", "angles", "cutoff"),
    [
        (0, 4, (4.1, 5.3, 6.2), (71.0, 98.0, 113.0), 5.5),  # small triclinic: many images
        (1, 7, (3.0, 3.2, 9.5), (60.0, 75.0, 120.0), 5.5),  # thin, strongly skewed cell
        (2, 12, (8.0, 8.5, 9.0), (90.0, 90.0, 90.0), 4.0),
        (3, 1, (2.9, 3.1, 3.3), (85.0, 95.0, 100.0), 6.5),  # one atom: only self-images
    ],
)
def test_edges_match_pymatgen_neighbor_list(seed, n_atoms, abc, angles, cutoff):
    structure = _triclinic(seed, n_atoms, abc, angles)
    edges = periodic_radius_edges(structure.lattice.matrix, structure.frac_coords, cutoff)
    centre, neighbour, _, dist = structure.get_neighbor_list(cutoff)
    assert len(edges.distances_ang) == len(dist) > 0
    assert _multiset(edges.target, edges.source, edges.distances_ang) == _multiset(
        centre, neighbour, dist
    )


def test_edges_match_ase_and_translations_reproduce_distances():
    structure = _triclinic(5, 9, (5.0, 5.5, 7.0), (80.0, 100.0, 95.0))
    atoms = AseAtomsAdaptor.get_atoms(structure)
    i, j, d = neighbor_list("ijd", atoms, 5.5)
    edges = periodic_radius_edges(structure.lattice.matrix, structure.frac_coords, 5.5)
    assert _multiset(edges.target, edges.source, edges.distances_ang) == _multiset(i, j, d)
    # the recorded lattice translation T gives back each distance |r_j + T - r_i|
    frac = structure.frac_coords - np.floor(structure.frac_coords)
    vec = (frac[edges.source] + edges.image_offsets - frac[edges.target]) @ structure.lattice.matrix
    np.testing.assert_allclose(np.linalg.norm(vec, axis=1), edges.distances_ang, atol=1e-10)


def test_edges_are_symmetric_and_include_self_images():
    structure = _triclinic(3, 1, (2.9, 3.1, 3.3), (85.0, 95.0, 100.0))
    edges = periodic_radius_edges(structure.lattice.matrix, structure.frac_coords, 5.5)
    assert (edges.source == edges.target).all()  # one atom: every edge is to an own image
    offsets = Counter(map(tuple, edges.image_offsets.tolist()))
    assert all(offsets[tuple(-np.array(k))] == v for k, v in offsets.items())  # T and -T
    mixed = _triclinic(0, 5)
    e = periodic_radius_edges(mixed.lattice.matrix, mixed.frac_coords, 5.5)
    assert _multiset(e.target, e.source, e.distances_ang) == _multiset(
        e.source, e.target, e.distances_ang
    )


def test_batch_of_mixed_sizes_keeps_order_and_offsets():
    structures = [
        _triclinic(0, 4),
        _triclinic(1, 7, (3.0, 3.2, 9.5), (60.0, 75.0, 120.0)),
        _triclinic(9, 4),
    ]
    settings = GraphSettings(cutoff_ang=5.0)
    batch = batch_graphs(structures, settings)
    assert batch.num_graphs == 3
    for k, structure in enumerate(structures):
        n0, n1 = batch.node_ptr[k].item(), batch.node_ptr[k + 1].item()
        e0, e1 = batch.edge_ptr[k].item(), batch.edge_ptr[k + 1].item()
        assert (batch.batch[n0:n1] == k).all()
        centre, neighbour, _, dist = structure.get_neighbor_list(5.0)
        src, dst = batch.edge_index[:, e0:e1].numpy() - n0
        dist_batch = batch.edge_weight[e0:e1].numpy().astype(float) * 5.0  # weight = d / cutoff
        assert Counter(zip(dst.tolist(), src.tolist(), strict=True)) == Counter(
            zip(centre.tolist(), neighbour.tolist(), strict=True)
        )
        np.testing.assert_allclose(np.sort(dist_batch), np.sort(dist), atol=1e-5)
        assert ((batch.edge_weight[e0:e1] >= 0) & (batch.edge_weight[e0:e1] <= 1)).all()


def test_node_features_are_fixed_range_min_max_of_element_data():
    symbols = ["Ag", "S", "Br", "I", "H"]
    features = node_features(np.array([Element(s).Z for s in symbols]))
    r = DEFAULT_FEATURE_RANGES
    for row, symbol in zip(features, symbols, strict=True):
        el = Element(symbol)
        expected = [
            (el.Z - r.atomic_number[0]) / (r.atomic_number[1] - r.atomic_number[0]),
            (float(el.atomic_mass) - r.atomic_mass_amu[0])
            / (r.atomic_mass_amu[1] - r.atomic_mass_amu[0]),
            (float(el.atomic_radius) - r.atomic_radius_ang[0])
            / (r.atomic_radius_ang[1] - r.atomic_radius_ang[0]),
            (el.X - r.electronegativity_pauling[0])
            / (r.electronegativity_pauling[1] - r.electronegativity_pauling[0]),
        ]
        np.testing.assert_allclose(row, expected, rtol=1e-6)
    assert features.min() >= 0.0 and features.max() <= 1.0
    assert features[-1, 0] == 0.0  # hydrogen is the bottom of the atomic-number range


def test_structure_to_data_and_errors():
    structure = _triclinic(2, 12, (8.0, 8.5, 9.0), (90.0, 90.0, 90.0))
    data = structure_to_data(structure, GraphSettings(cutoff_ang=4.0), y=0.3)
    assert data.x.shape == (12, 4) and data.edge_index.shape[0] == 2
    assert data.edge_weight.shape == (data.edge_index.shape[1],) and float(data.y) == pytest.approx(
        0.3
    )
    with pytest.raises(InputError, match="Z=\\[2\\]"):
        node_features(np.array([2]))  # helium has no electronegativity
    with pytest.raises(InputError, match="disordered"):
        batch_graphs([Structure(Lattice.cubic(4.0), [{"Br": 0.5, "I": 0.5}], [[0, 0, 0]])])
    with pytest.raises(InputError, match="cutoff"):
        GraphSettings(cutoff_ang=-1.0)
    with pytest.raises(InputError, match="degenerate"):
        periodic_radius_edges(np.zeros((3, 3)), np.zeros((1, 3)), 5.0)
