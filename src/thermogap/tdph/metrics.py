"""How strongly phonons renormalise: R_full (Eq. 3), R_onsite (Eq. 4), frequency-shift norm.

All three compare the harmonic (0 K) force constants ``Φ_orig`` with the renormalised ones
``Φ_T`` of the same supercell (eV/Å², phonopy's full layout ``(n_super, n_super, 3, 3)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from phonopy import Phonopy

from thermogap.errors import InputError

__all__ = [
    "DEFAULT_ZERO_TOLERANCE",
    "OnsiteRatio",
    "frequency_shift_norm",
    "mesh_frequencies",
    "r_full",
    "r_onsite",
]

#: Force-constant elements with ``(|Φ_orig| + |Φ_T|)/2`` below this (eV/Å²) are left out of
#: R_full. They are zero by symmetry or by range (pairs beyond the interaction range of the
#: potential), where the symmetrised fit returns noise of ~1e-4 eV/Å²; their relative change
#: is meaningless and would dominate the mean.
DEFAULT_ZERO_TOLERANCE = 1e-3


def _check_pair(fc_orig: np.ndarray, fc_new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(fc_orig, dtype=float)
    b = np.asarray(fc_new, dtype=float)
    if a.shape != b.shape or a.ndim != 4 or a.shape[2:] != (3, 3):
        raise InputError(
            f"force constants of shapes {a.shape} and {b.shape} must be equal and "
            "(n_super, n_super, 3, 3)"
        )
    return a, b


def r_full(
    fc_orig: np.ndarray, fc_new: np.ndarray, zero_tolerance: float = DEFAULT_ZERO_TOLERANCE
) -> float:
    """Mean relative change of the force-constant elements, Eq. 3 of seed 003.

    ``R_full = mean(|Φ_T − Φ_orig| / ((|Φ_orig| + |Φ_T|) / 2))`` over every Cartesian element
    of the ``3 N_sc × 3 N_sc`` matrix whose denominator is at least ``zero_tolerance``.

    Parameters
    ----------
    fc_orig, fc_new : numpy.ndarray
        shape=(n_super, n_super, 3, 3), eV/Å².
    zero_tolerance : float
        Elements with ``(|Φ_orig| + |Φ_T|)/2 < zero_tolerance`` (eV/Å²) are excluded; with 0
        only exactly vanishing pairs are. The symmetric (arithmetic-mean) denominator
        already bounds each term by 2.

    Returns
    -------
    float
        Dimensionless, in [0, 2]; 0 when no element passes the tolerance.
    """
    if zero_tolerance < 0:
        raise InputError(f"{zero_tolerance=} eV/Å² must be >= 0")
    a, b = _check_pair(fc_orig, fc_new)
    denominator = (np.abs(a) + np.abs(b)) / 2
    keep = denominator > zero_tolerance if zero_tolerance > 0 else denominator > 0
    if not keep.any():
        return 0.0
    return float(np.mean(np.abs(b - a)[keep] / denominator[keep]))


@dataclass(frozen=True)
class OnsiteRatio:
    """R_onsite of one symmetry-inequivalent site of the unit cell.

    Attributes
    ----------
    site_index : int
        Index of the representative atom in the unit (primitive) cell.
    element : str
    wyckoff : str
        Wyckoff letter of the site (spglib).
    multiplicity : int
        Atoms of the unit cell equivalent to it.
    trace_orig : float
        ``tr Φ_ii`` harmonic, eV/Å².
    trace_new : float
        ``tr Φ_ii`` renormalised, eV/Å².
    r_onsite : float
        ``|tr Φ_ii^T − tr Φ_ii^orig| / |tr Φ_ii^orig|`` (Eq. 4), dimensionless.
    """

    site_index: int
    element: str
    wyckoff: str
    multiplicity: int
    trace_orig: float
    trace_new: float
    r_onsite: float


def r_onsite(phonon: Phonopy, fc_new: np.ndarray) -> list[OnsiteRatio]:
    """Relative change of the trace of the onsite force constants, Eq. 4, per site.

    The trace is averaged over all supercell atoms equivalent to the site (identical for
    symmetrised force constants, a small noise reduction otherwise).

    Parameters
    ----------
    phonon : phonopy.Phonopy
        Harmonic phonons (``force_constants`` = Φ_orig, full layout).
    fc_new : numpy.ndarray
        Renormalised force constants, shape=(n_super, n_super, 3, 3), eV/Å².
    """
    a, b = _check_pair(np.asarray(phonon.force_constants), fc_new)
    primitive = phonon.primitive
    dataset: Any = phonon.primitive_symmetry.dataset
    equivalent = np.asarray(dataset.equivalent_atoms)
    s2p = np.asarray(primitive.s2p_map)
    p2s = list(np.asarray(primitive.p2s_map))
    symbols = list(primitive.symbols)
    trace_a = np.trace(a[np.arange(len(a)), np.arange(len(a))], axis1=1, axis2=2)
    trace_b = np.trace(b[np.arange(len(b)), np.arange(len(b))], axis1=1, axis2=2)
    supercell_site = np.array([p2s.index(p) for p in s2p])  # primitive index of each atom
    ratios = []
    for rep in sorted(set(equivalent.tolist())):
        members = np.flatnonzero(equivalent == rep)
        atoms = np.isin(supercell_site, members)
        t0, t1 = float(trace_a[atoms].mean()), float(trace_b[atoms].mean())
        ratio = abs(t1 - t0) / abs(t0) if t0 != 0 else float("inf")
        ratios.append(
            OnsiteRatio(
                site_index=int(rep),
                element=symbols[rep],
                wyckoff=str(dataset.wyckoffs[rep]),
                multiplicity=len(members),
                trace_orig=t0,
                trace_new=t1,
                r_onsite=ratio,
            )
        )
    return ratios


def mesh_frequencies(phonon: Phonopy, mesh: Sequence[int] = (8, 8, 8)) -> np.ndarray:
    """Frequencies on a Γ-centred mesh (all points, no symmetry reduction), THz.

    Returns
    -------
    numpy.ndarray
        shape=(n_q, n_bands), ascending per q, imaginary as negative.
    """
    if len(mesh) != 3 or min(mesh) < 1:
        raise InputError(f"{mesh=} must be three positive integers")
    phonon.run_mesh(list(mesh), is_mesh_symmetry=False, is_gamma_center=True)
    mesh_result: Any = phonon.mesh
    freqs = np.array(mesh_result.frequencies)
    return freqs


def frequency_shift_norm(
    phonon_orig: Phonopy, phonon_new: Phonopy, mesh: Sequence[int] = (8, 8, 8)
) -> float:
    """``‖ω_T − ω_0‖₂ / ‖ω_0‖₂`` over all bands of a Γ-centred q mesh (dimensionless).

    Bands are matched by order at each q (phonopy sorts them ascending); imaginary
    frequencies enter as negative numbers, so a soft mode that becomes real counts with
    its full change.
    """
    w0 = mesh_frequencies(phonon_orig, mesh)
    w1 = mesh_frequencies(phonon_new, mesh)
    norm = np.linalg.norm(w0)
    if norm == 0:
        raise InputError("the harmonic frequencies are all zero; the shift norm is undefined")
    return float(np.linalg.norm(w1 - w0) / norm)
