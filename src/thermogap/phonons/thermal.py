"""Thermal statistics of harmonic normal modes.

A harmonic mode of angular frequency ω at temperature T has the mean-square normal-mode
coordinate ħ (1 + 2 n) / (2 ω) = ħ coth(ħω / 2kT) / (2 ω), with ``n`` the Bose–Einstein
occupation. Both the thermal displacement sampling (:mod:`thermogap.sampling`) and the
electron–phonon mode amplitudes (:mod:`thermogap.phonons.electron_phonon`) build on it.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "AMU_KG",
    "ANG2_PER_M2",
    "DEFAULT_FREQUENCY_CUTOFF_THZ",
    "HBAR_J_S",
    "KB_J_PER_K",
    "mode_variances",
]

#: Reduced Planck constant, J·s (CODATA 2018).
HBAR_J_S = 1.054571817e-34
#: Boltzmann constant, J/K (exact in SI 2019).
KB_J_PER_K = 1.380649e-23
#: Atomic mass unit, kg (CODATA 2018).
AMU_KG = 1.66053906660e-27
#: Å² per m².
ANG2_PER_M2 = 1e20

#: Modes with frequency at or below this (THz) are left out: imaginary modes and the
#: acoustic modes at Γ, whose harmonic amplitude diverges.
DEFAULT_FREQUENCY_CUTOFF_THZ = 0.05


def mode_variances(frequencies_thz: np.ndarray, temperatures_k: np.ndarray) -> np.ndarray:
    """Mean-square normal-mode coordinate ħ (1 + 2 n) / (2 ω) of a quantum oscillator.

    Parameters
    ----------
    frequencies_thz : numpy.ndarray
        Positive frequencies in THz (not angular), any shape ``S``.
    temperatures_k : numpy.ndarray
        shape=(n_temperatures,), K; 0 K gives the zero-point value ħ / (2 ω).

    Returns
    -------
    numpy.ndarray
        shape=(n_temperatures, *S), in amu·Å² (divide by a mass in amu to get Å²).

    Examples
    --------
    At high temperature the classical limit kT / ω² is recovered:

    >>> import numpy as np
    >>> omega = 2 * np.pi * 1e12 * 2.0
    >>> classical = KB_J_PER_K * 3000.0 / omega**2 / AMU_KG * ANG2_PER_M2
    >>> bool(np.isclose(mode_variances(np.array([2.0]), np.array([3000.0]))[0, 0], classical,
    ...                 rtol=1e-3))
    True
    """
    omega = 2.0 * np.pi * 1e12 * np.asarray(frequencies_thz, dtype=float)
    temps = np.asarray(temperatures_k, dtype=float).reshape((-1,) + (1,) * omega.ndim)
    with np.errstate(divide="ignore", over="ignore"):
        x = HBAR_J_S * omega / (2.0 * KB_J_PER_K * temps)
        coth = np.where(temps > 0, 1.0 / np.tanh(x), 1.0)  # 1 + 2n = coth(ħω / 2kT)
    return HBAR_J_S * coth / (2.0 * omega) / AMU_KG * ANG2_PER_M2
