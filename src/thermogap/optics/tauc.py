"""Tauc analysis: the indirect gap from a linear fit of (E² ε2)^½ near the absorption onset.

For parabolic band edges and phonon-assisted (indirect) transitions ε2 ∝ (E − Eg)²/E², so
y(E) = (E² ε2)^½ is linear in E above the onset and crosses zero at Eg (the paper's Fig. 4).
The fit window is chosen automatically: among all windows [E_a, E_b] inside the search range,
at least ``min_width_ev`` wide, whose points rise above a noise floor, the widest one whose
straight line has R² ≥ ``min_r_squared`` and crosses zero below its first point wins. Eg and
its standard error follow from the least-squares intercept a and slope b (Eg = −a/b, error
propagated with the fit covariance). A spectrum without such a window is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thermogap.errors import CalculationError, InputError

__all__ = ["TaucFit", "TaucFitError", "tauc_fit", "tauc_ordinate"]


class TaucFitError(CalculationError):
    """No window of the spectrum is straight enough for a Tauc fit."""


@dataclass(frozen=True)
class TaucFit:
    """Result of a Tauc fit.

    Attributes
    ----------
    gap_ev, gap_stderr_ev
        Intercept Eg and its one-sigma fit uncertainty, eV.
    slope, intercept
        Line y = intercept + slope·E, y in eV (since ε2 is dimensionless), slope dimensionless.
    window_ev
        (first, last) energy of the fitted points, eV.
    r_squared
        Coefficient of determination of the fit.
    n_points
        Points in the window.
    """

    gap_ev: float
    gap_stderr_ev: float
    slope: float
    intercept: float
    window_ev: tuple[float, float]
    r_squared: float
    n_points: int


def tauc_ordinate(energies_ev: np.ndarray, epsilon2: np.ndarray) -> np.ndarray:
    """Y = (E² ε2)^½ in eV (negative ε2 from noise clipped to 0)."""
    return np.sqrt(np.clip(np.asarray(energies_ev) ** 2 * np.asarray(epsilon2), 0.0, None))


def _window_fits(x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Least-squares lines of every window [i, j] (j > i) from cumulative sums, O(n²)."""
    zero = np.zeros(1)
    s1 = np.concatenate([zero, np.cumsum(np.ones_like(x))])
    sx = np.concatenate([zero, np.cumsum(x)])
    sy = np.concatenate([zero, np.cumsum(y)])
    sxx = np.concatenate([zero, np.cumsum(x * x)])
    sxy = np.concatenate([zero, np.cumsum(x * y)])
    syy = np.concatenate([zero, np.cumsum(y * y)])
    i, j = np.triu_indices(len(x), k=2)
    j1 = j + 1

    def window(s: np.ndarray) -> np.ndarray:
        return s[j1] - s[i]

    n, mx, my = window(s1), window(sx) / window(s1), window(sy) / window(s1)
    cxx = window(sxx) - n * mx * mx
    cxy = window(sxy) - n * mx * my
    cyy = window(syy) - n * my * my
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = cxy / cxx
        intercept = my - slope * mx
        residual = np.maximum(cyy - slope * cxy, 0.0)
        r2 = np.where(cyy > 0, 1.0 - residual / cyy, 0.0)
    return {
        "i": i, "j": j, "n": n, "mean_x": mx, "cxx": cxx, "slope": slope,
        "intercept": intercept, "residual": residual, "r2": r2,
    }  # fmt: skip


def tauc_fit(
    energies_ev: np.ndarray,
    epsilon2: np.ndarray,
    search_range_ev: tuple[float, float] | None = None,
    min_width_ev: float = 0.3,
    min_r_squared: float = 0.99,
    noise_fraction: float = 0.02,
    max_points: int = 300,
) -> TaucFit:
    """Fit the Tauc line of a spectrum and return Eg ± its fit error.

    Parameters
    ----------
    energies_ev
        shape=(n,), eV, ascending.
    epsilon2
        shape=(n,).
    search_range_ev
        (low, high) energies the window must lie in, eV; for an indirect gap keep ``high``
        below the direct gap. Default: the whole grid.
    min_width_ev
        Narrowest acceptable window, eV.
    min_r_squared
        Smallest acceptable R² of the line.
    noise_fraction
        Points whose y is below this fraction of the largest y in the range are not used as
        the window's start (the flat, noisy part before the onset).
    max_points
        The range is subsampled to at most this many points (the search is O(n²)).

    Raises
    ------
    TaucFitError
        If no window qualifies (no onset, noise, curvature everywhere); the message says why.
    """
    e = np.asarray(energies_ev, dtype=float)
    eps2 = np.asarray(epsilon2, dtype=float)
    if e.shape != eps2.shape or e.ndim != 1:
        raise InputError(f"energies {e.shape} and epsilon2 {eps2.shape} must be equal 1-D shapes")
    low, high = search_range_ev if search_range_ev is not None else (e[0], e[-1])
    inside = np.flatnonzero((e >= low) & (e <= high))
    if len(inside) < 3:
        raise InputError(f"search_range_ev={(low, high)} holds {len(inside)} grid points; need 3")
    inside = inside[:: max(1, int(np.ceil(len(inside) / max_points)))]
    x, y = e[inside], tauc_ordinate(e[inside], eps2[inside])
    if y.max() <= 0:
        raise TaucFitError(f"ε2 is zero everywhere in {low:.2f}-{high:.2f} eV: no onset to fit")
    fits = _window_fits(x, y)
    start_x, end_x = x[fits["i"]], x[fits["j"]]
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = -fits["intercept"] / fits["slope"]
    good = (
        (end_x - start_x >= min_width_ev - 1e-9)
        & (fits["r2"] >= min_r_squared)
        & (fits["slope"] > 0)
        & (y[fits["i"]] >= noise_fraction * y.max())
        & (gap <= start_x)
        & (gap >= x[0] - min_width_ev)
    )
    if not good.any():
        best_r2 = float(np.nanmax(np.where(end_x - start_x >= min_width_ev, fits["r2"], np.nan)))
        raise TaucFitError(
            f"no straight Tauc window of >= {min_width_ev} eV in {low:.2f}-{high:.2f} eV "
            f"(best R² {best_r2:.3f}, need {min_r_squared}); the spectrum has no clear onset"
        )
    candidates = np.flatnonzero(good)
    width = (end_x - start_x)[candidates]
    best = candidates[np.lexsort((-fits["r2"][candidates], -width))[0]]
    return _result(fits, best, x, float(gap[best]))


def _result(fits: dict[str, np.ndarray], best: int, x: np.ndarray, gap: float) -> TaucFit:
    n = fits["n"][best]
    slope, intercept = fits["slope"][best], fits["intercept"][best]
    sigma2 = fits["residual"][best] / max(n - 2, 1)
    var_slope = sigma2 / fits["cxx"][best]
    mean_x = fits["mean_x"][best]
    # Eg = −a/b; with a = ȳ − b x̄, Eg = x̄ − ȳ/b, and ȳ, b are uncorrelated
    var_mean_y = sigma2 / n
    mean_y = intercept + slope * mean_x
    var_gap = var_mean_y / slope**2 + (mean_y / slope**2) ** 2 * var_slope
    return TaucFit(
        gap_ev=gap,
        gap_stderr_ev=float(np.sqrt(var_gap)),
        slope=float(slope),
        intercept=float(intercept),
        window_ev=(float(x[fits["i"][best]]), float(x[fits["j"][best]])),
        r_squared=float(fits["r2"][best]),
        n_points=int(n),
    )
