"""Harmonic force constants against analytic lattice dynamics."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.calculator import Calculator, all_changes
from morse_reference import (
    R0_ANG,
    analytic_fcc_frequencies,
    analytic_frequencies,
    fcc_morse_phonon,
    simple_cubic_morse,
)

from thermogap.errors import CalculationError, InputError
from thermogap.phonons.harmonic import (
    compute_force_constants,
    modes_at_qpoints,
    phonon_id,
    phonopy_from_force_constants,
    supercell_matrix_array,
)


@pytest.fixture(scope="module")
def fcc_morse():
    return fcc_morse_phonon()


def test_fcc_morse_frequencies_match_analytic_dispersion(fcc_morse):
    rng = np.random.default_rng(1)
    qpoints = np.vstack(
        [[0.5, 0.5, 0.5], [0.5, 0.0, 0.5], [0.375, 0.375, 0.75], rng.random((5, 3))]
    )
    computed = np.sort(modes_at_qpoints(fcc_morse, qpoints, with_eigenvectors=False)[0], axis=1)
    lattice = np.array(fcc_morse.primitive.cell)
    mass = float(fcc_morse.primitive.masses[0])
    for q, freqs in zip(qpoints, computed, strict=True):
        q_cart = 2 * np.pi * np.linalg.inv(lattice) @ q
        np.testing.assert_allclose(
            freqs, analytic_fcc_frequencies(q_cart, mass), rtol=2e-3, atol=2e-3
        )


@pytest.mark.parametrize("a_ang", [2.3, 2.7])
def test_simple_cubic_frequencies_including_imaginary_match_analytic(a_ang):
    phonon = simple_cubic_morse(a_ang)
    qpoints = np.array([[0.5, 0, 0], [0.5, 0.5, 0], [0.5, 0.5, 0.5], [0.2, 0.1, 0.4]])
    computed = np.sort(modes_at_qpoints(phonon, qpoints, with_eigenvectors=False)[0], axis=1)
    neighbours = [a_ang * v for v in np.vstack([np.eye(3), -np.eye(3)])]
    mass = float(phonon.primitive.masses[0])
    for q, freqs in zip(qpoints, computed, strict=True):
        expected = analytic_frequencies(2 * np.pi * q / a_ang, mass, neighbours)
        np.testing.assert_allclose(freqs, expected, rtol=2e-3, atol=2e-3)
    assert (computed.min() < -0.5) == (a_ang < R0_ANG)


def test_acoustic_sum_rule_gives_zero_frequencies_at_gamma(fcc_morse, cu3au_phonon):
    for phonon in (fcc_morse, cu3au_phonon):
        freqs = np.sort(np.abs(phonon.run_qpoints([[0, 0, 0]]).frequencies[0]))
        np.testing.assert_allclose(freqs[:3], 0.0, atol=1e-4)
        if len(freqs) > 3:  # optical modes of Cu3Au stay finite
            assert freqs[3:].min() > 1.0


def test_rebuilt_phonopy_reproduces_frequencies(cu3au_phonon):
    from thermogap.phonons.harmonic import phonopy_atoms_to_structure

    rebuilt = phonopy_from_force_constants(
        phonopy_atoms_to_structure(cu3au_phonon.unitcell),
        cu3au_phonon.supercell_matrix,
        cu3au_phonon.force_constants,
    )
    q = np.array([[0.1, 0.2, 0.3], [0.5, 0.5, 0.0]])
    np.testing.assert_allclose(
        modes_at_qpoints(rebuilt, q, with_eigenvectors=False)[0],
        modes_at_qpoints(cu3au_phonon, q, with_eigenvectors=False)[0],
    )


class _Broken(Calculator):
    implemented_properties = ("energy", "forces")

    def calculate(self, atoms=None, properties=("forces",), system_changes=all_changes):
        raise RuntimeError("SCF did not converge")


class _NaNForces(Calculator):
    implemented_properties = ("energy", "forces")

    def calculate(self, atoms=None, properties=("forces",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.results = {"energy": 0.0, "forces": np.full((len(atoms), 3), np.nan)}


@pytest.mark.parametrize("calc", [_Broken(), _NaNForces()])
def test_failing_calculator_raises_calculation_error(calc, cu3au_structure):
    with pytest.raises(CalculationError, match="displaced supercell 0"):
        compute_force_constants(cu3au_structure, calc, supercell_matrix=(1, 1, 1))


@pytest.mark.parametrize(
    "matrix", [(2, 2), [[1, 0, 0], [0, 1, 0], [0, 0, 0]], [[1.5, 0, 0], [0, 1, 0], [0, 0, 1]]]
)
def test_bad_supercell_matrix_is_an_input_error(matrix):
    with pytest.raises(InputError, match="supercell_matrix"):
        supercell_matrix_array(matrix)


def test_bad_displacement_is_an_input_error(cu3au_structure):
    from ase.calculators.emt import EMT

    with pytest.raises(InputError, match="displacement_ang"):
        compute_force_constants(cu3au_structure, EMT(), displacement_ang=-0.01)


def test_phonon_id_depends_on_every_input(cu3au_structure):
    base = phonon_id(cu3au_structure, (2, 2, 2), "emt", 0.01)
    shifted = cu3au_structure.copy()
    shifted.translate_sites([0], [0.01, 0, 0])
    assert base == phonon_id(cu3au_structure.copy(), [[2, 0, 0], [0, 2, 0], [0, 0, 2]], "emt", 0.01)
    others = {
        phonon_id(shifted, (2, 2, 2), "emt", 0.01),
        phonon_id(cu3au_structure, (3, 3, 3), "emt", 0.01),
        phonon_id(cu3au_structure, (2, 2, 2), "chgnet", 0.01),
        phonon_id(cu3au_structure, (2, 2, 2), "emt", 0.02),
    }
    assert base not in others and len(others) == 4
