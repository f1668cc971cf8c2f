"""Autocorrelation times and standard errors against the analytic AR(1) process.

For ``x_t = φ x_{t-1} + ε_t`` (ε white, unit variance) the stationary variance is
``1 / (1 - φ²)``, ``ρ(t) = φ^t``, and, in the convention of ``thermogap.md.statistics``
(τ_int = 1/2 + Σ_{t≥1} ρ(t), in frames), ``τ_int = (1 + φ) / (2 (1 - φ))``.
The exact variance of the mean of ``N`` frames is
``σ²/N [1 + 2 Σ_{k=1}^{N-1} (1 - k/N) φ^k]``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter

from thermogap.errors import InputError
from thermogap.md.statistics import (
    autocorrelation,
    blocking_stderr,
    decorrelated_indices,
    integrated_autocorrelation_time,
    mean_and_stderr,
)


def ar1(phi: float, n_frames: int, n_replicas: int, seed: int) -> np.ndarray:
    """Stationary AR(1) series, shape=(n_replicas, n_frames)."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(n_replicas, n_frames))
    noise[:, 0] /= np.sqrt(1.0 - phi**2)  # start in the stationary distribution
    return lfilter([1.0], [1.0, -phi], noise, axis=1)


def exact_stderr_of_mean(phi: float, n_frames: int) -> float:
    k = np.arange(1, n_frames)
    factor = 1.0 + 2.0 * np.sum((1.0 - k / n_frames) * phi**k)
    return float(np.sqrt(factor / (1.0 - phi**2) / n_frames))


def test_autocorrelation_matches_direct_sum():
    x = np.random.default_rng(3).normal(size=257).cumsum()
    c = x - x.mean()
    direct = np.array([np.sum(c[: len(c) - t] * c[t:]) for t in range(len(c))])
    np.testing.assert_allclose(autocorrelation(x), direct / direct[0], atol=1e-12)


@pytest.mark.parametrize("phi", [0.5, 0.8, 0.9])
def test_tau_of_ar1(phi):
    expected = (1 + phi) / (2 * (1 - phi))
    series = ar1(phi, 20_000, 16, seed=int(phi * 100))
    estimates = np.array([integrated_autocorrelation_time(s) for s in series])
    # Sokal's window estimator: bias ~ exp(-c), relative noise ~ sqrt(2 (2M+1) / N)
    assert abs(estimates.mean() - expected) < 0.04 * expected
    assert np.all(np.abs(estimates - expected) < 0.25 * expected)


def test_tau_of_white_noise_and_columns():
    rng = np.random.default_rng(11)
    white = rng.normal(size=50_000)
    assert integrated_autocorrelation_time(white) == pytest.approx(0.5, abs=0.03)
    correlated = ar1(0.8, 50_000, 1, seed=5)[0]  # τ = 4.5
    both = np.column_stack([white, correlated])
    assert integrated_autocorrelation_time(both) == pytest.approx(
        integrated_autocorrelation_time(correlated)
    )
    assert integrated_autocorrelation_time(np.full(100, 2.0)) == 0.5


def test_stderr_against_exact_ar1_value():
    phi, n_frames = 0.8, 4000
    series = ar1(phi, n_frames, 300, seed=42)
    exact = exact_stderr_of_mean(phi, n_frames)
    # the generator itself: scatter of the replica means is the exact value (±~8 % for 300)
    assert np.std(series.mean(axis=1), ddof=1) == pytest.approx(exact, rel=0.12)

    corrected, naive, blocked = [], [], []
    for s in series:
        tau = integrated_autocorrelation_time(s)
        mean, err = mean_and_stderr(s, tau)
        assert mean == pytest.approx(s.mean())
        corrected.append(err)
        naive.append(mean_and_stderr(s)[1])
        blocked.append(blocking_stderr(s))
    assert np.mean(corrected) == pytest.approx(exact, rel=0.05)
    # ignoring correlation underestimates by sqrt(g) = sqrt((1 + φ) / (1 - φ)) = 3
    assert np.mean(naive) == pytest.approx(exact / 3.0, rel=0.05)
    # blocking on series this short stops at blocks of ~4 τ_int: low by ~15 %, never above
    assert 0.75 * exact < np.mean(blocked) < 1.02 * exact


def test_blocking_stderr_of_long_ar1_series():
    phi, n_frames = 0.8, 32_768
    series = ar1(phi, n_frames, 60, seed=7)
    exact = exact_stderr_of_mean(phi, n_frames)
    blocked = np.array([blocking_stderr(s) for s in series])
    # Flyvbjerg–Petersen plateau (Jonsson's test) is within ~7 % of the exact value here
    assert np.mean(blocked) == pytest.approx(exact, rel=0.10)
    assert np.all(np.abs(blocked / exact - 1) < 0.3)


