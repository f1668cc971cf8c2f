"""Independent references for the disorder tests.

Nothing here uses thermogap: symmetry groups are built analytically from point-group
matrices and lattice translations on integer site coordinates, and orbits are counted by
brute force (every subset, every group element, smallest bitmask as the orbit label).
"""

from __future__ import annotations

import itertools
import math

import numpy as np


def signed_permutation_matrices(axes_permutable: tuple[int, ...] = (0, 1, 2)) -> list[np.ndarray]:
    """Signed permutation matrices permuting only ``axes_permutable`` among themselves.

    (0, 1, 2): the 48 operations of O_h; (0, 1): the 16 of D_4h (z stays z up to sign).
    """
    mats = []
    for perm in itertools.permutations(range(3)):
        if any(perm[i] != i for i in range(3) if i not in axes_permutable):
            continue
        if any(perm[i] not in axes_permutable for i in axes_permutable):
            continue
        for signs in itertools.product((1, -1), repeat=3):
            m = np.zeros((3, 3), dtype=int)
            for i in range(3):
                m[i, perm[i]] = signs[i]
            mats.append(m)
    return mats


def lattice_group(
    coords: np.ndarray, modulus: np.ndarray, rotations: list[np.ndarray], translations: np.ndarray
) -> set[tuple[int, ...]]:
    """Permutations of integer sites ``coords`` (N, 3) under x -> R x + t (mod ``modulus``)."""
    index = {tuple(int(v) for v in c): i for i, c in enumerate(coords)}
    perms = set()
    for rot in rotations:
        rotated = coords @ rot.T
        for t in translations:
            images = np.mod(rotated + t, modulus)
            perms.add(tuple(index[tuple(int(v) for v in img)] for img in images))
    return perms


def integer_coords(frac: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Fractional coordinates (N, 3) times ``scale``, rounded to integers and wrapped."""
    values = np.asarray(frac) * np.asarray(scale)
    rounded = np.round(values).astype(int)
    assert np.allclose(values, rounded, atol=1e-6)  # test-internal sanity check
    return np.mod(rounded, scale)


def _image_masks(perms: np.ndarray, subsets: np.ndarray) -> np.ndarray:
    """Bitmask of every image of every subset: perms (G, N), subsets (M, N) bool -> (G, M)."""
    n_sites = perms.shape[1]
    weights = np.left_shift(np.int64(1), np.arange(n_sites, dtype=np.int64))
    out = np.empty((len(perms), len(subsets)), dtype=np.int64)
    for g, perm in enumerate(perms):
        image = np.zeros_like(subsets)
        image[:, perm] = subsets  # site i -> perm[i]
        out[g] = image.astype(np.int64) @ weights
    return out


def all_subsets(n_sites: int, n: int) -> np.ndarray:
    """Every n-subset of range(n_sites) as a boolean matrix, shape (C(N, n), N)."""
    combos = list(itertools.combinations(range(n_sites), n))
    subsets = np.zeros((len(combos), n_sites), dtype=bool)
    for row, combo in enumerate(combos):
        subsets[row, list(combo)] = True
    return subsets


def brute_force_orbits(perms: np.ndarray, n: int) -> dict[int, int]:
    """Orbits of n-subsets: {smallest bitmask in the orbit: orbit size}."""
    perms = np.asarray(perms)
    subsets = all_subsets(perms.shape[1], n)
    masks = _image_masks(perms, subsets)
    labels = masks.min(axis=0)
    orbits: dict[int, int] = {}
    for label in labels:
        orbits[int(label)] = orbits.get(int(label), 0) + 1
    assert sum(orbits.values()) == math.comb(perms.shape[1], n)
    return orbits


def orbit_label_and_size(perms: np.ndarray, sites: tuple[int, ...]) -> tuple[int, int]:
    """Smallest bitmask over the orbit of ``sites`` and the number of distinct images."""
    perms = np.asarray(perms)
    subset = np.zeros((1, perms.shape[1]), dtype=bool)
    subset[0, list(sites)] = True
    masks = _image_masks(perms, subset)[:, 0]
    return int(masks.min()), len(set(masks.tolist()))


def smallest_sorted_image(perms: np.ndarray, sites: tuple[int, ...]) -> tuple[int, ...]:
    """Lexicographically smallest sorted tuple among the images of ``sites``."""
    return min(tuple(sorted(int(p[s]) for s in sites)) for p in np.asarray(perms))


def necklaces(n: int, k: int) -> int:
    """Binary necklaces of length n with k ones (cyclic group), textbook formula."""
    total = 0
    for d in range(1, math.gcd(n, k) + 1 if k else n + 1):
        if n % d == 0 and k % d == 0:
            phi = sum(1 for j in range(1, d + 1) if math.gcd(j, d) == 1)
            total += phi * math.comb(n // d, k // d)
    return total // n


def bracelets(n: int, k: int) -> int:
    """Binary bracelets of length n with k ones (dihedral group), textbook formula."""
    if n % 2:
        reflection_fixed = n * math.comb((n - 1) // 2, k // 2)
    else:
        half = n // 2
        if k % 2 == 0:
            through_vertices = math.comb(half - 1, k // 2) + (
                math.comb(half - 1, k // 2 - 1) if k >= 2 else 0
            )
            through_edges = math.comb(half, k // 2)
        else:
            through_vertices = 2 * math.comb(half - 1, (k - 1) // 2)
            through_edges = 0
        reflection_fixed = half * through_vertices + half * through_edges
    total = n * necklaces(n, k) + reflection_fixed
    assert total % (2 * n) == 0
    return total // (2 * n)
