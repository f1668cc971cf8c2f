"""Soft / imaginary modes in the training-data generator, and the variance of the schemes."""

from __future__ import annotations

import numpy as np
import pytest
from phonopy.harmonic.dynmat_to_fc import get_commensurate_points

from thermogap.errors import InputError
from thermogap.jobs.sampling import DisplacedConfigurationsMaker
from thermogap.phonons.harmonic import phonopy_atoms_to_structure
from thermogap.sampling.amplitudes import (
    mode_variances,
    soft_mode_analysis,
    thermal_amplitude_analysis,
    thermal_amplitudes,
)
from thermogap.sampling.batch import sample_displacements
from thermogap.sampling.displacements import (
    batch_rng,
    map_to_parent_sites,
    phonon_displacements,
)
from thermogap.structures import make_supercell


def test_imaginary_mode_count_matches_phonopy_mesh(ag3sbr_phonon):
    mesh = (4, 4, 4)
    soft = soft_mode_analysis(ag3sbr_phonon, 300.0, mesh=mesh, frequency_cutoff_thz=0.05)
    ag3sbr_phonon.run_mesh(mesh, is_gamma_center=True, is_mesh_symmetry=False)
    freqs = ag3sbr_phonon.get_mesh_dict()["frequencies"]
    assert soft.n_imaginary == int(np.count_nonzero(freqs < -0.05))
    assert soft.n_modes == freqs.size and soft.fraction_of_modes > 0.1
    assert 0 < soft.variance_fraction < 1


def test_many_soft_modes_stop_the_sampling_with_the_options_named(ag3sbr_phonon):
    cell = make_supercell(phonopy_atoms_to_structure(ag3sbr_phonon.primitive), (2, 2, 2))
    rng = batch_rng(0, "test")
    with pytest.raises(InputError, match=r"absolute.*floor.*md"):
        sample_displacements(cell, "gaussian", 2, rng, parents=[ag3sbr_phonon], temperature_k=300)
    batch = sample_displacements(
        cell,
        "gaussian",
        2,
        rng,
        parents=[ag3sbr_phonon],
        temperature_k=300,
        soft_mode_treatment="absolute",
    )
    assert batch.soft_mode_treatment == "absolute" and batch.n_imaginary_excluded == 0
    assert batch.soft_modes[0].n_imaginary > 0


def test_a_stable_crystal_needs_no_treatment(cu3au_phonon):
    cell = make_supercell(phonopy_atoms_to_structure(cu3au_phonon.primitive), (2, 2, 2))
    batch = sample_displacements(
        cell, "phonon", 2, batch_rng(0, "x"), parents=[cu3au_phonon], temperature_k=300
    )
    assert batch.soft_mode_treatment == "exclude" and batch.soft_modes[0].n_imaginary == 0
    # q-mesh convergence: the recorded change is the one between the two meshes
    coarse = thermal_amplitudes(cu3au_phonon, 300.0, mesh=(8, 8, 8))
    dense = thermal_amplitudes(cu3au_phonon, 300.0, mesh=batch.dense_mesh)
    assert batch.dense_mesh == (12, 12, 12)
    assert batch.amplitude_mesh_change == pytest.approx(np.max(np.abs(dense - coarse) / dense))


def test_frequency_floor_gives_the_analytic_amplitude(cu3au_phonon):
    """With every mode raised to 100 THz, ζ² = ħ coth(ħω/2kT) / (2 ω m) (completeness)."""
    floor = 100.0
    result = thermal_amplitude_analysis(
        cu3au_phonon,
        [300.0],
        mesh=(6, 6, 6),
        soft_mode_treatment="floor",
        frequency_floor_thz=floor,
    )
    masses = np.asarray(cu3au_phonon.primitive.masses)
    expected = mode_variances(np.array([floor]), np.array([300.0]))[0, 0] / masses
    n_q = 6**3
    # the three acoustic (translation) modes at Γ are left out; their mass-weighted
    # eigenvectors carry a weight m_j / M of atom j's completeness sum at that one q-point
    zeta2 = result.amplitudes_ang[0] ** 2
    missing = masses / masses.sum() / n_q
    assert zeta2.mean(axis=1) == pytest.approx(expected * (1 - missing), rel=1e-6)


def test_uniform_scheme_has_variance_zeta2_over_3_and_gaussian_is_the_default(cu3au_phonon):
    # the paper's u = ε ζ, ε ~ U[-1, 1]: <u²> = ζ²/3
    zeta = np.array([[0.1, 0.2, 0.3]])
    u = phonon_displacements(zeta, 200_000, np.random.default_rng(5))
    np.testing.assert_allclose(u.var(axis=0), zeta**2 / 3, rtol=0.02)
    # default scheme: harmonic Gaussian, <u²> = ζ² on the supercell's commensurate q-points
    assert DisplacedConfigurationsMaker().scheme == "gaussian"
    cell = make_supercell(phonopy_atoms_to_structure(cu3au_phonon.primitive), (2, 2, 2))
    batch = sample_displacements(
        cell, "gaussian", 20_000, batch_rng(1, "var"), parents=[cu3au_phonon], temperature_k=300
    )
    n_q = len(get_commensurate_points(np.diag([2, 2, 2])))
    assert n_q == 8
    zeta_sc = thermal_amplitudes(cu3au_phonon, 300.0, mesh=(2, 2, 2))
    site = map_to_parent_sites(cell, phonopy_atoms_to_structure(cu3au_phonon.primitive)).site_index
    per_atom = batch.displacements_ang.var(axis=0)
    variance = np.array([per_atom[site == j].mean(axis=0) for j in range(4)])
    np.testing.assert_allclose(variance, zeta_sc**2, rtol=0.05)


def test_md_treatment_samples_thermal_configurations_with_the_engine(cu3au_structure):
    """Short EMT MD: classical equipartition gives <u²> of the order of k_B T / (m ω²)."""
    from ase.calculators.emt import EMT

    from thermogap.sampling.molecular_dynamics import md_displacements

    cell = make_supercell(cu3au_structure, (2, 2, 2))
    u = md_displacements(
        cell, EMT(), 300.0, 4, np.random.default_rng(0), equilibration_steps=60, interval_steps=5
    )
    masses = np.array([s.specie.atomic_mass for s in cell], dtype=float)
    assert u.shape == (4, 32, 3)
    np.testing.assert_allclose(np.einsum("n,snk->sk", masses, u), 0.0, atol=1e-8)
    rms = np.sqrt(np.mean(u**2))
    assert 0.02 < rms < 0.3  # Å: thermal, neither frozen nor melted
    assert not np.allclose(u[0], u[-1])
