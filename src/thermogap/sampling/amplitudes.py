"""Thermal vibrational amplitudes of a harmonic crystal (Eq. 1 of Benítez et al.).

For atom ``j`` of the unit cell and Cartesian direction ``α``

    ζ_{j,α}(T)² = ħ / (2 N m_j) Σ_{q,ν} (1 + 2 n_ν(q, T)) / ω_ν(q) |e_ν^α(j, q)|²

with ``N`` the number of q-points of the mesh, ``n`` the Bose–Einstein occupation and ``e`` the
mass-weighted eigenvectors.  ζ² is the harmonic mean-square displacement ⟨u_{j,α}²⟩, i.e. what
phonopy calls the thermal displacement.  Near-zero modes (the acoustic modes at Γ) have no
finite harmonic amplitude and are always left out of the sum.

Imaginary (and soft) modes have no harmonic amplitude either; what to do with them is a choice
(:data:`SOFT_MODE_TREATMENTS`): leave them out (``"exclude"``), use |ω| as phonopy's random
displacements do (``"absolute"``), or raise every frequency below a floor to the floor
(``"floor"``).  Configurations drawn from short MD with the parent's engine (``"md"``) are the
fourth option, handled by :mod:`thermogap.sampling.batch`.  :func:`soft_mode_analysis` counts
the soft modes and the share of the displacement variance they would carry.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from phonopy import Phonopy
from phonopy.harmonic.dynmat_to_fc import get_commensurate_points

from thermogap.errors import InputError
from thermogap.phonons.harmonic import SupercellMatrix, modes_at_qpoints
from thermogap.phonons.thermal import (  # re-exported: these lived here before
    AMU_KG,
    ANG2_PER_M2,
    DEFAULT_FREQUENCY_CUTOFF_THZ,
    HBAR_J_S,
    KB_J_PER_K,
    mode_variances,
)

__all__ = [
    "AMU_KG",
    "ANG2_PER_M2",
    "HBAR_J_S",
    "KB_J_PER_K",
    "DEFAULT_FREQUENCY_CUTOFF_THZ",
    "DEFAULT_FREQUENCY_FLOOR_THZ",
    "SOFT_MODE_TREATMENTS",
    "SoftModeAnalysis",
    "effective_frequencies",
    "soft_mode_analysis",
    "ThermalAmplitudes",
    "gamma_centred_mesh",
    "mode_variances",
    "thermal_amplitude_analysis",
    "thermal_amplitudes",
    "thermal_mode_basis",
]

logger = logging.getLogger(__name__)

#: Frequency below which the ``"floor"`` treatment raises every included mode, THz.
DEFAULT_FREQUENCY_FLOOR_THZ = 0.5

#: Ways to treat imaginary and soft modes when sampling displacements from harmonic phonons.
SOFT_MODE_TREATMENTS = ("exclude", "absolute", "floor", "md")

_Q_CHUNK = 64  # q-points diagonalised at a time: bounds memory for large cells


@dataclass
class ThermalAmplitudes:
    """Thermal amplitudes and the bookkeeping of the modes that entered them.

    Attributes
    ----------
    temperatures_k : numpy.ndarray
        shape=(n_temperatures,), K.
    amplitudes_ang : numpy.ndarray
        ζ, shape=(n_temperatures, n_atoms, 3), Å.
    mesh : tuple of int
        Γ-centred q-point mesh.
    n_modes : int
        Number of (q, ν) modes on the mesh, ``prod(mesh) * 3 * n_atoms``.
    n_imaginary_excluded : int
        Modes with frequency below ``-frequency_cutoff_thz``.
    n_near_zero_excluded : int
        Modes with ``|frequency| <= frequency_cutoff_thz``.
    frequency_cutoff_thz : float
    """

    temperatures_k: np.ndarray
    amplitudes_ang: np.ndarray
    mesh: tuple[int, int, int]
    n_modes: int
    n_imaginary_excluded: int
    n_near_zero_excluded: int
    frequency_cutoff_thz: float


def effective_frequencies(
    frequencies_thz: np.ndarray,
    frequency_cutoff_thz: float,
    treatment: str | None = "exclude",
    frequency_floor_thz: float = DEFAULT_FREQUENCY_FLOOR_THZ,
) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies that enter the harmonic amplitudes, and which modes enter at all.

    Parameters
    ----------
    frequencies_thz : numpy.ndarray
        Phonon frequencies (negative: imaginary), THz, any shape ``S``.
    frequency_cutoff_thz : float
        Modes with ``|f| <=`` this are always left out (acoustic modes at Γ), THz.
    treatment : str or None
        ``"exclude"`` (or None): imaginary modes are left out; ``"absolute"``: they enter with
        ``|f|``; ``"floor"``: every included mode enters with ``max(f, floor)`` (imaginary modes
        with the floor).  ``"md"`` does not use harmonic amplitudes and is refused here.
    frequency_floor_thz : float
        Floor of the ``"floor"`` treatment, THz.

    Returns
    -------
    frequencies : numpy.ndarray
        shape ``S``, positive where included (1.0 elsewhere), THz.
    included : numpy.ndarray
        shape ``S``, bool.
    """
    freqs = np.asarray(frequencies_thz, dtype=float)
    treatment = treatment or "exclude"
    if treatment == "exclude":
        included = freqs > frequency_cutoff_thz
        effective = freqs
    elif treatment == "absolute":
        included = np.abs(freqs) > frequency_cutoff_thz
        effective = np.abs(freqs)
    elif treatment == "floor":
        if not frequency_floor_thz > frequency_cutoff_thz:
            raise InputError(
                f"{frequency_floor_thz=} THz must be above {frequency_cutoff_thz=} THz"
            )
        included = np.abs(freqs) > frequency_cutoff_thz
        effective = np.maximum(freqs, frequency_floor_thz)
    else:
        raise InputError(
            f"soft-mode treatment {treatment!r} has no harmonic amplitudes; allowed here: "
            "exclude, absolute, floor ('md' samples configurations from molecular dynamics)"
        )
    return np.where(included, effective, 1.0), included


