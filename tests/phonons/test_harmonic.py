"""Harmonic force constants against analytic lattice dynamics and direct energies."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.morse import MorsePotential
from pymatgen.core import Lattice, Structure

from thermogap.errors import CalculationError, InputError
from thermogap.phonons.harmonic import (
    compute_force_constants,
    phonon_id,
    phonopy_from_force_constants,
    supercell_matrix_array,
)

EPS_EV, RHO, R0_ANG = 0.4, 4.0, 2.5
A_FCC_ANG = 3.6
# eV / (Å² amu) -> (rad/s)²; frequency in THz = sqrt(.)/(2π 1e12)
EV_PER_ANG2_AMU = 1.602176634e-19 / 1e-20 / 1.66053906660e-27


def morse_derivatives(r: float) -> tuple[float, float]:
    """φ'(r) (eV/Å) and φ''(r) (eV/Å²) of ASE's Morse pair potential."""
    e = np.exp(-RHO * (r / R0_ANG - 1.0))
    d1 = EPS_EV * (-2 * RHO / R0_ANG * e**2 + 2 * RHO / R0_ANG * e)
    d2 = EPS_EV * (4 * RHO**2 / R0_ANG**2 * e**2 - 2 * RHO**2 / R0_ANG**2 * e)
    return d1, d2


def analytic_frequencies(q_cart: np.ndarray, mass_amu: float, neighbours: list[np.ndarray]) -> np.ndarray:
    """Central-force nearest-neighbour dispersion of a Bravais lattice, THz (sorted, i|f| < 0).

    D(q) = (1/m) Σ_R (1 - cos q·R) [φ''(R) R̂R̂ + φ'(R)/R (1 - R̂R̂)]
    """
    dyn = np.zeros((3, 3))
    for vec in neighbours:
        r = np.linalg.norm(vec)
        d1, d2 = morse_derivatives(r)
        rr = np.outer(vec, vec) / r**2
        dyn += (1 - np.cos(q_cart @ vec)) * (d2 * rr + d1 / r * (np.eye(3) - rr))
    w2 = np.linalg.eigvalsh(dyn / mass_amu) * EV_PER_ANG2_AMU
    return np.sort(np.sign(w2) * np.sqrt(np.abs(w2)) / (2 * np.pi * 1e12))


def fcc_neighbours(a: float) -> list[np.ndarray]:
    half = [np.array(v) * a / 2 for v in [(1, 1, 0), (1, -1, 0), (1, 0, 1), (1, 0, -1), (0, 1, 1), (0, 1, -1)]]
    return half + [-v for v in half]


def analytic_fcc_frequencies(q_cart: np.ndarray, mass_amu: float) -> np.ndarray:
    return analytic_frequencies(q_cart, mass_amu, fcc_neighbours(A_FCC_ANG))


def simple_cubic_morse(a_ang: float):
    """Simple cubic Cu with nearest-neighbour Morse bonds (second shell cut off).

    Its transverse stiffness is φ'(a)/a alone: compressed below r0 the transverse modes are
    imaginary everywhere off Γ, stretched above r0 they are real.
    """
    structure = Structure(Lattice.cubic(a_ang), ["Cu"], [[0, 0, 0]])
    calc = MorsePotential(epsilon=EPS_EV, rho0=RHO, r0=R0_ANG, rcut1=1.12, rcut2=1.25)
    assert 1.25 * R0_ANG < np.sqrt(2) * a_ang and 1.12 * R0_ANG > a_ang
    return compute_force_constants(structure, calc, supercell_matrix=(3, 3, 3))


@pytest.fixture(scope="module")
def fcc_morse():
    structure = Structure(
        Lattice([[0, A_FCC_ANG / 2, A_FCC_ANG / 2], [A_FCC_ANG / 2, 0, A_FCC_ANG / 2],
                 [A_FCC_ANG / 2, A_FCC_ANG / 2, 0]]),
        ["Cu"],
        [[0, 0, 0]],
    )
    # cutoff between the first (2.55 Å) and second (3.6 Å) neighbour shells
    calc = MorsePotential(epsilon=EPS_EV, rho0=RHO, r0=R0_ANG, rcut1=1.1, rcut2=1.3)
    return compute_force_constants(structure, calc, supercell_matrix=(3, 3, 3))


def test_fcc_morse_frequencies_match_analytic_dispersion(fcc_morse):
    rng = np.random.default_rng(1)
    qpoints = np.vstack([[0.5, 0.5, 0.5], [0.5, 0.0, 0.5], [0.375, 0.375, 0.75], rng.random((5, 3))])
    fcc_morse.run_qpoints(qpoints)
    computed = np.sort(fcc_morse.get_qpoints_dict()["frequencies"], axis=1)
    lattice = np.array(fcc_morse.primitive.cell)
    mass = float(fcc_morse.primitive.masses[0])
    for q, freqs in zip(qpoints, computed, strict=True):
        q_cart = 2 * np.pi * np.linalg.inv(lattice) @ q
        np.testing.assert_allclose(freqs, analytic_fcc_frequencies(q_cart, mass), rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("a_ang", [2.3, 2.7])
def test_simple_cubic_frequencies_including_imaginary_match_analytic(a_ang):
    phonon = simple_cubic_morse(a_ang)
    qpoints = np.array([[0.5, 0, 0], [0.5, 0.5, 0], [0.5, 0.5, 0.5], [0.2, 0.1, 0.4]])
    phonon.run_qpoints(qpoints)
    computed = np.sort(phonon.get_qpoints_dict()["frequencies"], axis=1)
    neighbours = [a_ang * v for v in np.vstack([np.eye(3), -np.eye(3)])]
    mass = float(phonon.primitive.masses[0])
    for q, freqs in zip(qpoints, computed, strict=True):
        expected = analytic_frequencies(2 * np.pi * q / a_ang, mass, neighbours)
        np.testing.assert_allclose(freqs, expected, rtol=2e-3, atol=2e-3)
    assert (computed.min() < -0.5) == (a_ang < R0_ANG)


def test_acoustic_sum_rule_gives_zero_frequencies_at_gamma(fcc_morse, cu3au_phonon):
    for phonon in (fcc_morse, cu3au_phonon):
        phonon.run_qpoints([[0, 0, 0]])
        freqs = np.sort(np.abs(phonon.get_qpoints_dict()["frequencies"][0]))
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
    q = [[0.1, 0.2, 0.3], [0.5, 0.5, 0.0]]
    cu3au_phonon.run_qpoints(q)
    rebuilt.run_qpoints(q)
    np.testing.assert_allclose(
        rebuilt.get_qpoints_dict()["frequencies"], cu3au_phonon.get_qpoints_dict()["frequencies"]
    )


class _Broken(Calculator):
    implemented_properties = ["energy", "forces"]

    def calculate(self, atoms=None, properties=("forces",), system_changes=all_changes):
        raise RuntimeError("SCF did not converge")


class _NaNForces(Calculator):
    implemented_properties = ["energy", "forces"]

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
