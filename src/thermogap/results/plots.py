"""Figures of temperature- and composition-dependent band gaps (seed paper 000, Figs. 7-8).

Each figure has a ``figure_*`` function returning a :class:`matplotlib.figure.Figure` (to
inspect or restyle) and a ``plot_*`` function returning PNG bytes (to store in the blob
store).  matplotlib's object API is used throughout: pyplot and its global state are never
touched, so the functions are safe in workers and threads.

The band-gap figures take documents of the ``band_gaps`` collection (dicts or pydantic
models) with the fields

``x``
    Composition (fraction of the first mixing anion).
``temperature_k``
    K.
``band_gap_ev``
    Ensemble-averaged band gap, eV.
``stderr_ev`` (optional)
    Standard error of ``band_gap_ev``, eV; drawn as error bars.
``relative_change`` (relative-change figure only)
    ``ΔE_g / E_g(0)`` as a fraction; drawn in %.
``family``, ``formula``, ``level``, ``selection`` (optional)
    Documents are split into separate lines by ``family``, ``level`` and ``selection``
    as well; those that vary appear in the legend.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from thermogap.errors import InputError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "DPI",
    "FIGSIZE_IN",
    "composition_label",
    "figure_gap_vs_composition",
    "figure_gap_vs_temperature",
    "figure_mode_gap_changes",
    "figure_relative_change",
    "plot_gap_vs_composition",
    "plot_gap_vs_temperature",
    "plot_mode_gap_changes",
    "plot_relative_change",
    "png_bytes",
]

#: Figure size (width, height) in inches and resolution of the PNGs: 600 x 456 pixels.
FIGSIZE_IN = (5.0, 3.8)
DPI = 120

_GROUP_FIELDS = ("family", "level", "selection")


def _new_figure() -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=FIGSIZE_IN, dpi=DPI, layout="constrained")
    return fig, fig.add_subplot(1, 1, 1)


def composition_label(family: str | None) -> str:
    """Axis label of the composition ``x`` of a solid-solution family, in matplotlib mathtext.

    Parameters
    ----------
    family : str or None
        A family written as in the documents, ``"Ag3SBr_xI_(1-x)"``; ``None`` when the
        documents mix families.

    Examples
    --------
    >>> composition_label("Ag3SBr_xI_(1-x)")
    'x in Ag$_{3}$SBr$_{x}$I$_{1-x}$'
    >>> composition_label(None)
    'x (fraction of the first mixing species)'
    """
    if not family:
        return "x (fraction of the first mixing species)"
    import re

    text = re.sub(r"_\(([^)]*)\)", r"$_{\1}$", family)  # _(1-x) -> subscript 1-x
    text = re.sub(r"_([a-z0-9.]+)", r"$_{\1}$", text)  # _x -> subscript x
    text = re.sub(r"(?<=[A-Za-z])(\d+)", r"$_{\1}$", text)  # Ag3 -> Ag subscript 3
    return f"x in {text}"


def _family(rows: list[dict[str, Any]]) -> str | None:
    families = {row.get("family") for row in rows}
    return families.pop() if len(families) == 1 else None


def png_bytes(fig: Figure) -> bytes:
    """Render ``fig`` to PNG at :data:`DPI` (size ``FIGSIZE_IN * DPI`` pixels)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _as_dict(doc: Any) -> dict[str, Any]:
    if isinstance(doc, Mapping):
        return dict(doc)
    if hasattr(doc, "model_dump"):
        return dict(doc.model_dump())
    raise InputError(f"a document must be a dict or a pydantic model, got {type(doc).__name__}")


def _rows(docs: Iterable[Any], required: Sequence[str]) -> list[dict[str, Any]]:
    rows = [_as_dict(d) for d in docs]
    if not rows:
        raise InputError("no documents to plot")
    for k, row in enumerate(rows):
        missing = [f for f in required if row.get(f) is None]
        if missing:
            raise InputError(
                f"document {k} lacks {missing}; needed: {list(required)} (has: {sorted(row)[:12]})"
            )
        bad = [f for f in required if not math.isfinite(float(row[f]))]
        if bad:
            raise InputError(f"document {k} has non-finite {bad}: {[row[f] for f in bad]}")
    return rows