@dataclass
class SoftModeAnalysis:
    """Imaginary and soft modes of a phonon calculation on a q mesh.

    Attributes
    ----------
    mesh : tuple of int
    n_modes : int
        All (q, ν) modes of the mesh.
    n_imaginary : int
        Modes with f < -cutoff.
    n_below_cutoff : int
        Modes with |f| <= cutoff, not counting the three acoustic modes at Γ.
    fraction_of_modes : float
        (n_imaginary + n_below_cutoff) / (n_modes - 3).
    variance_fraction : float
        Share of Σ_modes ⟨u²⟩ (mass-weighted eigenvectors, |f| for imaginary modes, frequencies
        clipped at the cutoff from below) that the imaginary and below-cutoff modes carry.
    temperature_k, frequency_cutoff_thz : float
    """

    mesh: tuple[int, int, int]
    n_modes: int
    n_imaginary: int
    n_below_cutoff: int
    fraction_of_modes: float
    variance_fraction: float
    temperature_k: float
    frequency_cutoff_thz: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields (for :class:`thermogap.schemas.phonons.SoftModeDoc`)."""
        return {
            "mesh": list(self.mesh),
            "n_modes": self.n_modes,
            "n_imaginary": self.n_imaginary,
            "n_below_cutoff": self.n_below_cutoff,
            "fraction_of_modes": self.fraction_of_modes,
            "variance_fraction": self.variance_fraction,
            "temperature_k": self.temperature_k,
            "frequency_cutoff_thz": self.frequency_cutoff_thz,
        }


def soft_mode_analysis(
    phonon: Phonopy,
    temperature_k: float = 300.0,
    *,
    mesh: Sequence[int] = (8, 8, 8),
    frequency_cutoff_thz: float = DEFAULT_FREQUENCY_CUTOFF_THZ,
) -> SoftModeAnalysis:
    """Count the imaginary / soft modes on a Γ-centred mesh and the variance they would carry.

    Examples
    --------
    >>> soft = soft_mode_analysis(phonon, 300.0, mesh=(6, 6, 6))  # doctest: +SKIP
    >>> soft.fraction_of_modes > 0.1  # doctest: +SKIP
    """
    temps = _check_temperatures([temperature_k])
    if phonon.force_constants is None:
        raise InputError("the Phonopy object has no force constants; produce or set them first")
    mesh_t = _check_mesh(mesh)
    qpoints = gamma_centred_mesh(mesh_t)
    inv_mass = 1.0 / np.repeat(np.asarray(phonon.primitive.masses, dtype=float), 3)
    n_imag = n_low = 0
    soft_var = total_var = 0.0
    for start in range(0, len(qpoints), _Q_CHUNK):
        chunk = qpoints[start : start + _Q_CHUNK]
        freqs, vecs = _modes_at(phonon, chunk)
        # the three acoustic modes at Γ are translations, not soft modes
        translation = np.zeros(freqs.shape, dtype=bool)
        for i in np.flatnonzero(np.all(np.abs(chunk) < 1e-12, axis=1)):
            translation[i, np.argsort(np.abs(freqs[i]))[:3]] = True
        imaginary = (freqs < -frequency_cutoff_thz) & ~translation
        low = (np.abs(freqs) <= frequency_cutoff_thz) & ~translation
        n_imag += int(np.count_nonzero(imaginary))
        n_low += int(np.count_nonzero(low))
        clipped = np.maximum(np.abs(freqs), frequency_cutoff_thz)
        per_mode = mode_variances(clipped, temps)[0] * np.einsum(
            "qan,a->qn", np.abs(vecs) ** 2, inv_mass
        )
        per_mode = np.where(translation, 0.0, per_mode)
        total_var += float(per_mode.sum())
        soft_var += float(per_mode[imaginary | low].sum())
    n_modes = len(qpoints) * len(inv_mass)
    return SoftModeAnalysis(
        mesh=mesh_t,
        n_modes=n_modes,
        n_imaginary=n_imag,
        n_below_cutoff=n_low,
        fraction_of_modes=(n_imag + n_low) / max(n_modes - 3, 1),
        variance_fraction=soft_var / total_var if total_var > 0 else 0.0,
        temperature_k=float(temps[0]),
        frequency_cutoff_thz=float(frequency_cutoff_thz),
    )


def gamma_centred_mesh(mesh: Sequence[int]) -> np.ndarray:
    """All q-points of a Γ-centred mesh, shape=(prod(mesh), 3), fractional coordinates."""
    values = _check_mesh(mesh)
    axes = [np.arange(n) / n for n in values]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    return np.where(grid > 0.5 + 1e-12, grid - 1.0, grid)


def _modes_at(phonon: Phonopy, qpoints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    freqs, vecs = modes_at_qpoints(phonon, qpoints)
    assert vecs is not None  # asked for with_eigenvectors
    return freqs, vecs


def thermal_amplitude_analysis(
    phonon: Phonopy,
    temperatures_k: float | Sequence[float] | np.ndarray,
    *,
    mesh: Sequence[int] = (8, 8, 8),
    frequency_cutoff_thz: float = DEFAULT_FREQUENCY_CUTOFF_THZ,
    soft_mode_treatment: str | None = "exclude",
    frequency_floor_thz: float = DEFAULT_FREQUENCY_FLOOR_THZ,
) -> ThermalAmplitudes:
    """Thermal amplitudes ζ(T) of every unit-cell atom and direction, with mode counts.

    Parameters
    ----------
    phonon : phonopy.Phonopy
        With force constants.
    temperatures_k : float or sequence of float
        Temperatures in K (≥ 0).
    mesh : three ints
        Γ-centred q-point mesh over which the sum runs (not reduced by symmetry).
    frequency_cutoff_thz : float
        Modes with frequency ≤ this (THz) are excluded (imaginary and near-zero modes).
    soft_mode_treatment : str or None
        How imaginary modes enter (see :func:`effective_frequencies`); default: left out.
    frequency_floor_thz : float
        Floor of the ``"floor"`` treatment, THz.

    Returns
    -------
    ThermalAmplitudes
    """
    temps = _check_temperatures(temperatures_k)
    if phonon.force_constants is None:
        raise InputError("the Phonopy object has no force constants; produce or set them first")
    if frequency_cutoff_thz < 0:
        raise InputError(f"{frequency_cutoff_thz=} THz must be non-negative")
    mesh_t = _check_mesh(mesh)
    qpoints = gamma_centred_mesh(mesh_t)
    masses = np.asarray(phonon.primitive.masses, dtype=float)
    n_atoms = len(masses)
    msd = np.zeros((len(temps), n_atoms * 3))
    n_imag = n_zero = 0
    for start in range(0, len(qpoints), _Q_CHUNK):
        freqs, vecs = _modes_at(phonon, qpoints[start : start + _Q_CHUNK])
        safe, included = effective_frequencies(
            freqs, frequency_cutoff_thz, soft_mode_treatment, frequency_floor_thz
        )
        n_imag += int(np.count_nonzero((freqs < -frequency_cutoff_thz) & ~included))
        n_zero += int(np.count_nonzero(np.abs(freqs) <= frequency_cutoff_thz))
        weights = mode_variances(safe, temps) * included  # (T, q, ν)
        # |e_ν^α(j, q)|², eigenvectors are columns: vecs[q, 3j+α, ν]
        msd += np.einsum("tqn,qan->ta", weights, np.abs(vecs) ** 2)
    msd /= len(qpoints) * np.repeat(masses, 3)
    if n_imag:
        logger.info(
            "%d imaginary modes (below -%g THz) left out of the thermal amplitudes on a %s mesh",
            n_imag,
            frequency_cutoff_thz,
            mesh_t,
        )
    return ThermalAmplitudes(
        temperatures_k=temps,
        amplitudes_ang=np.sqrt(msd).reshape(len(temps), n_atoms, 3),
        mesh=mesh_t,
        n_modes=len(qpoints) * 3 * n_atoms,
        n_imaginary_excluded=n_imag,
        n_near_zero_excluded=n_zero,
        frequency_cutoff_thz=float(frequency_cutoff_thz),
    )


def thermal_amplitudes(
    phonon: Phonopy,
    temperature: float,
    *,
    mesh: Sequence[int] = (8, 8, 8),
    frequency_cutoff_thz: float = DEFAULT_FREQUENCY_CUTOFF_THZ,
) -> np.ndarray:
    """Thermal amplitudes ζ_{j,α}(T) of Eq. 1, in Å.

    Parameters
    ----------
    phonon : phonopy.Phonopy
        With force constants.
    temperature : float
        K, ≥ 0 (0 K gives the zero-point amplitudes).
    mesh : three ints
        Γ-centred q-point mesh; ``N`` of Eq. 1 is ``prod(mesh)``.
    frequency_cutoff_thz : float
        Imaginary modes and modes with ``|f| <=`` this (THz) are excluded; see
        :func:`thermal_amplitude_analysis` for their number.

    Returns
    -------
    numpy.ndarray
        shape=(n_atoms_unit_cell, 3), Å.  ``ζ²`` equals phonopy's thermal displacement
        ⟨u_α²⟩ on the same mesh.

    Examples
    --------
    fcc copper with the EMT potential: one atom, the same amplitude along x, y and z, close
    to the 0.08 Å that copper's room-temperature Debye-Waller factor (B ≈ 0.55 Å²) implies.

    >>> from ase.build import bulk
    >>> from ase.calculators.emt import EMT
    >>> from pymatgen.io.ase import AseAtomsAdaptor
    >>> from thermogap.phonons.harmonic import compute_force_constants
    >>> copper = AseAtomsAdaptor.get_structure(bulk("Cu", "fcc", a=3.61))
    >>> phonon = compute_force_constants(copper, EMT(), supercell_matrix=(3, 3, 3))
    >>> zeta = thermal_amplitudes(phonon, 300.0, mesh=(8, 8, 8))
    >>> zeta.shape, bool(abs(zeta[0, 0] - zeta[0, 2]) < 1e-6), f"{zeta[0, 0]:.3f} Å"
    ((1, 3), True, '0.077 Å')
    """
    result = thermal_amplitude_analysis(
        phonon, [temperature], mesh=mesh, frequency_cutoff_thz=frequency_cutoff_thz
    )
    return result.amplitudes_ang[0]


def thermal_mode_basis(
    phonon: Phonopy,
    temperature: float,
    supercell_matrix: SupercellMatrix,
    site_index: np.ndarray,
    frac_positions: np.ndarray,
    *,
    frequency_cutoff_thz: float = DEFAULT_FREQUENCY_CUTOFF_THZ,
    soft_mode_treatment: str | None = "exclude",
    frequency_floor_thz: float = DEFAULT_FREQUENCY_FLOOR_THZ,
) -> tuple[np.ndarray, int, int]:
    """Real matrix ``A`` with ``A Aᵀ`` the harmonic displacement covariance of a supercell.

    The supercell's commensurate q-points are used, so the covariance is exact for the
    force constants' own supercell and a Fourier interpolation otherwise.  A displacement
    drawn as ``u = A z`` with ``z`` standard normal follows the harmonic (quantum, at
    ``temperature``) distribution of the phonons, as phonopy's and SSCHA's random
    displacements do.

    Parameters
    ----------
    phonon : phonopy.Phonopy
        With force constants.
    temperature : float
        K.
    supercell_matrix : three ints or 3x3 ints
        Supercell of the sampled structure in units of ``phonon.primitive``.
    site_index : numpy.ndarray
        shape=(n_super,), the unit-cell atom each supercell atom sits on.
    frac_positions : numpy.ndarray
        shape=(n_super, 3), ideal positions of the supercell atoms in fractional coordinates of
        ``phonon.primitive`` (site position + lattice translation).

    Returns
    -------
    basis : numpy.ndarray
        shape=(3 n_super, 2 n_included_modes), Å.
    n_imaginary_excluded : int
    n_near_zero_excluded : int
    """
    temps = _check_temperatures([temperature])
    matrix = np.asarray(supercell_matrix)
    matrix = np.diag(matrix) if matrix.shape == (3,) else matrix
    qpoints = np.asarray(get_commensurate_points(np.asarray(matrix, dtype=int)), dtype=float)
    freqs, vecs = _modes_at(phonon, qpoints)
    masses = np.asarray(phonon.primitive.masses, dtype=float)[site_index]
    safe, included = effective_frequencies(
        freqs, frequency_cutoff_thz, soft_mode_treatment, frequency_floor_thz
    )
    n_imag = int(np.count_nonzero((freqs < -frequency_cutoff_thz) & ~included))
    n_zero = int(np.count_nonzero(np.abs(freqs) <= frequency_cutoff_thz))
    sigma = np.sqrt(mode_variances(safe, temps)[0] * included)
    n_super = len(site_index)
    phase = np.exp(2j * np.pi * frac_positions @ qpoints.T)  # (n_super, n_q)
    # e_ν(j, q) for every supercell atom: vecs[q, 3j+α, ν] -> (n_super, 3, n_q, n_modes)
    per_atom = vecs.reshape(len(qpoints), -1, 3, vecs.shape[-1])[:, site_index]
    w = np.einsum("sq,qsan,qn->saqn", phase, per_atom, sigma)
    w /= np.sqrt(len(qpoints) * masses)[:, None, None, None]
    w = w.reshape(3 * n_super, -1)[:, included.ravel()]
    return np.concatenate([w.real, w.imag], axis=1), n_imag, n_zero


def _check_temperatures(temperatures_k: float | Sequence[float] | np.ndarray) -> np.ndarray:
    temps = np.atleast_1d(np.asarray(temperatures_k, dtype=float))
    if temps.ndim != 1 or not np.all(np.isfinite(temps)) or np.any(temps < 0):
        raise InputError(f"temperatures {temperatures_k!r} K must be finite and >= 0")
    return temps


def _check_mesh(mesh: Sequence[int]) -> tuple[int, int, int]:
    values = tuple(int(m) for m in mesh)
    if len(values) != 3 or min(values) < 1 or any(float(m) != int(m) for m in mesh):
        raise InputError(f"mesh={tuple(mesh)!r} must be three positive integers")
    return values[0], values[1], values[2]
