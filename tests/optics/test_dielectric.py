"""ε2 against an independent SI-unit evaluation and a supercell fold; KK on a Lorentz pair."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.constants as sc
from ase.build import bulk

from thermogap.errors import InputError
from thermogap.optics.dielectric import (
    EnergyGrid,
    absorption_coefficient_cm,
    epsilon2,
    kpoint_mesh,
    kramers_kronig_epsilon1,
    refractive_index,
)
from thermogap.tb import SI_VOGL, Sp3sStarModel

A = SI_VOGL.lattice_constant_ang


def test_prefactor_against_brute_force_si_units():
    # one k-point, every transition summed with an explicit Gaussian in SI units
    ham = Sp3sStarModel().hamiltonian(bulk("Si", "diamond", a=A))
    k_frac = np.array([0.1, 0.2, 0.3])
    sigma = 0.1
    grid = EnergyGrid(max_energy_ev=8.0, step_ev=0.01)
    result = epsilon2(ham, k_frac, broadening_ev=sigma, grid=grid)
    k = k_frac @ (2 * np.pi * np.linalg.inv(ham.cell_ang).T)
    energies, vectors = np.linalg.eigh(ham.h_k(k))
    dh = ham.dh_dk(k)
    velocity = np.einsum("ac,xab,bv->xcv", vectors.conj(), dh, vectors)  # eV·Å
    volume = ham.volume_ang3 * 1e-30
    probe = np.array([2.0, 3.5, 4.5])
    expected = np.zeros(len(probe))
    for v in range(4):
        for c in range(4, 10):
            delta = (energies[c] - energies[v]) * sc.e
            v2 = np.sum(np.abs(velocity[:, c, v]) ** 2) / 3 * (sc.e * 1e-10) ** 2  # (J·m)²
            gauss = np.exp(-0.5 * ((probe * sc.e - delta) / (sigma * sc.e)) ** 2) / (
                sigma * sc.e * np.sqrt(2 * np.pi)
            )
            # ε2 = 2π e² |v|² δ / (ε0 ΔE² V), spin 2 included
            expected += 2 * np.pi * sc.e**2 * v2 * gauss / (sc.epsilon_0 * delta**2 * volume)
    got = np.interp(probe, result.energies_ev, result.epsilon2)
    np.testing.assert_allclose(got, expected, rtol=3e-3, atol=1e-6)
    assert expected[1] > 1.0  # the probes sit on real transitions


def test_supercell_fold_gives_the_primitive_spectrum():
    grid = EnergyGrid(max_energy_ev=8.0, step_ev=0.01)
    cube = Sp3sStarModel().hamiltonian(bulk("Si", "diamond", a=A, cubic=True))
    prim_atoms = bulk("Si", "diamond", a=A)
    prim = Sp3sStarModel().hamiltonian(prim_atoms)
    cube_k, cube_w = kpoint_mesh((2, 2, 2), time_reversal=False)
    cube_k = cube_k + 0.13  # off-symmetry points
    cart = cube_k @ (2 * np.pi * np.linalg.inv(cube.cell_ang).T)
    shifts = 2 * np.pi / A * np.vstack([np.zeros(3), np.eye(3)])
    unfolded = (cart[:, None, :] + shifts[None]).reshape(-1, 3)
    prim_frac = unfolded @ prim_atoms.cell[:].T / (2 * np.pi)
    s_cube = epsilon2(cube, cube_k, cube_w, broadening_ev=0.05, grid=grid)
    s_prim = epsilon2(prim, prim_frac, None, broadening_ev=0.05, grid=grid)
    assert s_cube.epsilon2.max() > 10
    np.testing.assert_allclose(s_cube.epsilon2, s_prim.epsilon2, atol=1e-8 * s_cube.epsilon2.max())


def test_time_reversal_mesh_weights_and_equivalence():
    points, weights = kpoint_mesh((3, 3, 3))
    assert weights.sum() == pytest.approx(1.0)
    assert len(points) == 14  # Γ plus 26/2 pairs
    ham = Sp3sStarModel().hamiltonian(bulk("Si", "diamond", a=A))
    grid = EnergyGrid(max_energy_ev=6.0, step_ev=0.01)
    full = epsilon2(ham, *kpoint_mesh((3, 3, 3), time_reversal=False), grid=grid)
    reduced = epsilon2(ham, points, weights, grid=grid)
    np.testing.assert_allclose(reduced.epsilon2, full.epsilon2, atol=1e-9)


def test_kramers_kronig_of_a_lorentz_oscillator():
    e = np.arange(0, 60.0, 0.01)
    e0, gamma, strength = 3.0, 0.3, 10.0
    denom = (e0**2 - e**2) ** 2 + (gamma * e) ** 2
    eps2 = strength * gamma * e / denom
    eps1_exact = 1 + strength * (e0**2 - e**2) / denom
    eps1 = kramers_kronig_epsilon1(e, eps2)
    window = e < 8
    np.testing.assert_allclose(
        eps1[window], eps1_exact[window], atol=5e-3 * np.abs(eps1_exact).max()
    )
    # a wrong sign or factor must not pass
    assert not np.allclose(
        kramers_kronig_epsilon1(e, 2 * eps2)[window], eps1_exact[window], atol=0.1
    )


def test_optical_constants_round_trip_and_absorption_units():
    n_true, k_true = np.array([3.5, 4.0]), np.array([0.01, 2.0])
    eps = (n_true + 1j * k_true) ** 2
    n, kappa = refractive_index(eps.real, eps.imag)
    np.testing.assert_allclose(n, n_true)
    np.testing.assert_allclose(kappa, k_true)
    energy = np.array([1.5, 3.0])
    wavelength_cm = sc.h * sc.c / (energy * sc.e) * 100
    np.testing.assert_allclose(
        absorption_coefficient_cm(energy, kappa), 4 * np.pi * k_true / wavelength_cm, rtol=1e-8
    )


def test_bad_inputs_are_refused():
    ham = Sp3sStarModel().hamiltonian(bulk("Si", "diamond", a=A))
    with pytest.raises(InputError, match="broadening"):
        epsilon2(ham, np.zeros(3), broadening_ev=-1)
    with pytest.raises(InputError, match="too coarse"):
        epsilon2(ham, np.zeros(3), broadening_ev=0.01, grid=EnergyGrid(step_ev=0.05))
    with pytest.raises(InputError, match="mesh"):
        kpoint_mesh((0, 1, 1))
