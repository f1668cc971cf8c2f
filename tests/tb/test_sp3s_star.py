"""The sp3s* model against published band energies, a brute-force supercell fold and FD."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from thermogap.errors import InputError, UnknownEntryError
from thermogap.tb import (
    GAAS_VOGL,
    SI_VOGL,
    Sp3sStarModel,
    cartesian_kpoints,
    get_hamiltonian_model,
)

A_SI = SI_VOGL.lattice_constant_ang


def _si_primitive():
    return Sp3sStarModel().hamiltonian(bulk("Si", "diamond", a=A_SI))


def test_si_gamma_levels_are_the_closed_form_vogl_values():
    # at Γ the 10x10 matrix splits into 2x2 blocks: E_s ± V(s,s), E_p ± V(x,x), E_s*
    energies = _si_primitive().eigenvalues(np.zeros(3))
    expected = sorted(
        [-4.2 - 8.3, -4.2 + 8.3] + [1.715 - 1.715] * 3 + [1.715 + 1.715] * 3 + [6.685] * 2
    )
    np.testing.assert_allclose(energies, expected, atol=1e-9)


def test_si_static_gaps_match_vogl_fit():
    ham = _si_primitive()
    gamma = ham.eigenvalues(np.zeros(3))
    direct = gamma[ham.n_occupied] - gamma[ham.n_occupied - 1]
    assert direct == pytest.approx(3.43, abs=0.02)  # Γ25' → Γ15, ≈ 3.4 eV
    x_point = 2 * np.pi / A_SI * np.array([1.0, 0.0, 0.0])
    fractions = np.linspace(0.0, 1.0, 101)
    conduction = [ham.eigenvalues(f * x_point)[ham.n_occupied] for f in fractions]
    best = int(np.argmin(conduction))
    indirect = conduction[best] - gamma[ham.n_occupied - 1]
    assert indirect == pytest.approx(1.17, abs=0.05)  # the experimental gap Vogl fitted
    assert 0.6 < fractions[best] < 0.95  # minimum on Δ, short of X (indirect gap)
    # and it is lower than at X, L and Γ
    l_point = np.pi / A_SI * np.ones(3)
    assert ham.eigenvalues(l_point)[ham.n_occupied] > conduction[best] + 0.3
    assert ham.eigenvalues(x_point)[ham.n_occupied] > conduction[best] + 0.2


def test_gaas_is_direct_with_the_fitted_gap():
    ham = Sp3sStarModel().hamiltonian(bulk("GaAs", "zincblende", a=GAAS_VOGL.lattice_constant_ang))
    assert ham.n_electrons == 8  # Ga 3 + As 5
    gamma = ham.eigenvalues(np.zeros(3))
    assert gamma[4] - gamma[3] == pytest.approx(1.55, abs=0.01)
    a = GAAS_VOGL.lattice_constant_ang
    for k in (2 * np.pi / a * np.array([1.0, 0, 0]), np.pi / a * np.ones(3)):
        assert ham.eigenvalues(k)[4] > gamma[4]


def test_conventional_supercell_folds_onto_primitive_bands():
    # brute force: the 8-atom cube holds the primitive k-points k, k+X_x, k+X_y, k+X_z
    primitive = _si_primitive()
    cube = Sp3sStarModel().hamiltonian(bulk("Si", "diamond", a=A_SI, cubic=True))
    rng = np.random.default_rng(3)
    for k in rng.normal(size=(3, 3)):
        shifts = 2 * np.pi / A_SI * np.vstack([np.zeros(3), np.eye(3)])
        unfolded = np.sort(np.concatenate([primitive.eigenvalues(k + g) for g in shifts]))
        np.testing.assert_allclose(cube.eigenvalues(k), unfolded, atol=1e-9)


def test_rotated_and_permuted_supercell_gives_the_same_spectrum():
    atoms = bulk("Si", "diamond", a=A_SI, cubic=True).repeat((2, 1, 1))
    atoms.rattle(0.05, seed=1)
    ref = Sp3sStarModel().hamiltonian(atoms).eigenvalues(np.zeros(3))
    shuffled = atoms[np.random.default_rng(0).permutation(len(atoms))]
    shuffled.translate([0.3, -0.2, 0.1])
    shuffled.wrap()
    np.testing.assert_allclose(
        Sp3sStarModel().hamiltonian(shuffled).eigenvalues(np.zeros(3)), ref, atol=1e-9
    )


def test_dh_dk_matches_finite_differences_and_hellmann_feynman():
    atoms = bulk("Si", "diamond", a=A_SI, cubic=True)
    atoms.rattle(0.08, seed=2)
    ham = Sp3sStarModel().hamiltonian(atoms)
    k = cartesian_kpoints(atoms.cell[:], np.array([0.13, -0.21, 0.37]))
    step = 1e-5
    analytic = ham.dh_dk(k)
    for axis in range(3):
        dk = np.zeros(3)
        dk[axis] = step
        numeric = (ham.h_k(k + dk) - ham.h_k(k - dk)) / (2 * step)
        np.testing.assert_allclose(analytic[axis], numeric, atol=1e-7)
    # Hellmann–Feynman: <n|∂H/∂k|n> = ∂E_n/∂k for non-degenerate bands
    energies, vectors = ham.eigh(k)
    dk = np.array([step, 0, 0])
    slope = (ham.eigenvalues(k + dk) - ham.eigenvalues(k - dk)) / (2 * step)
    diagonal = np.einsum("an,ab,bn->n", vectors.conj(), analytic[0], vectors).real
    separated = np.min(np.abs(np.diff(energies))) > 1e-3
    assert separated
    np.testing.assert_allclose(diagonal, slope, atol=1e-5)


def test_harrison_scaling_changes_gap_under_strain_and_can_be_off():
    strained = bulk("Si", "diamond", a=A_SI * 1.02)
    on = Sp3sStarModel().hamiltonian(strained).eigenvalues(np.zeros(3))
    off = Sp3sStarModel(bond_scaling_exponent=0.0).hamiltonian(strained).eigenvalues(np.zeros(3))
    # with scaling V(x,x) becomes 1.715/1.02^2; without it Γ15 - Γ25' stays 2 V(x,x)
    assert off[4] - off[3] == pytest.approx(3.43, abs=1e-9)
    assert on[4] - on[3] == pytest.approx(3.43 / 1.02**2, abs=1e-9)


def test_unknown_elements_and_bonds_are_refused():
    with pytest.raises(InputError, match="no sp3s"):
        Sp3sStarModel().hamiltonian(bulk("C", "diamond", a=3.57))
    antisite = bulk("GaAs", "zincblende", a=GAAS_VOGL.lattice_constant_ang, cubic=True)
    antisite[0].symbol = "As" if antisite[0].symbol == "Ga" else "Ga"
    with pytest.raises(InputError, match="not described"):
        Sp3sStarModel().hamiltonian(antisite)
    with pytest.raises(UnknownEntryError, match="allowed"):
        get_hamiltonian_model("deeptb-not-here")


def test_a_new_model_plugs_into_the_optics_code_through_the_registry():
    from dataclasses import dataclass

    from thermogap.optics.study import spectrum_at_temperature
    from thermogap.schemas.optics import OpticsSettings, TaucSettings
    from thermogap.tb import HAMILTONIAN_MODELS

    @dataclass
    class ShiftedModel:  # stands in for a learned model: same blocks, all levels shifted
        shift_ev: float = 0.5
        name = "shifted-test"

        def hamiltonian(self, atoms):
            ham = Sp3sStarModel().hamiltonian(atoms)
            ham.onsite_ev = ham.onsite_ev + self.shift_ev  # rigid shift: same spectrum
            return ham

    HAMILTONIAN_MODELS.register("shifted-test", ShiftedModel)
    atoms = bulk("Si", "diamond", a=A_SI)
    settings = {"kpoint_mesh": (2, 2, 2), "max_energy_ev": 12.0, "energy_step_ev": 0.01}
    tauc = TaucSettings()
    ref = spectrum_at_temperature(atoms, atoms.positions[None], OpticsSettings(**settings), tauc)
    new = spectrum_at_temperature(
        atoms,
        atoms.positions[None],
        OpticsSettings(model="shifted-test", model_settings={"shift_ev": 0.7}, **settings),
        tauc,
    )
    assert new.vbm_ev[0] == pytest.approx(ref.vbm_ev[0] + 0.7)
    np.testing.assert_allclose(new.spectrum.epsilon2, ref.spectrum.epsilon2, atol=1e-9)
