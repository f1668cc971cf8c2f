"""dEg/dT of the summary against exact lines and the Varshni experiment."""

from __future__ import annotations

import pytest

from thermogap.optics.study import gap_trend


def test_slopes_over_the_requested_range_and_the_experimental_one():
    temps = [100.0, 200.0, 300.0, 400.0]
    tauc = [1.30, 1.28, 1.26, 1.24]  # exactly -2e-4 eV/K
    mesh = [1.12, 1.10, 1.07, 1.04]  # -3e-4 eV/K over 200-400 K (-2.7e-4 with 100 K in)
    trend = gap_trend(temps, tauc, "Si", mesh, (200.0, 400.0))
    assert trend.slope_ev_per_k == pytest.approx(-2e-4)
    assert trend.slope_stderr_ev_per_k == pytest.approx(0.0, abs=1e-12)
    assert trend.band_gap_slope_ev_per_k == pytest.approx(-3e-4)

    # Varshni 1.166 - 4.73e-4 T²/(T + 636): least squares over 200, 300, 400 K by hand
    def varshni(t):
        return 1.166 - 4.73e-4 * t**2 / (t + 636)

    expected = (varshni(400) - varshni(200)) / 200  # 3 equally spaced points: end-point slope
    assert trend.experiment_slope_ev_per_k == pytest.approx(expected, rel=1e-9)
    assert trend.experiment_slope_ev_per_k == pytest.approx(-2.52e-4, abs=0.01e-4)
    assert "zero-point" in trend.zero_point_note


def test_refused_gaps_are_skipped_and_a_short_range_falls_back():
    trend = gap_trend([300.0, 600.0], [1.2, None], "GaAs", None, (200.0, 400.0))
    assert trend.slope_ev_per_k is None and trend.experiment_slope_ev_per_k is None
    fallback = gap_trend([100.0, 150.0], [1.25, 1.24], "GaAs", None, (200.0, 400.0))
    assert fallback.slope_ev_per_k == pytest.approx(-2e-4)
