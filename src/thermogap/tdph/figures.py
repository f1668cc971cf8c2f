"""Figures of the tdph results: dispersion at 0 K and T per compound; trends (Fig. 3A/B).

The functions take plain tdph documents (dicts or :class:`thermogap.schemas.tdph.TdphDoc`)
and return PNG bytes, so they work on whatever the store holds.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

__all__ = ["dispersion_png", "mean_by_element", "mean_by_spacegroup", "trends_png"]


def _get(doc: Any, key: str, default: Any = None) -> Any:
    if isinstance(doc, Mapping):
        return doc.get(key, default)
    return getattr(doc, key, default)


def _png(fig: Any, dpi: int) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def dispersion_png(doc: Any, dpi: int = 110) -> bytes:
    """Dispersion at 0 K (dashed grey) and at the document's temperature (red), THz."""
    from matplotlib.figure import Figure

    distances = np.asarray(_get(doc, "band_distances"), dtype=float)
    fig = Figure(figsize=(6.0, 4.0), layout="constrained")
    ax = fig.subplots()
    styles: tuple[tuple[str, str, dict[str, Any]], ...] = (
        ("bands_harmonic_thz", "0 K (harmonic)", {"color": "0.45", "ls": "--", "lw": 1.0}),
        (
            "bands_renormalised_thz",
            f"{_get(doc, 'temperature_k'):g} K (one-shot SSCHA)",
            {"color": "tab:red", "lw": 1.3},
        ),
    )
    for key, label, style in styles:
        freqs = np.asarray(_get(doc, key), dtype=float)
        for first, last in _get(doc, "band_segment_ends"):
            seg = slice(int(first), int(last) + 1)
            ax.plot(distances[seg], freqs[seg], **style)
        ax.plot([], [], label=label, **style)
    ticks = sorted(
        {float(distances[int(i)]) for pair in _get(doc, "band_segment_ends") for i in pair}
    )
    for pos in ticks:
        ax.axvline(pos, color="0.85", lw=0.6)
    ax.axhline(0.0, color="k", lw=0.6)
    ax.set_xlim(float(distances[0]), float(distances[-1]))
    ax.set_xticks([])
    ax.set_xlabel("wave vector along " + "–".join(_get(doc, "band_labels") or []))
    ax.set_ylabel("frequency (THz, imaginary < 0)")
    ax.set_title(
        f"{_get(doc, 'formula')}  R_onsite(max) = {_get(doc, 'r_onsite_max', float('nan')):.3f}"
    )
    ax.legend(loc="best", fontsize=8)
    return _png(fig, dpi)


def mean_by_element(docs: Iterable[Any]) -> dict[str, float]:
    """Mean R_onsite of every element over all its inequivalent sites (Fig. 3A)."""
    values: dict[str, list[float]] = defaultdict(list)
    for doc in docs:
        for site in _get(doc, "r_onsite") or []:
            values[_get(site, "element")].append(float(_get(site, "r_onsite")))
    return {el: float(np.mean(v)) for el, v in sorted(values.items())}


def mean_by_spacegroup(docs: Iterable[Any]) -> dict[int, float]:
    """Mean frequency-shift norm per space-group number over compounds (Fig. 3B)."""
    values: dict[int, list[float]] = defaultdict(list)
    for doc in docs:
        number, shift = _get(doc, "spacegroup_number"), _get(doc, "frequency_shift_norm")
        if number is not None and shift is not None:
            values[int(number)].append(float(shift))
    return {sg: float(np.mean(v)) for sg, v in sorted(values.items())}


def trends_png(docs: Iterable[Any], dpi: int = 110) -> bytes:
    """Two panels: mean R_onsite by element and mean ‖Δω‖/‖ω‖ by space group."""
    from matplotlib.figure import Figure

    docs = list(docs)
    elements, groups = mean_by_element(docs), mean_by_spacegroup(docs)
    fig = Figure(figsize=(8.0, 3.6), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    ax1.bar(list(elements), list(elements.values()), color="tab:blue")
    ax1.set_ylabel("mean R_onsite")
    ax1.set_title("by element")
    ax2.bar([str(g) for g in groups], list(groups.values()), color="tab:orange")
    ax2.set_ylabel("mean ‖ω_T − ω_0‖ / ‖ω_0‖")
    ax2.set_xlabel("space group")
    ax2.set_title("by space group")
    return _png(fig, dpi)
