"""Exact counts and symmetry permutations against analytic groups and brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy
from disorder_reference import (
    all_subsets,
    bracelets,
    brute_force_orbits,
    integer_coords,
    lattice_group,
    signed_permutation_matrices,
)
from pymatgen.core import Lattice, Structure

from thermogap.disorder.counting import (
    count_inequivalent,
    cycle_type,
    cycle_type_counts,
    sublattice_symmetry,
)
from thermogap.errors import CalculationError, InputError
from thermogap.structures.prototypes import antiperovskite, perovskite
from thermogap.structures.solid_solution import make_supercell


def _fcc_conventional(a: float = 3.6) -> Structure:
    return Structure(
        Lattice.cubic(a),
        ["Cu"] * 4,
        [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
    )


def _simple_tetragonal(a: float, c: float) -> Structure:
    return Structure(Lattice.tetragonal(a, c), ["Sn"], [[0, 0, 0]])


def _hexagonal(a: float = 3.0, c: float = 5.0) -> Structure:
    return Structure(Lattice.hexagonal(a, c), ["Mg"], [[0, 0, 0]])


def _analytic_sc_group(structure: Structure, sublattice: tuple[int, ...], size: int) -> set:
    coords = integer_coords(structure.frac_coords[list(sublattice)], np.full(3, size))
    return lattice_group(coords, np.full(3, size), signed_permutation_matrices(), coords)


def test_cycle_type_of_small_permutations() -> None:
    assert cycle_type([1, 2, 0, 4, 3]) == (3, 2)
    assert cycle_type([0, 1, 2]) == (1, 1, 1)
    assert cycle_type_counts([[0, 1], [1, 0]]) == {(1, 1): 1, (2,): 1}


@pytest.mark.parametrize("size", [2, 3])
def test_antiperovskite_halide_group_is_the_simple_cubic_group(size: int) -> None:
    supercell = make_supercell(antiperovskite(4.9), (size, size, size))
    symmetry = sublattice_symmetry(supercell, "Br")
    analytic = _analytic_sc_group(supercell, symmetry.sublattice, size)
    assert symmetry.space_group_number == 221
    assert symmetry.n_operations == 48 * size**3
    assert {tuple(p) for p in symmetry.permutations.tolist()} == analytic
    assert symmetry.permutations[0].tolist() == list(range(size**3))


def test_fcc_group_matches_oh_with_fcc_translations() -> None:
    supercell = make_supercell(_fcc_conventional(), (2, 2, 2))
    symmetry = sublattice_symmetry(supercell, "Cu")
    # integer coordinates in units of a/2: the 32 sites are the even-sum points mod 4
    coords = integer_coords(supercell.frac_coords[list(symmetry.sublattice)], np.full(3, 4))
    analytic = lattice_group(coords, np.full(3, 4), signed_permutation_matrices(), coords)
    assert symmetry.n_sites == 32
    assert {tuple(p) for p in symmetry.permutations.tolist()} == analytic
    assert symmetry.group_order == 48 * 32


def test_tetragonal_group_matches_d4h_with_translations() -> None:
    supercell = make_supercell(_simple_tetragonal(3.0, 4.5), (2, 2, 3))
    symmetry = sublattice_symmetry(supercell, "Sn")
    modulus = np.array([2, 2, 3])
    coords = integer_coords(supercell.frac_coords[list(symmetry.sublattice)], modulus)
    analytic = lattice_group(coords, modulus, signed_permutation_matrices((0, 1)), coords)
    assert symmetry.space_group_symbol == "P4/mmm"
    assert {tuple(p) for p in symmetry.permutations.tolist()} == analytic


@pytest.mark.parametrize("length", [7, 12])
def test_chain_counts_are_the_binary_bracelet_numbers(length: int) -> None:
    # a 1x1xL supercell of a tetragonal cell with a short c axis: the group on the chain of
    # L sites is the dihedral group D_L (translations and the mirror z -> -z)
    supercell = make_supercell(_simple_tetragonal(6.0, 2.5), (1, 1, length))
    symmetry = sublattice_symmetry(supercell, "Sn")
    counts = count_inequivalent(symmetry.permutations)
    assert symmetry.group_order == 2 * length
    assert counts == [bracelets(length, k) for k in range(length + 1)]
    # OEIS A000029 (binary bracelets of length n): a(7) = 18, a(12) = 224
    assert sum(counts) == {7: 18, 12: 224}[length]


def test_antiperovskite_2x2x2_counts_are_cube_vertex_colourings() -> None:
    # the 8 halide sites of a 2x2x2 supercell form a cube whose full symmetry group (order
    # 48) is what the space group induces; 2-colourings of cube vertices under the full
    # octahedral group: 1, 1, 3, 3, 6, 3, 3, 1, 1 (22 in all)
    symmetry = sublattice_symmetry(make_supercell(antiperovskite(4.9), (2, 2, 2)), "Br")
    counts = count_inequivalent(symmetry.permutations)
    assert symmetry.group_order == 48
    assert counts == [1, 1, 3, 3, 6, 3, 3, 1, 1]


def test_cube_rotation_subgroup_gives_23_colourings() -> None:
    # proper rotations of the cube about its centre on vertices {0,1}^3: 23 colourings
    vertices = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)])
    index = {tuple(v): n for n, v in enumerate(vertices.tolist())}
    rotations = [m for m in signed_permutation_matrices() if round(np.linalg.det(m)) == 1]
    perms = np.array(
        [
            [index[tuple((((2 * v - 1) @ r.T + 1) // 2).tolist())] for v in vertices]
            for r in rotations
        ]
    )
    counts = count_inequivalent(perms)
    assert len({tuple(p) for p in perms.tolist()}) == 24
    assert sum(counts) == 23
    assert counts == [len(brute_force_orbits(perms, n)) for n in range(9)]


def _perovskite_x(size: tuple[int, int, int]) -> tuple[Structure, str]:
    return make_supercell(perovskite(4.0, a="Ba", b="Ti", x="O"), size), "O"


def _hexagonal_supercell() -> tuple[Structure, str]:
    return make_supercell(_hexagonal(), (3, 3, 1)), "Mg"


def _tetragonal_supercell() -> tuple[Structure, str]:
    return make_supercell(_simple_tetragonal(3.0, 4.5), (2, 2, 3)), "Sn"


@pytest.mark.parametrize(
    ("build", "n_max"),
    [
        (lambda: _perovskite_x((2, 2, 1)), None),
        (_hexagonal_supercell, None),
        (_tetragonal_supercell, None),
        (lambda: (make_supercell(_fcc_conventional(), (2, 2, 2)), "Cu"), 3),
        (lambda: (make_supercell(antiperovskite(4.9), (3, 3, 3)), "Br"), 3),
    ],
    ids=["perovskite-O-2x2x1", "hexagonal-3x3x1", "tetragonal-2x2x3", "fcc-2x2x2", "cap-3x3x3"],
)
def test_polya_counts_match_brute_force_orbits(build, n_max: int | None) -> None:
    supercell, site = build()
    symmetry = sublattice_symmetry(supercell, site)
    counts = count_inequivalent(symmetry.permutations)
    n_sites = symmetry.n_sites
    assert len(counts) == n_sites + 1
    assert counts == counts[::-1]  # n and N - n substitutions are complements
    for n in range(n_sites + 1 if n_max is None else n_max + 1):
        assert counts[n] == len(brute_force_orbits(symmetry.permutations, n)), n


def test_large_counts_are_exact_integers() -> None:
    # 4x4x4: 64 halide sites, C(64, 32) ~ 1.8e18; compare the Pólya sum with an independent
    # polynomial expansion (sympy) of the cycle index
    supercell = make_supercell(antiperovskite(4.9), (4, 4, 4))
    symmetry = sublattice_symmetry(supercell, "Br")
    assert symmetry.group_order == 48 * 64
    counts = count_inequivalent(symmetry.permutations)
    t = sympy.Symbol("t")
    cycle_index = sum(
        mult * sympy.prod([1 + t**length for length in lengths])
        for lengths, mult in cycle_type_counts(symmetry.permutations).items()
    )
    coefficients = sympy.Poly(sympy.expand(cycle_index), t).all_coeffs()[::-1]
    reference = [sympy.Integer(c) / symmetry.group_order for c in coefficients]
    assert all(r.q == 1 for r in reference)
    assert counts == [int(r) for r in reference]
    assert counts[32] > math.comb(64, 32) // (48 * 64)  # orbits >= C(N, n) / |G|


def test_non_group_is_detected() -> None:
    # identity plus one 3-cycle is not closed: the Burnside sum is not divisible by 2
    with pytest.raises(CalculationError, match="not divisible"):
        count_inequivalent([[0, 1, 2], [1, 2, 0]])


def test_unknown_sublattice_lists_the_species() -> None:
    supercell = make_supercell(antiperovskite(4.9), (2, 2, 2))
    with pytest.raises(InputError, match=r"present: \['Ag', 'Br', 'S'\]"):
        sublattice_symmetry(supercell, "Cl")


def test_fixed_subsets_of_identity_are_binomials() -> None:
    # with only the identity every subset is its own class
    assert count_inequivalent([list(range(6))]) == [math.comb(6, n) for n in range(7)]
    assert all_subsets(6, 2).sum() == 2 * math.comb(6, 2)