def test_stderr_of_independent_values():
    values = np.array([1.0, 2.0, 4.0, 7.0])
    mean, err = mean_and_stderr(values)
    assert mean == 3.5
    assert err == pytest.approx(np.sqrt(np.var(values, ddof=1) / 4))
    # τ = 0.5 is "independent"; τ = 2 inflates the variance by g = 4
    assert mean_and_stderr(values, 0.5)[1] == pytest.approx(err)
    assert mean_and_stderr(values, 2.0)[1] == pytest.approx(2.0 * err)
    assert np.isnan(mean_and_stderr([3.0])[1])
    white = np.random.default_rng(0).normal(size=(200, 1024))
    assert np.mean([blocking_stderr(w) for w in white]) == pytest.approx(1 / 32, rel=0.05)


def test_decorrelated_indices():
    np.testing.assert_array_equal(decorrelated_indices(20, 2.2, skip=3), [3, 8, 13, 18])
    np.testing.assert_array_equal(decorrelated_indices(5, 0.5), [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(decorrelated_indices(10, 1.0, factor=3.0), [0, 3, 6, 9])
    # indices selected from AR(1) are nearly uncorrelated: lag-1 correlation ≈ φ^stride
    x = ar1(0.9, 40_000, 1, seed=2)[0]
    tau = integrated_autocorrelation_time(x)
    picked = x[decorrelated_indices(len(x), tau, skip=100)]
    assert abs(np.corrcoef(picked[:-1], picked[1:])[0, 1]) < 0.9 ** (2 * 9.5) + 0.06


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: integrated_autocorrelation_time([1.0]), "at least 2"),
        (lambda: integrated_autocorrelation_time([1.0, np.nan, 2.0]), "non-finite"),
        (lambda: integrated_autocorrelation_time(np.ones((2, 2, 2))), "expected"),
        (lambda: integrated_autocorrelation_time([1.0, 2.0], c=0), "c=0"),
        (lambda: decorrelated_indices(10, 1.0, skip=10), "skip=10"),
        (lambda: decorrelated_indices(10, -1.0), "tau_frames=-1.0"),
        (lambda: mean_and_stderr([], None), "at least 1"),
        (lambda: mean_and_stderr([1.0, 2.0], 0.0), "tau_frames=0.0"),
        (lambda: blocking_stderr([1.0, 2.0]), "at least 4"),
    ],
)
def test_bad_input_is_refused(call, message):
    with pytest.raises(InputError, match=message):
        call()


# --------------------------------------------------------------------------- error bars that cover


def _coverage(series: np.ndarray, true_mean: float) -> tuple[float, np.ndarray]:
    """Fraction of replicas whose mean ± stderr from mean_and_error contains the true mean."""
    from thermogap.md.statistics import mean_and_error

    hits, taus = [], []
    for s in series:
        mean, err, tau = mean_and_error(s)
        hits.append(abs(mean - true_mean) <= err)
        taus.append(tau)
    return float(np.mean(hits)), np.array(taus)


@pytest.mark.parametrize(("phi", "n_frames"), [(0.8, 2000), (0.8, 150), (0.0, 60), (0.9, 400)])
def test_one_sigma_interval_covers_the_true_mean_68_percent(phi, n_frames):
    """Many AR(1) replicas of known mean: the 1σ interval must cover it 68 ± 5 % of the time.

    Short series (150 frames at τ_int = 4.5, i.e. ~17 independent samples; 400 at τ = 9.5)
    are where an error from a noisy τ and a variance around the sample mean undercovers.
    """
    series = 3.0 + ar1(phi, n_frames, 600, seed=int(100 * phi) + n_frames)
    coverage, taus = _coverage(series, 3.0)
    assert 0.63 <= coverage <= 0.73, f"coverage {coverage:.3f}"
    expected_tau = (1 + phi) / (2 * (1 - phi))
    assert np.median(taus) == pytest.approx(expected_tau, rel=0.35)


def test_equilibration_is_detected_not_a_fixed_fraction():
    """A series that starts far from equilibrium: the transient is cut, the mean is right."""
    from thermogap.md.statistics import equilibrated_mean

    rng_series = ar1(0.5, 1000, 1, seed=9)[0]
    transient = 10.0 * np.exp(-np.arange(1000) / 30.0)  # decays over ~150 frames
    estimate = equilibrated_mean(2.0 + transient + rng_series)
    assert 60 <= estimate.n_equilibration <= 400  # pymbar's cut, not 20 % (= 200) by design
    assert abs(estimate.mean - 2.0) < 3 * estimate.stderr
    # a stationary series keeps (almost) every frame
    stationary = equilibrated_mean(2.0 + rng_series)
    assert stationary.n_equilibration < 100
    assert stationary.n_frames - stationary.n_equilibration > 900
    # the number of independent samples is N_used / g
    assert stationary.n_independent == pytest.approx(
        (stationary.n_frames - stationary.n_equilibration) / (2 * stationary.tau_frames)
    )