def _stderr(row: Mapping[str, Any]) -> float:
    value = row.get("stderr_ev")
    return float(value) if value is not None and math.isfinite(float(value)) else 0.0


def _lines(
    rows: list[dict[str, Any]], line_field: str, axis_field: str
) -> list[tuple[str, list[dict[str, Any]]]]:
    """Group rows into lines (by the group fields and ``line_field``), sorted along the axis."""
    varying = [f for f in _GROUP_FIELDS if len({str(r.get(f)) for r in rows}) > 1]
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        key = (*(str(row.get(f)) for f in varying), float(row[line_field]))
        groups.setdefault(key, []).append(row)
    lines = []
    for key in sorted(groups):
        members = sorted(groups[key], key=lambda r: float(r[axis_field]))
        positions = [float(r[axis_field]) for r in members]
        if len(set(positions)) != len(positions):
            raise InputError(
                f"several documents for one point of the line {key}: {axis_field} values "
                f"{positions}; filter by level/selection first"
            )
        prefix = ", ".join(str(v) for v in key[:-1])
        name = "T" if line_field == "temperature_k" else line_field
        unit = " K" if line_field == "temperature_k" else ""
        label = f"{prefix + ', ' if prefix else ''}{name} = {key[-1]:g}{unit}"
        lines.append((label, members))
    return lines


def _errorbar_lines(
    ax: Axes,
    lines: list[tuple[str, list[dict[str, Any]]]],
    axis_field: str,
    values: Any,
    errors: Any,
) -> None:
    from matplotlib import colormaps

    colours = colormaps["viridis"](np.linspace(0.0, 0.9, max(len(lines), 1)))
    for colour, (label, members) in zip(colours, lines, strict=False):
        ax.errorbar(
            [float(r[axis_field]) for r in members],
            [values(r) for r in members],
            yerr=[errors(r) for r in members],
            marker="o",
            markersize=4,
            capsize=2,
            color=colour,
            label=label,
        )
    ax.legend(fontsize=7)


def figure_gap_vs_temperature(docs: Iterable[Any]) -> Figure:
    """Band gap against temperature, one line per composition ``x`` (error bars: stderr).

    Parameters
    ----------
    docs : iterable of dict or pydantic model
        ``band_gaps`` documents (see the module docstring).

    Returns
    -------
    matplotlib.figure.Figure
        One axes; one ``errorbar`` container per line, in ascending ``x``.
    """
    rows = _rows(docs, ("x", "temperature_k", "band_gap_ev"))
    fig, ax = _new_figure()
    lines = _lines(rows, "x", "temperature_k")
    _errorbar_lines(ax, lines, "temperature_k", lambda r: float(r["band_gap_ev"]), _stderr)
    ax.set_xlabel("temperature (K)")
    ax.set_ylabel("band gap (eV)")
    return fig


def figure_gap_vs_composition(docs: Iterable[Any]) -> Figure:
    """Band gap against composition ``x``, one line per temperature (error bars: stderr).

    Parameters
    ----------
    docs : iterable of dict or pydantic model
        ``band_gaps`` documents (see the module docstring).

    Returns
    -------
    matplotlib.figure.Figure
        One axes; one ``errorbar`` container per line, in ascending temperature.
    """
    rows = _rows(docs, ("x", "temperature_k", "band_gap_ev"))
    fig, ax = _new_figure()
    lines = _lines(rows, "temperature_k", "x")
    _errorbar_lines(ax, lines, "x", lambda r: float(r["band_gap_ev"]), _stderr)
    ax.set_xlabel(composition_label(_family(rows)))
    ax.set_ylabel("band gap (eV)")
    return fig


