"""Harmonic phonons by the finite-displacement method (phonopy) with any ASE calculator.

The plain functions here take an ASE calculator object; which calculator to build from a
name is decided one layer up (``thermogap.jobs.phonons``), so this module can be used from a
script with a hand-made calculator, a CHGNet model or a fine-tuned MACE model alike.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from phonopy import Phonopy
from phonopy.structure.atoms import PhonopyAtoms
from pymatgen.core import Lattice, Structure

from thermogap.errors import CalculationError, InputError
from thermogap.structures.identity import content_id, structure_id

if TYPE_CHECKING:
    from ase import Atoms
    from ase.calculators.calculator import Calculator

#: Three repetitions or a 3x3 integer matrix (rows: supercell vectors in unit-cell vectors).
SupercellMatrix = Sequence[int] | Sequence[Sequence[int]] | np.ndarray

__all__ = [
    "SupercellMatrix",
    "compute_force_constants",
    "modes_at_qpoints",
    "phonon_id",
    "phonopy_atoms_to_ase",
    "phonopy_atoms_to_structure",
    "phonopy_from_force_constants",
    "structure_to_phonopy_atoms",
    "supercell_forces",
    "supercell_matrix_array",
]


def supercell_matrix_array(supercell_matrix: SupercellMatrix) -> np.ndarray:
    """Normalise a supercell given as three repetitions or a 3x3 integer matrix.

    Returns
    -------
    numpy.ndarray
        shape=(3, 3), dtype=int; rows are the supercell vectors in units of the unit cell's.

    Raises
    ------
    InputError
        If the matrix is not integer, has the wrong shape or a non-positive determinant.
    """
    matrix = np.asarray(supercell_matrix)
    if matrix.shape == (3,):
        matrix = np.diag(matrix)
    if matrix.shape != (3, 3):
        raise InputError(
            f"supercell_matrix={supercell_matrix!r} must be three integers or a 3x3 integer matrix"
        )
    if not np.allclose(matrix, np.rint(matrix)):
        raise InputError(f"supercell_matrix={supercell_matrix!r} must contain integers only")
    matrix = np.rint(matrix).astype(int)
    if round(np.linalg.det(matrix)) < 1:
        raise InputError(f"supercell_matrix={supercell_matrix!r} must have a positive determinant")
    return matrix


def structure_to_phonopy_atoms(structure: Structure) -> PhonopyAtoms:
    """Convert an ordered pymatgen ``Structure`` to ``PhonopyAtoms`` (phonopy's masses)."""
    if not structure.is_ordered:
        raise InputError(
            f"{structure.formula!r} has partial occupancies; phonons need an ordered cell"
        )
    return PhonopyAtoms(
        symbols=[site.specie.symbol for site in structure],
        cell=np.array(structure.lattice.matrix),
        scaled_positions=np.array(structure.frac_coords),
    )


def phonopy_atoms_to_structure(atoms: PhonopyAtoms) -> Structure:
    """Convert ``PhonopyAtoms`` to a pymatgen ``Structure``."""
    return Structure(
        Lattice(np.array(atoms.cell)), list(atoms.symbols), np.array(atoms.scaled_positions)
    )


def phonopy_atoms_to_ase(atoms: PhonopyAtoms) -> Atoms:
    """Convert ``PhonopyAtoms`` to periodic ``ase.Atoms``, keeping phonopy's masses."""
    from ase import Atoms

    return Atoms(
        symbols=list(atoms.symbols),
        cell=np.array(atoms.cell),
        scaled_positions=np.array(atoms.scaled_positions),
        masses=np.array(atoms.masses),
        pbc=True,
    )


def supercell_forces(supercells: Sequence[PhonopyAtoms], calculator: Calculator) -> np.ndarray:
    """Compute the forces on every atom of every displaced supercell.

    Parameters
    ----------
    supercells : sequence of PhonopyAtoms
        Displaced supercells, each with ``n_atoms`` atoms.
    calculator : ase.calculators.calculator.Calculator
        Any ASE calculator returning forces in eV/Å.

    Returns
    -------
    numpy.ndarray
        shape=(n_supercells, n_atoms, 3), eV/Å.

    Raises
    ------
    CalculationError
        If the calculator fails or returns non-finite forces.
    """
    from tqdm.auto import tqdm

    forces = []
    progress = tqdm(supercells, desc="phonon displacements", unit="cell", disable=None)
    for index, cell in enumerate(progress):
        atoms = phonopy_atoms_to_ase(cell)
        atoms.calc = calculator
        try:
            f = np.array(atoms.get_forces(), dtype=float)
        except Exception as exc:  # calculators raise anything; report which supercell failed
            raise CalculationError(
                f"calculator {type(calculator).__name__} failed on displaced supercell "
                f"{index} of {len(supercells)}: {type(exc).__name__}: {exc}"
            ) from exc
        if not np.all(np.isfinite(f)):
            raise CalculationError(
                f"calculator {type(calculator).__name__} returned non-finite forces on "
                f"displaced supercell {index} of {len(supercells)}"
            )
        forces.append(f)
    return np.array(forces)


def compute_force_constants(
    structure: Structure,
    calculator: Calculator,
    *,
    supercell_matrix: SupercellMatrix = (2, 2, 2),
    displacement_ang: float = 0.01,
    symmetrize: bool = True,
    symprec: float = 1e-5,
) -> Phonopy:
    """Harmonic force constants of ``structure`` by finite displacements.

    Parameters
    ----------
    structure : Structure
        Ordered unit cell (used as phonopy's primitive cell).
    calculator : ase.calculators.calculator.Calculator
        Any ASE calculator (CHGNet, MACE, EMT, Morse, ...); forces in eV/Å.
    supercell_matrix : three ints or 3x3 ints
        Supercell in which the force constants are computed.
    displacement_ang : float
        Finite displacement amplitude in Å (phonopy's default is 0.01 Å).
    symmetrize : bool
        Impose translational invariance and index permutation symmetry on the force
        constants (phonopy ``symmetrize_force_constants``), so that acoustic modes at Γ
        are zero.
    symprec : float
        Symmetry tolerance in Å used to reduce the number of displacements.

    Returns
    -------
    phonopy.Phonopy
        With ``force_constants`` of shape (n_supercell, n_supercell, 3, 3) in eV/Å².
    """
    if not 0 < displacement_ang < 0.2:
        raise InputError(f"{displacement_ang=} Å must be in (0, 0.2)")
    matrix = supercell_matrix_array(supercell_matrix)
    phonon = Phonopy(
        structure_to_phonopy_atoms(structure),
        supercell_matrix=matrix,
        primitive_matrix="P",  # the given cell is the primitive one (phonopy 4 defaults to auto)
        symprec=symprec,
    )
    phonon.generate_displacements(distance=displacement_ang)
    phonon.forces = supercell_forces(phonon.supercells_with_displacements or [], calculator)
    with contextlib.redirect_stdout(io.StringIO()):  # phonopy prints the drift
        phonon.produce_force_constants(show_drift=False)
        if symmetrize:
            phonon.symmetrize_force_constants(show_drift=False)
    return phonon


def modes_at_qpoints(
    phonon: Phonopy, qpoints: np.ndarray, *, with_eigenvectors: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """Frequencies and eigenvectors at arbitrary q-points.

    Parameters
    ----------
    phonon : phonopy.Phonopy
        With force constants.
    qpoints : numpy.ndarray
        shape=(n_q, 3), fractional coordinates of the reciprocal lattice of ``phonon.primitive``.

    Returns
    -------
    frequencies : numpy.ndarray
        shape=(n_q, 3 n_atoms), THz, imaginary as negative.
    eigenvectors : numpy.ndarray or None
        shape=(n_q, 3 n_atoms, 3 n_atoms), complex, modes in columns (phonopy's convention:
        mass-weighted, phase ``exp(2πi q·r)`` with the atomic positions ``r``).
    """
    result = phonon.run_qpoints(np.atleast_2d(qpoints), with_eigenvectors=with_eigenvectors)
    vecs = None if result.eigenvectors is None else np.asarray(result.eigenvectors)
    return np.asarray(result.frequencies), vecs


def phonopy_from_force_constants(
    structure: Structure,
    supercell_matrix: SupercellMatrix,
    force_constants: np.ndarray,
    *,
    masses: Sequence[float] | None = None,
) -> Phonopy:
    """Rebuild a ``Phonopy`` object from a unit cell, supercell matrix and force constants.

    Parameters
    ----------
    structure : Structure
        The unit cell the force constants belong to.
    supercell_matrix : three ints or 3x3 ints
    force_constants : numpy.ndarray
        shape=(n_supercell, n_supercell, 3, 3) (full) or (n_unit, n_supercell, 3, 3)
        (compact), eV/Å².
    masses : sequence of float, optional
        Atomic masses in amu, shape=(n_unit,); phonopy's table when omitted.
    """
    phonon = Phonopy(
        structure_to_phonopy_atoms(structure),
        supercell_matrix=supercell_matrix_array(supercell_matrix),
        primitive_matrix="P",  # the given cell is the primitive one (phonopy 4 defaults to auto)
    )
    n_super = len(phonon.supercell)
    fc = np.asarray(force_constants, dtype=float)
    if fc.shape[1:] != (n_super, 3, 3) or fc.shape[0] not in (n_super, len(phonon.primitive)):
        raise InputError(
            f"force constants of shape {fc.shape} do not fit a supercell of {n_super} atoms; "
            f"expected ({n_super}, {n_super}, 3, 3) or ({len(phonon.primitive)}, {n_super}, 3, 3)"
        )
    if masses is not None:
        phonon.masses = np.asarray(masses, dtype=float)
    phonon.force_constants = fc
    return phonon


def phonon_id(
    structure: Structure,
    supercell_matrix: SupercellMatrix,
    calculator_id: str,
    displacement_ang: float,
) -> str:
    """Deterministic id of a phonon calculation: 16 hex digits of a SHA-256.

    Two calculations of the same cell (positions rounded to 1e-6 Å) with the same supercell,
    calculator id and displacement get the same id, which keeps the ``phonons`` collection
    free of duplicates.
    """
    return content_id(
        structure=structure_id(structure),
        supercell=supercell_matrix_array(supercell_matrix).tolist(),
        calculator=calculator_id,
        displacement_ang=round(float(displacement_ang), 6),
    )
