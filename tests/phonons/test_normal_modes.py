"""Normal-mode decomposition against analytic line shapes, phonopy and harmonic MD."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from ase import units
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
from harmonic_md import (
    AMU_ANG2_PER_FS2_EV,
    KB_EV_PER_K,
    as_structure,
    harmonic_calculator,
    supercell_atoms,
)

from thermogap.errors import InputError
from thermogap.phonons.analysis import band_structure
from thermogap.phonons.lineshapes import fit_lorentzian, folded_lorentzian, power_spectra
from thermogap.phonons.normal_modes import (
    commensurate_qpoints,
    equivalent_mode_groups,
    map_supercell_atoms,
    normal_mode_decomposition,
    project_velocities,
    renormalised_phonopy,
    stable_modes_at_temperature,
)
from thermogap.phonons.plots import dispersion_png, path_ticks

torch.set_num_threads(2)

FRICTION_PER_FS = 2e-3
TIMESTEP_FS, INTERVAL = 4.0, 2
TEMPERATURE_K = 300.0


# --------------------------------------------------------------------------- line shapes


def _damped_oscillators(f0_thz, fwhm_thz, n_frames, dt_fs, n_series, rng):
    """Complex Ornstein–Uhlenbeck rotators: exact Lorentzian spectrum, <|z|²> = 1."""
    gamma = 2 * np.pi * fwhm_thz / 1000.0  # angular FWHM, rad/fs
    a = np.exp((-2j * np.pi * f0_thz / 1000.0 - gamma / 2) * dt_fs)
    sigma = np.sqrt((1 - abs(a) ** 2) / 2)
    z = np.empty((n_frames, n_series), complex)
    z[0] = (rng.normal(size=n_series) + 1j * rng.normal(size=n_series)) / np.sqrt(2)
    kicks = sigma * (rng.normal(size=z.shape) + 1j * rng.normal(size=z.shape))
    for i in range(1, n_frames):
        z[i] = a * z[i - 1] + kicks[i]
    return z


def test_power_spectrum_obeys_parseval():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(256, 4)) + 1j * rng.normal(size=(256, 4))
    freqs, spectra = power_spectra(x, 2.0, window="boxcar")
    df = freqs[1] - freqs[0]
    assert df == pytest.approx(1000.0 / (256 * 2.0))  # THz
    np.testing.assert_allclose(spectra.sum(axis=0) * df, np.mean(np.abs(x) ** 2, axis=0))
    # a pure tone lands in its bin, on the folded (positive) side
    tone = np.exp(-2j * np.pi * 5 * df * 2.0 / 1000.0 * np.arange(256))[:, None]
    _, single = power_spectra(tone, 2.0, window="boxcar")
    assert int(np.argmax(single[:, 0])) == 5


@pytest.mark.parametrize(("center", "fwhm"), [(2.0, 0.3), (0.1, 0.6)])
def test_fit_recovers_noise_free_lorentzian(center, fwhm):
    f = np.linspace(0, 20, 400)
    fit = fit_lorentzian(f, folded_lorentzian(f, center, fwhm, 1.5, 0.01))
    assert fit.converged
    assert (fit.center_thz, fit.fwhm_thz, fit.area) == pytest.approx((center, fwhm, 1.5), rel=1e-5)


def test_fit_recovers_damped_oscillators():
    """Two oscillators per series; the fit finds the stronger one's frequency and damping."""
    rng = np.random.default_rng(0)
    dt, n = 8.0, 6000
    strong = _damped_oscillators(3.0, 0.32, n, dt, 40, rng)
    weak = 0.3 * _damped_oscillators(7.0, 0.2, n, dt, 40, rng)
    freqs, spectra = power_spectra(strong + weak, dt, segment_frames=1500)
    fits = [fit_lorentzian(freqs, spectra[:, i]) for i in range(40)]
    centers = np.array([f.center_thz for f in fits])
    widths = np.array([f.fwhm_thz for f in fits])
    areas = np.array([f.area for f in fits])
    assert abs(centers.mean() - 3.0) < 0.02
    assert np.median(widths) == pytest.approx(0.32, rel=0.12)  # Hann window adds ~5 %
    assert areas.mean() == pytest.approx(1.0, rel=0.1)


