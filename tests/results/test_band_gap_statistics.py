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
