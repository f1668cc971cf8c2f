"""Listing and sampling of symmetry-inequivalent binary configurations.

A configuration is the set of sublattice indices (0..N-1) holding the substituting species.
Its canonical form is the lexicographically smallest sorted index tuple among all its
symmetry images, and its multiplicity (the number of distinct configurations equivalent to
it) is |G| / |stabiliser|; multiplicities of all inequivalent configurations with n
substituted sites sum to C(N, n).

Images are compared through integer keys: site i contributes bit N-1-i, split over 62-bit
words, so that the largest key is the lexicographically smallest index tuple.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pymatgen.core import Structure

from thermogap.disorder.counting import SublatticeSymmetry, count_inequivalent, sublattice_symmetry
from thermogap.errors import CalculationError, InputError
from thermogap.structures.solid_solution import (
    SupercellSpec,
    make_supercell,
    scaling_matrix,
    sublattice_indices,
)

__all__ = [
    "CompositionEnumeration",
    "DisorderEnumeration",
    "InequivalentConfiguration",
    "canonicalize",
    "enumerate_composition",
    "enumerate_disorder",
    "list_inequivalent",
    "sample_inequivalent",
]

_BITS_PER_WORD = 62
_CHUNK_ELEMENTS = 4_000_000  # bound on G x M x n intermediate array size


@dataclass(frozen=True)
class InequivalentConfiguration:
    """One representative of a symmetry-equivalence class.

    Attributes
    ----------
    substituted_sites : tuple of int
        Canonical (lexicographically smallest) sorted sublattice indices holding the
        substituting species.
    multiplicity : int
        Number of distinct configurations in its class, |G| / |stabiliser|.

    """

    substituted_sites: tuple[int, ...]
    multiplicity: int


@dataclass(frozen=True)
class CompositionEnumeration:
    """Inequivalent configurations with ``n_substituted`` of ``n_sites`` sites substituted.

    Attributes
    ----------
    n_substituted : int
        Number n of substituted sublattice sites.
    n_sites : int
        Number N of sublattice sites.
    n_inequivalent : int
        Exact number of inequivalent configurations (Burnside/Pólya).
    configurations : tuple of InequivalentConfiguration
        All of them when listed, else the distinct random sample, in order of discovery.
    sampled : bool
        True when ``configurations`` is a random sample rather than the complete list.
    seed : int or None
        Seed of the random sample (None when listed).

    """

    n_substituted: int
    n_sites: int
    n_inequivalent: int
    configurations: tuple[InequivalentConfiguration, ...]
    sampled: bool
    seed: int | None = None

    @property
    def total(self) -> int:
        """C(N, n): number of configurations before symmetry reduction."""
        return math.comb(self.n_sites, self.n_substituted)


class _KeyTable:
    """Per-operation bit keys: ``table[w, g, i]`` is the word-w key of site i's image under g."""

    def __init__(self, permutations: NDArray[np.int64]) -> None:
        perms = np.asarray(permutations, dtype=np.int64)
        if perms.ndim != 2 or perms.shape[0] < 1:
            raise InputError(f"permutations must have shape (G, N); got {perms.shape}")
        self.permutations = perms
        self.group_order, self.n_sites = perms.shape
        self.n_words = max(1, -(-self.n_sites // _BITS_PER_WORD))
        # key of position k: word k // 62 (most significant first), bit 61 - k % 62
        position_word = np.arange(self.n_sites) // _BITS_PER_WORD
        position_bit = (_BITS_PER_WORD - 1 - np.arange(self.n_sites) % _BITS_PER_WORD).astype(
            np.int64
        )
        table = np.zeros((self.n_words, self.group_order, self.n_sites), dtype=np.int64)
        g_index = np.repeat(np.arange(self.group_order), self.n_sites)
        site_index = np.tile(np.arange(self.n_sites), self.group_order)
        image = perms.reshape(-1)
        table[position_word[image], g_index, site_index] = np.left_shift(
            np.int64(1), position_bit[image]
        )
        self.table = table

    def image_keys(self, configurations: NDArray[np.int64]) -> NDArray[np.int64]:
        """Keys of all images; configurations shape (M, n) -> keys shape (M, G, W)."""
        m, n = configurations.shape
        if n == 0:
            return np.zeros((m, self.group_order, self.n_words), dtype=np.int64)
        gathered = self.table[:, :, configurations]  # (W, G, M, n)
        return np.moveaxis(gathered.sum(axis=-1), (0, 1, 2), (2, 1, 0))


def _lexicographic_argmax(keys: NDArray[np.int64]) -> NDArray[np.int64]:
    """Index along axis 1 of the lexicographically largest word-tuple; keys (M, G, W)."""
    best = np.ones(keys.shape[:2], dtype=bool)
    for w in range(keys.shape[2]):
        values = np.where(best, keys[:, :, w], -1)
        best &= values == values.max(axis=1, keepdims=True)
    return np.argmax(best, axis=1)


def _keys_to_sites(key: NDArray[np.int64], n_sites: int) -> tuple[int, ...]:
    sites = []
    for w, word in enumerate(key):
        word = int(word)
        for bit in range(_BITS_PER_WORD):
            if word >> (_BITS_PER_WORD - 1 - bit) & 1:
                sites.append(w * _BITS_PER_WORD + bit)
    return tuple(s for s in sites if s < n_sites)


def _canonical_keys(
    table: _KeyTable, configurations: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Canonical keys (M, W) and stabiliser orders (M,) of configurations (M, n)."""
    m, n = configurations.shape
    chunk = max(1, _CHUNK_ELEMENTS // max(1, table.group_order * max(n, 1) * table.n_words))
    canonical = np.empty((m, table.n_words), dtype=np.int64)
    stabiliser = np.empty(m, dtype=np.int64)
    for start in range(0, m, chunk):
        block = configurations[start : start + chunk]
        keys = table.image_keys(block)  # (b, G, W); g = 0 is the identity
        best = _lexicographic_argmax(keys)
        canonical[start : start + chunk] = keys[np.arange(len(block)), best]
        stabiliser[start : start + chunk] = np.all(keys == keys[:, :1, :], axis=2).sum(axis=1)
    return canonical, stabiliser


def _as_configurations(configurations: Sequence[Sequence[int]] | NDArray, n_sites: int) -> NDArray:
    array = np.asarray(configurations, dtype=np.int64)
    if array.ndim == 1:
        array = array[None, :] if array.size else np.zeros((1, 0), dtype=np.int64)
    if array.ndim != 2:
        raise InputError(f"configurations must have shape (M, n); got {array.shape}")
    if array.size and (array.min() < 0 or array.max() >= n_sites):
        raise InputError(
            f"site indices must lie in 0..{n_sites - 1}; got {array.min()}..{array.max()}"
        )
    if array.shape[1] and np.any(np.diff(np.sort(array, axis=1), axis=1) == 0):
        raise InputError("a configuration lists the same site twice")
    return array


def canonicalize(
    permutations: NDArray[np.int64], configurations: Sequence[Sequence[int]] | NDArray
) -> list[InequivalentConfiguration]:
    """Canonical representative and multiplicity of each configuration.

    Parameters
    ----------
    permutations : ndarray, shape=(G, N), dtype=int
        The group acting on the sublattice, identity first (``SublatticeSymmetry``).
    configurations : array-like, shape=(M, n), dtype=int
        Substituted sublattice indices of M configurations.

    Returns
    -------
    list of InequivalentConfiguration, length M

    """
    _check_identity_first(np.asarray(permutations))
    table = _KeyTable(permutations)
    configs = _as_configurations(configurations, table.n_sites)
    keys, stabiliser = _canonical_keys(table, configs)
    return [
        InequivalentConfiguration(
            substituted_sites=_keys_to_sites(key, table.n_sites),
            multiplicity=table.group_order // int(stab),
        )
        for key, stab in zip(keys, stabiliser, strict=True)
    ]


def _check_identity_first(permutations: NDArray[np.int64]) -> None:
    if not np.array_equal(permutations[0], np.arange(permutations.shape[1])):
        raise InputError("permutations[0] must be the identity (as SublatticeSymmetry gives it)")


def list_inequivalent(
    permutations: NDArray[np.int64], n_substituted: int
) -> list[InequivalentConfiguration]:
    """Every inequivalent configuration with ``n_substituted`` substituted sites.

    Orbits of n-subsets are grown from those of (n-1)-subsets: every n-subset is equivalent
    to some (n-1)-representative plus one site, so adding each free site to each
    representative and de-duplicating canonical forms finds all classes.  The orbit counts
    of k-subsets are unimodal and symmetric (Stanley), so the intermediate lists are never
    longer than the final one; for n > N/2 the complements of the (N-n)-classes are used.

    Parameters
    ----------
    permutations : ndarray, shape=(G, N), dtype=int
        The group acting on the sublattice, identity first.
    n_substituted : int
        Number n of substituted sites, 0..N.

    Returns
    -------
    list of InequivalentConfiguration
        Sorted by canonical site tuple.

    """
    perms = np.asarray(permutations, dtype=np.int64)
    _check_identity_first(perms)
    table = _KeyTable(perms)
    n_sites = table.n_sites
    _check_n(n_substituted, n_sites)
    depth = min(n_substituted, n_sites - n_substituted)
    representatives = np.zeros((1, 0), dtype=np.int64)
    for _ in range(depth):
        representatives = _grow(table, representatives)
    if depth != n_substituted:
        full = np.ones((len(representatives), n_sites), dtype=bool)
        full[np.arange(len(representatives))[:, None], representatives] = False
        representatives = np.nonzero(full)[1].reshape(len(representatives), -1)
    result = sorted(canonicalize(perms, representatives), key=lambda c: c.substituted_sites)
    total = sum(c.multiplicity for c in result)
    if total != math.comb(n_sites, n_substituted):
        raise CalculationError(
            f"multiplicities sum to {total}, not C({n_sites}, {n_substituted}) = "
            f"{math.comb(n_sites, n_substituted)}; the permutations do not form a group"
        )
    return result


def _grow(table: _KeyTable, representatives: NDArray[np.int64]) -> NDArray[np.int64]:
    """Canonical (k+1)-representatives from k-representatives (sorted index rows)."""
    n_sites = table.n_sites
    m, k = representatives.shape
    free = np.ones((m, n_sites), dtype=bool)
    free[np.arange(m)[:, None], representatives] = False
    rows, added = np.nonzero(free)
    candidates = np.concatenate([representatives[rows], added[:, None]], axis=1)
    keys, _ = _canonical_keys(table, candidates)
    _, first = np.unique(keys, axis=0, return_index=True)
    unique_keys = keys[np.sort(first)]
    return np.array([_keys_to_sites(key, n_sites) for key in unique_keys], dtype=np.int64).reshape(
        len(unique_keys), k + 1
    )


def sample_inequivalent(
    permutations: NDArray[np.int64],
    n_substituted: int,
    n_samples: int,
    seed: int,
    *,
    max_draws: int | None = None,
    n_inequivalent: int | None = None,
) -> list[InequivalentConfiguration]:
    """Distinct inequivalent configurations drawn at random.

    Configurations are drawn uniformly among the C(N, n) occupations (so a class is met
    with probability proportional to its multiplicity), canonicalised, and kept when their
    class is new, until ``n_samples`` classes are found.

    Parameters
    ----------
    permutations : ndarray, shape=(G, N), dtype=int
        The group acting on the sublattice, identity first.
    n_substituted : int
        Number n of substituted sites.
    n_samples : int
        Number of distinct classes wanted; at most the number of classes.
    seed : int
        Non-negative seed; draws come from ``numpy.random.default_rng([seed, n_substituted])``,
        so the same seed gives the same sample and each n has its own stream.
    max_draws : int, optional
        Give up after this many random draws (default ``1000 * n_samples``).
    n_inequivalent : int, optional
        The exact number of classes, if already known.

    Returns
    -------
    list of InequivalentConfiguration
        In order of discovery.

    Raises
    ------
    CalculationError
        If fewer than ``n_samples`` classes were met within ``max_draws`` draws.

    """
    perms = np.asarray(permutations, dtype=np.int64)
    _check_identity_first(perms)
    table = _KeyTable(perms)
    n_sites = table.n_sites
    _check_n(n_substituted, n_sites)
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
        raise InputError(f"{n_samples=} must be a positive integer")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"{seed=} must be a non-negative integer")
    available = (
        count_inequivalent(perms)[n_substituted] if n_inequivalent is None else n_inequivalent
    )
    if n_samples > available:
        raise InputError(
            f"{n_samples=} exceeds the {available} inequivalent configurations with "
            f"{n_substituted} of {n_sites} sites substituted; list them instead"
        )
    limit = 1000 * n_samples if max_draws is None else max_draws
    rng = np.random.default_rng([int(seed), int(n_substituted)])
    batch = max(16, 2 * n_samples)
    found: dict[tuple[int, ...], int] = {}
    draws = 0
    while len(found) < n_samples and draws < limit:
        size = min(batch, limit - draws)
        draws += size
        configs = np.sort(
            np.argsort(rng.random((size, n_sites)), axis=1)[:, :n_substituted], axis=1
        )
        keys, stabiliser = _canonical_keys(table, configs)
        for key, stab in zip(keys, stabiliser, strict=True):
            marker = tuple(int(v) for v in key)
            if marker not in found:
                found[marker] = table.group_order // int(stab)
                if len(found) == n_samples:
                    break
    if len(found) < n_samples:
        raise CalculationError(
            f"found only {len(found)} of {n_samples=} distinct classes in {draws} random draws "
            f"(n={n_substituted}, N={n_sites}); raise max_draws or lower n_samples"
        )
    return [
        InequivalentConfiguration(
            substituted_sites=_keys_to_sites(np.array(marker), n_sites), multiplicity=mult
        )
        for marker, mult in found.items()
    ]


def _check_n(n_substituted: int, n_sites: int) -> None:
    if (
        isinstance(n_substituted, bool)
        or not isinstance(n_substituted, (int, np.integer))
        or not 0 <= n_substituted <= n_sites
    ):
        raise InputError(f"{n_substituted=} must be an integer in 0..{n_sites}")


def enumerate_composition(
    permutations: NDArray[np.int64],
    n_substituted: int,
    *,
    max_listed: int = 100,
    n_samples: int = 100,
    seed: int = 0,
    n_inequivalent: int | None = None,
) -> CompositionEnumeration:
    """List all inequivalent configurations when few, else sample some, for one n.

    Parameters
    ----------
    permutations : ndarray, shape=(G, N), dtype=int
        The group acting on the sublattice, identity first.
    n_substituted : int
        Number n of substituted sites.
    max_listed : int
        List every class when there are at most this many (the seed paper keeps all
        configurations up to about 100).
    n_samples : int
        Otherwise draw this many distinct classes at random (the paper: about 100).  When
        there are no more classes than ``n_samples``, all are listed instead.
    seed : int
        Seed of the random sample.
    n_inequivalent : int, optional
        The exact count, if already known (saves recomputing it).

    Returns
    -------
    CompositionEnumeration

    """
    perms = np.asarray(permutations, dtype=np.int64)
    n_sites = perms.shape[1]
    _check_n(n_substituted, n_sites)
    for name, value in (("max_listed", max_listed), ("n_samples", n_samples)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InputError(f"{name}={value!r} must be a non-negative integer")
    count = count_inequivalent(perms)[n_substituted] if n_inequivalent is None else n_inequivalent
    if count <= max_listed or count <= n_samples:
        configurations = list_inequivalent(perms, n_substituted)
        return CompositionEnumeration(
            n_substituted=n_substituted,
            n_sites=n_sites,
            n_inequivalent=count,
            configurations=tuple(configurations),
            sampled=False,
        )
    if n_samples == 0:
        configurations = []
    else:
        configurations = sample_inequivalent(
            perms, n_substituted, n_samples, seed, n_inequivalent=count
        )
    return CompositionEnumeration(
        n_substituted=n_substituted,
        n_sites=n_sites,
        n_inequivalent=count,
        configurations=tuple(configurations),
        sampled=True,
        seed=seed,
    )


@dataclass(frozen=True)
class DisorderEnumeration:
    """Inequivalent configurations of a binary solid solution, for every composition.

    Attributes
    ----------
    supercell : Structure
        The parent supercell, sublattice still occupied by ``site`` only.
    site : str
        Species of the parent naming the mixed sublattice.
    species : tuple of str
        ``(first, second)``: substituted sites hold ``second``, the others ``first``, so
        n substituted sites is the composition x = (N - n) / N of ``first``.
    supercell_matrix : tuple of tuple of int, shape=(3, 3)
        Repetition of the parent cell.
    symmetry : SublatticeSymmetry
        The permutation group the supercell's space group induces on the sublattice.
    compositions : tuple of CompositionEnumeration
        One entry per requested n, in increasing order.
    max_listed, n_samples, seed : int
        Settings of :func:`enumerate_composition`.
    symprec : float
        spglib distance tolerance, angstrom.

    """

    supercell: Structure
    site: str
    species: tuple[str, str]
    supercell_matrix: tuple[tuple[int, ...], ...]
    symmetry: SublatticeSymmetry
    compositions: tuple[CompositionEnumeration, ...]
    max_listed: int
    n_samples: int
    seed: int
    symprec: float

    def structure(self, configuration: InequivalentConfiguration | Sequence[int]) -> Structure:
        """Build the supercell with ``configuration``'s sites holding ``species[1]``."""
        sites = (
            configuration.substituted_sites
            if isinstance(configuration, InequivalentConfiguration)
            else tuple(int(i) for i in configuration)
        )
        n_sites = self.symmetry.n_sites
        if len(set(sites)) != len(sites) or any(not 0 <= i < n_sites for i in sites):
            raise InputError(f"{sites=} must be distinct sublattice indices in 0..{n_sites - 1}")
        structure = self.supercell.copy()
        substituted = set(sites)
        for k, index in enumerate(self.symmetry.sublattice):
            structure.replace(index, self.species[1] if k in substituted else self.species[0])
        return structure


def enumerate_disorder(
    parent: Structure,
    *,
    site: str,
    species: tuple[str, str],
    supercell: SupercellSpec = (2, 2, 2),
    n_substituted: Sequence[int] | None = None,
    max_listed: int = 100,
    n_samples: int = 100,
    seed: int = 0,
    symprec: float = 1e-3,
) -> DisorderEnumeration:
    """Count, list or sample inequivalent configurations of a sublattice solid solution.

    Parameters
    ----------
    parent : Structure
        Ordered parent cell, e.g. ``antiperovskite(4.9)``.
    site : str
        Species whose sites are mixed, e.g. ``"Br"``.
    species : tuple of str
        ``(first, second)``; a configuration lists the sites of ``second``.
    supercell : three ints or 3x3 int matrix
        Repetition of ``parent``.
    n_substituted : sequence of int, optional
        Numbers of substituted sites to enumerate; default all, 0..N.
    max_listed, n_samples, seed
        See :func:`enumerate_composition`.
    symprec : float
        spglib distance tolerance in angstrom.

    Returns
    -------
    DisorderEnumeration

    Examples
    --------
    >>> from thermogap.structures import antiperovskite
    >>> result = enumerate_disorder(antiperovskite(4.9), site="Br", species=("Br", "I"))
    >>> [c.n_inequivalent for c in result.compositions]
    [1, 1, 3, 3, 6, 3, 3, 1, 1]

    """
    if len(species) != 2 or species[0] == species[1]:
        raise InputError(f"{species=} must be two different element symbols, e.g. ('Br', 'I')")
    sublattice_indices(parent, site)
    matrix = scaling_matrix(supercell)
    repeated = make_supercell(parent, matrix)
    symmetry = sublattice_symmetry(repeated, site, symprec=symprec)
    counts = count_inequivalent(symmetry.permutations)
    n_sites = symmetry.n_sites
    requested = range(n_sites + 1) if n_substituted is None else sorted(set(n_substituted))
    compositions = []
    for n in requested:
        _check_n(n, n_sites)
        compositions.append(
            enumerate_composition(
                symmetry.permutations,
                int(n),
                max_listed=max_listed,
                n_samples=n_samples,
                seed=seed,
                n_inequivalent=counts[n],
            )
        )
    return DisorderEnumeration(
        supercell=repeated,
        site=site,
        species=(species[0], species[1]),
        supercell_matrix=tuple(tuple(int(v) for v in row) for row in matrix),
        symmetry=symmetry,
        compositions=tuple(compositions),
        max_listed=max_listed,
        n_samples=n_samples,
        seed=seed,
        symprec=symprec,
    )
