"""Eg(T) from MD frames: equilibration, correlated averaging and Boltzmann weighting.

Every post-equilibration frame is averaged; the error uses the statistical inefficiency
``g = 2 τ_int`` of the gap series (:func:`thermogap.md.statistics.equilibrated_mean`), and the
equilibration is detected (pymbar), not a fixed fraction.  Several configurations of one
composition are combined with Boltzmann weights by :func:`combine_configurations`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.constants import physical_constants

from thermogap.errors import InputError
from thermogap.md.statistics import MIN_INDEPENDENT_SAMPLES, equilibrated_mean

BOLTZMANN_EV_PER_K = physical_constants["Boltzmann constant in eV/K"][0]


@dataclass(frozen=True)
class SnapshotGaps:
    """Gaps of the equilibrated frames of one trajectory and their correlated mean.

    Attributes
    ----------
    gaps_ev : numpy.ndarray
        shape=(n_used,), eV: every frame after equilibration.
    mean_ev, stderr_ev, std_ev : float
        Mean, its one-sigma error (correlation-corrected) and the spread of the gaps, eV.
    tau_frames : float
        Integrated autocorrelation time of the gap series after equilibration, frames.
    spacing_frames : int
        Frames between independent samples, ``ceil(g)`` (informative: no frame is dropped).
    skip_frames : int
        Frames discarded as equilibration.
    n_independent : float
        Independent samples, ``n_used / g``.
    """

    gaps_ev: np.ndarray
    mean_ev: float
    stderr_ev: float
    std_ev: float
    tau_frames: float
    spacing_frames: int
    skip_frames: int
    n_independent: float = float("nan")

    @property
    def few_independent_samples(self) -> bool:
        """Fewer than ``MIN_INDEPENDENT_SAMPLES`` (50) independent samples."""
        return bool(self.n_independent < MIN_INDEPENDENT_SAMPLES)


def snapshot_gaps(
    frame_gaps_ev: np.ndarray, *, equilibration_fraction: float | None = None
) -> SnapshotGaps:
    """Average the gaps of every equilibrated frame with a correlation-aware error.

    Parameters
    ----------
    frame_gaps_ev
        shape=(n_frames,), eV, in time order, n_frames >= 4.
    equilibration_fraction
        None (default): detect the equilibration
        (:func:`thermogap.md.statistics.detect_equilibration`); a number in [0, 1): discard
        that fraction of the frames instead (the old fixed rule, kept as an option).
    """
    gaps = np.asarray(frame_gaps_ev, dtype=float)
    if gaps.ndim != 1 or len(gaps) < 4:
        raise InputError(f"need a 1-D series of at least 4 frame gaps, got shape {gaps.shape}")
    skip: int | None = None
    if equilibration_fraction is not None:
        if not 0 <= equilibration_fraction < 1:
            raise InputError(f"{equilibration_fraction=} must be in [0, 1) or None (detect)")
        skip = min(int(equilibration_fraction * len(gaps)), len(gaps) - 4)
    estimate = equilibrated_mean(gaps, equilibration=skip)
    used = gaps[estimate.n_equilibration :]
    return SnapshotGaps(
        gaps_ev=used,
        mean_ev=estimate.mean,
        stderr_ev=estimate.stderr,
        std_ev=float(used.std(ddof=1)),
        tau_frames=estimate.tau_frames,
        spacing_frames=max(1, math.ceil(2.0 * estimate.tau_frames - 1e-9)),
        skip_frames=estimate.n_equilibration,
        n_independent=estimate.n_independent,
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


@dataclass(frozen=True)
class CombinedGap:
    """Eg(T) and ΔEg(T) of one composition combined over its configurations.

    Attributes
    ----------
    band_gap_ev : float
        ``Σ w_i ⟨Eg⟩_i(T)``, eV.
    band_gap_0k_ev : float
        ``Σ w_i Eg_i(0)`` with the same weights, eV.
    delta_gap_ev : float
        ``Σ w_i (⟨Eg⟩_i(T) − Eg_i(0))``, eV.
    stderr_ev : float
        One-sigma statistical error of ``delta_gap_ev``, eV.
    std_ev : float
        Spread of the gaps in the Boltzmann mixture, ``sqrt(Σ w_i σ_i² + Σ w_i (μ_i − μ)²)``.
    n_independent : float
        Effective independent samples, ``1 / Σ_i (w_i² / n_i)``.
    """

    band_gap_ev: float
    band_gap_0k_ev: float
    delta_gap_ev: float
    stderr_ev: float
    std_ev: float
    n_independent: float


def combine_configurations(
    means_ev: ArrayLike,
    stderrs_ev: ArrayLike,
    stds_ev: ArrayLike,
    n_independent: ArrayLike,
    gaps_0k_ev: ArrayLike,
    weights: ArrayLike,
) -> CombinedGap:
    """Boltzmann combination ``ΔEg(T) = Σ w_i (⟨Eg⟩_i(T) − Eg_i(0))`` with a mixture error.

    Each configuration's change is taken against *its own* 0 K gap.  The error is

        stderr² = Σ w_i² se_i² + B Σ_i w_i² / n_i,   B = Σ w_i (Δ_i − ΔEg)²,

    with ``Δ_i = ⟨Eg⟩_i − Eg_i(0)``: the weighted standard errors plus the
    between-configuration part ``B`` of the mixture variance of the gap changes, spread over
    the effective number of independent samples.  It is the error of a mean over frames
    drawn from the Boltzmann mixture (configuration ``i`` with probability ``w_i``), so it
    covers which configurations the ensemble visits, not only the noise within each
    (tests/results, against brute-force sampling); with exactly known weights it is
    conservative.

    Parameters
    ----------
    means_ev, stderrs_ev, stds_ev
        Per configuration: mean gap at T, its error and the spread of its frames, eV.
    n_independent
        Independent samples of each configuration's gap series (> 0).
    gaps_0k_ev
        Gap of each relaxed configuration at 0 K, eV.
    weights
        Boltzmann weights (sum 1).
    """
    arrays = [np.asarray(a, dtype=float) for a in (means_ev, stderrs_ev, stds_ev, n_independent)]
    mu, se, sd, n = arrays
    gap0 = np.asarray(gaps_0k_ev, dtype=float)
    w = np.asarray(weights, dtype=float)
    if len({len(a) for a in (*arrays, gap0, w)}) != 1 or len(w) == 0:
        raise InputError(
            f"per-configuration inputs must have one equal, non-zero length; got "
            f"{[len(a) for a in (*arrays, gap0, w)]}"
        )
    if not np.isclose(w.sum(), 1.0) or np.any(w < 0) or np.any(n <= 0):
        raise InputError(f"weights={w.tolist()} must be >= 0 and sum to 1; n_independent > 0")
    mean = float(w @ mu)
    delta = mu - gap0
    between_delta = float(w @ (delta - w @ delta) ** 2)
    stderr = math.sqrt(float(w**2 @ se**2) + between_delta * float(np.sum(w**2 / n)))
    between = float(w @ (mu - mean) ** 2)
    return CombinedGap(
        band_gap_ev=mean,
        band_gap_0k_ev=float(w @ gap0),
        delta_gap_ev=float(w @ (mu - gap0)),
        stderr_ev=stderr,
        std_ev=math.sqrt(float(w @ sd**2) + between),
        n_independent=float(1.0 / np.sum(w**2 / n)),
    )
