"""A toy crystal with a double-well on-site potential: a ferroelectric-like soft Γ mode.

Cubic cell (a = 3 Å) with a light "A" atom at the origin and a "B" atom at the centre. The
A–B displacement ``w = u_A − u_B`` of each cell feels ``−k2 w²/2 + k4 w⁴/4`` per Cartesian
component (wells at ``±sqrt(k2/k4)``, barrier ``k2²/4k4`` per cell and axis); springs ``J``
between A neighbours and between B neighbours couple the cells, so only the uniform (Γ)
optical modes are unstable at 0 K, with ``ω² = −k2/μ``.  Below the ordering temperature MD
stays in one well (the Γ mode condenses); far above it the quartic wall confines the atoms
about the symmetric site.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

A_ANG = 3.0
K2, K4, J = 0.5, 10.0, 2.0  # eV/Å², eV/Å⁴, eV/Å²


def unit_cell() -> Atoms:
    return Atoms(
        ["K", "Cl"], cell=np.eye(3) * A_ANG, scaled_positions=[[0, 0, 0], [0.5] * 3], pbc=True
    )


class DoubleWellCrystal(Calculator):
    """Energy and forces of the toy crystal for displacements from ``reference`` (ideal)."""

    implemented_properties: ClassVar[list[str]] = ["energy", "forces", "stress"]

    def __init__(self, reference: Atoms, k2: float = K2, k4: float = K4, j: float = J):
        super().__init__()
        self.reference = reference.positions.copy()
        self.k2, self.k4, self.j = k2, k4, j
        cell = reference.cell.array
        inv = np.linalg.inv(cell)
        symbols = np.array(reference.get_chemical_symbols())
        a_atoms, b_atoms = np.flatnonzero(symbols == "K"), np.flatnonzero(symbols == "Cl")

        def vector(i, k):
            d = (self.reference[k] - self.reference[i]) @ inv
            return (d - np.rint(d)) @ cell

        self.pairs = np.array(
            [
                (i, next(k for k in b_atoms if np.allclose(vector(i, k), A_ANG / 2, atol=1e-6)))
                for i in a_atoms
            ]
        )
        bonds = []
        for group in (a_atoms, b_atoms):
            for i in group:
                for axis in np.eye(3):
                    for k in group:
                        d = (self.reference[k] - self.reference[i] - A_ANG * axis) @ inv
                        if np.allclose(d, np.rint(d), atol=1e-6):
                            bonds.append((i, k))
        self.bonds = np.array(bonds)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        u = self.atoms.positions - self.reference
        forces = np.zeros_like(u)
        w = u[self.pairs[:, 0]] - u[self.pairs[:, 1]]
        energy = float(np.sum(-0.5 * self.k2 * w**2 + 0.25 * self.k4 * w**4))
        dw = -(-self.k2 * w + self.k4 * w**3)
        np.add.at(forces, self.pairs[:, 0], dw)
        np.add.at(forces, self.pairs[:, 1], -dw)
        d = u[self.bonds[:, 0]] - u[self.bonds[:, 1]]
        energy += float(0.5 * self.j * np.sum(d**2))
        np.add.at(forces, self.bonds[:, 0], -self.j * d)
        np.add.at(forces, self.bonds[:, 1], self.j * d)
        self.results = {"energy": energy, "forces": forces, "stress": np.zeros(6)}


def toy_phonon(supercell: int = 2):
    """phonopy force constants of the toy crystal at the symmetric (saddle) positions."""
    from phonopy import Phonopy
    from phonopy.structure.atoms import PhonopyAtoms

    cell = unit_cell()
    unit = PhonopyAtoms(
        symbols=cell.get_chemical_symbols(), cell=cell.cell.array, positions=cell.positions
    )
    phonon = Phonopy(unit, supercell_matrix=np.eye(3, dtype=int) * supercell, primitive_matrix="P")
    phonon.generate_displacements(distance=0.01)
    sc = phonon.supercell
    reference = Atoms(sc.symbols, cell=sc.cell, positions=sc.positions, pbc=True)
    calc = DoubleWellCrystal(reference)
    forces = []
    for displaced in phonon.supercells_with_displacements:
        atoms = Atoms(displaced.symbols, cell=displaced.cell, positions=displaced.positions)
        atoms.calc = calc
        forces.append(atoms.get_forces())
    phonon.forces = np.array(forces)
    phonon.produce_force_constants()
    return phonon, reference


def run_md(
    reference: Atoms,
    temperature_k: float,
    n_steps: int,
    *,
    seed: int = 0,
    timestep_fs: float = 5.0,
    interval: int = 2,
    friction_per_fs: float = 0.01,
):
    """Langevin MD from the symmetric positions; positions (Å) and velocities (Å/fs) saved."""
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    rng = np.random.default_rng(seed)
    atoms = reference.copy()
    atoms.calc = DoubleWellCrystal(reference)
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_k, rng=rng)
    dynamics = Langevin(
        atoms,
        timestep=timestep_fs * units.fs,
        temperature_K=temperature_k,
        friction=friction_per_fs / units.fs,
        fixcm=True,
        rng=rng,
    )
    positions, velocities = [], []
    for _ in range(n_steps // interval):
        dynamics.run(interval)
        positions.append(atoms.positions.copy())
        velocities.append(atoms.get_velocities() * units.fs)
    return np.array(positions), np.array(velocities), timestep_fs * interval