def test_unknown_window_is_refused():
    with pytest.raises(InputError, match="allowed"):
        power_spectra(np.zeros((32, 1)), 1.0, window="kaiser")


# --------------------------------------------------------------------------- projection


def test_projection_isolates_one_mode_in_any_atom_order(cu3au_phonon, cu3au_structure):
    """A 3x3x3 MD cell (complex q = ±1/3), atoms shuffled: one wave -> one mode."""
    rng = np.random.default_rng(1)
    md_cell = cu3au_structure * (3, 3, 3)
    md_cell = md_cell.from_sites([md_cell[i] for i in rng.permutation(len(md_cell))])
    mapping = map_supercell_atoms(cu3au_phonon, md_cell)
    np.testing.assert_array_equal(mapping.supercell_matrix, 3 * np.eye(3, dtype=int))
    q = commensurate_qpoints(mapping.supercell_matrix)
    result = cu3au_phonon.run_qpoints(q, with_eigenvectors=True)
    vecs = np.asarray(result.eigenvectors)
    masses = np.asarray(cu3au_phonon.primitive.masses)

    # a travelling wave of one mode: u_j ∝ e_k(q) exp(2πi q·r_j) / sqrt(m_k)
    iq = int(np.nonzero(np.all(np.isclose(q, [1 / 3, 0, 0]), axis=1))[0][0])
    band = 7
    frac = md_cell.frac_coords @ (3 * np.eye(3))  # unit-cell coordinates
    k = mapping.unit_index
    e = vecs[iq][:, band].reshape(len(masses), 3)
    wave = e[k] * np.exp(2j * np.pi * frac @ q[iq])[:, None] / np.sqrt(masses[k])[:, None]
    projected = project_velocities(wave[None], mapping, masses, q, vecs)[0]
    expected = np.zeros_like(projected)
    expected[iq, band] = np.sqrt(27)  # sqrt(N cells)
    np.testing.assert_allclose(projected, expected, atol=1e-10)

    # equivalent modes for the averaging: degenerate at 0 K and paired with -q
    groups = equivalent_mode_groups(result.frequencies, q, np.zeros((27, 12), bool))
    assert sum(len(g) for g in groups) == 27 * 12
    for group in groups:
        members = np.array(group)
        freqs = result.frequencies[members[:, 0], members[:, 1]]
        assert np.ptp(freqs) < 1e-3
        qs = q[members[:, 0]]
        for point in qs:  # -q is in the group too
            assert np.any(np.all(np.isclose(np.mod(qs + point, 1.0) % 1.0, 0.0), axis=1))

    # the projection is unitary in mass-weighted coordinates: kinetic energy is conserved
    v = rng.normal(size=(5, len(md_cell), 3))
    modes = project_velocities(v, mapping, masses, q, vecs)
    site_masses = np.array([site.specie.atomic_mass for site in md_cell], dtype=float)
    kinetic = 0.5 * np.einsum("j,fjx->f", site_masses, v**2)
    np.testing.assert_allclose(0.5 * np.sum(np.abs(modes) ** 2, axis=(1, 2)), kinetic, rtol=1e-6)


def test_mapping_refuses_foreign_cells(cu3au_phonon):
    atoms = supercell_atoms(cu3au_phonon)
    stretched = as_structure(atoms)
    stretched.scale_lattice(stretched.volume * 1.1)
    with pytest.raises(InputError, match="integer supercell"):
        map_supercell_atoms(cu3au_phonon, stretched)
    swapped = as_structure(atoms)
    swapped.replace(0, "Ag")
    with pytest.raises(InputError, match="nearest Ag"):
        map_supercell_atoms(cu3au_phonon, swapped)


