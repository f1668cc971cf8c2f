"""Small synthetic antiperovskite datasets with a learnable, physically shaped target.

The "band gap" is a smooth function of composition and the mean Ag–S bond length, like the
real one (halide content shifts the gap, Ag–S stretching closes it):
``gap = 1.0 + 0.5 x_Br - 2.0 (d_AgS - 2.45 Å)`` with ``d_AgS`` the mean distance from each
Ag to its nearest S.  It is computed here from pymatgen, independently of the GNN code.
"""

from __future__ import annotations

import numpy as np
from pymatgen.core import Structure

from thermogap.structures.prototypes import antiperovskite


def mean_ag_s_distance(structure: Structure) -> float:
    """Mean over Ag atoms of the distance to the nearest S atom, Å (minimum image)."""
    dm = structure.distance_matrix
    species = np.array([site.specie.symbol for site in structure])
    ag = np.flatnonzero(species == "Ag")
    s = np.flatnonzero(species == "S")
    return float(dm[np.ix_(ag, s)].min(axis=1).mean())


def synthetic_gap_ev(structure: Structure) -> float:
    """The synthetic band gap of a structure, eV."""
    comp = structure.composition
    n_x = comp["Br"] + comp["I"]
    x_br = comp["Br"] / n_x
    return 1.0 + 0.5 * x_br - 2.0 * (mean_ag_s_distance(structure) - 2.45)


def make_dataset(
    n: int, seed: int = 0, rattle_ang: float = 0.08, supercell=(2, 1, 1)
) -> tuple[list[Structure], np.ndarray]:
    """``n`` rattled, strained Ag3S(Br,I) supercells and their synthetic gaps (eV)."""
    rng = np.random.default_rng(seed)
    structures, gaps = [], []
    for _ in range(n):
        a = rng.uniform(4.75, 5.05)
        cell = antiperovskite(a, x="Br")
        cell.make_supercell(supercell)
        halides = [k for k, site in enumerate(cell) if site.specie.symbol == "Br"]
        for k in halides:
            if rng.random() < 0.5:
                cell.replace(k, "I")
        cell = Structure(
            cell.lattice,
            cell.species,
            cell.cart_coords + rng.normal(0.0, rattle_ang, size=(len(cell), 3)),
            coords_are_cartesian=True,
        )
        structures.append(cell)
        gaps.append(synthetic_gap_ev(cell))
    return structures, np.array(gaps)
