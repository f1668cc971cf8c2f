"""Figures of phonon dispersions as PNG bytes (matplotlib's object API: no pyplot state)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["dispersion_figure", "dispersion_png", "path_ticks", "phonon_doc_figure"]


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


def _draw_bands(ax: Any, bands: _BandPath, label: str, style: dict[str, Any]) -> None:
    freqs = np.asarray(bands.frequencies_thz, dtype=float)
    distances = np.asarray(bands.distances, dtype=float)
    for first, last in bands.segment_ends:
        seg = slice(int(first), int(last) + 1)
        ax.plot(distances[seg], freqs[seg], **style)
    ax.plot([], [], label=label, **style)


def dispersion_figure(
    bands: Sequence[tuple[_BandPath, str]],
    *,
    dos: Sequence[tuple[Any, Any, str]] = (),
    title: str = "",
) -> Figure:
    """Phonon dispersions on one path and, beside them, densities of states on the same axis.

    Parameters
    ----------
    bands : sequence of (BandStructure or PhononBandStructureDoc, str)
        Dispersions on the same path (frequencies in THz, imaginary as negative) and their
        legend labels; the first sets the ticks.
    dos : sequence of (array, array, str)
        ``(frequencies_thz, states_per_thz, label)`` of each DOS drawn in a panel to the
        right, sharing the frequency axis (THz; DOS in states/THz per unit cell).
    title : str
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        One axes for the dispersion, plus one for the DOS when ``dos`` is given.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.2 if dos else 6.0, 4.0), layout="constrained")
    if dos:
        ax, ax_dos = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [3.5, 1]})
    else:
        ax, ax_dos = fig.subplots(), None
    palette = ["0.45", "tab:red", "tab:blue", "tab:green"]
    for k, (path, label) in enumerate(bands):
        style = {"color": palette[k % len(palette)], "lw": 1.0 if k == 0 else 1.3}
        if k == 0 and len(bands) > 1:
            style["ls"] = "--"
        _draw_bands(ax, path, label, style)
    first = bands[0][0]
    x = np.asarray(first.distances, dtype=float)
    positions, names = path_ticks(first)
    for pos in positions:
        ax.axvline(pos, color="0.8", lw=0.6)
    ax.axhline(0.0, color="k", lw=0.6)
    ax.set_xticks(positions, names)
    ax.set_xlim(float(x[0]), float(x[-1]))
    ax.set_xlabel("wave vector")
    ax.set_ylabel("frequency (THz)")
    ax.legend(loc="best", fontsize=8)
    if ax_dos is not None:
        for k, (freqs, states, label) in enumerate(dos):
            # the k-th DOS is styled like the k-th dispersion; a lone DOS is black
            style = (
                {"color": palette[k % len(palette)], "lw": 1.0}
                if len(dos) > 1
                else {"color": "k", "lw": 1.0}
            )
            if len(dos) > 1 and k == 0:
                style["ls"] = "--"
            ax_dos.plot(np.asarray(states, dtype=float), np.asarray(freqs, dtype=float),
                        label=label, **style)  # fmt: skip
        ax_dos.axhline(0.0, color="k", lw=0.6)
        ax_dos.set_xlabel("DOS (states/THz)")
        ax_dos.set_xlim(left=0.0)
        if len(dos) > 1:
            ax_dos.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return fig


def phonon_doc_figure(doc: Any) -> Figure:
    """Dispersion and DOS of a stored harmonic phonon calculation, side by side.

    Parameters
    ----------
    doc : dict or thermogap.schemas.phonons.PhononDoc
        A document of the ``phonons`` collection (``band_structure`` and ``dos``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from thermogap.schemas.phonons import PhononBandStructureDoc, PhononDosDoc

    get = doc.get if isinstance(doc, dict) else lambda key: getattr(doc, key)
    bands = PhononBandStructureDoc.model_validate(get("band_structure"))
    dos = PhononDosDoc.model_validate(get("dos"))
    formula = get("formula") or ""
    source = get("model_id") or get("calculator") or ""
    return dispersion_figure(
        [(bands, "harmonic")],
        dos=[(dos.frequencies_thz, dos.dos, "DOS")],
        title=f"{formula} ({source})" if source else str(formula),
    )


def dispersion_png(
    harmonic: _BandPath,
    renormalised: _BandPath,
    *,
    temperature_k: float,
    title: str = "",
    dpi: int = 110,
    dos: Sequence[tuple[Any, Any, str]] = (),
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
    dos : sequence of (array, array, str)
        Densities of states drawn beside the dispersion (see :func:`dispersion_figure`).

    Returns
    -------
    bytes
        The PNG image.
    """
    fig = dispersion_figure(
        [(harmonic, "0 K (harmonic)"), (renormalised, f"{temperature_k:g} K (NMD)")],
        dos=dos,
        title=title,
    )
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
