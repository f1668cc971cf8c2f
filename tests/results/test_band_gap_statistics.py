import math

import numpy as np
import pytest
from scipy.signal import lfilter

from thermogap.errors import InputError
from thermogap.results.band_gaps import (
    BOLTZMANN_EV_PER_K,
    boltzmann_weights,
    snapshot_gaps,
    weighted_gap,
)


def test_boltzmann_weights_by_hand():
    energies, mult = [0.0, 0.05, 0.1], [1, 4, 2]
    t = 300.0
    raw = [m * math.exp(-e / (8.617333262e-5 * t)) for e, m in zip(energies, mult, strict=True)]
    expected = np.array(raw) / sum(raw)
    np.testing.assert_allclose(boltzmann_weights(energies, mult, t), expected, rtol=1e-6)
    assert pytest.approx(8.617333262e-5) == BOLTZMANN_EV_PER_K


def test_boltzmann_limits():
    # T = 0: only the lowest configuration; very high T: proportional to multiplicities
    np.testing.assert_allclose(boltzmann_weights([0.2, -0.1, 0.3], [6, 3, 1], 0.0), [0, 1, 0])
    np.testing.assert_allclose(
        boltzmann_weights([0.0, 0.001], [1, 3], 1e9), [0.25, 0.75], rtol=1e-6
    )
    with pytest.raises(InputError):
        boltzmann_weights([0.0], [1, 2], 300.0)
    with pytest.raises(InputError):
        boltzmann_weights([0.0], [1], -1.0)


def test_weighted_gap_combines_independent_errors():
    mean, err = weighted_gap([1.0, 2.0], [0.1, 0.2], np.array([0.25, 0.75]))
    assert mean == pytest.approx(1.75)
    assert err == pytest.approx(math.sqrt(0.25**2 * 0.01 + 0.75**2 * 0.04))


def test_white_noise_keeps_every_frame_after_equilibration():
    rng = np.random.default_rng(1)
    gaps = 1.5 + 0.05 * rng.standard_normal(1000)
    stats = snapshot_gaps(gaps, equilibration_fraction=0.2)
    assert stats.skip_frames == 200
    assert stats.spacing_frames <= 2
    assert abs(stats.mean_ev - 1.5) < 4 * stats.stderr_ev
    assert stats.stderr_ev == pytest.approx(0.05 / math.sqrt(len(stats.gaps_ev)), rel=0.15)


def test_correlated_series_is_thinned_and_its_error_is_honest():
    # AR(1) with phi = 0.9: tau_int = (1 + phi) / (2 (1 - phi)) = 9.5 frames
    phi, n, replicas = 0.9, 4000, 200
    rng = np.random.default_rng(7)
    means, errors = [], []
    for _ in range(replicas):
        series = 2.0 + 0.01 * lfilter([1.0], [1.0, -phi], rng.standard_normal(n))
        stats = snapshot_gaps(series, equilibration_fraction=0.1)
        means.append(stats.mean_ev)
        errors.append(stats.stderr_ev)
    assert 12 <= snapshot_gaps(series).spacing_frames <= 26  # about 2 tau
    # the reported standard error matches the actual scatter of the means over replicas
    assert np.mean(errors) == pytest.approx(np.std(means), rel=0.25)


# --------------------------------------------------------------------------- issue 10, point 6


def test_every_post_equilibration_frame_is_used_and_few_samples_are_flagged():
    rng = np.random.default_rng(4)
    gaps = 1.5 + 0.05 * rng.standard_normal(600)
    stats = snapshot_gaps(gaps)
    # stationary from the start: nothing (or almost nothing) is discarded, every frame is kept
    assert stats.skip_frames < 60
    assert len(stats.gaps_ev) == 600 - stats.skip_frames
    assert stats.n_independent == pytest.approx(len(stats.gaps_ev), rel=0.3)
    assert not stats.few_independent_samples
    short = snapshot_gaps(1.5 + 0.05 * lfilter([1.0], [1.0, -0.9], rng.standard_normal(300)))
    assert short.n_independent < 50 and short.few_independent_samples


def test_boltzmann_combination_against_brute_force_sampling_of_the_mixture():
    """Configurations i with weights w_i, gaps N(μ_i, σ_i), 0 K gaps Eg_i(0).

    ΔEg = Σ w_i (⟨Eg⟩_i − Eg_i(0)); brute force draws each frame's configuration with
    probability w_i, so its mean scatters with the mixture variance
    Σ w_i σ_i² + Σ w_i (μ_i − μ)² over the number of draws.
    """
    from thermogap.results.band_gaps import combine_configurations

    weights = np.array([0.5, 0.3, 0.2])
    mu, sigma, gap0 = np.array([1.0, 1.3, 0.8]), np.array([0.05, 0.08, 0.04]), [1.2, 1.4, 1.1]
    delta_true = float(weights @ (mu - gap0))
    mixture_var = float(weights @ sigma**2 + weights @ (mu - weights @ mu) ** 2)
    change = mu - np.asarray(gap0)
    change_var = float(weights @ sigma**2 + weights @ (change - delta_true) ** 2)
    rng = np.random.default_rng(0)
    n_draws, replicas = 400, 1500
    brute, reported, covered, stds = [], [], [], []
    for _ in range(replicas):
        which = rng.choice(3, size=n_draws, p=weights)
        samples = mu[which] + sigma[which] * rng.standard_normal(n_draws)
        brute.append(float(np.mean(samples - np.asarray(gap0)[which])))
        parts = [samples[which == i] for i in range(3)]
        combined = combine_configurations(
            means_ev=[p.mean() for p in parts],
            stderrs_ev=[p.std(ddof=1) / np.sqrt(len(p)) for p in parts],
            stds_ev=[p.std(ddof=1) for p in parts],
            n_independent=[len(p) for p in parts],
            gaps_0k_ev=gap0,
            weights=weights,
        )
        reported.append(combined.stderr_ev)
        stds.append(combined.std_ev)
        covered.append(abs(combined.delta_gap_ev - delta_true) <= combined.stderr_ev)
    assert np.mean(stds) == pytest.approx(np.sqrt(mixture_var), rel=0.03)
    # the error is that of sampling the mixture, not only Σ w² se² (which is ~3x smaller here)
    assert np.mean(reported) == pytest.approx(np.std(brute), rel=0.08)
    assert np.mean(reported) == pytest.approx(np.sqrt(change_var / n_draws), rel=0.05)
    # with exactly known weights the stratified mean scatters less: the error is conservative
    assert np.mean(covered) >= 0.66
    assert np.mean(np.abs(np.array(brute) - delta_true) <= np.array(reported)) == pytest.approx(
        0.68, abs=0.04
    )
    assert combined.band_gap_ev == pytest.approx(weights @ [p.mean() for p in parts])
    assert combined.band_gap_0k_ev == pytest.approx(weights @ gap0)
