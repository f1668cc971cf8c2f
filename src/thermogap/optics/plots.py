"""Figures of the optics flow: α(E) at each T against experiment, Tauc plots, Eg(T)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

from thermogap.optics.experiment import si_absorption_300k, si_band_gap_temperature, varshni_gap_ev
from thermogap.optics.tauc import tauc_ordinate

__all__ = ["absorption_figure", "gap_figure", "tauc_figure"]


def _png(fig: object) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    return buffer.getvalue()


def absorption_figure(
    curves: Sequence[tuple[str, np.ndarray, np.ndarray]],
    formula: str,
    e_range: tuple[float, float] = (1.0, 4.5),
) -> bytes:
    """PNG of log α(E) for (label, energies eV, α 1/cm) curves, with Si experiment at 300 K."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    for label, energies, alpha in curves:
        keep = (energies >= e_range[0]) & (energies <= e_range[1])
        ax.semilogy(energies[keep], np.maximum(alpha[keep], 1e-2), label=label)
    if formula == "Si":
        exp = si_absorption_300k()
        ax.semilogy(
            exp.energy_ev, exp.absorption_cm, "o", color="grey", label="exp. 300 K (Green 2008)"
        )
    ax.set_xlabel("photon energy (eV)")
    ax.set_ylabel("absorption coefficient α (cm$^{-1}$)")
    ax.set_ylim(1e-1, 1e7)
    ax.legend(fontsize=7)
    return _png(fig)


def tauc_figure(
    curves: Sequence[tuple[str, np.ndarray, np.ndarray, float | None, float | None]],
    e_range: tuple[float, float] = (0.8, 3.0),
) -> bytes:
    """PNG of (E² ε2)^½ for (label, energies, ε2, slope, intercept) with the fitted lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    for label, energies, eps2, slope, intercept in curves:
        keep = (energies >= e_range[0]) & (energies <= e_range[1])
        line = ax.plot(energies[keep], tauc_ordinate(energies, eps2)[keep], label=label)[0]
        if slope is not None and intercept is not None:
            e = np.array([-intercept / slope, e_range[1]])
            ax.plot(e, intercept + slope * e, "--", color=line.get_color())
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("photon energy (eV)")
    ax.set_ylabel("(E² ε₂)$^{1/2}$ (eV)")
    ax.legend(fontsize=7)
    return _png(fig)


def gap_figure(
    temperatures_k: Sequence[float],
    gaps_ev: Sequence[float | None],
    errors_ev: Sequence[float | None],
    formula: str,
    mesh_gaps_ev: Sequence[float] | None = None,
) -> bytes:
    """PNG of the Tauc gap against T, with Si experiment (Bludau points, Varshni curve).

    ``mesh_gaps_ev`` (snapshot-mean CBM − VBM on the k-mesh, eV) is drawn too when given.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    t = [x for x, g in zip(temperatures_k, gaps_ev, strict=True) if g is not None]
    g = [y for y in gaps_ev if y is not None]
    e = [err or 0.0 for err, y in zip(errors_ev, gaps_ev, strict=True) if y is not None]
    ax.errorbar(t, g, yerr=e, fmt="o", color="tab:red", label="Tauc gap (this model)")
    if mesh_gaps_ev is not None:
        ax.plot(temperatures_k, mesh_gaps_ev, "^", color="tab:blue", label="CBM − VBM on the mesh")
    if formula == "Si":
        ref = si_band_gap_temperature()
        curve_t = np.linspace(0, max([*temperatures_k, 400.0]), 100)
        ax.plot(
            curve_t,
            varshni_gap_ev(curve_t, ref.eg0_ev, ref.alpha_ev_per_k, ref.beta_k),
            "k-",
            lw=0.8,
            label="Varshni (exp.)",
        )
        ax.plot(ref.temperature_k, ref.band_gap_ev, "ks", label="Bludau et al. (exp.)")
    ax.set_xlabel("temperature (K)")
    ax.set_ylabel("indirect gap (eV)")
    ax.legend(fontsize=7)
    return _png(fig)
