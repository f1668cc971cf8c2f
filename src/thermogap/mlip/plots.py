"""Parity plots of MLIP predictions against reference labels (PNG bytes).

Figures are built with the object-oriented matplotlib API on an Agg canvas, so plotting
neither needs a display nor touches pyplot's global state.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import numpy as np

from thermogap.mlip.metrics import ParityData

__all__ = ["parity_plot_png"]

_QUANTITIES = (
    ("energy_per_atom", "Energy (eV/atom)"),
    ("forces", "Force components (eV/Å)"),
    ("stress", "Stress components (eV/Å³)"),
)


def parity_plot_png(parities: Mapping[str, ParityData], title: str = "", dpi: int = 100) -> bytes:
    """Draw predicted-vs-reference panels (energy, forces, stress) and return PNG bytes.

    Parameters
    ----------
    parities
        Parity data by legend label (e.g. ``{"train": ..., "valid": ..., "test": ...}``).
    title
        Figure title.
    dpi
        Resolution, dots per inch.

    Returns
    -------
    bytes
        The PNG image.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 4), dpi=dpi)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(_QUANTITIES))
    for ax, (quantity, label) in zip(axes, _QUANTITIES, strict=True):
        lo, hi = np.inf, -np.inf
        for name, parity in parities.items():
            ref = getattr(parity, f"{quantity}_ref")
            pred = getattr(parity, f"{quantity}_pred")
            if ref.size == 0:
                continue
            ax.scatter(ref, pred, s=4, alpha=0.6, label=name)
            lo, hi = min(lo, ref.min(), pred.min()), max(hi, ref.max(), pred.max())
        if np.isfinite(lo):
            ax.plot([lo, hi], [lo, hi], color="k", lw=0.8)
        ax.set_xlabel(f"Reference {label}")
        ax.set_ylabel(f"Predicted {label}")
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
