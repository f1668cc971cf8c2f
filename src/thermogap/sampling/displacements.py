"""Displaced configurations of (possibly disordered) supercells.

Schemes
-------
``phonon``
    u_{j,α} = ε ζ_{j,α}(T), ε ~ U[-1, 1] independently per atom and direction (Eq. 1 of
    Benítez et al. 2026; Eq. 3 of the 2025 dataset study), ζ from
    :func:`thermogap.sampling.amplitudes.thermal_amplitudes` of the parent phonons, every
    supercell atom taking the amplitude of the parent site it sits on.  The variance of each
    component is ζ²/3.
``gaussian``
    u drawn from the full multivariate normal distribution of the harmonic crystal at T
    (covariance from the parent phonons on the supercell's commensurate q-points), as
    phonopy's random displacements and SSCHA do; each component has variance ζ².
``random``
    u_{j,α} = ε a, ε ~ U[-1, 1], a in Å (the random scheme of the 2025 dataset study).
``equilibrium``
    No displacement.

All schemes draw from ``numpy.random.Generator`` in one vectorised call per batch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pymatgen.core import Structure

from thermogap.errors import InputError
from thermogap.phonons.harmonic import SupercellMatrix
from thermogap.structures.identity import content_id

__all__ = [
    "SiteMap",
    "batch_rng",
    "configuration_id",
    "displaced_structure_dicts",
    "gaussian_displacements",
    "map_to_parent_sites",
    "mixed_site_amplitudes",
    "phonon_displacements",
    "random_displacements",
]


@dataclass
class SiteMap:
    """Where every atom of a supercell sits in a parent (unit) cell.

    Attributes
    ----------
    site_index : numpy.ndarray
        shape=(n_super,), index of the parent site of each supercell atom.
    frac_positions : numpy.ndarray
        shape=(n_super, 3), ideal position of each supercell atom in fractional coordinates
        of the parent cell (parent site position + integer lattice translation).
    supercell_matrix : numpy.ndarray
        shape=(3, 3), ints: supercell lattice = supercell_matrix @ parent lattice (rows).
    """

    site_index: np.ndarray
    frac_positions: np.ndarray
    supercell_matrix: np.ndarray


def map_to_parent_sites(
    supercell: Structure,
    parent: Structure,
    *,
    supercell_matrix: SupercellMatrix | None = None,
    tolerance_ang: float = 0.3,
) -> SiteMap:
    """Map every atom of ``supercell`` to the site of ``parent`` it sits on.

    Species are not compared, so a disordered supercell (Br and I on the halide sites) maps
    onto one end member.  The supercell may be uniformly scaled with respect to the parent
    (Vegard's law): positions are compared in fractional coordinates.

    Parameters
    ----------
    supercell : Structure
        Undisplaced supercell, shape n_super atoms.
    parent : Structure
        Unit cell of the phonon calculation.
    supercell_matrix : three ints or 3x3 ints, optional
        Inferred by rounding ``L_super @ inv(L_parent)`` when omitted.
    tolerance_ang : float
        Largest distance, Å, between an atom and its parent site.

    Raises
    ------
    InputError
        If the lattices are not related by an integer matrix (within 10 %), or an atom is
        farther than ``tolerance_ang`` from every parent site.
    """
    ratio = supercell.lattice.matrix @ np.linalg.inv(parent.lattice.matrix)
    if supercell_matrix is None:
        matrix = np.rint(ratio).astype(int)
        if (
            np.any(np.abs(ratio - matrix) > 0.1 * np.abs(matrix).max())
            or round(abs(np.linalg.det(matrix))) < 1
        ):
            raise InputError(
                f"the supercell lattice is not an integer multiple of the parent's "
                f"(L_super @ inv(L_parent) = {np.round(ratio, 3).tolist()}); pass supercell_matrix"
            )
    else:
        matrix = np.asarray(supercell_matrix)
        matrix = np.diag(matrix) if matrix.shape == (3,) else matrix.astype(int)
    n_cells = round(abs(np.linalg.det(matrix)))
    if len(supercell) != n_cells * len(parent):
        raise InputError(
            f"supercell has {len(supercell)} atoms but {n_cells} cells of a {len(parent)}-atom "
            f"parent need {n_cells * len(parent)}"
        )
    frac_parent = supercell.frac_coords @ matrix  # fractional coordinates of the parent cell
    diff = frac_parent[:, None, :] - parent.frac_coords[None, :, :]
    offset = np.rint(diff)
    dist = np.linalg.norm((diff - offset) @ parent.lattice.matrix, axis=-1)
    site = np.argmin(dist, axis=1)
    rows = np.arange(len(supercell))
    worst = int(np.argmax(dist[rows, site]))
    if dist[worst, site[worst]] > tolerance_ang:
        raise InputError(
            f"supercell atom {worst} ({supercell[worst].specie}) is "
            f"{dist[worst, site[worst]]:.3f} Å from the nearest parent site; "
            f"allowed: up to {tolerance_ang=} Å (is the supercell already displaced?)"
        )
    counts = np.bincount(site, minlength=len(parent))
    if np.any(counts != n_cells):
        raise InputError(
            f"parent sites are not covered once per cell (counts {counts.tolist()}, "
            f"expected {n_cells} each); check the supercell matrix"
        )
    frac = parent.frac_coords[site] + offset[rows, site]
    return SiteMap(site_index=site, frac_positions=frac, supercell_matrix=matrix)


def mixed_site_amplitudes(
    supercell: Structure,
    parents: Sequence[tuple[Structure, np.ndarray]],
    *,
    supercell_matrix: SupercellMatrix | None = None,
) -> np.ndarray:
    """Amplitude ζ of every atom of a (possibly disordered) supercell from parent phonons.

    With one parent, each atom takes the amplitude of its parent site.  With several parents
    on the same framework (e.g. Ag3SBr and Ag3SI for Ag3SBr_xI_1-x):

    * an atom on a site where the parents differ in species takes ζ of the parent whose species
      matches its own (the average of ζ² over those that match, or over all parents when none
      does);
    * an atom on a site the parents share takes ζ² averaged over parents with weights w_p, the
      fraction of mixed-site atoms of the supercell whose species matches parent p (x and
      1 - x for a binary solid solution).

    Parameters
    ----------
    supercell : Structure
        Undisplaced supercell, n_super atoms.
    parents : sequence of (Structure, numpy.ndarray)
        Unit cell of each parent and its amplitudes ζ, shape=(n_unit, 3), Å.

    Returns
    -------
    numpy.ndarray
        shape=(n_super, 3), Å.
    """
    if not parents:
        raise InputError("at least one parent (unit cell, amplitudes) is needed")
    species = np.array([site.specie.symbol for site in supercell])
    zeta2 = []
    matches = []
    for cell, zeta in parents:
        zeta = np.asarray(zeta, dtype=float)
        if zeta.shape != (len(cell), 3):
            raise InputError(
                f"amplitudes of shape {zeta.shape} do not fit a {len(cell)}-atom parent cell"
            )
        site_map = map_to_parent_sites(supercell, cell, supercell_matrix=supercell_matrix)
        zeta2.append(zeta[site_map.site_index] ** 2)
        parent_species = np.array([s.specie.symbol for s in cell])[site_map.site_index]
        matches.append(parent_species == species)
    z2 = np.array(zeta2)  # (n_parents, n_super, 3)
    match = np.array(matches)  # (n_parents, n_super)
    if len(parents) == 1:
        return np.sqrt(z2[0])
    mixed = ~np.all(match == match[0], axis=0) | ~np.all(match, axis=0)
    n_mixed = int(np.count_nonzero(mixed))
    weights = match[:, mixed].sum(axis=1) / n_mixed if n_mixed else np.ones(len(parents))
    if weights.sum() == 0:
        weights = np.ones(len(parents))
    weights = weights / weights.sum()
    shared = np.einsum("p,pna->na", weights, z2)
    n_match = match.sum(axis=0)
    own = np.einsum("pn,pna->na", match, z2) / np.maximum(n_match, 1)[:, None]
    result = np.where((mixed & (n_match > 0))[:, None], own, shared)
    return np.sqrt(result)


def batch_rng(seed: int, *keys: Any) -> np.random.Generator:
    """Random generator for one batch: the same (seed, keys) always give the same stream.

    ``keys`` (scheme, temperature, composition, ...) select independent streams, so batches
    at different temperatures never reuse the same random numbers.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"{seed=} must be a non-negative integer")
    digest = hashlib.sha256(json.dumps(keys, default=str).encode()).digest()
    spawn_key = tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=spawn_key))


