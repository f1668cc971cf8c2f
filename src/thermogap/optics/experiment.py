"""Experimental reference data shipped with thermogap (``thermogap/data/optics/``).

Each file states its source. Used to validate the phonon-assisted spectra and Eg(T).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import numpy as np
import yaml

__all__ = [
    "HC_EV_NM",
    "ExperimentalAbsorption",
    "ExperimentalGap",
    "si_absorption_300k",
    "si_band_gap_temperature",
    "varshni_gap_ev",
]

#: hc in eV·nm (CODATA 2018): E = hc/λ.
HC_EV_NM = 1239.841984


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(
        files("thermogap").joinpath("data", "optics", name).read_text()
    )
    return data


@dataclass(frozen=True)
class ExperimentalGap:
    """Measured gap Eg(T) and its Varshni fit."""

    temperature_k: np.ndarray
    band_gap_ev: np.ndarray
    eg0_ev: float
    alpha_ev_per_k: float
    beta_k: float
    zero_point_renormalisation_ev: float
    source: str


@dataclass(frozen=True)
class ExperimentalAbsorption:
    """Measured α(E) at 300 K."""

    energy_ev: np.ndarray
    absorption_cm: np.ndarray
    extinction: np.ndarray
    source: str


def varshni_gap_ev(
    temperature_k: np.ndarray | float, eg0_ev: float, alpha: float, beta: float
) -> np.ndarray:
    """Varshni's Eg(T) = Eg0 − α T²/(T + β), eV (T in K, α in eV/K, β in K)."""
    t = np.asarray(temperature_k, dtype=float)
    return eg0_ev - alpha * t**2 / (t + beta)


def si_band_gap_temperature() -> ExperimentalGap:
    """Silicon's indirect gap vs T (Bludau et al. 1974) with the Varshni parameters."""
    raw = _load("si_bandgap_temperature.yaml")
    return ExperimentalGap(
        temperature_k=np.asarray(raw["temperature_k"], dtype=float),
        band_gap_ev=np.asarray(raw["band_gap_ev"], dtype=float),
        eg0_ev=float(raw["varshni"]["eg0_ev"]),
        alpha_ev_per_k=float(raw["varshni"]["alpha_ev_per_k"]),
        beta_k=float(raw["varshni"]["beta_k"]),
        zero_point_renormalisation_ev=float(raw["zero_point_renormalisation_ev"]),
        source=str(raw["source"]).strip(),
    )


def si_absorption_300k() -> ExperimentalAbsorption:
    """Silicon's absorption coefficient at 300 K (Green 2008), sorted by photon energy."""
    raw = _load("si_absorption_green2008.yaml")
    wavelength = np.asarray(raw["wavelength_nm"], dtype=float)
    alpha = np.asarray(raw["absorption_cm"], dtype=float)
    order = np.argsort(HC_EV_NM / wavelength)
    kappa = alpha * wavelength * 1e-7 / (4 * np.pi)
    return ExperimentalAbsorption(
        energy_ev=(HC_EV_NM / wavelength)[order],
        absorption_cm=alpha[order],
        extinction=kappa[order],
        source=str(raw["source"]).strip(),
    )
