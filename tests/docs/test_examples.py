"""The example notebooks (jupytext percent scripts in examples/) run top to bottom on a store."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest

from fixtures.quick_store import COMPOSITIONS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def example_env(quick_store, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    store, ids = quick_store
    monkeypatch.setenv("THERMOGAP_STORE", str(store))
    monkeypatch.setenv("THERMOGAP_EXAMPLES_OUT", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    yield tmp_path, ids
    import matplotlib.pyplot as plt

    plt.close("all")  # a notebook leaves its figures open; later tests check for none


def test_examples_are_jupytext_percent_scripts():
    scripts = sorted(EXAMPLES.glob("*.py"))
    assert len(scripts) >= 2
    for script in scripts:
        text = script.read_text()
        assert "format_name: percent" in text and "# %%" in text


def test_eg_xt_example_tabulates_plots_and_fits_the_slope(example_env):
    out, _ = example_env
    ns = runpy.run_path(str(EXAMPLES / "eg_xt_pandas.py"), run_name="__main__")
    assert list(ns["table"].columns) == list(COMPOSITIONS)
    # the store's gaps fall by 2e-4 eV/K at every composition: -0.2 meV/K
    np.testing.assert_allclose(list(ns["slopes_mev_per_k"].values()), -0.2, atol=1e-9)
    assert (out / "eg_xt_pandas.png").read_bytes()[:4] == b"\x89PNG"


def test_md_trajectory_example_redoes_the_snapshot_average(example_env):
    out, _ = example_env
    ns = runpy.run_path(str(EXAMPLES / "md_trajectory_gaps.py"), run_name="__main__")
    assert ns["trajectory_id"] == "md-quickstore-0.5-600"  # hottest, middle composition
    frames, stats = ns["frames"], ns["stats"]
    np.testing.assert_allclose(frames.kinetic_temperature_K, 600.0, rtol=1e-9)
    gaps = frames.band_gap_eV.to_numpy()[stats.skip_frames :: stats.spacing_frames]
    assert stats.mean_ev == pytest.approx(gaps.mean())
    assert (out / "md_trajectory_gaps.png").read_bytes()[:4] == b"\x89PNG"