def phonon_displacements(
    amplitudes_ang: np.ndarray, n_samples: int, rng: np.random.Generator
) -> np.ndarray:
    """Draw u = ε ζ with ε ~ U[-1, 1] per sample, atom and direction.

    Parameters
    ----------
    amplitudes_ang : numpy.ndarray
        ζ of every supercell atom, shape=(n_atoms, 3), Å.

    Returns
    -------
    numpy.ndarray
        shape=(n_samples, n_atoms, 3), Å.
    """
    zeta = np.asarray(amplitudes_ang, dtype=float)
    if zeta.ndim != 2 or zeta.shape[1] != 3 or np.any(zeta < 0) or not np.all(np.isfinite(zeta)):
        raise InputError(
            f"amplitudes must be finite, non-negative, shape (n_atoms, 3); got {zeta.shape}"
        )
    return rng.uniform(-1.0, 1.0, size=(_count(n_samples), *zeta.shape)) * zeta


def random_displacements(
    n_atoms: int, amplitude_ang: float, n_samples: int, rng: np.random.Generator
) -> np.ndarray:
    """Draw u = ε a with ε ~ U[-1, 1] per sample, atom and direction.

    Returns
    -------
    numpy.ndarray
        shape=(n_samples, n_atoms, 3), Å.
    """
    if not np.isfinite(amplitude_ang) or amplitude_ang < 0:
        raise InputError(f"{amplitude_ang=} Å must be finite and non-negative (paper: 0.1-0.8)")
    return rng.uniform(-1.0, 1.0, size=(_count(n_samples), int(n_atoms), 3)) * amplitude_ang


