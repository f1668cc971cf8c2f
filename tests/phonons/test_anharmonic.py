"""One-shot SSCHA against the exactly solvable axial-spring crystal (closed-form ⟨V''⟩)."""

from __future__ import annotations

import numpy as np
import pytest
from phonopy import Phonopy
from pymatgen.core import Lattice, Structure

from thermogap.errors import InputError
from thermogap.phonons.anharmonic import commensurate_frequencies, renormalised_phonons
from thermogap.phonons.harmonic import phonopy_atoms_to_ase, structure_to_phonopy_atoms
from thermogap.tdph.metrics import r_full, r_onsite
from thermogap.tdph.model_potential import (
    AxialSpringCalculator,
    axial_mean_square_stretch,
    axial_spring_force_constants,
)

A_ANG, REPEATS = 3.0, 3


def _model(k: float, k_t: float, lam: float) -> tuple[Phonopy, AxialSpringCalculator]:
    unit = Structure(Lattice.cubic(A_ANG), ["Ar"], [[0, 0, 0]])
    phonon = Phonopy(
        structure_to_phonopy_atoms(unit),
        supercell_matrix=np.eye(3, dtype=int) * REPEATS,
        primitive_matrix="P",
    )
    reference = phonopy_atoms_to_ase(phonon.supercell)
    phonon.force_constants = axial_spring_force_constants(reference, A_ANG, k, k_t)
    return phonon, AxialSpringCalculator(reference, A_ANG, k, k_t, lam)


def _exact_fc(phonon: Phonopy, k: float, k_t: float, lam: float, t: float) -> np.ndarray:
    msd = axial_mean_square_stretch(A_ANG, REPEATS, k, k_t, float(phonon.masses[0]), t)
    reference = phonopy_atoms_to_ase(phonon.supercell)
    return axial_spring_force_constants(reference, A_ANG, k + lam / 2 * msd, k_t)


def test_calculator_forces_are_minus_energy_gradient() -> None:
    phonon, calc = _model(1.0, 0.5, 20.0)
    atoms = phonopy_atoms_to_ase(phonon.supercell)
    atoms.positions += np.random.default_rng(0).normal(scale=0.1, size=atoms.positions.shape)
    atoms.calc = calc
    forces = atoms.get_forces()
    step, numeric = 1e-5, np.zeros(3)
    for axis in range(3):
        for sign in (1, -1):
            moved = atoms.copy()
            moved.positions[4, axis] += sign * step
            moved.calc = calc
            numeric[axis] -= sign * moved.get_potential_energy() / (2 * step)
    np.testing.assert_allclose(forces[4], numeric, atol=1e-6)
    assert abs(forces.sum(axis=0)).max() < 1e-10  # translation invariance


@pytest.mark.parametrize("estimator", ["force_fit", "hessian_average"])
def test_one_shot_matches_closed_form(estimator: str) -> None:
    k, k_t, lam, t = 1.0, 0.5, 20.0, 300.0
    phonon, calc = _model(k, k_t, lam)
    exact = _exact_fc(phonon, k, k_t, lam, t)
    shift = np.abs(exact - phonon.force_constants).max()
    assert shift > 0.1  # the anharmonic shift is large compared with the tolerance below
    n = 20 if estimator == "force_fit" else 6
    result = renormalised_phonons(phonon, calc, t, n_samples=n, seed=3, estimator=estimator)
    fc = result.phonon.force_constants
    # sampling error of 20 (6) supercells of 27 atoms: a few % of the shift (measured 3-9 %)
    assert np.abs(fc - exact).max() < 0.15 * shift
    # the harmonic force constants would fail the same comparison
    assert np.abs(phonon.force_constants - exact).max() > 0.5 * shift
    # input left untouched
    np.testing.assert_allclose(phonon.force_constants, _model(k, k_t, lam)[0].force_constants)
    # R_onsite of this model in closed form: tr changes by 2 (k_eff - k) out of 2 k + 4 k_t
    k_eff = (exact[0, 0, 0, 0] - 4 * k_t) / 2
    (site,) = r_onsite(phonon, fc)
    assert site.r_onsite == pytest.approx((k_eff - k) / (k + 2 * k_t), rel=0.15)
    assert result.n_calculator_calls == calc.n_calls


