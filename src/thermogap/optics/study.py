"""Plain functions the optics jobs wrap: snapshots at T, the averaged spectrum, Eg(T) summary."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from thermogap.errors import InputError
from thermogap.optics.dielectric import EnergyGrid, kpoint_mesh
from thermogap.optics.experiment import si_band_gap_temperature, varshni_gap_ev
from thermogap.optics.tauc import TaucFit, TaucFitError, tauc_fit
from thermogap.optics.williams_lax import OpticalSpectrum, optical_spectrum, snapshot_spectra
from thermogap.schemas.optics import OpticsSettings, SamplingSettings, TaucSettings

if TYPE_CHECKING:
    from ase import Atoms
    from ase.calculators.calculator import Calculator

__all__ = [
    "GapTrend",
    "TemperatureSpectrum",
    "draw_snapshots",
    "gap_trend",
    "spectrum_at_temperature",
]


def draw_snapshots(
    atoms: Atoms, calculator: Calculator | None, temperature_k: float, sampling: SamplingSettings
) -> np.ndarray:
    """Positions of the snapshots, shape=(n_snapshots, n_atoms, 3), Å.

    ``clamped`` (or T = 0 K with ``md``) returns the ideal positions once.
    """
    from thermogap.optics.sampling import md_snapshots, quantum_snapshots

    if sampling.method == "clamped" or (sampling.method == "md" and temperature_k == 0):
        return atoms.positions[None].copy()
    if calculator is None:
        raise InputError(f"sampling method {sampling.method!r} needs a calculator")
    if sampling.method == "quantum":
        return quantum_snapshots(
            atoms, calculator, temperature_k, sampling.n_snapshots, seed=sampling.seed
        )
    return md_snapshots(
        atoms,
        calculator,
        temperature_k,
        sampling.n_snapshots,
        interval_steps=sampling.interval_steps,
        equilibration_steps=sampling.equilibration_steps,
        timestep_fs=sampling.timestep_fs,
        friction_per_fs=sampling.friction_per_fs,
        seed=sampling.seed,
    )


@dataclass
class TemperatureSpectrum:
    """Result of :func:`spectrum_at_temperature`."""

    spectrum: OpticalSpectrum
    vbm_ev: list[float]
    cbm_ev: list[float]
    n_kpoints: int
    tauc: TaucFit | None
    tauc_error: str | None
    snapshot_gaps_ev: list[float | None]
    wall_time_s: float


def _tauc(energies: np.ndarray, eps2: np.ndarray, settings: TaucSettings) -> TaucFit:
    return tauc_fit(
        energies,
        eps2,
        search_range_ev=settings.search_range_ev,
        min_width_ev=settings.min_width_ev,
        min_r_squared=settings.min_r_squared,
    )


def spectrum_at_temperature(
    atoms: Atoms,
    positions_ang: np.ndarray,
    settings: OpticsSettings,
    tauc: TaucSettings,
) -> TemperatureSpectrum:
    """Williams–Lax averaged spectrum of the snapshots and its Tauc gap.

    Parameters
    ----------
    atoms
        The cell (species, lattice); positions are replaced by each snapshot's.
    positions_ang
        shape=(n_snapshots, n_atoms, 3), Å.
    settings, tauc
        Model/spectrum and Tauc-fit settings.
    """
    from thermogap.tb.registry import get_hamiltonian_model

    start = time.perf_counter()
    model = get_hamiltonian_model(settings.model, **settings.model_settings)
    grid = EnergyGrid(settings.max_energy_ev, settings.energy_step_ev)
    snapshots = []
    for positions in np.asarray(positions_ang):
        snap = atoms.copy()
        snap.positions = positions
        snapshots.append(snap)
    spectra = snapshot_spectra(model, snapshots, settings.kpoint_mesh, settings.broadening_ev, grid)
    energies = grid.energies_ev
    averaged = optical_spectrum(energies, [s.epsilon2 for s in spectra])
    fit: TaucFit | None = None
    error: str | None = None
    try:
        fit = _tauc(energies, averaged.epsilon2, tauc)
    except TaucFitError as exc:
        error = str(exc)
    single: list[float | None] = []
    for s in spectra if len(spectra) > 1 else []:
        try:
            single.append(_tauc(energies, s.epsilon2, tauc).gap_ev)
        except TaucFitError:
            single.append(None)
    return TemperatureSpectrum(
        spectrum=averaged,
        vbm_ev=[s.vbm_ev for s in spectra],
        cbm_ev=[s.cbm_ev for s in spectra],
        n_kpoints=len(kpoint_mesh(settings.kpoint_mesh)[0]),
        tauc=fit,
        tauc_error=error,
        snapshot_gaps_ev=single,
        wall_time_s=time.perf_counter() - start,
    )


@dataclass
class GapTrend:
    """Linear trends of Eg(T) over a temperature range and the experimental one."""

    slope_ev_per_k: float | None
    slope_stderr_ev_per_k: float | None
    band_gap_slope_ev_per_k: float | None
    experiment_slope_ev_per_k: float | None
    experiment_gap_ev: list[float] | None
    slope_range_k: tuple[float, float]
    zero_point_note: str


def _slope(
    temperatures_k: Sequence[float], gaps_ev: Sequence[float | None], t_range: tuple[float, float]
) -> tuple[float | None, float | None]:
    points = [
        (t, g)
        for t, g in zip(temperatures_k, gaps_ev, strict=True)
        if g is not None and t > 0 and t_range[0] <= t <= t_range[1]
    ]
    if len(points) < 2:
        return None, None
    coeffs, stderr = _line(np.array([p[0] for p in points]), np.array([p[1] for p in points]))
    return float(coeffs[0]), stderr


def gap_trend(
    temperatures_k: Sequence[float],
    gaps_ev: Sequence[float | None],
    formula: str,
    band_gaps_ev: Sequence[float] | None = None,
    slope_range_k: tuple[float, float] = (200.0, 400.0),
) -> GapTrend:
    """Least-squares dEg/dT within ``slope_range_k`` and, for Si, the Varshni experiment's.

    Parameters
    ----------
    temperatures_k
        Temperatures, K.
    gaps_ev
        Tauc gaps (None where refused), eV.
    formula
        Reduced formula; experiment is shipped for ``"Si"``.
    band_gaps_ev
        Snapshot-mean CBM − VBM on the mesh at each T, eV (its slope is reported too).
    slope_range_k
        Temperatures the slopes are fitted over (inclusive), K; falls back to all T > 0
        when fewer than two lie inside.
    """
    t_range = slope_range_k
    inside = [t for t in temperatures_k if t_range[0] <= t <= t_range[1]]
    if len(inside) < 2:
        t_range = (float(np.nextafter(0.0, 1.0)), float(max(temperatures_k)))
    slope, stderr = _slope(temperatures_k, gaps_ev, t_range)
    mesh_slope = _slope(temperatures_k, list(band_gaps_ev), t_range)[0] if band_gaps_ev else None
    exp_slope = exp_gap = None
    note = ""
    if formula == "Si":
        ref = si_band_gap_temperature()
        temps = np.asarray(list(temperatures_k), dtype=float)
        exp_gap = [
            float(v) for v in varshni_gap_ev(temps, ref.eg0_ev, ref.alpha_ev_per_k, ref.beta_k)
        ]
        exp_slope = _slope(list(temps), exp_gap, t_range)[0]
        note = (
            f"classical MD has no zero-point motion: the zero-point renormalisation of Si "
            f"({ref.zero_point_renormalisation_ev * 1000:.0f} meV) is missing from the MD "
            "gaps; the 'quantum' sampling includes it (but the sp3s* gap was fitted to the "
            "measured, already renormalised gap, so adding it counts it twice)"
        )
    return GapTrend(slope, stderr, mesh_slope, exp_slope, exp_gap, t_range, note)


def _line(t: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, float | None]:
    coeffs = np.polyfit(t, g, 1)
    if len(t) < 3:
        return coeffs, None
    residual = g - np.polyval(coeffs, t)
    sigma2 = float(residual @ residual) / (len(t) - 2)
    return coeffs, float(np.sqrt(sigma2 / np.sum((t - t.mean()) ** 2)))


def as_lists(spectrum: OpticalSpectrum) -> dict[str, Any]:
    """Return the spectrum's arrays as plain lists (for a document)."""
    return {
        "energies_ev": spectrum.energies_ev.tolist(),
        "epsilon2": spectrum.epsilon2.tolist(),
        "epsilon2_std": spectrum.epsilon2_std.tolist(),
        "epsilon1": spectrum.epsilon1.tolist(),
        "refractive_index": spectrum.refractive_index.tolist(),
        "extinction": spectrum.extinction.tolist(),
        "absorption_cm": spectrum.absorption_cm.tolist(),
    }
