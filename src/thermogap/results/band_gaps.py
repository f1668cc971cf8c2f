"""Eg(T) from MD snapshots: decorrelation, averaging and Boltzmann weighting over configurations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.constants import physical_constants

from thermogap.errors import InputError
from thermogap.md.statistics import (
    decorrelated_indices,
    integrated_autocorrelation_time,
    mean_and_stderr,
)

BOLTZMANN_EV_PER_K = physical_constants["Boltzmann constant in eV/K"][0]


@dataclass(frozen=True)
class SnapshotGaps:
    """Gaps of decorrelated snapshots of one trajectory.

    Attributes
    ----------
    gaps_ev : numpy.ndarray
        shape=(n_snapshots,), eV.
    mean_ev, stderr_ev, std_ev : float
        Mean, its standard error and the spread of the snapshot gaps, eV.
    tau_frames : float
        Integrated autocorrelation time of the gap series after equilibration, frames.
    spacing_frames : int
        Frames between snapshots.
    skip_frames : int
        Frames discarded as equilibration.
    """

    gaps_ev: np.ndarray
    mean_ev: float
    stderr_ev: float
    std_ev: float
    tau_frames: float
    spacing_frames: int
    skip_frames: int


def snapshot_gaps(
    frame_gaps_ev: np.ndarray, *, equilibration_fraction: float = 0.2, factor: float = 2.0
) -> SnapshotGaps:
    """Select decorrelated snapshots from a series of per-frame gaps and average them.

    The first ``equilibration_fraction`` of the frames is discarded; the integrated
    autocorrelation time τ of the remaining gap series sets the spacing ``ceil(factor τ)``
    of the snapshots, which are then averaged as independent samples.

    Parameters
    ----------
    frame_gaps_ev
        shape=(n_frames,), eV, in time order.
    equilibration_fraction
        Fraction of the frames discarded at the start, in [0, 1).
    factor
        Snapshot spacing in units of τ (2: the statistical inefficiency).
    """
    gaps = np.asarray(frame_gaps_ev, dtype=float)
    if gaps.ndim != 1 or len(gaps) < 4:
        raise InputError(f"need a 1-D series of at least 4 frame gaps, got shape {gaps.shape}")
    if not 0 <= equilibration_fraction < 1:
        raise InputError(f"{equilibration_fraction=} must be in [0, 1)")
    skip = int(equilibration_fraction * len(gaps))
    skip = min(skip, len(gaps) - 4)
    tau = max(integrated_autocorrelation_time(gaps[skip:]), 0.5)
    indices = decorrelated_indices(len(gaps), tau, skip=skip, factor=factor)
    chosen = gaps[indices]
    mean, stderr = mean_and_stderr(chosen)
    return SnapshotGaps(
        gaps_ev=chosen,
        mean_ev=mean,
        stderr_ev=stderr,
        std_ev=float(chosen.std(ddof=1)) if len(chosen) > 1 else 0.0,
        tau_frames=float(tau),
        spacing_frames=int(indices[1] - indices[0]) if len(indices) > 1 else len(gaps) - skip,
        skip_frames=skip,
    )


def boltzmann_weights(
    energies_ev: Sequence[float], multiplicities: Sequence[int], temperature_k: float
) -> np.ndarray:
    """Weights m_i exp(-(E_i - E_min) / k_B T), normalised; at T = 0 the lowest takes all.

    Parameters
    ----------
    energies_ev
        Energies of the configurations (same cell), eV.
    multiplicities
        Number of symmetry-equivalent copies of each configuration.
    temperature_k
        Temperature, K (>= 0).
    """
    energies = np.asarray(energies_ev, dtype=float)
    mult = np.asarray(multiplicities, dtype=float)
    if energies.shape != mult.shape or energies.size == 0:
        raise InputError(f"{len(energies)} energies and {len(mult)} multiplicities must match")
    if temperature_k < 0:
        raise InputError(f"{temperature_k=} K must be >= 0")
    relative = energies - energies.min()
    if temperature_k == 0:
        weights = np.where(relative == 0, mult, 0.0)
    else:
        weights = mult * np.exp(-relative / (BOLTZMANN_EV_PER_K * temperature_k))
    return weights / weights.sum()


def weighted_gap(
    means_ev: Sequence[float], stderrs_ev: Sequence[float], weights: np.ndarray
) -> tuple[float, float]:
    """Weighted mean gap and its standard error (independent configurations), eV."""
    means = np.asarray(means_ev, dtype=float)
    errors = np.asarray(stderrs_ev, dtype=float)
    return float(weights @ means), float(np.sqrt(weights**2 @ errors**2))
