"""Thermal amplitudes against phonopy, an Einstein solid and the classical limit."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from phonopy import Phonopy
from phonopy.structure.atoms import PhonopyAtoms

from thermogap.errors import InputError
from thermogap.sampling.amplitudes import (
    gamma_centred_mesh,
    thermal_amplitude_analysis,
    thermal_amplitudes,
)

HBAR, KB, AMU = 1.054571817e-34, 1.380649e-23, 1.66053906660e-27
EV_PER_ANG2 = 1.602176634e-19 / 1e-20  # eV/Å² -> J/m²


def phonopy_msd(phonon, temperatures, mesh, freq_min):
    """phonopy's own thermal displacements ⟨u_α²⟩ (Å²), shape (T, atoms, 3)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        phonon.run_mesh(mesh, is_mesh_symmetry=False, with_eigenvectors=True, is_gamma_center=True)
        td = phonon.run_thermal_displacements(temperatures=temperatures, freq_min=freq_min)
    return np.asarray(td.thermal_displacements).reshape(len(temperatures), -1, 3)


@pytest.mark.parametrize("mesh", [(4, 4, 4), (5, 3, 2)])
def test_squared_amplitudes_equal_phonopy_thermal_displacements(cu3au_phonon, mesh):
    temps = [0.0, 100.0, 300.0, 600.0]
    result = thermal_amplitude_analysis(cu3au_phonon, temps, mesh=mesh, frequency_cutoff_thz=0.05)
    reference = phonopy_msd(cu3au_phonon, temps, mesh, 0.05)
    np.testing.assert_allclose(result.amplitudes_ang**2, reference, rtol=1e-5)
    assert result.n_imaginary_excluded == 0
    assert result.n_near_zero_excluded == 3  # the acoustic modes at Γ


def test_unstable_ag3sbr_amplitudes_equal_phonopy_and_count_excluded_modes(ag3sbr_phonon):
    mesh, cutoff = (4, 4, 4), 0.05
    result = thermal_amplitude_analysis(
        ag3sbr_phonon, [300.0], mesh=mesh, frequency_cutoff_thz=cutoff
    )
    np.testing.assert_allclose(
        result.amplitudes_ang**2, phonopy_msd(ag3sbr_phonon, [300.0], mesh, cutoff), rtol=1e-5
    )
    freqs = ag3sbr_phonon.run_mesh(mesh, is_mesh_symmetry=False, is_gamma_center=True).frequencies
    assert result.n_imaginary_excluded == np.count_nonzero(freqs < -cutoff) > 0
    assert result.n_near_zero_excluded == np.count_nonzero(np.abs(freqs) <= cutoff)
    assert result.n_modes == freqs.size
    zeta = thermal_amplitudes(ag3sbr_phonon, 300.0, mesh=mesh, frequency_cutoff_thz=cutoff)
    np.testing.assert_allclose(zeta, result.amplitudes_ang[0])
    # cubic symmetry: S and Br sit on Oh sites, so their amplitudes are isotropic
    np.testing.assert_allclose(zeta[3:], zeta[3:, :1].repeat(3, axis=1), rtol=1e-8)


def einstein_solid(spring_ev_per_ang2: float, mass_amu: float) -> Phonopy:
    """Atoms on a simple cubic lattice, each tied to its site by its own spring."""
    cell = PhonopyAtoms(
        symbols=["Ar"], cell=np.eye(3) * 3.0, scaled_positions=[[0, 0, 0]], masses=[mass_amu]
    )
    phonon = Phonopy(cell, supercell_matrix=np.eye(3, dtype=int))
    fc = np.zeros((1, 1, 3, 3))
    fc[0, 0] = np.eye(3) * spring_ev_per_ang2
    phonon.force_constants = fc
    return phonon


def test_einstein_solid_follows_the_quantum_oscillator_and_its_classical_limit():
    k, m = 2.0, 40.0
    phonon = einstein_solid(k, m)
    omega = np.sqrt(k * EV_PER_ANG2 / (m * AMU))
    temps = np.array([0.0, 50.0, 300.0, 3000.0, 30000.0])
    zeta2 = thermal_amplitude_analysis(phonon, temps, mesh=(3, 3, 3)).amplitudes_ang[:, 0, :] ** 2
    with np.errstate(divide="ignore"):
        coth = np.where(
            temps > 0, 1 / np.tanh(HBAR * omega / (2 * KB * np.maximum(temps, 1e-9))), 1.0
        )
    exact = HBAR / (2 * m * AMU * omega) * coth * 1e20
    np.testing.assert_allclose(zeta2, exact[:, None].repeat(3, axis=1), rtol=1e-6)
    classical = KB * temps / (m * AMU * omega**2) * 1e20
    assert zeta2[-1, 0] == pytest.approx(classical[-1], rel=1e-3)  # high-T limit
    assert zeta2[0, 0] == pytest.approx(HBAR / (2 * m * AMU * omega) * 1e20)  # zero point


def test_high_temperature_amplitudes_approach_the_classical_limit(cu3au_phonon):
    """k_B T Σ 1/(m ω²) / N: the classical equipartition value on the same mesh."""
    mesh, temp = (4, 4, 4), 5000.0
    zeta2 = thermal_amplitudes(cu3au_phonon, temp, mesh=mesh) ** 2
    qpoints = gamma_centred_mesh(mesh)
    result = cu3au_phonon.run_qpoints(qpoints, with_eigenvectors=True)
    omega = 2 * np.pi * 1e12 * result.frequencies
    weights = np.where(result.frequencies > 0.05, 1 / np.where(omega > 0, omega, 1) ** 2, 0)
    masses = np.repeat(cu3au_phonon.primitive.masses, 3) * AMU
    classical = KB * temp * np.einsum("qn,qan->a", weights, np.abs(result.eigenvectors) ** 2)
    classical = classical / len(qpoints) / masses * 1e20
    np.testing.assert_allclose(zeta2.ravel(), classical, rtol=2e-3)


def test_gamma_centred_mesh_contains_every_point_once():
    grid = gamma_centred_mesh((4, 3, 2))
    assert len(grid) == 24
    assert np.all((grid > -0.5 - 1e-12) & (grid <= 0.5 + 1e-12))
    assert len({tuple(np.round(np.mod(q, 1.0), 9)) for q in grid}) == 24


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"temperature": -1.0}, "temperatures"),
        ({"temperature": 300.0, "mesh": (4, 4)}, "mesh"),
        ({"temperature": 300.0, "mesh": (0, 4, 4)}, "mesh"),
        ({"temperature": 300.0, "frequency_cutoff_thz": -0.1}, "frequency_cutoff_thz"),
    ],
)
def test_bad_inputs_are_input_errors(cu3au_phonon, kwargs, match):
    with pytest.raises(InputError, match=match):
        thermal_amplitudes(cu3au_phonon, **kwargs)


def test_phonopy_without_force_constants_is_an_input_error():
    cell = PhonopyAtoms(symbols=["Ar"], cell=np.eye(3) * 3.0, scaled_positions=[[0, 0, 0]])
    with pytest.raises(InputError, match="force constants"):
        thermal_amplitudes(Phonopy(cell, supercell_matrix=np.eye(3, dtype=int)), 300.0)