def test_sparse_frames_are_refused_with_the_nyquist_frequency(cu3au_phonon):
    atoms = supercell_atoms(cu3au_phonon)
    v = np.zeros((64, len(atoms), 3))
    with pytest.raises(InputError, match="Nyquist frequency 5 THz"):
        normal_mode_decomposition(cu3au_phonon, as_structure(atoms), v, 100.0)


def test_renormalised_force_constants_invert_the_frequencies(cu3au_phonon):
    """Harmonic frequencies give back phonopy's FCs; frequencies × s give FCs × s²."""
    atoms = supercell_atoms(cu3au_phonon)
    rng = np.random.default_rng(0)
    v = rng.normal(size=(64, len(atoms), 3)) * 1e-3
    nmd = normal_mode_decomposition(cu3au_phonon, as_structure(atoms), v, 5.0)
    exact = np.where(nmd.acoustic, 0.0, nmd.harmonic_frequencies_thz)
    same = renormalised_phonopy(cu3au_phonon, dataclasses.replace(nmd, frequencies_thz=exact))
    np.testing.assert_allclose(same.force_constants, cu3au_phonon.force_constants, atol=1e-10)
    stiffer = renormalised_phonopy(
        cu3au_phonon, dataclasses.replace(nmd, frequencies_thz=1.1 * exact)
    )
    np.testing.assert_allclose(
        stiffer.force_constants, 1.21 * cu3au_phonon.force_constants, atol=1e-9
    )


# --------------------------------------------------------------------------- harmonic MD


@pytest.fixture(scope="module")
def harmonic_md(cu3au_phonon):
    """60 ps of ASE Langevin MD of the harmonic Cu3Au crystal (EMT force constants)."""
    rng = np.random.default_rng(5)
    order = rng.permutation(len(cu3au_phonon.supercell))  # MD atoms in another order
    atoms = supercell_atoms(cu3au_phonon, order)
    atoms.calc = harmonic_calculator(cu3au_phonon, cu3au_phonon.force_constants, order)
    MaxwellBoltzmannDistribution(atoms, temperature_K=TEMPERATURE_K, rng=rng)
    dynamics = Langevin(
        atoms,
        timestep=TIMESTEP_FS * units.fs,
        temperature_K=TEMPERATURE_K,
        friction=FRICTION_PER_FS / units.fs,
        fixcm=False,
        rng=rng,
    )
    frames = []
    for _ in range(7500):
        dynamics.run(INTERVAL)
        frames.append(atoms.get_velocities() * units.fs)
    start = as_structure(supercell_atoms(cu3au_phonon, order))
    return start, np.asarray(frames[250:])  # 2 ps equilibration dropped


