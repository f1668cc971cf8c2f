"""Displacement schemes: sampled statistics against amplitudes, phonopy and brute force."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from pymatgen.core import Structure

from thermogap.errors import InputError
from thermogap.phonons.harmonic import phonopy_atoms_to_structure
from thermogap.sampling.amplitudes import mode_variances, thermal_amplitudes, thermal_mode_basis
from thermogap.sampling.batch import sample_displacements
from thermogap.sampling.displacements import (
    batch_rng,
    displaced_structure_dicts,
    map_to_parent_sites,
    mixed_site_amplitudes,
    phonon_displacements,
    random_displacements,
)
from thermogap.structures import antiperovskite, make_supercell, solid_solution_supercell

EV_PER_ANG2_AMU = 1.602176634e-19 / 1e-20 / 1.66053906660e-27


def shuffled(structure: Structure, seed: int = 3) -> tuple[Structure, np.ndarray]:
    order = np.random.default_rng(seed).permutation(len(structure))
    return Structure.from_sites([structure[i] for i in order]), order


def test_map_to_parent_sites_on_a_shuffled_scaled_disordered_supercell():
    parent = antiperovskite(4.9)
    ordered = solid_solution_supercell(
        parent, site="Br", species=("Br", "I"), x=0.5, lattice_parameters={"Br": 4.9, "I": 5.1}
    )
    supercell, order = shuffled(ordered)
    site_map = map_to_parent_sites(supercell, parent)
    # make_supercell keeps the parent order with 8 images per site: site = index // 8
    np.testing.assert_array_equal(site_map.site_index, order // 8)
    np.testing.assert_array_equal(site_map.supercell_matrix, 2 * np.eye(3))
    ideal = make_supercell(parent, (2, 2, 2))
    expected_frac = (ideal.frac_coords @ (2 * np.eye(3)))[order]
    np.testing.assert_allclose(
        np.mod(site_map.frac_positions - expected_frac + 0.5, 1) - 0.5, 0, atol=1e-9
    )
    np.testing.assert_allclose(
        site_map.frac_positions,
        parent.frac_coords[site_map.site_index]
        + np.rint(site_map.frac_positions - parent.frac_coords[site_map.site_index]),
    )


def test_map_to_parent_sites_rejects_displaced_or_foreign_cells():
    parent = antiperovskite(4.9)
    supercell = make_supercell(parent, (2, 2, 2))
    supercell.translate_sites([5], [0.1, 0, 0], frac_coords=False)
    with pytest.raises(InputError, match="from the nearest parent site"):
        map_to_parent_sites(supercell, parent, tolerance_ang=0.05)
    with pytest.raises(InputError, match="integer multiple"):
        map_to_parent_sites(make_supercell(antiperovskite(7.0), (1, 1, 1)), parent)


def test_uniform_phonon_scheme_has_variance_zeta_squared_over_three(cu3au_phonon):
    parent = phonopy_atoms_to_structure(cu3au_phonon.unitcell)
    supercell = make_supercell(parent, (2, 2, 2))
    zeta_unit = thermal_amplitudes(cu3au_phonon, 300.0, mesh=(4, 4, 4))
    zeta = mixed_site_amplitudes(supercell, [(parent, zeta_unit)])
    u = phonon_displacements(zeta, 20000, batch_rng(1, "test"))
    assert u.shape == (20000, 32, 3)
    assert np.all(np.abs(u) <= zeta[None])
    np.testing.assert_allclose(u.var(axis=0), zeta**2 / 3, rtol=0.05)
    np.testing.assert_allclose(u.mean(axis=0), 0, atol=4 * zeta.max() / np.sqrt(3 * 20000))


def test_random_scheme_is_uniform_in_minus_a_to_a():
    u = random_displacements(40, 0.3, 20000, batch_rng(2))
    assert u.shape == (20000, 40, 3) and np.abs(u).max() <= 0.3
    np.testing.assert_allclose(u.var(axis=0), 0.3**2 / 3, rtol=0.06)


def _brute_force_covariance(phonon, temperature, cutoff=0.05):
    """Covariance of the supercell by diagonalising its whole dynamical matrix (Å²)."""
    fc = phonon.force_constants
    m = np.repeat(np.array(phonon.supercell.masses), 3)
    n = len(m)
    dyn = fc.transpose(0, 2, 1, 3).reshape(n, n) / np.sqrt(np.outer(m, m))
    w2, vecs = np.linalg.eigh(dyn)
    freqs = np.sign(w2) * np.sqrt(np.abs(w2) * EV_PER_ANG2_AMU) / (2 * np.pi * 1e12)
    included = freqs > cutoff
    var = mode_variances(np.where(included, freqs, 1.0), [temperature])[0] * included
    return (vecs * var) @ vecs.T / np.sqrt(np.outer(m, m))


def test_gaussian_covariance_equals_brute_force_supercell_covariance(cu3au_phonon):
    parent = phonopy_atoms_to_structure(cu3au_phonon.unitcell)
    supercell = phonopy_atoms_to_structure(cu3au_phonon.supercell)  # phonopy's atom order
    site_map = map_to_parent_sites(supercell, parent)
    basis, n_imag, n_zero = thermal_mode_basis(
        cu3au_phonon, 300.0, site_map.supercell_matrix, site_map.site_index, site_map.frac_positions
    )
    np.testing.assert_allclose(
        basis @ basis.T, _brute_force_covariance(cu3au_phonon, 300.0), atol=1e-8
    )
    assert (n_imag, n_zero) == (0, 3)


def test_gaussian_samples_match_phonopy_thermal_displacement_matrices(cu3au_phonon):
    parent = phonopy_atoms_to_structure(cu3au_phonon.unitcell)
    supercell, _order = shuffled(make_supercell(parent, (2, 2, 2)))
    n = 20000
    batch = sample_displacements(
        supercell, "gaussian", n, batch_rng(5), parents=[cu3au_phonon], temperature_k=300.0
    )
    u = batch.displacements_ang
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cu3au_phonon.run_mesh(
            (2, 2, 2), is_mesh_symmetry=False, with_eigenvectors=True, is_gamma_center=True
        )
        tdm = cu3au_phonon.run_thermal_displacement_matrices(temperatures=[300.0], freq_min=0.05)
    reference = np.asarray(tdm.thermal_displacement_matrices)[0]  # (unit atoms, 3, 3), Å²
    site = map_to_parent_sites(supercell, parent).site_index
    for atom in range(len(supercell)):
        sample = np.cov(u[:, atom, :].T)
        np.testing.assert_allclose(
            sample, reference[site[atom]], atol=0.06 * reference[site[atom]].max()
        )
    # full-supercell check: the sampled covariance follows the brute-force one
    ordered = phonopy_atoms_to_structure(cu3au_phonon.supercell)
    index = [
        int(
            np.argmin(
                np.linalg.norm(np.mod(ordered.frac_coords - s.frac_coords + 0.5, 1) - 0.5, axis=1)
            )
        )
        for s in supercell
    ]
    perm = (3 * np.array(index)[:, None] + np.arange(3)).ravel()
    brute = _brute_force_covariance(cu3au_phonon, 300.0)[np.ix_(perm, perm)]
    sample = np.cov(u.reshape(n, -1).T)
    assert np.abs(sample - brute).max() < 0.08 * np.abs(brute).max()


def test_mixed_site_amplitudes_follow_the_species_rules():
    br = antiperovskite(4.9, x="Br")
    i = antiperovskite(4.9, x="I")
    zeta_br = np.array([[0.1] * 3] * 3 + [[0.2] * 3, [0.3] * 3])
    zeta_i = np.array([[0.5] * 3] * 3 + [[0.6] * 3, [0.7] * 3])
    cell = solid_solution_supercell(br, site="Br", species=("Br", "I"), x=0.25)  # 2 Br, 6 I
    zeta = mixed_site_amplitudes(cell, [(br, zeta_br), (i, zeta_i)])
    symbols = np.array([s.specie.symbol for s in cell])
    np.testing.assert_allclose(zeta[symbols == "Br"], 0.3)
    np.testing.assert_allclose(zeta[symbols == "I"], 0.7)
    np.testing.assert_allclose(zeta[symbols == "Ag"], np.sqrt(0.25 * 0.1**2 + 0.75 * 0.5**2))
    np.testing.assert_allclose(zeta[symbols == "S"], np.sqrt(0.25 * 0.2**2 + 0.75 * 0.6**2))
    single = mixed_site_amplitudes(cell, [(br, zeta_br)])
    np.testing.assert_allclose(single[symbols == "I"], 0.3)  # one parent: its site's amplitude


def test_displaced_structure_dicts_equal_pymatgen_structures():
    supercell = solid_solution_supercell(antiperovskite(4.9), site="Br", species=("Br", "I"), x=0.5)
    disp = random_displacements(len(supercell), 0.2, 3, batch_rng(0))
    for d, u in zip(displaced_structure_dicts(supercell, disp), disp, strict=True):
        rebuilt = Structure.from_dict(d)
        expected = Structure(
            supercell.lattice,
            supercell.species,
            supercell.cart_coords + u,
            coords_are_cartesian=True,
        )
        np.testing.assert_allclose(rebuilt.cart_coords, expected.cart_coords, atol=1e-10)
        assert [s.symbol for s in rebuilt.species] == [s.symbol for s in expected.species]
        np.testing.assert_allclose(rebuilt.lattice.matrix, expected.lattice.matrix)


def test_batch_rng_is_reproducible_and_separates_streams():
    a = batch_rng(7, "phonon", 300.0).random(5)
    np.testing.assert_array_equal(a, batch_rng(7, "phonon", 300.0).random(5))
    assert not np.allclose(a, batch_rng(7, "phonon", 600.0).random(5))
    assert not np.allclose(a, batch_rng(8, "phonon", 300.0).random(5))
    with pytest.raises(InputError, match="seed"):
        batch_rng(-1)


def test_equilibrium_scheme_and_input_errors(cu3au_phonon):
    supercell = make_supercell(phonopy_atoms_to_structure(cu3au_phonon.unitcell), (2, 2, 2))
    rng = batch_rng(0)
    assert not sample_displacements(supercell, "equilibrium", 3, rng).displacements_ang.any()
    with pytest.raises(InputError, match="allowed: phonon, gaussian, random, equilibrium"):
        sample_displacements(supercell, "md", 3, rng)
    with pytest.raises(InputError, match="amplitude_ang"):
        sample_displacements(supercell, "random", 3, rng)
    with pytest.raises(InputError, match="temperature_k"):
        sample_displacements(supercell, "phonon", 3, rng, parents=[cu3au_phonon])
    with pytest.raises(InputError, match="parent phonon"):
        sample_displacements(supercell, "gaussian", 3, rng, temperature_k=300.0)
    with pytest.raises(InputError, match="amplitude_ang"):
        random_displacements(4, -0.1, 3, rng)
