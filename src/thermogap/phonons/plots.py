"""Figures of phonon dispersions as PNG bytes (matplotlib's object API: no pyplot state)."""

from __future__ import annotations

import io
from typing import Any, Protocol

import numpy as np

__all__ = ["dispersion_png", "path_ticks"]


class _BandPath(Protocol):
    qpoints: Any
    distances: Any
    frequencies_thz: Any
    labels: list[str]
    segment_ends: Any


def path_ticks(bands: _BandPath) -> tuple[list[float], list[str]]:
    """Tick positions (path distance, 1/Å) and labels of a band path.

    Works for :class:`thermogap.phonons.analysis.BandStructure` and
    :class:`thermogap.schemas.phonons.PhononBandStructureDoc`. Where the path jumps (the
    end of one segment is not the start of the next) the two labels are joined as ``"A|B"``.
    """
    q = np.asarray(bands.qpoints, dtype=float)
    x = np.asarray(bands.distances, dtype=float)
    labels = list(bands.labels)
    ends = [tuple(e) for e in bands.segment_ends]
    positions: list[float] = []
    names: list[str] = []
    k = 0  # next unused label
    for i, (first, last) in enumerate(ends):
        if i == 0 or np.abs(q[first] - q[ends[i - 1][1]]).max() > 1e-8:
            name = labels[k] if k < len(labels) else ""
            if i > 0 and names:  # a jump: the previous end label joins this start label
                names[-1] = f"{names[-1]}|{name}"
            else:
                positions.append(float(x[first]))
                names.append(name)
            k += 1
        positions.append(float(x[last]))
        names.append(labels[k] if k < len(labels) else "")
        k += 1
    return positions, names


def dispersion_png(
    harmonic: _BandPath,
    renormalised: _BandPath,
    *,
    temperature_k: float,
    title: str = "",
    dpi: int = 110,
) -> bytes:
    """Phonon dispersion at 0 K (grey, dashed) and at ``temperature_k`` (red) on one figure.

    Parameters
    ----------
    harmonic, renormalised : BandStructure or PhononBandStructureDoc
        Frequencies on the same path, THz (imaginary as negative).
    temperature_k : float
        Temperature of the renormalised dispersion, K (legend).
    title : str
        Figure title.
    dpi : int
        Resolution, dots per inch.

    Returns
    -------
    bytes
        The PNG image.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0, 4.0), layout="constrained")
    ax = fig.subplots()
    x = np.asarray(harmonic.distances, dtype=float)
    styles: tuple[tuple[_BandPath, str, dict[str, Any]], ...] = (
        (harmonic, "0 K (harmonic)", {"color": "0.45", "ls": "--", "lw": 1.0}),
        (renormalised, f"{temperature_k:g} K (NMD)", {"color": "tab:red", "lw": 1.3}),
    )
    for bands, label, style in styles:
        freqs = np.asarray(bands.frequencies_thz, dtype=float)
        for first, last in bands.segment_ends:
            seg = slice(int(first), int(last) + 1)
            ax.plot(np.asarray(bands.distances)[seg], freqs[seg], **style)
        ax.plot([], [], label=label, **style)
    positions, names = path_ticks(harmonic)
    for pos in positions:
        ax.axvline(pos, color="0.8", lw=0.6)
    ax.axhline(0.0, color="k", lw=0.6)
    ax.set_xticks(positions, names)
    ax.set_xlim(float(x[0]), float(x[-1]))
    ax.set_ylabel("frequency (THz)")
    ax.legend(loc="best", fontsize=8)
    if title:
        ax.set_title(title)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
