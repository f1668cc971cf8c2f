"""Exact counts of symmetry-inequivalent binary configurations on a sublattice.

The space group of the supercell (spglib, including the pure translations of the parent
lattice that the supercell contains) permutes the N sites of the mixed sublattice.  Two
occupations are equivalent when one of these permutations maps one onto the other, so the
number of inequivalent occupations with n substituted sites is the number of orbits of the
group on the n-subsets.  By Burnside's lemma with Pólya's cycle index,

    n_inequivalent(n) = (1/|G|) sum_g [t^n] prod_{cycles c of g} (1 + t^len(c)),

evaluated here with exact Python integers, so counts in the millions (or far beyond) cost
no more than the handful of distinct cycle types in G.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import spglib
from numpy.typing import NDArray
from pymatgen.core import Structure
from scipy.spatial import cKDTree

from thermogap.errors import CalculationError, InputError

__all__ = [
    "SublatticeSymmetry",
    "count_inequivalent",
    "cycle_type",
    "cycle_type_counts",
    "sublattice_permutations",
    "sublattice_symmetry",
]


@dataclass(frozen=True)
class SublatticeSymmetry:
    """The permutation group a supercell's space group induces on one sublattice.

    Attributes
    ----------
    permutations : ndarray, shape=(G, N), dtype=int
        Distinct permutations; operation g maps sublattice site i onto site
        ``permutations[g, i]``.  Row 0 is the identity.
    sublattice : tuple of int, length N
        Indices, in the supercell, of the sublattice sites (sublattice index -> site index).
    space_group_symbol : str
        Hermann-Mauguin symbol of the supercell's space group (spglib).
    space_group_number : int
        International space-group number.
    n_operations : int
        Number of space-group operations of the supercell (spglib, translations included);
        ``G`` divides it, and is smaller when some operations act alike on the sublattice.

    """

    permutations: NDArray[np.int64]
    sublattice: tuple[int, ...]
    space_group_symbol: str
    space_group_number: int
    n_operations: int

    @property
    def n_sites(self) -> int:
        """Number N of sites on the sublattice."""
        return int(self.permutations.shape[1])

    @property
    def group_order(self) -> int:
        """Order G of the permutation group acting on the sublattice."""
        return int(self.permutations.shape[0])


def _spglib_cell(
    structure: Structure,
) -> tuple[list[list[float]], list[list[float]], list[int]]:
    if not structure.is_ordered:
        raise InputError("the structure has partial occupancies; give an ordered supercell")
    return (
        structure.lattice.matrix.tolist(),
        structure.frac_coords.tolist(),
        [site.specie.Z for site in structure],
    )


def _spglib_operations(
    structure: Structure, symprec: float, angle_tolerance: float
) -> tuple[NDArray, NDArray, str, int]:
    cell = _spglib_cell(structure)
    # spglib >= 2.5 warns about its legacy error handling on every call; the return value
    # (None on failure) is checked below, so the warning is silenced here only.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        dataset = spglib.get_symmetry_dataset(
            cell, symprec=symprec, angle_tolerance=angle_tolerance
        )
    if dataset is None:
        raise CalculationError(
            f"spglib found no symmetry for {structure.formula!r} with {symprec=} angstrom"
        )
    return (
        np.asarray(dataset.rotations),
        np.asarray(dataset.translations),
        str(dataset.international),
        int(dataset.number),
    )


def sublattice_permutations(
    structure: Structure,
    sublattice: Sequence[int],
    rotations: NDArray,
    translations: NDArray,
    symprec: float = 1e-3,
) -> NDArray[np.int64]:
    """Permutations of the sublattice sites induced by symmetry operations.

    Parameters
    ----------
    structure : Structure
        The supercell the operations belong to.
    sublattice : sequence of int, length N
        Site indices of the sublattice in ``structure``.
    rotations : ndarray, shape=(n_ops, 3, 3), dtype=int
        Rotation parts in fractional coordinates (spglib convention, x' = R x + t).
    translations : ndarray, shape=(n_ops, 3)
        Fractional translation parts.
    symprec : float
        Distance tolerance in angstrom for matching an image onto a site.

    Returns
    -------
    ndarray, shape=(G, N), dtype=int
        The distinct permutations, sorted, identity first.

    Raises
    ------
    CalculationError
        If an operation does not map the sublattice onto itself within ``symprec``.

    """
    frac = np.asarray(structure.frac_coords)[list(sublattice)]
    n_sites = len(frac)
    wrapped = _wrap(frac)
    images = _wrap(np.einsum("gij,nj->gni", rotations, frac) + translations[:, None, :])
    tree = cKDTree(wrapped, boxsize=1.0)
    _, nearest = tree.query(images.reshape(-1, 3))
    nearest = nearest.reshape(len(rotations), n_sites)
    mismatch = images - wrapped[nearest]
    mismatch -= np.round(mismatch)
    distance_ang = np.linalg.norm(mismatch @ structure.lattice.matrix, axis=-1)
    if np.any(distance_ang > 2.0 * symprec):
        raise CalculationError(
            "a symmetry operation does not map the sublattice onto itself "
            f"(largest mismatch {distance_ang.max():.3g} angstrom > 2 x {symprec=})"
        )
    if np.any(np.sort(nearest, axis=1) != np.arange(n_sites)):
        raise CalculationError(
            f"symmetry images are not a permutation of the sublattice at {symprec=} angstrom; "
            "the structure may be too distorted for this tolerance"
        )
    return np.unique(nearest.astype(np.int64), axis=0)


def _wrap(frac: NDArray) -> NDArray:
    wrapped = np.mod(frac, 1.0)
    wrapped[wrapped >= 1.0] = 0.0  # np.mod(-1e-17, 1.0) == 1.0
    return wrapped


def sublattice_symmetry(
    supercell: Structure,
    site: str,
    *,
    symprec: float = 1e-3,
    angle_tolerance: float = -1.0,
) -> SublatticeSymmetry:
    """Symmetry group of ``supercell`` acting on the sites occupied by ``site``.

    Parameters
    ----------
    supercell : Structure
        Ordered supercell with the mixed sublattice still occupied by one species (the
        parent repeated, e.g. a 2x2x2 Ag3SBr), so that its full space group is found.
    site : str
        Element symbol of the sublattice, e.g. ``"Br"``.
    symprec : float
        spglib distance tolerance in angstrom.
    angle_tolerance : float
        spglib angle tolerance in degrees (-1: spglib's default).

    Returns
    -------
    SublatticeSymmetry

    """
    if not symprec > 0:
        raise InputError(f"{symprec=} must be a positive distance in angstrom")
    present = sorted({el.symbol for el in supercell.composition.elements})
    sublattice = tuple(i for i, s in enumerate(supercell) if s.specie.symbol == site)
    if not sublattice:
        raise InputError(f"{site=} is not a species of {supercell.formula!r}; present: {present}")
    rotations, translations, symbol, number = _spglib_operations(
        supercell, symprec, angle_tolerance
    )
    permutations = sublattice_permutations(
        supercell, sublattice, rotations, translations, symprec=symprec
    )
    return SublatticeSymmetry(
        permutations=permutations,
        sublattice=sublattice,
        space_group_symbol=symbol,
        space_group_number=number,
        n_operations=len(rotations),
    )


def cycle_type(permutation: Sequence[int] | NDArray) -> tuple[int, ...]:
    """Cycle lengths of one permutation, sorted in decreasing order.

    Parameters
    ----------
    permutation : sequence of int, length N
        ``permutation[i]`` is the image of ``i``.

    Returns
    -------
    tuple of int
        Lengths of its disjoint cycles; they sum to N.

    """
    perm = [int(p) for p in permutation]
    seen = [False] * len(perm)
    lengths = []
    for start in range(len(perm)):
        if seen[start]:
            continue
        length, i = 0, start
        while not seen[i]:
            seen[i] = True
            i = perm[i]
            length += 1
        lengths.append(length)
    return tuple(sorted(lengths, reverse=True))


def cycle_type_counts(permutations: Iterable[Sequence[int]] | NDArray) -> Counter[tuple[int, ...]]:
    """How many group elements have each cycle type (the cycle index of the group)."""
    return Counter(cycle_type(p) for p in permutations)


def _subset_polynomial(lengths: tuple[int, ...], n_sites: int) -> list[int]:
    """Coefficients of prod_c (1 + t^len(c)): fixed n-subsets of a permutation, n = 0..N."""
    coefficients = [1] + [0] * n_sites
    degree = 0
    for length in lengths:
        for k in range(degree, -1, -1):
            if coefficients[k]:
                coefficients[k + length] += coefficients[k]
        degree += length
    return coefficients


def count_inequivalent(permutations: Iterable[Sequence[int]] | NDArray) -> list[int]:
    """Count the symmetry-inequivalent n-subsets of the sublattice, for every n.

    Parameters
    ----------
    permutations : array-like, shape=(G, N), dtype=int
        A permutation group on N sites (e.g. ``SublatticeSymmetry.permutations``).

    Returns
    -------
    list of int
        ``counts[n]`` for n = 0..N, exact (Python integers).

    Raises
    ------
    CalculationError
        If the Burnside sum is not divisible by G, i.e. the permutations are not a group.

    """
    by_type = cycle_type_counts(permutations)
    if not by_type:
        raise InputError("no permutations given; the group must contain at least the identity")
    n_sites = sum(next(iter(by_type)))
    group_order = sum(by_type.values())
    totals = [0] * (n_sites + 1)
    for lengths, multiplicity in by_type.items():
        for n, fixed in enumerate(_subset_polynomial(lengths, n_sites)):
            totals[n] += multiplicity * fixed
    counts = []
    for n, total in enumerate(totals):
        quotient, remainder = divmod(total, group_order)
        if remainder:
            raise CalculationError(
                f"Burnside sum for n={n} ({total}) is not divisible by the group order "
                f"{group_order}; the permutations do not form a group"
            )
        counts.append(quotient)
    return counts
