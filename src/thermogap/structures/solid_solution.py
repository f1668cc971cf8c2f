"""Supercells and binary solid solutions on one sublattice.

A solid solution A3B(X1_x X2_(1-x)) is built by repeating the parent cell and occupying the
N sites of the named sublattice (e.g. the halide sites of Ag3SBr) with two species.  In a
finite supercell the composition lives on the grid x = k/N, k = 0..N: the 2x2x2 supercell of
the 5-atom antiperovskite has 8 halide sites, so x is a multiple of 1/8.

Conventions shared with :mod:`thermogap.disorder`: the sublattice is indexed 0..N-1 in the
order its sites appear in the supercell, and a configuration is the set of sublattice indices
occupied by the *second* species ("substituted" sites); x is the fraction of the *first*.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pymatgen.core import Element, Structure

from thermogap.errors import InputError

__all__ = [
    "SupercellSpec",
    "allowed_compositions",
    "composition_to_count",
    "make_supercell",
    "scaling_matrix",
    "solid_solution_supercell",
    "sublattice_indices",
    "vegard_lattice_parameter",
]

_GRID_TOLERANCE = 1e-6

#: Three repetitions ``(na, nb, nc)`` or a 3x3 integer scaling matrix.
SupercellSpec = Sequence[int] | Sequence[Sequence[int]] | NDArray[np.integer[Any]]


def allowed_compositions(n_sites: int) -> list[Fraction]:
    """Compositions a sublattice of ``n_sites`` sites can represent.

    Parameters
    ----------
    n_sites : int
        Number of sites on the sublattice (e.g. 8 halide sites in a 2x2x2 antiperovskite).

    Returns
    -------
    list of Fraction
        ``[0, 1/n_sites, ..., 1]``, shape ``(n_sites + 1,)``.

    """
    if isinstance(n_sites, bool) or not isinstance(n_sites, (int, np.integer)) or n_sites < 1:
        raise InputError(f"{n_sites=} must be a positive integer number of sublattice sites")
    return [Fraction(k, int(n_sites)) for k in range(int(n_sites) + 1)]


def composition_to_count(x: float | Fraction, n_sites: int) -> int:
    """Return the number of sublattice sites holding the first species at composition ``x``.

    Raises
    ------
    InputError
        If ``x`` is outside [0, 1] or not on the ``1/n_sites`` grid; the message lists the
        allowed values.

    """
    grid = allowed_compositions(n_sites)
    try:
        value = float(x)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{x=} is not a number; allowed: {_format_grid(grid)}") from exc
    count = round(value * n_sites)
    if (
        not math.isfinite(value)
        or not 0 <= count <= n_sites
        or abs(value * n_sites - count) > _GRID_TOLERANCE * max(1, n_sites)
    ):
        raise InputError(
            f"{x=} is not on the 1/{n_sites} grid of a sublattice with {n_sites} sites; "
            f"allowed: {_format_grid(grid)}"
        )
    return int(count)


def _format_grid(grid: Sequence[Fraction]) -> str:
    return ", ".join(f"{g} ({float(g):g})" if g.denominator != 1 else str(g) for g in grid)


def vegard_lattice_parameter(x: float, a_first_ang: float, a_second_ang: float) -> float:
    """Vegard's law: linear interpolation of the lattice parameter between end members.

    Parameters
    ----------
    x : float
        Fraction of the first species, in [0, 1].
    a_first_ang, a_second_ang : float
        Lattice parameters (angstrom) of the end members x = 1 and x = 0.

    Returns
    -------
    float
        ``x * a_first_ang + (1 - x) * a_second_ang`` in angstrom.

    """
    if not 0.0 <= float(x) <= 1.0:
        raise InputError(f"{x=} must lie in [0, 1]")
    for name, value in (("a_first_ang", a_first_ang), ("a_second_ang", a_second_ang)):
        if not math.isfinite(value) or value <= 0:
            raise InputError(f"{name}={value!r} must be a positive length in angstrom")
    return float(x) * a_first_ang + (1.0 - float(x)) * a_second_ang


def scaling_matrix(supercell: SupercellSpec) -> np.ndarray:
    """Validate a supercell specification and return it as a 3x3 integer matrix."""
    error = InputError(
        f"supercell={supercell!r} must be three positive integers (e.g. (2, 2, 2)) "
        "or a non-singular 3x3 integer matrix"
    )
    try:
        matrix = np.asarray(supercell, dtype=float)
    except (TypeError, ValueError) as exc:
        raise error from exc
    if matrix.shape == (3,):
        if np.any(matrix < 1):
            raise error
        matrix = np.diag(matrix)
    if (
        matrix.shape != (3, 3)
        or not np.all(np.round(matrix) == matrix)
        or round(abs(np.linalg.det(matrix))) < 1
    ):
        raise error
    return matrix.astype(int)


def make_supercell(parent: Structure, supercell: SupercellSpec = (2, 2, 2)) -> Structure:
    """Repeat ``parent`` by ``supercell`` (three integers or a 3x3 integer matrix).

    Raises
    ------
    InputError
        For a malformed supercell or one above the size cap
        (:func:`thermogap.structures.validation.max_supercell_atoms`).
    """
    from thermogap.structures.validation import validate_supercell

    validate_supercell(supercell, len(parent))
    return parent.copy().make_supercell(scaling_matrix(supercell), in_place=False)


def sublattice_indices(structure: Structure, site: str) -> list[int]:
    """Return the indices of the sites of ``structure`` occupied by the species ``site``.

    Parameters
    ----------
    structure : Structure
        An ordered structure.
    site : str
        Element symbol naming the sublattice, e.g. ``"Br"``.

    Returns
    -------
    list of int
        Site indices in structure order, shape ``(N,)``.

    """
    present = sorted({sp.symbol for sp in structure.composition.elements})
    if not structure.is_ordered:
        raise InputError("the structure has partial occupancies; give an ordered parent")
    indices = [i for i, s in enumerate(structure) if s.specie.symbol == site]
    if not indices:
        raise InputError(f"{site=} is not a species of {structure.formula!r}; present: {present}")
    return indices


def solid_solution_supercell(
    parent: Structure,
    *,
    site: str,
    species: tuple[str, str],
    supercell: SupercellSpec = (2, 2, 2),
    x: float | Fraction,
    lattice_parameters: Mapping[str, float] | None = None,
    substituted_sites: Sequence[int] | None = None,
) -> Structure:
    """Build one configuration of a binary solid solution on a sublattice of a supercell.

    Parameters
    ----------
    parent : Structure
        Ordered parent cell, e.g. ``antiperovskite(4.9)`` (Ag3SBr).
    site : str
        Species of ``parent`` whose sites form the mixed sublattice, e.g. ``"Br"``.
    species : tuple of str
        ``(first, second)``; ``x`` is the fraction of ``first`` on the sublattice
        (Ag3SBr_xI_(1-x): ``("Br", "I")``, x = 1 is pure Ag3SBr).
    supercell : three ints or 3x3 int matrix
        Repetition of ``parent``.
    x : float or Fraction
        Fraction of ``first``; must be a multiple of 1/N, N the number of sublattice sites.
    lattice_parameters : mapping, optional
        End-member lattice parameters in angstrom, ``{first: a_1, second: a_0}``.  When
        given, the supercell is scaled isotropically so that the cube root of the
        parent-cell volume follows Vegard's law, ``x a_1 + (1 - x) a_0`` (for a cubic parent
        that is the cubic lattice parameter).
    substituted_sites : sequence of int, optional
        Sublattice indices (0..N-1, in supercell order) that hold ``second``; there must be
        ``N - x N`` of them.  Defaults to the last ``N - x N`` sublattice sites.

    Returns
    -------
    Structure
        The supercell with ``x N`` sites of ``first`` and ``(1 - x) N`` of ``second``.

    Raises
    ------
    InputError
        For an unknown sublattice species, invalid species, an ``x`` off the grid (the
        message lists the allowed values), or inconsistent ``substituted_sites``.

    """
    if len(species) != 2 or species[0] == species[1]:
        raise InputError(f"{species=} must be two different element symbols, e.g. ('Br', 'I')")
    for symbol in species:
        if not isinstance(symbol, str) or not Element.is_valid_symbol(symbol):
            raise InputError(f"species {symbol!r} is not a chemical element symbol")
    scaling = scaling_matrix(supercell)
    sublattice_indices(parent, site)  # validates the name against the parent, cheaply
    structure = parent.copy().make_supercell(scaling, in_place=False)
    indices = sublattice_indices(structure, site)
    n_sites = len(indices)
    n_first = composition_to_count(x, n_sites)
    n_second = n_sites - n_first

    if substituted_sites is None:
        second = list(range(n_first, n_sites))
    else:
        second = [int(i) for i in substituted_sites]
        if len(set(second)) != len(second) or any(not 0 <= i < n_sites for i in second):
            raise InputError(
                f"{substituted_sites=} must be distinct sublattice indices in 0..{n_sites - 1}"
            )
        if len(second) != n_second:
            raise InputError(
                f"{len(second)} substituted sites given but x={x} on {n_sites} sites "
                f"needs {n_second} sites of {species[1]!r}"
            )
    second_set = set(second)
    for k, index in enumerate(indices):
        structure.replace(index, species[1] if k in second_set else species[0])

    if lattice_parameters is not None:
        _apply_vegard(structure, parent, species, Fraction(n_first, n_sites), lattice_parameters)
    return structure


def _apply_vegard(
    structure: Structure,
    parent: Structure,
    species: tuple[str, str],
    x: Fraction,
    lattice_parameters: Mapping[str, float],
) -> None:
    if set(lattice_parameters) != set(species):
        raise InputError(
            f"lattice_parameters keys {sorted(lattice_parameters)} must be exactly the two "
            f"species {list(species)}"
        )
    target = vegard_lattice_parameter(
        float(x), float(lattice_parameters[species[0]]), float(lattice_parameters[species[1]])
    )
    current = parent.lattice.volume ** (1.0 / 3.0)
    structure.scale_lattice(structure.volume * (target / current) ** 3)