def test_harmonic_potential_is_not_renormalised() -> None:
    phonon, calc = _model(1.0, 0.5, 0.0)
    result = renormalised_phonons(phonon, calc, 600.0, n_samples=4, seed=0)
    np.testing.assert_allclose(result.phonon.force_constants, phonon.force_constants, atol=1e-8)
    assert r_full(phonon.force_constants, result.phonon.force_constants) < 1e-6


def test_symmetry_and_acoustic_sum_rule_of_renormalised_fcs() -> None:
    phonon, calc = _model(1.0, 0.5, 20.0)
    result = renormalised_phonons(phonon, calc, 300.0, n_samples=8, seed=5)
    fc = result.phonon.force_constants
    # acoustic sum rule: Σ_j Φ_ij = 0 for every i and both index orders
    assert np.abs(fc.sum(axis=1)).max() < 1e-8
    assert np.abs(fc.sum(axis=0)).max() < 1e-8
    # index permutation symmetry Φ_ij^{αβ} = Φ_ji^{βα}
    np.testing.assert_allclose(fc, fc.transpose(1, 0, 3, 2), atol=1e-10)
    # cubic symmetry: every onsite block is the same multiple of the identity
    onsite = fc[np.arange(len(fc)), np.arange(len(fc))]
    np.testing.assert_allclose(onsite, onsite[0][None].repeat(len(fc), 0), atol=1e-10)
    np.testing.assert_allclose(onsite[0], np.eye(3) * onsite[0, 0, 0], atol=1e-10)
    # frequencies at Γ: three zero acoustic modes
    _, freqs = commensurate_frequencies(result.phonon)
    assert np.abs(freqs[0]).max() < 1e-3


@pytest.mark.parametrize(("temperature_k", "stable"), [(600.0, True), (10.0, False)])
def test_double_well_verdict_both_ways(temperature_k: float, stable: bool) -> None:
    # negative axial stiffness + quartic term: imaginary harmonic modes (sampled with |ω|);
    # renormalisation stabilises them only when λ/2 ⟨Δ²⟩ > -k
    k, k_t, lam = -0.3, 1.0, 40.0
    phonon, calc = _model(k, k_t, lam)
    exact = _exact_fc(phonon, k, k_t, lam, temperature_k)
    k_eff = (exact[0, 0, 0, 0] - 4 * k_t) / 2
    assert bool(k_eff > 0) is stable  # closed form decides the verdict
    result = renormalised_phonons(phonon, calc, temperature_k, n_samples=40, seed=0)
    assert result.imaginary_before  # harmonic: unstable
    assert result.stable is stable
    # soft modes sample large stretches: the error over 6 seeds was 1.5-20 % of the shift
    shift = np.abs(exact - phonon.force_constants).max()
    assert np.abs(result.phonon.force_constants - exact).max() < 0.25 * shift


def test_self_consistent_iterations_are_recorded() -> None:
    phonon, calc = _model(1.0, 0.5, 20.0)
    result = renormalised_phonons(phonon, calc, 300.0, n_samples=8, iterations=3, mixing=0.5)
    assert [r.iteration for r in result.iterations] == [1, 2, 3]
    # self-consistency: the stiffer phonons sample smaller displacements than the harmonic
    assert result.iterations[-1].rms_displacement_ang < result.iterations[0].rms_displacement_ang
    # and the later corrections are smaller than the one shot
    assert result.iterations[-1].relative_fc_change < result.iterations[0].relative_fc_change


@pytest.mark.parametrize(
    "kwargs",
    [
        {"temperature_k": -1.0},
        {"n_samples": 3},
        {"iterations": 0},
        {"mixing": 0.0},
        {"estimator": "tdep"},
    ],
)
def test_bad_settings_are_rejected(kwargs: dict[str, object]) -> None:
    phonon, calc = _model(1.0, 0.5, 20.0)
    settings: dict[str, object] = {"temperature_k": 300.0} | kwargs
    with pytest.raises(InputError):
        renormalised_phonons(phonon, calc, **settings)  # type: ignore[arg-type]