def test_nmd_of_harmonic_md_recovers_phonopy_frequencies_and_langevin_width(
    cu3au_phonon, harmonic_md
):
    structure, velocities = harmonic_md
    segment = round(12_000 / (TIMESTEP_FS * INTERVAL))  # 12 ps: 0.083 THz bins
    nmd = normal_mode_decomposition(
        cu3au_phonon, structure, velocities, TIMESTEP_FS * INTERVAL, segment_frames=segment
    )
    optical = ~nmd.acoustic
    assert optical.sum() == 8 * 12 - 3
    # peaks at phonopy's harmonic frequencies within the spectral resolution
    error = (nmd.frequencies_thz - nmd.harmonic_frequencies_thz)[optical]
    assert np.abs(error).max() < 2 * nmd.resolution_thz
    assert np.abs(error).mean() < 0.6 * nmd.resolution_thz
    assert abs(error.mean()) < 0.2 * nmd.resolution_thz  # no systematic shift
    # Langevin friction γ (1/fs) gives an angular FWHM γ, i.e. 1000 γ / 2π THz
    expected_fwhm = 1000 * FRICTION_PER_FS / (2 * np.pi)
    assert np.median(nmd.linewidths_thz[optical]) == pytest.approx(expected_fwhm, rel=0.15)
    # equipartition: every mode carries <|v_qν|²> = k_B T
    areas = np.array([f.area for row in nmd.fits for f in row if f is not None])
    kt = KB_EV_PER_K * TEMPERATURE_K / AMU_ANG2_PER_FS2_EV
    assert np.median(areas) == pytest.approx(kt, rel=0.15)

    # stability: all stable at a small threshold; at 2 THz exactly the modes phonopy puts
    # below 2 THz are flagged
    assert stable_modes_at_temperature(nmd, 0.2).all()
    flagged = ~stable_modes_at_temperature(nmd, 2.0)
    np.testing.assert_array_equal(flagged, optical & (nmd.harmonic_frequencies_thz < 2.0))

    # the renormalised dispersion follows the harmonic one along the whole path
    renormalised = renormalised_phonopy(cu3au_phonon, nmd)
    bands_t = band_structure(renormalised, npoints=11)
    bands_0 = band_structure(cu3au_phonon, npoints=11)
    assert np.abs(bands_t.frequencies_thz - bands_0.frequencies_thz).max() < 0.3

    png = dispersion_png(bands_0, bands_t, temperature_k=TEMPERATURE_K, title="Cu3Au")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    positions, names = path_ticks(bands_0)
    assert positions[0] == bands_0.distances[0] and positions[-1] == bands_0.distances[-1]
    assert len(positions) == len(names) and "Γ" in names
    assert all(np.isclose(bands_0.distances, p).any() for p in positions)


# --------------------------------------------------------------------------- issue 10, point 4


def test_harmonic_linewidths_are_zero_once_the_thermostat_width_is_subtracted(
    cu3au_phonon, harmonic_md
):
    """A harmonic crystal has no anharmonic damping: the only width is Langevin's γ/2π."""
    structure, velocities = harmonic_md
    segment = round(12_000 / (TIMESTEP_FS * INTERVAL))
    nmd = normal_mode_decomposition(
        cu3au_phonon,
        structure,
        velocities,
        TIMESTEP_FS * INTERVAL,
        segment_frames=segment,
        thermostat_friction_per_fs=FRICTION_PER_FS,
        min_resolution_thz=0.2,
    )
    optical = ~nmd.acoustic
    assert nmd.thermostat_width_thz == pytest.approx(1000 * FRICTION_PER_FS / (2 * np.pi))
    widths = nmd.linewidths_thz[optical]
    # compatible with zero: well inside the frequency resolution and the thermostat width
    assert abs(np.median(widths)) < 0.5 * nmd.resolution_thz
    # the symmetrised widths: one value per set of equivalent modes, independent noise
    groups = np.unique(np.round(widths, 12))
    stderr = np.std(groups, ddof=1) / np.sqrt(len(groups))
    assert abs(np.mean(groups)) < 3 * stderr  # compatible with zero ...
    assert nmd.thermostat_width_thz > 10 * stderr  # ... unlike the raw Lorentzian width


def test_spectral_resolution_coarser_than_the_threshold_is_refused(cu3au_phonon):
    atoms = supercell_atoms(cu3au_phonon)
    v = np.random.default_rng(0).normal(size=(200, len(atoms), 3)) * 1e-3
    # 200 frames x 5 fs = 1 ps: 1 THz bins, coarser than a 0.2 THz stability threshold
    with pytest.raises(InputError, match=r"resolution .* = 1 THz is coarser than 0.2 THz"):
        normal_mode_decomposition(cu3au_phonon, as_structure(atoms), v, 5.0, min_resolution_thz=0.2)
    nmd = normal_mode_decomposition(
        cu3au_phonon, as_structure(atoms), v, 5.0, min_resolution_thz=1.0
    )
    assert nmd.resolution_thz == pytest.approx(1.0)