def gaussian_displacements(
    basis: np.ndarray, n_samples: int, rng: np.random.Generator
) -> np.ndarray:
    """Draw u = A z with z standard normal, so that ⟨u uᵀ⟩ = A Aᵀ.

    Parameters
    ----------
    basis : numpy.ndarray
        A, shape=(3 n_atoms, n_columns), Å (from
        :func:`thermogap.sampling.amplitudes.thermal_mode_basis`).

    Returns
    -------
    numpy.ndarray
        shape=(n_samples, n_atoms, 3), Å.
    """
    z = rng.standard_normal((_count(n_samples), basis.shape[1]))
    return (z @ basis.T).reshape(len(z), -1, 3)


def configuration_id(**fields: Any) -> str:
    """Deterministic id (16 hex digits) of a configuration from its defining fields."""
    return content_id(**fields)


def displaced_structure_dicts(
    supercell: Structure, displacements_ang: np.ndarray
) -> list[dict[str, Any]]:
    """``Structure.as_dict()`` of the supercell displaced by each set of displacements.

    Builds the dictionaries directly from one template instead of constructing a pymatgen
    ``Structure`` per configuration (about 50 times faster for thousands of configurations);
    ``Structure.from_dict`` reads them back.

    Parameters
    ----------
    supercell : Structure
        Undisplaced supercell, n_atoms atoms.
    displacements_ang : numpy.ndarray
        shape=(n_samples, n_atoms, 3), Cartesian, Å.
    """
    disp = np.asarray(displacements_ang, dtype=float)
    if disp.ndim != 3 or disp.shape[1:] != (len(supercell), 3):
        raise InputError(
            f"displacements of shape {disp.shape} do not fit a {len(supercell)}-atom supercell"
        )
    template = supercell.as_dict()
    sites = template.pop("sites")
    cart = supercell.cart_coords[None] + disp
    frac = cart @ np.linalg.inv(supercell.lattice.matrix)
    cart_l, frac_l = cart.tolist(), frac.tolist()
    static = [{k: v for k, v in site.items() if k not in ("abc", "xyz")} for site in sites]
    out = []
    for xyz_conf, abc_conf in zip(cart_l, frac_l, strict=True):
        doc = dict(template)
        doc["sites"] = [
            {**site, "abc": abc, "xyz": xyz}
            for site, abc, xyz in zip(static, abc_conf, xyz_conf, strict=True)
        ]
        out.append(doc)
    return out


def _count(n_samples: int) -> int:
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 0:
        raise InputError(f"{n_samples=} must be a non-negative integer")
    return int(n_samples)
