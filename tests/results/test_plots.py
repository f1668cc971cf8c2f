"""Band-gap figures: the drawn data are the input numbers; the PNGs decode at the stated size."""

from __future__ import annotations

import io
import sys

import matplotlib.image as mpimg
import numpy as np
import pytest
from matplotlib.container import ErrorbarContainer

from thermogap.errors import InputError
from thermogap.results.plots import (
    DPI,
    FIGSIZE_IN,
    figure_gap_vs_composition,
    figure_gap_vs_temperature,
    figure_mode_gap_changes,
    figure_relative_change,
    plot_gap_vs_composition,
    plot_gap_vs_temperature,
    plot_mode_gap_changes,
    plot_relative_change,
)

XS = (0.0, 0.5, 1.0)
TS = (0.0, 300.0, 600.0, 100.0)  # unsorted on purpose


def band_gap_docs() -> list[dict]:
    """Synthetic band_gaps documents: Eg(x, T) = 1.0 + 0.4 x - 1e-3 (1 + x) T."""
    rng = np.random.default_rng(0)
    docs = []
    for x in XS:
        gap0 = 1.0 + 0.4 * x
        for t in TS:
            gap = gap0 - 1e-3 * (1 + x) * t
            docs.append(
                {
                    "formula": f"Ag3SBr{x}I{1 - x}",
                    "family": "Ag3SBr_xI_1-x",
                    "x": x,
                    "temperature_k": t,
                    "band_gap_ev": gap,
                    "stderr_ev": float(rng.uniform(0.005, 0.02)) if t > 0 else None,
                    "delta_gap_ev": gap - gap0,
                    "relative_change": (gap - gap0) / gap0,
                }
            )
    rng.shuffle(docs)
    return docs


def errorbar_data(container: ErrorbarContainer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, half-height of the error bar) as drawn."""
    data_line, _caps, bars = container.lines
    segments = bars[0].get_segments()
    half = np.array([(s[1][1] - s[0][1]) / 2 for s in segments])
    x = np.asarray(data_line.get_xdata(), dtype=float)
    return x, np.asarray(data_line.get_ydata(), dtype=float), half


def containers(fig) -> list[ErrorbarContainer]:
    (ax,) = fig.axes
    return [c for c in ax.containers if isinstance(c, ErrorbarContainer)]


def test_gap_vs_temperature_one_line_per_x():
    docs = band_gap_docs()
    fig = figure_gap_vs_temperature(docs)
    lines = containers(fig)
    assert len(lines) == len(XS)
    for x, container in zip(XS, lines, strict=True):
        expected = sorted((d for d in docs if d["x"] == x), key=lambda d: d["temperature_k"])
        t, y, err = errorbar_data(container)
        np.testing.assert_allclose(t, [d["temperature_k"] for d in expected])
        np.testing.assert_allclose(y, [d["band_gap_ev"] for d in expected])
        np.testing.assert_allclose(err, [d["stderr_ev"] or 0.0 for d in expected], atol=1e-12)
        assert container.get_label() == f"x = {x:g}"


def test_gap_vs_composition_one_line_per_temperature():
    docs = band_gap_docs()
    lines = containers(figure_gap_vs_composition(docs))
    assert len(lines) == len(TS)
    for t, container in zip(sorted(TS), lines, strict=True):
        x, y, _ = errorbar_data(container)
        np.testing.assert_allclose(x, XS)
        np.testing.assert_allclose(y, [1.0 + 0.4 * xi - 1e-3 * (1 + xi) * t for xi in XS])
        assert container.get_label() == f"T = {t:g} K"


def test_relative_change_in_percent_with_scaled_errors():
    docs = band_gap_docs()
    lines = containers(figure_relative_change(docs))
    assert len(lines) == len(XS)
    for x, container in zip(XS, lines, strict=True):
        _, y, err = errorbar_data(container)
        gap0 = 1.0 + 0.4 * x
        np.testing.assert_allclose(y, [-100e-3 * (1 + x) * ti / gap0 for ti in sorted(TS)])
        expected = sorted((d for d in docs if d["x"] == x), key=lambda d: d["temperature_k"])
        np.testing.assert_allclose(
            err, [100 * (d["stderr_ev"] or 0.0) / gap0 for d in expected], atol=1e-10
        )


def test_levels_split_lines_and_name_the_legend():
    docs = band_gap_docs()
    other = [{**d, "level": "gnn-b", "band_gap_ev": d["band_gap_ev"] + 0.1} for d in docs]
    docs = [{**d, "level": "gnn-a"} for d in docs] + other
    lines = containers(figure_gap_vs_temperature(docs))
    assert len(lines) == 2 * len(XS)
    assert {c.get_label() for c in lines} == {
        f"{level}, x = {x:g}" for level in ("gnn-a", "gnn-b") for x in XS
    }
    with pytest.raises(InputError, match="several documents"):
        figure_gap_vs_temperature([{**d, "level": None} for d in docs])


def test_mode_gap_changes_scatter():
    docs = [
        {
            "temperature_k": 300.0,
            "frequency_thz": [1.0, 2.0, 7.5],
            "relative_gap_change": [-0.1, 0.0, -0.03],
            "formula": "Ag3SBr",
        },
        {
            "temperature_k": 600.0,
            "frequency_thz": [1.0, 2.0, 7.5],
            "relative_gap_change": [-0.2, 0.01, -0.06],
            "formula": "Ag3SBr",
        },
    ]
    (ax,) = figure_mode_gap_changes(docs).axes
    scatters = [c for c in ax.collections if c.get_offsets().shape[0] == 3 and c.get_label()]
    labelled = [c for c in scatters if not c.get_label().startswith("_")]
    assert len(labelled) == 2
    for doc, coll in zip(docs, labelled, strict=True):
        np.testing.assert_allclose(
            coll.get_offsets(),
            np.column_stack([doc["frequency_thz"], 100 * np.array(doc["relative_gap_change"])]),
        )


@pytest.mark.parametrize(
    "plot",
    [plot_gap_vs_temperature, plot_gap_vs_composition, plot_relative_change],
)
def test_png_decodes_at_the_stated_size(plot):
    png = plot(band_gap_docs())
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    image = mpimg.imread(io.BytesIO(png), format="png")
    assert image.shape[:2] == (round(FIGSIZE_IN[1] * DPI), round(FIGSIZE_IN[0] * DPI))
    assert image[..., :3].std() > 0.05  # something was drawn


def test_mode_png_and_no_pyplot():
    png = plot_mode_gap_changes(
        [{"temperature_k": 300.0, "frequency_thz": [1.0], "relative_gap_change": [-0.1]}]
    )
    assert mpimg.imread(io.BytesIO(png), format="png").shape[:2] == (456, 600)
    assert (
        "matplotlib.pyplot" not in sys.modules
        or not __import__("matplotlib.pyplot").pyplot.get_fignums()
    )


@pytest.mark.parametrize(
    ("docs", "message"),
    [
        ([], "no documents"),
        ([{"x": 0.5, "temperature_k": 300.0}], "lacks \\['band_gap_ev'\\]"),
        ([{"x": 0.5, "temperature_k": float("nan"), "band_gap_ev": 1.0}], "non-finite"),
        (["not a doc"], "dict or a pydantic model"),
    ],
)
def test_bad_documents_are_refused(docs, message):
    with pytest.raises(InputError, match=message):
        figure_gap_vs_temperature(docs)
