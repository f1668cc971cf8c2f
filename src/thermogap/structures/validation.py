"""Checks on user-supplied structures and supercells, run before any job is created.

A structure must be ordered (no partial occupancies: a CIF of a disordered phase describes an
average, not a cell a calculator can evaluate), have a finite cell of positive volume with
non-degenerate angles, and no two atoms closer than :data:`MIN_DISTANCE_ANG`. A supercell
must be an integer matrix of positive determinant and hold at most
:func:`max_supercell_atoms` atoms, so that a typo such as ``30 30 30`` fails at once instead
of running until it is killed.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from thermogap.errors import InputError

__all__ = [
    "DEFAULT_MAX_SUPERCELL_ATOMS",
    "MAX_SUPERCELL_ATOMS_VARIABLE",
    "MIN_DISTANCE_ANG",
    "max_supercell_atoms",
    "validate_structure",
    "validate_supercell",
]

#: Default cap on the number of atoms of a supercell.
DEFAULT_MAX_SUPERCELL_ATOMS = 2000

#: Environment variable that raises or lowers the cap (a positive integer).
MAX_SUPERCELL_ATOMS_VARIABLE = "THERMOGAP_MAX_SUPERCELL_ATOMS"

#: Smallest allowed distance between two atoms, Å (shorter means overlapping atoms).
MIN_DISTANCE_ANG = 0.5

_MIN_ANGLE_DEG, _MAX_ANGLE_DEG = 5.0, 175.0


def max_supercell_atoms() -> int:
    """Return the supercell size cap in atoms (``$THERMOGAP_MAX_SUPERCELL_ATOMS`` or 2000)."""
    raw = os.environ.get(MAX_SUPERCELL_ATOMS_VARIABLE)
    if raw is None:
        return DEFAULT_MAX_SUPERCELL_ATOMS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise InputError(f"${MAX_SUPERCELL_ATOMS_VARIABLE}={raw!r} must be a positive integer")
    return value


def validate_structure(structure: Any, label: str = "structure") -> Any:
    """Raise :class:`InputError` unless ``structure`` is an ordered, physically sane cell.

    Parameters
    ----------
    structure : pymatgen.core.Structure
        The structure to check.
    label : str
        How to name it in the message (a file name or prototype).

    Returns
    -------
    Structure
        ``structure`` itself, for chaining.
    """
    if len(structure) == 0:
        raise InputError(f"{label} contains no atoms")
    if not structure.is_ordered:
        partial = [f"{site.species}" for site in structure if not site.is_ordered][:3]
        raise InputError(
            f"{label} has partial occupancies (e.g. {', '.join(partial)}); give an ordered "
            "cell (one species per site), e.g. a supercell from `thermogap enumerate`"
        )
    lattice = structure.lattice
    lengths = np.asarray(lattice.abc, dtype=float)
    angles = np.asarray(lattice.angles, dtype=float)
    volume = float(lattice.volume)
    if not (np.all(np.isfinite(lengths)) and np.isfinite(volume)) or volume <= 1e-6:
        raise InputError(f"{label} has a degenerate cell: a,b,c={lengths.tolist()} Å, {volume=}")
    if np.any(angles < _MIN_ANGLE_DEG) or np.any(angles > _MAX_ANGLE_DEG):
        raise InputError(
            f"{label} has cell angles {angles.round(2).tolist()}°; allowed: "
            f"{_MIN_ANGLE_DEG}-{_MAX_ANGLE_DEG}°"
        )
    if len(structure) > 1:
        distances = structure.distance_matrix + np.eye(len(structure)) * 1e9
        shortest = float(distances.min())
        if shortest < MIN_DISTANCE_ANG:
            raise InputError(
                f"{label} has atoms {shortest:.3f} Å apart; atoms closer than "
                f"{MIN_DISTANCE_ANG} Å overlap"
            )
    return structure


def validate_supercell(supercell: Any, n_atoms: int, label: str = "supercell") -> np.ndarray:
    """Check a supercell specification and its size; return it as a 3x3 integer matrix.

    Parameters
    ----------
    supercell : three ints or 3x3 ints
        Repetitions or scaling matrix.
    n_atoms : int
        Atoms in the unit cell it repeats.
    label : str
        Setting name to use in messages.

    Returns
    -------
    numpy.ndarray
        shape=(3, 3), dtype=int.

    Raises
    ------
    InputError
        For a non-integer or wrong-shaped input, a non-positive determinant, or more than
        :func:`max_supercell_atoms` atoms.
    """
    try:
        matrix = np.asarray(supercell, dtype=float)
    except (TypeError, ValueError):
        matrix = np.zeros(0)
    if matrix.shape == (3,):
        matrix = np.diag(matrix)
    if matrix.shape != (3, 3) or not np.all(np.isfinite(matrix)):
        raise InputError(
            f"{label}={supercell!r} must be three positive integers (e.g. [2, 2, 2]) or a 3x3 "
            "integer matrix"
        )
    if not np.all(np.round(matrix) == matrix):
        raise InputError(f"{label}={supercell!r} must contain integers only")
    determinant = round(float(np.linalg.det(matrix)))
    if determinant < 1:
        raise InputError(
            f"{label}={supercell!r} has determinant {determinant}; it must be positive "
            "(no zero or negative repetitions)"
        )
    total = determinant * int(n_atoms)
    cap = max_supercell_atoms()
    if total > cap:
        raise InputError(
            f"{label}={supercell!r} of a {n_atoms}-atom cell has {total} atoms; the limit is "
            f"{cap} (raise it with ${MAX_SUPERCELL_ATOMS_VARIABLE} if you mean it)"
        )
    return matrix.astype(int)
