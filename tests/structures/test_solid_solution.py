"""Solid-solution supercells: composition grid, site placement and Vegard's law."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from thermogap.errors import InputError
from thermogap.structures.prototypes import antiperovskite
from thermogap.structures.solid_solution import (
    allowed_compositions,
    solid_solution_supercell,
    sublattice_indices,
    vegard_lattice_parameter,
)


@pytest.fixture
def ag3sbr():
    return antiperovskite(4.90, a="Ag", b="S", x="Br")


def test_allowed_compositions_are_the_k_over_n_grid() -> None:
    assert allowed_compositions(8) == [Fraction(k, 8) for k in range(9)]
    assert allowed_compositions(1) == [Fraction(0), Fraction(1)]
    with pytest.raises(InputError, match="n_sites=0"):
        allowed_compositions(0)


@pytest.mark.parametrize("k", range(9))
def test_composition_on_the_eighth_grid(ag3sbr, k: int) -> None:
    structure = solid_solution_supercell(ag3sbr, site="Br", species=("Br", "I"), x=k / 8)
    assert len(structure) == 40
    counts = structure.composition
    assert (counts["Ag"], counts["S"], counts["Br"], counts["I"]) == (24, 8, k, 8 - k)
    # the halides stay on the parent corner positions: a simple-cubic grid of spacing a
    halides = [s for s in structure if s.specie.symbol in ("Br", "I")]
    assert np.allclose(
        np.mod(np.array([s.coords for s in halides]) / 4.90 + 1e-9, 1.0), 0, atol=1e-6
    )


def test_off_grid_x_lists_the_allowed_values(ag3sbr) -> None:
    with pytest.raises(InputError) as info:
        solid_solution_supercell(ag3sbr, site="Br", species=("Br", "I"), x=0.3)
    message = str(info.value)
    assert "x=0.3" in message and "1/8 grid" in message
    for allowed in ("0", "1/8 (0.125)", "3/8 (0.375)", "7/8 (0.875)", "1"):
        assert allowed in message
    with pytest.raises(InputError, match="allowed"):
        solid_solution_supercell(ag3sbr, site="Br", species=("Br", "I"), x=1.25)


def test_exact_fractions_on_a_3x3x3_grid(ag3sbr) -> None:
    structure = solid_solution_supercell(
        ag3sbr, site="Br", species=("Br", "I"), supercell=(3, 3, 3), x=Fraction(10, 27)
    )
    assert (structure.composition["Br"], structure.composition["I"]) == (10, 17)
    structure = solid_solution_supercell(
        ag3sbr, site="Br", species=("Br", "I"), supercell=(3, 3, 3), x=1 / 3
    )
    assert structure.composition["Br"] == 9


def test_substituted_sites_hold_the_second_species(ag3sbr) -> None:
    structure = solid_solution_supercell(
        ag3sbr, site="Br", species=("Br", "I"), x=0.625, substituted_sites=[1, 4, 6]
    )
    halide_sites = [i for i, s in enumerate(structure) if s.specie.symbol in ("Br", "I")]
    symbols = [structure[i].specie.symbol for i in halide_sites]
    assert symbols == ["Br", "I", "Br", "Br", "I", "Br", "I", "Br"]
    with pytest.raises(InputError, match="needs 3 sites"):
        solid_solution_supercell(
            ag3sbr, site="Br", species=("Br", "I"), x=0.625, substituted_sites=[1, 4]
        )
    with pytest.raises(InputError, match=r"0\.\.7"):
        solid_solution_supercell(
            ag3sbr, site="Br", species=("Br", "I"), x=0.625, substituted_sites=[1, 4, 8]
        )


def test_vegard_interpolates_linearly(ag3sbr) -> None:
    a_br, a_i = 4.90, 4.98
    for k in (0, 3, 8):
        x = k / 8
        structure = solid_solution_supercell(
            ag3sbr, site="Br", species=("Br", "I"), x=x, lattice_parameters={"Br": a_br, "I": a_i}
        )
        expected = a_br + (1 - x) * (a_i - a_br)
        assert np.allclose(structure.lattice.abc, 2 * expected)
        assert np.allclose(structure.lattice.angles, 90.0)
    assert vegard_lattice_parameter(0.25, 5.0, 6.0) == pytest.approx(5.75)
    with pytest.raises(InputError, match="keys"):
        solid_solution_supercell(
            ag3sbr, site="Br", species=("Br", "I"), x=0.5, lattice_parameters={"Br": 4.9}
        )


def test_unknown_site_and_species_are_input_errors(ag3sbr) -> None:
    with pytest.raises(InputError, match=r"present: \['Ag', 'Br', 'S'\]"):
        sublattice_indices(ag3sbr, "I")
    with pytest.raises(InputError, match="two different"):
        solid_solution_supercell(ag3sbr, site="Br", species=("Br", "Br"), x=0.5)
    with pytest.raises(InputError, match="supercell"):
        solid_solution_supercell(ag3sbr, site="Br", species=("Br", "I"), supercell=(2, 0, 2), x=0.5)
