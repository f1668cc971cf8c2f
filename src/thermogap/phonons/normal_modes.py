r"""Finite-temperature phonons by normal-mode decomposition (NMD) of MD velocities.

The velocities of an MD supercell are projected on the 0 K (harmonic) eigenvectors at the
q-points commensurate with that supercell (seed paper, Methods eq. 2; Carreras, Togo and
Tanaka, Comput. Phys. Commun. 221, 221 (2017), the method of DynaPhoPy),

.. math:: v_{q\nu}(t) = \sum_j \sqrt{m_j / N}\, e^{-2\pi i\, q\cdot r_j^0}\,
          e^*_{\nu}(k_j; q) \cdot v_j(t),

with ``N`` unit cells, ``r_j^0`` the ideal position of atom ``j`` (fractional coordinates of
the unit cell) and ``k_j`` the unit-cell atom it is an image of. phonopy's eigenvectors carry
the phase ``exp(2πi q·r)`` of the atomic positions, which this projection inverts. The
power spectrum of each ``v_qν`` is fitted with a Lorentzian (:mod:`.lineshapes`): the peak
is the renormalised frequency ``f̃_qν(T)`` and the FWHM the linewidth ``Γ_qν(T)``.

From the renormalised frequencies the dynamical matrices
``D̃(q) = Σ_ν (2π f̃_qν)² e_qν e_qν†`` at the commensurate q are transformed back into
force constants of the MD supercell (phonopy's ``DynmatToForceConstants``), whose Fourier
interpolation gives phonon dispersions at ``T``.

Frequencies are THz (ordinary, not angular); velocities Å/fs; masses amu.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from phonopy import Phonopy

from thermogap.errors import CalculationError, InputError
from thermogap.phonons.harmonic import modes_at_qpoints
from thermogap.phonons.lineshapes import (
    THZ_PER_INV_FS,
    LorentzianFit,
    fit_lorentzian,
    power_spectra,
)

if TYPE_CHECKING:
    from pymatgen.core import Structure

__all__ = [
    "DynamicStability",
    "ModeAmplitudes",
    "NormalModeDecomposition",
    "SupercellMapping",
    "check_resolution",
    "commensurate_qpoints",
    "dynamic_stability",
    "mode_amplitudes",
    "equivalent_mode_groups",
    "map_supercell_atoms",
    "normal_mode_decomposition",
    "nyquist_frequency_thz",
    "project_displacements",
    "project_velocities",
    "renormalised_phonopy",
    "stable_modes_at_temperature",
]


@dataclass
class SupercellMapping:
    """How the atoms of an MD supercell sit on the lattice of a phonopy unit cell.

    Attributes
    ----------
    supercell_matrix : numpy.ndarray
        shape=(3, 3), int; rows are the MD cell vectors in unit-cell vectors.
    unit_index : numpy.ndarray
        shape=(n_super,), int; the unit-cell atom each MD atom is an image of.
    positions_frac : numpy.ndarray
        shape=(n_super, 3); ideal positions ``r_k + n`` in fractional coordinates of the
        unit cell.
    max_offset_ang : float
        Largest distance of an MD atom (in the structure mapped) from its ideal site, Å.
    """

    supercell_matrix: np.ndarray
    unit_index: np.ndarray
    positions_frac: np.ndarray
    max_offset_ang: float


def map_supercell_atoms(
    phonon: Phonopy, supercell: Structure, *, tolerance_ang: float = 0.5
) -> SupercellMapping:
    """Map every atom of an MD supercell onto a site of the phonopy unit cell's lattice.

    The MD cell may list its atoms in any order; it must be an integer supercell of
    ``phonon.primitive`` with the same species on the same sites (within ``tolerance_ang``).

    Parameters
    ----------
    phonon : phonopy.Phonopy
        0 K phonons; its ``primitive`` is the unit cell of the mapping.
    supercell : pymatgen.core.Structure
        The MD cell (e.g. the trajectory's starting structure).
    tolerance_ang : float
        Largest accepted distance of an atom from its ideal site, Å.

    Raises
    ------
    InputError
        If the MD cell is not an integer supercell, or an atom has no site of its species
        within ``tolerance_ang``, or two atoms fall on one site.
    """
    unit = phonon.primitive
    unit_lattice = np.asarray(unit.cell)
    md_lattice = np.asarray(supercell.lattice.matrix)
    raw = md_lattice @ np.linalg.inv(unit_lattice)
    matrix = np.rint(raw).astype(int)
    if np.abs(raw - matrix).max() > 1e-3 or round(abs(np.linalg.det(matrix))) < 1:
        raise InputError(
            f"the MD cell is not an integer supercell of the phonon unit cell: "
            f"supercell matrix {np.round(raw, 4).tolist()}"
        )
    n_cells = round(abs(np.linalg.det(matrix)))
    if len(supercell) != n_cells * len(unit):
        raise InputError(
            f"the MD cell has {len(supercell)} atoms; a {matrix.tolist()} supercell of the "
            f"{len(unit)}-atom unit cell has {n_cells * len(unit)}"
        )
    frac_unit = np.asarray(supercell.frac_coords) @ matrix
    unit_frac = np.asarray(unit.scaled_positions)
    symbols = list(unit.symbols)
    diff = frac_unit[:, None, :] - unit_frac[None, :, :]  # (n_super, n_unit, 3)
    offset = diff - np.rint(diff)
    dist = np.linalg.norm(offset @ unit_lattice, axis=-1)
    md_symbols = [site.specie.symbol for site in supercell]
    wrong_species = np.array([[s != u for u in symbols] for s in md_symbols])
    dist[wrong_species] = np.inf
    unit_index = np.argmin(dist, axis=1)
    best = dist[np.arange(len(supercell)), unit_index]
    if not np.all(best <= tolerance_ang):
        j = int(np.argmax(best))
        raise InputError(
            f"MD atom {j} ({md_symbols[j]}) is {best[j]:.3f} Å from the nearest {md_symbols[j]} "
            f"site of the unit cell; allowed: {tolerance_ang=} Å"
        )
    translations = np.rint(diff[np.arange(len(supercell)), unit_index]).astype(int)
    positions = unit_frac[unit_index] + translations
    # two atoms on one site <=> equal ideal positions modulo the MD cell
    in_md = np.mod(positions @ np.linalg.inv(matrix), 1.0)
    sites = zip(unit_index, np.round(np.mod(in_md, 1.0) % 1.0, 5), strict=True)
    keys = {(int(k), *p) for k, p in sites}
    if len(keys) != len(supercell):
        raise InputError("two MD atoms map onto the same lattice site; is the MD cell ordered?")
    return SupercellMapping(matrix, unit_index, positions, float(best.max()))


def commensurate_qpoints(supercell_matrix: np.ndarray) -> np.ndarray:
    """q-points commensurate with a supercell, shape=(det M, 3), fractional (phonopy order)."""
    from phonopy.harmonic.dynmat_to_fc import get_commensurate_points

    return np.asarray(get_commensurate_points(np.asarray(supercell_matrix, dtype=int)))


def project_velocities(
    velocities_ang_per_fs: np.ndarray,
    mapping: SupercellMapping,
    masses_amu: np.ndarray,
    qpoints: np.ndarray,
    eigenvectors: np.ndarray,
) -> np.ndarray:
    """Mode velocities ``v_qν(t)`` of MD velocities (the NMD projection).

    Parameters
    ----------
    velocities_ang_per_fs : numpy.ndarray
        shape=(n_frames, n_super, 3), Å/fs.
    mapping : SupercellMapping
    masses_amu : numpy.ndarray
        shape=(n_unit,), amu.
    qpoints : numpy.ndarray
        shape=(n_q, 3), fractional.
    eigenvectors : numpy.ndarray
        shape=(n_q, 3 n_unit, 3 n_unit), phonopy's (modes in columns).

    Returns
    -------
    numpy.ndarray
        shape=(n_frames, n_q, 3 n_unit), complex, sqrt(amu) Å/fs; the kinetic energy is
        ``0.5 * sum |v_qν|²`` amu Å²/fs².
    """
    v = np.asarray(velocities_ang_per_fs)
    v = v if np.iscomplexobj(v) else v.astype(float)
    n_frames, n_super, _ = v.shape
    n_q, n_band, _ = eigenvectors.shape
    n_cells = n_super // (n_band // 3)
    weights = np.sqrt(np.asarray(masses_amu, dtype=float)[mapping.unit_index] / n_cells)
    phases = np.exp(-2j * np.pi * qpoints @ mapping.positions_frac.T)  # (n_q, n_super)
    # e*_ν(k_j) for every supercell atom: (n_q, n_band[ν], n_super, 3)
    e = eigenvectors.reshape(n_q, len(masses_amu), 3, n_band).transpose(0, 3, 1, 2)
    e_super = np.conj(e[:, :, mapping.unit_index, :])
    projector = e_super * (phases[:, None, :, None] * weights[None, None, :, None])
    flat = projector.reshape(n_q * n_band, n_super * 3)
    return (v.reshape(n_frames, n_super * 3) @ flat.T).reshape(n_frames, n_q, n_band)


def nyquist_frequency_thz(frame_interval_fs: float) -> float:
    """Highest frequency a series sampled every ``frame_interval_fs`` resolves, THz."""
    return THZ_PER_INV_FS / (2.0 * frame_interval_fs)


#: 1 amu Å² fs⁻² in eV.
AMU_ANG2_PER_FS2_EV = 1.66053906660e-27 * 1e-20 / 1e-30 / 1.602176634e-19
#: Boltzmann constant, eV/K.
KB_EV_PER_K = 8.617333262e-5


def project_displacements(
    positions_ang: np.ndarray,
    mapping: SupercellMapping,
    unit_lattice: np.ndarray,
    md_lattice: np.ndarray,
    masses_amu: np.ndarray,
    qpoints: np.ndarray,
    eigenvectors: np.ndarray,
) -> np.ndarray:
    """Mass-weighted normal coordinates ``Q_qν(t)`` of MD positions.

    The projection of :func:`project_velocities`, applied to displacements from the ideal
    sites.  Displacements are taken by minimum image in the MD cell and the (mass-weighted) drift of
    the whole cell is removed first, so a wandering centre of mass does not leak in.

    Returns
    -------
    numpy.ndarray
        shape=(n_frames, n_q, 3 n_unit), complex, sqrt(amu) Å; the harmonic energy is
        ``0.5 Σ ω² |Q_qν|²``.
    """
    ideal = mapping.positions_frac @ np.asarray(unit_lattice)
    md = np.asarray(md_lattice)
    frac = (np.asarray(positions_ang, dtype=float) - ideal[None]) @ np.linalg.inv(md)
    u = (frac - np.rint(frac)) @ md
    m = np.asarray(masses_amu, dtype=float)[mapping.unit_index]
    drift = np.einsum("j,fjx->fx", m, u) / m.sum()
    return project_velocities(u - drift[:, None, :], mapping, masses_amu, qpoints, eigenvectors)


@dataclass
class ModeAmplitudes:
    """Time averages of the normal coordinates ``Q_qν`` of an MD run.

    Attributes
    ----------
    mean : numpy.ndarray
        shape=(n_q, n_band), complex: the order parameter ``⟨Q_qν⟩``, sqrt(amu) Å.
    mean_stderr : numpy.ndarray
        shape=(n_q, n_band): one-sigma error of ``|⟨Q⟩|`` per real component
        (correlation-corrected, :func:`thermogap.md.statistics.equilibrated_mean`), sqrt(amu) Å.
    significance : numpy.ndarray
        shape=(n_q, n_band): ``|⟨Q⟩|`` in units of its error (sqrt of Σ (component/σ)²).
    mean_square : numpy.ndarray
        shape=(n_q, n_band): ``⟨|Q|²⟩``, amu Å².
    equipartition_frequencies_thz : numpy.ndarray
        shape=(n_q, n_band): ``ω_eq / 2π = sqrt(k_B T / ⟨|Q|²⟩) / 2π``, THz.
    temperature_k : float
    """

    mean: np.ndarray
    mean_stderr: np.ndarray
    significance: np.ndarray
    mean_square: np.ndarray
    equipartition_frequencies_thz: np.ndarray
    temperature_k: float


def mode_amplitudes(mode_coordinates: np.ndarray, temperature_k: float) -> ModeAmplitudes:
    """Order parameters and equipartition frequencies of normal coordinates.

    Parameters
    ----------
    mode_coordinates : numpy.ndarray
        shape=(n_frames, n_q, n_band), complex, sqrt(amu) Å (:func:`project_displacements`),
        equilibrated frames.
    temperature_k : float
        Thermostat temperature, K (> 0).
    """
    from thermogap.md.statistics import equilibrated_mean

    if not temperature_k > 0:
        raise InputError(f"{temperature_k=} K must be positive for equipartition frequencies")
    q = np.asarray(mode_coordinates)
    _, n_q, n_band = q.shape
    mean = q.mean(axis=0)
    z2 = np.zeros((n_q, n_band))
    err2 = np.zeros((n_q, n_band))
    for iq in range(n_q):
        for band in range(n_band):
            for part in (q[:, iq, band].real, q[:, iq, band].imag):
                if np.ptp(part) <= 1e-12 * max(1.0, float(np.abs(part).max())):
                    continue  # a component fixed at zero (real modes at Γ or q = -q)
                estimate = equilibrated_mean(part, equilibration=0)
                err2[iq, band] += estimate.stderr**2
                z2[iq, band] += (estimate.mean / estimate.stderr) ** 2 if estimate.stderr else 0
    mean_square = np.mean(np.abs(q) ** 2, axis=0)
    kt = KB_EV_PER_K * temperature_k / AMU_ANG2_PER_FS2_EV  # amu Å² fs⁻²
    with np.errstate(divide="ignore"):
        omega = np.sqrt(kt / mean_square)  # rad/fs
    return ModeAmplitudes(
        mean=mean,
        mean_stderr=np.sqrt(err2),
        significance=np.sqrt(z2),
        mean_square=mean_square,
        equipartition_frequencies_thz=omega * THZ_PER_INV_FS / (2.0 * np.pi),
        temperature_k=float(temperature_k),
    )


@dataclass
class NormalModeDecomposition:
    """Renormalised frequencies and linewidths at the commensurate q-points of an MD cell.

    Attributes
    ----------
    mapping : SupercellMapping
    qpoints : numpy.ndarray
        shape=(n_q, 3), fractional.
    harmonic_frequencies_thz : numpy.ndarray
        shape=(n_q, n_band), 0 K, THz, imaginary as negative.
    eigenvectors : numpy.ndarray
        shape=(n_q, n_band, n_band), 0 K eigenvectors the velocities were projected on.
    frequencies_thz : numpy.ndarray
        shape=(n_q, n_band), Lorentzian peak positions at T, THz (0 for acoustic Γ modes).
    linewidths_thz : numpy.ndarray
        shape=(n_q, n_band), FWHM at T, THz (``nan`` for acoustic Γ modes).
    fits : list of list of LorentzianFit or None
        Indexed ``fits[q][band]``; None for acoustic Γ modes.
    acoustic : numpy.ndarray
        shape=(n_q, n_band), bool; the three translations at Γ (not fitted).
    spectrum_frequencies_thz : numpy.ndarray
        shape=(n_freq,), THz.
    spectra : numpy.ndarray
        shape=(n_q, n_band, n_freq), folded power spectra, amu Å² fs⁻² THz⁻¹.
    frame_interval_fs, resolution_thz, nyquist_thz : float
    n_frames_used : int
    amplitudes : ModeAmplitudes or None
        Order parameters and equipartition frequencies (when positions were given).
    thermostat_width_thz : float
        Linewidth the thermostat alone gives, subtracted from ``linewidths_thz`` (THz).
    """

    mapping: SupercellMapping
    qpoints: np.ndarray
    harmonic_frequencies_thz: np.ndarray
    eigenvectors: np.ndarray = field(repr=False)
    frequencies_thz: np.ndarray = field(repr=False)
    linewidths_thz: np.ndarray = field(repr=False)
    fits: list[list[LorentzianFit | None]] = field(repr=False)
    acoustic: np.ndarray = field(repr=False)
    spectrum_frequencies_thz: np.ndarray = field(repr=False)
    spectra: np.ndarray = field(repr=False)
    frame_interval_fs: float = 0.0
    resolution_thz: float = 0.0
    nyquist_thz: float = 0.0
    n_frames_used: int = 0
    amplitudes: ModeAmplitudes | None = field(default=None, repr=False)
    thermostat_width_thz: float = 0.0


def check_resolution(
    segment_frames: int, frame_interval_fs: float, min_resolution_thz: float | None
) -> float:
    """Return the resolution ``1/(segment_frames dt)`` (THz); refuse one coarser than asked.

    Raises
    ------
    InputError
        If the resolution is coarser than ``min_resolution_thz`` (e.g. the stability
        threshold: a peak below it could not be told from zero).
    """
    resolution = THZ_PER_INV_FS / (segment_frames * frame_interval_fs)
    if min_resolution_thz is not None and resolution > min_resolution_thz:
        raise InputError(
            f"the spectral resolution 1/({segment_frames} frames x {frame_interval_fs:g} fs) "
            f"= {resolution:.3g} THz is coarser than {min_resolution_thz:g} THz (the stability "
            f"threshold): a peak below the threshold could not be told from zero; use "
            f"segments of at least {THZ_PER_INV_FS / min_resolution_thz / 1000:.3g} ps "
            "(a longer MD), or skip the finite-temperature phonons"
        )
    return resolution


def normal_mode_decomposition(
    phonon: Phonopy,
    supercell: Structure,
    velocities_ang_per_fs: np.ndarray,
    frame_interval_fs: float,
    *,
    segment_frames: int | None = None,
    window: str = "hann",
    fit_window_fwhm: float = 5.0,
    map_tolerance_ang: float = 0.5,
    symmetrise: bool = True,
    degeneracy_tolerance_thz: float = 1e-3,
    positions_ang: np.ndarray | None = None,
    temperature_k: float | None = None,
    thermostat_friction_per_fs: float = 0.0,
    min_resolution_thz: float | None = None,
) -> NormalModeDecomposition:
    """Renormalised phonon frequencies and linewidths from MD velocities.

    Parameters
    ----------
    phonon : phonopy.Phonopy
        0 K phonons (with force constants) of the unit cell the MD cell is built from.
    supercell : pymatgen.core.Structure
        The MD cell, atoms in the order of the velocities (its positions only serve to
        map atoms onto lattice sites).
    velocities_ang_per_fs : numpy.ndarray
        shape=(n_frames, n_super, 3), Å/fs, equally spaced in time (equilibrated frames).
    frame_interval_fs : float
        Time between frames (MD time step × saving interval), fs.
    segment_frames : int, optional
        Frames per Welch segment; the frequency resolution is ``1/(segment_frames·dt)``.
        Default: all frames in one segment.
    window : str
        Taper of the segments (:data:`thermogap.phonons.lineshapes.WINDOWS`).
    fit_window_fwhm : float
        Half-width of the Lorentzian fitting range, in estimated FWHMs.
    map_tolerance_ang : float
        See :func:`map_supercell_atoms`.
    symmetrise : bool
        Average the fitted frequencies and linewidths over modes that are equivalent at
        0 K: degenerate bands (within ``degeneracy_tolerance_thz``) at ``q`` and at ``-q``
        (time reversal). This removes statistical noise that would otherwise break the
        symmetry of the renormalised dynamical matrices; the raw fits stay in ``fits``.
    degeneracy_tolerance_thz : float
        0 K frequencies closer than this are degenerate, THz.
    positions_ang : numpy.ndarray, optional
        shape=(n_frames, n_super, 3), Å, the frames of ``velocities_ang_per_fs``: with
        ``temperature_k`` the order parameters ``⟨Q_qν⟩`` and equipartition frequencies
        are computed (:class:`ModeAmplitudes`, :func:`dynamic_stability`).
    temperature_k : float, optional
        Thermostat temperature, K.
    thermostat_friction_per_fs : float
        Langevin friction γ of the MD, 1/fs.  A Langevin thermostat broadens every line by
        an angular FWHM γ, i.e. ``1000 γ / 2π`` THz; that width is subtracted from the
        fitted FWHM so ``linewidths_thz`` is the anharmonic linewidth (0: nothing subtracted,
        e.g. for NVE segments).
    min_resolution_thz : float, optional
        Refuse a frequency resolution coarser than this (e.g. the stability threshold).

    Raises
    ------
    InputError
        If the frames are too sparse in time: the Nyquist frequency ``1/(2 dt)`` must lie
        above the highest harmonic frequency at the commensurate q-points; or the spectral
        resolution ``1/(segment_frames dt)`` is coarser than ``min_resolution_thz``.
    """
    v = np.asarray(velocities_ang_per_fs, dtype=float)
    if v.ndim != 3 or v.shape[1:] != (len(supercell), 3):
        raise InputError(
            f"velocities of shape {v.shape} do not fit the {len(supercell)}-atom MD cell; "
            f"expected (n_frames, {len(supercell)}, 3)"
        )
    mapping = map_supercell_atoms(phonon, supercell, tolerance_ang=map_tolerance_ang)
    qpoints = commensurate_qpoints(mapping.supercell_matrix)
    harmonic, vecs = modes_at_qpoints(phonon, qpoints)
    if vecs is None:
        raise CalculationError("phonopy returned no eigenvectors")
    nyquist = nyquist_frequency_thz(frame_interval_fs)
    f_max = float(np.abs(harmonic).max())
    if f_max >= nyquist:
        largest_interval_fs = THZ_PER_INV_FS / (2.0 * f_max)
        raise InputError(
            f"frames every {frame_interval_fs:g} fs resolve frequencies up to the Nyquist "
            f"frequency {nyquist:.3g} THz, below the highest harmonic frequency "
            f"{f_max:.3g} THz; save frames more often "
            f"(save_interval_steps * timestep_fs < {largest_interval_fs:.3g} fs)"
        )
    nseg = len(v) if segment_frames is None else int(segment_frames)
    check_resolution(nseg, frame_interval_fs, min_resolution_thz)
    if thermostat_friction_per_fs < 0:
        raise InputError(f"{thermostat_friction_per_fs=} 1/fs must be >= 0")
    masses = np.asarray(phonon.primitive.masses)
    mode_v = project_velocities(v, mapping, masses, qpoints, vecs)
    n_frames, n_q, n_band = mode_v.shape
    freqs, spectra = power_spectra(
        mode_v.reshape(n_frames, n_q * n_band),
        frame_interval_fs,
        segment_frames=segment_frames,
        window=window,
    )
    spectra = spectra.T.reshape(n_q, n_band, len(freqs))
    gamma = np.all(np.abs(qpoints - np.rint(qpoints)) < 1e-8, axis=1)
    acoustic = np.zeros((n_q, n_band), dtype=bool)
    for ig in np.nonzero(gamma)[0]:
        acoustic[ig, np.argsort(np.abs(harmonic[ig]))[:3]] = True
    frequencies = np.zeros((n_q, n_band))
    linewidths = np.full((n_q, n_band), np.nan)
    fits: list[list[LorentzianFit | None]] = []
    for iq in range(n_q):
        row: list[LorentzianFit | None] = []
        for band in range(n_band):
            if acoustic[iq, band]:
                row.append(None)
                continue
            fit = fit_lorentzian(freqs, spectra[iq, band], window_fwhm=fit_window_fwhm)
            frequencies[iq, band], linewidths[iq, band] = fit.center_thz, fit.fwhm_thz
            row.append(fit)
        fits.append(row)
    thermostat_width = THZ_PER_INV_FS * thermostat_friction_per_fs / (2.0 * np.pi)
    linewidths = linewidths - thermostat_width
    if symmetrise:
        groups = equivalent_mode_groups(harmonic, qpoints, acoustic, degeneracy_tolerance_thz)
        frequencies = _group_mean(frequencies, groups)
        linewidths = _group_mean(linewidths, groups)
    amplitudes = None
    if positions_ang is not None:
        x = np.asarray(positions_ang, dtype=float)
        if temperature_k is None or x.shape != v.shape:
            raise InputError(
                f"positions of shape {x.shape} must match the velocities {v.shape} and come "
                f"with a temperature ({temperature_k=})"
            )
        coordinates = project_displacements(
            x,
            mapping,
            np.asarray(phonon.primitive.cell),
            np.asarray(supercell.lattice.matrix),
            masses,
            qpoints,
            vecs,
        )
        amplitudes = mode_amplitudes(coordinates, temperature_k)
    return NormalModeDecomposition(
        mapping=mapping,
        qpoints=qpoints,
        harmonic_frequencies_thz=harmonic,
        eigenvectors=vecs,
        frequencies_thz=frequencies,
        linewidths_thz=linewidths,
        fits=fits,
        acoustic=acoustic,
        spectrum_frequencies_thz=freqs,
        spectra=spectra,
        frame_interval_fs=float(frame_interval_fs),
        resolution_thz=float(freqs[1] - freqs[0]),
        nyquist_thz=nyquist,
        n_frames_used=n_frames,
        amplitudes=amplitudes,
        thermostat_width_thz=float(thermostat_width),
    )


def equivalent_mode_groups(
    harmonic_frequencies_thz: np.ndarray,
    qpoints: np.ndarray,
    acoustic: np.ndarray,
    tolerance_thz: float = 1e-3,
) -> list[list[tuple[int, int]]]:
    """Group the (q index, band) pairs that are equivalent at 0 K: degenerate, or at ``-q``.

    Acoustic Γ modes are left out.
    """
    n_q, n_band = harmonic_frequencies_thz.shape
    seen = np.zeros((n_q, n_band), dtype=bool)
    groups: list[list[tuple[int, int]]] = []
    for iq in range(n_q):
        diff = np.mod(qpoints + qpoints[iq] + 1e-9, 1.0) - 1e-9  # q' = -q modulo G
        minus = np.nonzero(np.all(np.abs(diff) < 1e-6, axis=1))[0]
        partners = sorted({iq, *(int(m) for m in minus)})
        for band in range(n_band):
            if seen[iq, band] or acoustic[iq, band]:
                continue
            f0 = harmonic_frequencies_thz[iq, band]
            group = [
                (jq, b)
                for jq in partners
                for b in range(n_band)
                if not acoustic[jq, b]
                and not seen[jq, b]
                and abs(harmonic_frequencies_thz[jq, b] - f0) < tolerance_thz
            ]
            for member in group:
                seen[member] = True
            groups.append(group)
    return groups


def _group_mean(values: np.ndarray, groups: list[list[tuple[int, int]]]) -> np.ndarray:
    out = values.copy()
    for group in groups:
        index = tuple(np.array(group).T)
        out[index] = np.mean(values[index])
    return out


def stable_modes_at_temperature(nmd: NormalModeDecomposition, threshold_thz: float) -> np.ndarray:
    """Which modes have a renormalised frequency of at least ``threshold_thz`` (THz).

    NMD peaks are never negative: a mode that stays unstable at T shows a spectrum piled up
    at zero frequency (the atoms drift instead of oscillating), so "unstable at T" means a
    peak below a small positive threshold, which should exceed the spectral resolution.

    Returns
    -------
    numpy.ndarray
        shape=(n_q, n_band), bool; acoustic Γ modes count as stable.
    """
    if threshold_thz < 0:
        raise InputError(f"{threshold_thz=} THz must be non-negative")
    return nmd.acoustic | (nmd.frequencies_thz >= threshold_thz)


@dataclass
class DynamicStability:
    """Per-mode verdict of dynamic stability at T (shape=(n_q, n_band) arrays, bool).

    Attributes
    ----------
    soft_at_0k : numpy.ndarray
        Imaginary (or below the threshold) in the 0 K harmonic calculation; acoustic Γ excluded.
    peak_stable : numpy.ndarray
        NMD peak at or above the threshold.
    equipartition_stable : numpy.ndarray
        ``ω_eq / 2π = sqrt(k_B T / ⟨|Q|²⟩) / 2π`` at or above the threshold.
    order_parameter_zero : numpy.ndarray
        ``⟨Q⟩`` consistent with zero (tested on soft modes only; True elsewhere).
    stable : numpy.ndarray
        All three (acoustic Γ modes count as stable).
    basis : str
        ``"order parameter + equipartition + peak"``, or ``"peak only"`` without positions.
    """

    soft_at_0k: np.ndarray
    peak_stable: np.ndarray
    equipartition_stable: np.ndarray
    order_parameter_zero: np.ndarray
    stable: np.ndarray
    basis: str

    @property
    def stabilised(self) -> np.ndarray:
        """Modes soft at 0 K that are stable at T."""
        return self.soft_at_0k & self.stable

    @property
    def dynamically_stable(self) -> bool:
        """Every mode stable at T."""
        return bool(self.stable.all())


def dynamic_stability(
    nmd: NormalModeDecomposition,
    threshold_thz: float,
    *,
    imaginary_tolerance_thz: float = 0.05,
    order_parameter_sigma: float = 4.0,
) -> DynamicStability:
    """Whether each mode is dynamically stable at T, with a verdict that can say "unstable".

    An NMD peak is never negative: a mode trapped in one minimum of a double well
    oscillates about it and gives a positive peak, although the lattice has condensed
    into a distorted structure.  So a mode counts as stable only when

    1. its time-averaged normal coordinate ``⟨Q_qν⟩`` (the order parameter of the
       distortion) is consistent with zero within ``order_parameter_sigma`` standard errors
       (correlation-corrected); tested for the modes soft at 0 K, since a stable mode's mean
       may shift by thermal expansion of internal coordinates without any instability;
    2. its equipartition frequency ``sqrt(k_B T / ⟨|Q|²⟩)`` (``⟨|Q|²⟩`` including the
       mean) is at or above ``threshold_thz`` (a condensed mode has a large ``⟨|Q|²⟩``);
    3. its NMD peak is at or above ``threshold_thz``.

    Tests 1 and 2 are made per set of equivalent modes (degenerate at 0 K, with ``-q``),
    whose basis is arbitrary: the significances add in quadrature, ``⟨|Q|²⟩`` is averaged.

    Parameters
    ----------
    nmd : NormalModeDecomposition
        With ``amplitudes`` (positions given); without, only the peak is judged.
    threshold_thz : float
        THz, >= 0.
    imaginary_tolerance_thz : float
        A 0 K frequency below ``-imaginary_tolerance_thz`` is imaginary, THz.
    order_parameter_sigma : float
        Significance (in standard errors) above which ``⟨Q⟩`` is non-zero.
    """
    if threshold_thz < 0 or order_parameter_sigma <= 0:
        raise InputError(f"{threshold_thz=} must be >= 0 and {order_parameter_sigma=} > 0")
    acoustic = nmd.acoustic
    soft = ~acoustic & (nmd.harmonic_frequencies_thz < max(threshold_thz, 0.0))
    soft |= ~acoustic & (nmd.harmonic_frequencies_thz < -imaginary_tolerance_thz)
    peak = acoustic | (nmd.frequencies_thz >= threshold_thz)
    amplitudes = nmd.amplitudes
    if amplitudes is None:
        true = np.ones_like(acoustic)
        return DynamicStability(soft, peak, true, true, peak, "peak only")
    # the basis inside a degenerate set is arbitrary: judge each set (and ±q) as a whole
    significance = amplitudes.significance.copy()
    f_eq = amplitudes.equipartition_frequencies_thz.copy()
    for group in equivalent_mode_groups(nmd.harmonic_frequencies_thz, nmd.qpoints, acoustic):
        index = tuple(np.array(group).T)
        significance[index] = np.sqrt(np.sum(amplitudes.significance[index] ** 2))
        with np.errstate(divide="ignore"):
            f_eq[index] = 1.0 / np.sqrt(np.mean(1.0 / f_eq[index] ** 2))
    equipartition = acoustic | (f_eq >= threshold_thz)
    zero = ~soft | (significance <= order_parameter_sigma)
    return DynamicStability(
        soft_at_0k=soft,
        peak_stable=peak,
        equipartition_stable=equipartition,
        order_parameter_zero=zero,
        stable=peak & equipartition & zero,
        basis="order parameter + equipartition + peak",
    )


def renormalised_phonopy(phonon: Phonopy, nmd: NormalModeDecomposition) -> Phonopy:
    """Phonopy object whose force constants reproduce the renormalised frequencies.

    The force constants live in the MD supercell; at its commensurate q-points the new
    object has the 0 K eigenvectors and the frequencies ``nmd.frequencies_thz``; elsewhere
    they are Fourier-interpolated (phonopy's ``DynmatToForceConstants``).

    Returns
    -------
    phonopy.Phonopy
        Unit cell and masses of ``phonon``, supercell ``nmd.mapping.supercell_matrix``.
    """
    from phonopy.harmonic.dynmat_to_fc import DynmatToForceConstants

    renormalised = Phonopy(
        phonon.unitcell, supercell_matrix=nmd.mapping.supercell_matrix, primitive_matrix="P"
    )
    renormalised.masses = np.asarray(phonon.primitive.masses)
    d2f = DynmatToForceConstants(renormalised.primitive, renormalised.supercell)
    if not np.allclose(d2f.commensurate_points, nmd.qpoints, atol=1e-8):
        raise CalculationError("phonopy's commensurate q-points differ from those of the NMD")
    factor = float(renormalised.unit_conversion_factor)
    eigenvalues = (nmd.frequencies_thz / factor) ** 2
    with contextlib.redirect_stdout(io.StringIO()):
        d2f.create_dynamical_matrices(eigenvalues=eigenvalues, eigenvectors=nmd.eigenvectors)
        d2f.run()
    renormalised.force_constants = d2f.force_constants
    return renormalised
