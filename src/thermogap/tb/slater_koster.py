"""The nearest-neighbour sp3s* Slater–Koster model for any periodic cell of Si or GaAs.

Neighbours are found by distance (every pair closer than ``cutoff_ang``, with periodic images),
so thermally displaced snapshots and supercells of any shape work. Each bond's hopping block
follows the Slater–Koster two-centre table for the bond's direction cosines; as an option the
hoppings scale with the bond length d as (d0/d)^η (Harrison's η = 2, d0 the ideal bond length
of the parameter set), which is what couples the electrons to bond stretching in snapshots.
Onsite energies do not change with the geometry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from thermogap.errors import InputError
from thermogap.tb.hamiltonian import BlochHamiltonian
from thermogap.tb.parameters import PARAMETER_SETS, SlaterKoster, Sp3sStarParameters

if TYPE_CHECKING:
    from ase import Atoms

__all__ = ["ORBITALS", "Sp3sStarModel", "slater_koster_block"]

#: Orbital order within an atom.
ORBITALS = ("s", "px", "py", "pz", "s*")


def slater_koster_block(sk: SlaterKoster, direction: np.ndarray) -> np.ndarray:
    """Hopping blocks of bonds i → j along unit vectors ``direction``.

    Parameters
    ----------
    sk
        Two-centre integrals of the (ordered) element pair, eV.
    direction
        Unit bond vectors from i to j, shape=(n_bonds, 3).

    Returns
    -------
    numpy.ndarray
        shape=(n_bonds, 5, 5), eV, rows: orbitals of i, columns: orbitals of j, in
        :data:`ORBITALS` order.
    """
    c = np.atleast_2d(direction)
    block = np.zeros((len(c), 5, 5))
    block[:, 0, 0] = sk.v_ss_sigma
    block[:, 0, 1:4] = c * sk.v_sp_sigma
    block[:, 1:4, 0] = -c * sk.v_ps_sigma
    block[:, 4, 1:4] = c * sk.v_sstar_p_sigma
    block[:, 1:4, 4] = -c * sk.v_p_sstar_sigma
    outer = c[:, :, None] * c[:, None, :]
    block[:, 1:4, 1:4] = outer * (sk.v_pp_sigma - sk.v_pp_pi) + np.eye(3) * sk.v_pp_pi
    return block


def _parameters_for(elements: set[str], name: str) -> Sp3sStarParameters:
    if name != "auto":
        if name not in PARAMETER_SETS:
            raise InputError(
                f"unknown sp3s* set {name!r}; allowed: auto, {', '.join(PARAMETER_SETS)}"
            )
        chosen = PARAMETER_SETS[name]
        if not elements <= set(chosen.elements):
            raise InputError(f"elements {sorted(elements)} are not all in the {name} set")
        return chosen
    for candidate in PARAMETER_SETS.values():
        if elements <= set(candidate.elements):
            return candidate
    raise InputError(
        f"no sp3s* parameter set for elements {sorted(elements)}; "
        f"allowed: {', '.join('/'.join(p.elements) for p in PARAMETER_SETS.values())}"
    )


@dataclass
class Sp3sStarModel:
    """Vogl–Hjalmarson–Dow sp3s* model with optional Harrison bond-length scaling.

    Parameters
    ----------
    parameters
        ``"auto"`` (pick from the elements), ``"Si"`` or ``"GaAs"``; see
        :mod:`thermogap.tb.parameters` for the numbers and their source.
    bond_scaling_exponent
        η in (d0/d)^η applied to every hopping; 2 is Harrison's scaling, 0 turns it off.
    cutoff_ang
        Pairs closer than this are bonded; ``None``: halfway between the first (a√3/4) and
        second (a/√2) neighbour shells of the ideal crystal.

    Examples
    --------
    >>> from ase.build import bulk
    >>> model = Sp3sStarModel()
    >>> ham = model.hamiltonian(bulk("Si", "diamond", a=5.431))
    >>> abs(round(float(ham.eigenvalues([0, 0, 0])[ham.n_occupied - 1]), 4))  # Γ25': E_p - V(x,x)
    0.0
    """

    parameters: str = "auto"
    bond_scaling_exponent: float = 2.0
    cutoff_ang: float | None = None

    name = "sp3s*-vogl"

    def hamiltonian(self, atoms: Atoms) -> BlochHamiltonian:
        """Build the Bloch Hamiltonian of a periodic cell (positions in Å).

        Raises
        ------
        InputError
            Unknown elements, a bond the set does not describe, or an atom without neighbours.
        """
        from ase.neighborlist import neighbor_list

        symbols = atoms.get_chemical_symbols()
        params = _parameters_for(set(symbols), self.parameters)
        a = params.lattice_constant_ang
        cutoff = self.cutoff_ang or 0.5 * (a * np.sqrt(3.0) / 4.0 + a / np.sqrt(2.0))
        bond_i, bond_j, vectors = neighbor_list("ijD", atoms, cutoff)
        lonely = sorted(set(range(len(atoms))) - set(bond_i.tolist()))
        if lonely:
            raise InputError(f"atoms {lonely[:5]} have no neighbour within {cutoff:.3f} Å")
        lengths = np.linalg.norm(vectors, axis=1)
        blocks = np.empty((len(bond_i), 5, 5))
        pairs: dict[tuple[str, str], list[int]] = {}
        for n, (i, j) in enumerate(zip(bond_i, bond_j, strict=True)):
            pairs.setdefault((symbols[i], symbols[j]), []).append(n)
        for (el_i, el_j), members in pairs.items():
            idx = np.asarray(members)
            sk = params.slater_koster(el_i, el_j)
            blocks[idx] = slater_koster_block(sk, vectors[idx] / lengths[idx, None])
        if self.bond_scaling_exponent:
            blocks *= ((params.bond_length_ang / lengths) ** self.bond_scaling_exponent)[
                :, None, None
            ]
        onsite = np.array([params.onsite_ev[s][orb] for s in symbols for orb in (0, 1, 1, 1, 2)])
        electrons = sum(params.valence_electrons[s] for s in symbols)
        return BlochHamiltonian(
            cell_ang=np.array(atoms.cell[:], dtype=float),
            onsite_ev=onsite,
            orbital_offsets=np.arange(len(atoms) + 1) * 5,
            bond_i=bond_i,
            bond_j=bond_j,
            bond_vectors_ang=vectors,
            bond_blocks_ev=blocks,
            n_electrons=int(electrons),
        )