def figure_relative_change(docs: Iterable[Any]) -> Figure:
    """Relative change ``ΔE_g / E_g(0)`` in % against temperature, one line per ``x``.

    The error bar is ``stderr_ev / E_g(0)`` with ``E_g(0) = band_gap_ev / (1 + relative_change)``
    (the 0 K gap of the static structure carries no sampling error).

    Parameters
    ----------
    docs : iterable of dict or pydantic model
        ``band_gaps`` documents with ``relative_change`` (a fraction).

    Returns
    -------
    matplotlib.figure.Figure
    """
    rows = _rows(docs, ("x", "temperature_k", "band_gap_ev", "relative_change"))
    fig, ax = _new_figure()
    lines = _lines(rows, "x", "temperature_k")

    def error(row: Mapping[str, Any]) -> float:
        gap0 = float(row["band_gap_ev"]) / (1.0 + float(row["relative_change"]))
        return 100.0 * _stderr(row) / abs(gap0)

    _errorbar_lines(
        ax, lines, "temperature_k", lambda r: 100.0 * float(r["relative_change"]), error
    )
    ax.axhline(0.0, color="0.6", lw=0.8)
    ax.set_xlabel("temperature (K)")
    ax.set_ylabel(r"$\Delta E_g / E_g(0)$ (%)")
    return fig


def figure_mode_gap_changes(docs: Iterable[Any]) -> Figure:
    """Relative band-gap change of frozen Γ modes against their frequency (seed 000, Fig. 8a).

    Parameters
    ----------
    docs : iterable of dict or pydantic model
        ``electron_phonon`` documents with ``temperature_k``, ``frequency_thz`` (list, THz)
        and ``relative_gap_change`` (list, fraction); one marker series per document.

    Returns
    -------
    matplotlib.figure.Figure
        One ``scatter`` collection per document, y in %.
    """
    rows = _rows(docs, ("temperature_k",))
    fig, ax = _new_figure()
    from matplotlib import colormaps

    colours = colormaps["plasma"](np.linspace(0.0, 0.8, max(len(rows), 1)))
    for colour, row in zip(colours, rows, strict=False):
        freqs = np.asarray(row.get("frequency_thz") or [], dtype=float)
        change = 100.0 * np.asarray(row.get("relative_gap_change") or [], dtype=float)
        if freqs.shape != change.shape:
            raise InputError(
                f"frequency_thz {freqs.shape} and relative_gap_change {change.shape} differ"
            )
        label = f"{row.get('formula') or ''} T = {float(row['temperature_k']):g} K".strip()
        ax.vlines(freqs, 0.0, change, color=colour, lw=0.8, alpha=0.6)
        ax.scatter(freqs, change, s=16, color=colour, label=label, zorder=3)
    ax.axhline(0.0, color="0.6", lw=0.8)
    ax.set_xlabel("Γ-mode frequency (THz)")
    ax.set_ylabel(r"$\Delta E_g / E_g$ (%)")
    ax.legend(fontsize=7)
    return fig


def plot_gap_vs_temperature(docs: Iterable[Any]) -> bytes:
    """PNG of :func:`figure_gap_vs_temperature` (600 x 456 pixels)."""
    return png_bytes(figure_gap_vs_temperature(docs))


def plot_gap_vs_composition(docs: Iterable[Any]) -> bytes:
    """PNG of :func:`figure_gap_vs_composition` (600 x 456 pixels)."""
    return png_bytes(figure_gap_vs_composition(docs))


def plot_relative_change(docs: Iterable[Any]) -> bytes:
    """PNG of :func:`figure_relative_change` (600 x 456 pixels)."""
    return png_bytes(figure_relative_change(docs))


def plot_mode_gap_changes(docs: Iterable[Any]) -> bytes:
    """PNG of :func:`figure_mode_gap_changes` (600 x 456 pixels)."""
    return png_bytes(figure_mode_gap_changes(docs))
