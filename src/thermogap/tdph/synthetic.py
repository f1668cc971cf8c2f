"""Displacement–force data synthesised from harmonic force constants (seed 003, Methods A).

For stored harmonic force constants Φ of a supercell, random small displacements ``u``
(0.01–0.05 Å per atom, random directions) give exactly harmonic labels

    F = −Φ u ,    E = E₀ + ½ uᵀ Φ u ,

so a universal MLIP can be fine-tuned towards the reference phonons (the paper: ten
supercells per compound from the MDR PBEsol database).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from phonopy import Phonopy
from pymatgen.core import Structure

from thermogap.errors import InputError
from thermogap.phonons.harmonic import phonopy_atoms_to_structure

__all__ = [
    "SyntheticConfiguration",
    "harmonic_labels",
    "random_displacements",
    "synthetic_dataset",
    "to_ase_atoms",
    "write_extxyz",
]


@dataclass
class SyntheticConfiguration:
    """One displaced supercell with harmonic labels.

    Attributes
    ----------
    compound_id : str
    structure : Structure
        Displaced supercell.
    displacements_ang : numpy.ndarray
        shape=(n_atoms, 3), Å.
    energy_ev : float
        Total energy, eV.
    forces_ev_per_ang : numpy.ndarray
        shape=(n_atoms, 3), eV/Å.
    """

    compound_id: str
    structure: Structure
    displacements_ang: np.ndarray
    energy_ev: float
    forces_ev_per_ang: np.ndarray


def random_displacements(
    n_atoms: int,
    n_configs: int,
    min_ang: float = 0.01,
    max_ang: float = 0.05,
    seed: int = 0,
) -> np.ndarray:
    """Random directions, lengths uniform in [min_ang, max_ang] Å, per atom.

    Returns
    -------
    numpy.ndarray
        shape=(n_configs, n_atoms, 3), Å.
    """
    if not 0 < min_ang <= max_ang:
        raise InputError(f"need 0 < {min_ang=} <= {max_ang=} (Å)")
    if n_configs < 1 or n_atoms < 1:
        raise InputError(f"{n_configs=} and {n_atoms=} must be >= 1")
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(n_configs, n_atoms, 3))
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    lengths = rng.uniform(min_ang, max_ang, size=(n_configs, n_atoms, 1))
    return directions * lengths


def harmonic_labels(
    force_constants: np.ndarray, displacements: np.ndarray, reference_energy_ev: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Energies (eV) and forces (eV/Å) of a harmonic crystal for displacements ``u``.

    Parameters
    ----------
    force_constants : numpy.ndarray
        shape=(n_atoms, n_atoms, 3, 3), eV/Å².
    displacements : numpy.ndarray
        shape=(n_configs, n_atoms, 3), Å.

    Returns
    -------
    energies : numpy.ndarray
        shape=(n_configs,), ``E₀ + ½ uᵀΦu``.
    forces : numpy.ndarray
        shape=(n_configs, n_atoms, 3), ``−Φ u``.
    """
    fc = np.asarray(force_constants, dtype=float)
    u = np.asarray(displacements, dtype=float)
    if fc.ndim != 4 or fc.shape[0] != fc.shape[1] or u.shape[1:] != (fc.shape[0], 3):
        raise InputError(
            f"force constants {fc.shape} and displacements {u.shape} do not fit: need "
            "(n, n, 3, 3) and (n_configs, n, 3)"
        )
    forces = -np.einsum("ijab,cjb->cia", fc, u)
    energies = reference_energy_ev - 0.5 * np.einsum("cia,cia->c", u, forces)
    return energies, forces


def synthetic_dataset(
    phonon: Phonopy,
    compound_id: str,
    n_configs: int = 10,
    min_ang: float = 0.01,
    max_ang: float = 0.05,
    reference_energy_ev: float = 0.0,
    seed: int = 0,
) -> list[SyntheticConfiguration]:
    """``n_configs`` displaced supercells of ``phonon`` labelled with its force constants."""
    if phonon.force_constants is None:
        raise InputError(f"{compound_id!r}: the phonopy object has no force constants")
    fc = np.asarray(phonon.force_constants)
    if fc.shape[0] != fc.shape[1]:
        from phonopy.harmonic.force_constants import compact_fc_to_full_fc

        fc = np.asarray(compact_fc_to_full_fc(phonon.primitive, fc))
    supercell = phonopy_atoms_to_structure(phonon.supercell)
    u = random_displacements(len(supercell), n_configs, min_ang, max_ang, seed)
    energies, forces = harmonic_labels(fc, u, reference_energy_ev)
    configs = []
    for index in range(n_configs):
        displaced = Structure(
            supercell.lattice,
            supercell.species,
            supercell.cart_coords + u[index],
            coords_are_cartesian=True,
            to_unit_cell=False,
        )
        configs.append(
            SyntheticConfiguration(
                compound_id, displaced, u[index], float(energies[index]), forces[index]
            )
        )
    return configs


def to_ase_atoms(configs: Sequence[SyntheticConfiguration]) -> list:
    """ASE atoms with ``REF_energy`` / ``REF_forces`` (MACE's keys) and ``compound_id``."""
    from pymatgen.io.ase import AseAtomsAdaptor

    out = []
    for c in configs:
        atoms = AseAtomsAdaptor.get_atoms(c.structure)
        atoms.info["REF_energy"] = c.energy_ev
        atoms.info["compound_id"] = c.compound_id
        atoms.arrays["REF_forces"] = np.asarray(c.forces_ev_per_ang)
        out.append(atoms)
    return out


def write_extxyz(configs: Sequence[SyntheticConfiguration], path: str | Path) -> Path:
    """Write the dataset as extended XYZ (``REF_energy``, ``REF_forces``); return the path."""
    from ase.io import write

    path = Path(path)
    write(str(path), to_ase_atoms(configs), format="extxyz")
    return path
