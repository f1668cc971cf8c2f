"""A harmonic crystal for MD: an ASE calculator that applies phonopy force constants."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from pymatgen.core import Lattice, Structure

KB_EV_PER_K = 8.617333262e-5
#: 1 amu Å²/fs² in eV
AMU_ANG2_PER_FS2_EV = 1.66053906660e-27 * 1e-20 / 1e-30 / 1.602176634e-19


class HarmonicCalculator(Calculator):
    """E = ½ uᵀ Φ u, F = -Φ u with u the displacement from ``reference`` (Å); zero stress."""

    implemented_properties: ClassVar[list[str]] = ["energy", "forces", "stress"]

    def __init__(self, reference_positions: np.ndarray, force_constants: np.ndarray):
        super().__init__()
        n = len(reference_positions)
        self.reference = np.array(reference_positions, dtype=float)
        self.matrix = np.asarray(force_constants).transpose(0, 2, 1, 3).reshape(3 * n, 3 * n)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        u = (self.atoms.positions - self.reference).ravel()
        forces = -self.matrix @ u
        self.results = {
            "energy": float(-0.5 * u @ forces),
            "forces": forces.reshape(-1, 3),
            "stress": np.zeros(6),
        }


def supercell_atoms(phonon, order=None) -> Atoms:
    """The phonopy supercell as ASE atoms (phonopy's masses), atoms optionally reordered."""
    sc = phonon.supercell
    order = np.arange(len(sc)) if order is None else np.asarray(order)
    return Atoms(
        [sc.symbols[i] for i in order],
        cell=sc.cell,
        scaled_positions=sc.scaled_positions[order],
        masses=sc.masses[order],
        pbc=True,
    )


def harmonic_calculator(phonon, force_constants, order=None) -> HarmonicCalculator:
    """Calculator of ``force_constants`` (phonopy supercell order) for reordered atoms."""
    order = np.arange(len(phonon.supercell)) if order is None else np.asarray(order)
    fc = np.asarray(force_constants)[np.ix_(order, order)]
    return HarmonicCalculator(supercell_atoms(phonon, order).positions, fc)


def as_structure(atoms: Atoms) -> Structure:
    return Structure(
        Lattice(atoms.cell.array), atoms.get_chemical_symbols(), atoms.get_scaled_positions()
    )


def shifted_force_constants(phonon, shift_thz2: float) -> np.ndarray:
    """FCs whose dynamical matrix is D(q) - λ at every q (same eigenvectors, ω² lowered).

    ``shift_thz2`` is λ in THz² (ordinary frequency squared): f'² = f² - λ.
    """
    fc = np.array(phonon.force_constants, dtype=float)
    lam = shift_thz2 / float(phonon.unit_conversion_factor) ** 2  # eV/Å²/amu
    for j, mass in enumerate(phonon.supercell.masses):
        fc[j, j] -= lam * mass * np.eye(3)
    return fc
