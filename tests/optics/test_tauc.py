"""Tauc fits on synthetic spectra with a known gap, and refusals where there is none."""

from __future__ import annotations

import numpy as np
import pytest

from thermogap.optics.tauc import TaucFitError, tauc_fit

E = np.arange(0.0, 4.0, 0.005)


def _indirect(gap: float, strength: float = 3.0) -> np.ndarray:
    # ε2 ∝ (E − Eg)² / E² above the gap: (E² ε2)^½ = √strength (E − Eg)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(gap < E, strength * (E - gap) ** 2 / E**2, 0.0)


def test_recovers_a_known_gap_from_a_noisy_spectrum():
    rng = np.random.default_rng(0)
    y = np.sqrt(3.0) * np.clip(E - 1.12, 0, None) + rng.normal(0, 0.01, E.size)
    eps2 = np.where(E > 0, y**2 / np.maximum(E, 1e-9) ** 2, 0.0) * np.sign(y)
    fit = tauc_fit(E, eps2, search_range_ev=(0.5, 2.5), min_r_squared=0.98)
    assert fit.gap_ev == pytest.approx(1.12, abs=0.02)
    assert abs(fit.gap_ev - 1.12) < 4 * fit.gap_stderr_ev + 0.005
    assert 0 < fit.gap_stderr_ev < 0.02
    assert fit.window_ev[0] >= 1.12 and fit.window_ev[1] - fit.window_ev[0] >= 0.3


def test_gaussian_broadened_onset_still_gives_the_gap():
    sigma = 0.03
    kernel_e = np.arange(-0.2, 0.2 + 1e-9, 0.005)
    kernel = np.exp(-0.5 * (kernel_e / sigma) ** 2)
    eps2 = np.convolve(_indirect(1.05), kernel / kernel.sum(), mode="same")
    fit = tauc_fit(E, eps2, search_range_ev=(0.5, 2.5))
    assert fit.gap_ev == pytest.approx(1.05, abs=0.02)
    # a different gap gives a different answer (the fit follows the data)
    other = tauc_fit(
        E,
        np.convolve(_indirect(1.25), kernel / kernel.sum(), mode="same"),
        search_range_ev=(0.5, 2.5),
    )
    assert other.gap_ev - fit.gap_ev == pytest.approx(0.2, abs=0.02)


def test_refuses_spectra_without_an_onset():
    with pytest.raises(TaucFitError, match="zero everywhere"):
        tauc_fit(E, np.zeros_like(E))
    noise = np.abs(np.random.default_rng(1).normal(0, 1.0, E.size))
    with pytest.raises(TaucFitError, match="no straight Tauc window"):
        tauc_fit(E, noise, search_range_ev=(0.5, 2.5))
    # an onset that is a step (direct-allowed-like, y jumps) has no straight window either
    step = np.where(E > 1.5, 1.0, 0.0) / np.maximum(E, 1e-9) ** 2 * np.where(E > 1.5, 1, 0)
    with pytest.raises(TaucFitError):
        tauc_fit(E, step * (1 + 0.05 * np.sin(40 * E)), search_range_ev=(0.5, 2.5))
