"""Snapshots for the Williams–Lax average: classical MD or harmonic quantum displacements.

``md_snapshots`` runs Langevin NVT dynamics (ASE) with any ASE calculator and keeps evenly
spaced frames after equilibration: classical nuclei, anharmonicity included, no zero-point
motion. ``quantum_snapshots`` draws displacements from the harmonic quantum (Bose–Einstein,
zero-point included) distribution of the cell's own phonons with phonopy, force constants from
finite displacements with the same calculator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from thermogap.errors import InputError

if TYPE_CHECKING:
    from ase import Atoms
    from ase.calculators.calculator import Calculator

__all__ = ["md_snapshots", "quantum_snapshots", "stillinger_weber_si"]


def stillinger_weber_si() -> Calculator:
    """Stillinger–Weber Si (PRB 31, 5262 (1985)) from matscipy; a = 5.431 Å at 0 K."""
    from matscipy.calculators.manybody import Manybody
    from matscipy.calculators.manybody.explicit_forms import StillingerWeber
    from matscipy.calculators.manybody.explicit_forms.stillinger_weber import (
        Stillinger_Weber_PRB_31_5262_Si,
    )

    return Manybody(**StillingerWeber(Stillinger_Weber_PRB_31_5262_Si))


def md_snapshots(
    atoms: Atoms,
    calculator: Calculator,
    temperature_k: float,
    n_snapshots: int,
    interval_steps: int = 50,
    equilibration_steps: int = 500,
    timestep_fs: float = 2.0,
    friction_per_fs: float = 0.01,
    seed: int = 0,
) -> np.ndarray:
    """Positions of ``n_snapshots`` frames of a Langevin NVT run, shape=(n, n_atoms, 3), Å.

    Velocities start from a Maxwell–Boltzmann draw at ``temperature_k``; frames are taken every
    ``interval_steps`` after ``equilibration_steps`` steps.
    """
    from ase import units
    from ase.constraints import FixCom
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

    if temperature_k <= 0 or n_snapshots < 1 or interval_steps < 1 or equilibration_steps < 0:
        raise InputError(
            f"MD sampling needs temperature_k > 0, n_snapshots >= 1, interval_steps >= 1; got "
            f"{temperature_k=}, {n_snapshots=}, {interval_steps=}, {equilibration_steps=}"
        )
    work = atoms.copy()
    work.set_constraint(FixCom())  # no centre-of-mass drift (a rigid shift changes no spectrum)
    work.calc = calculator
    rng = np.random.default_rng(seed)
    MaxwellBoltzmannDistribution(work, temperature_K=temperature_k, rng=rng)
    Stationary(work)
    dynamics = Langevin(
        work,
        timestep_fs * units.fs,
        temperature_K=temperature_k,
        friction=friction_per_fs / units.fs,
        fixcm=False,
        rng=rng,
    )
    dynamics.run(equilibration_steps)
    frames = []
    for _ in range(n_snapshots):
        dynamics.run(interval_steps)
        frames.append(work.get_positions())
    work.set_constraint()
    return np.asarray(frames)


def quantum_snapshots(
    atoms: Atoms,
    calculator: Calculator,
    temperature_k: float,
    n_snapshots: int,
    seed: int = 0,
    displacement_ang: float = 0.01,
) -> np.ndarray:
    """Harmonic quantum random displacements of the cell's Γ-folded phonons (phonopy).

    Returns positions shape=(n_snapshots, n_atoms, 3), Å. At 0 K they still move: zero-point
    motion, which classical MD misses.
    """
    from phonopy import Phonopy
    from phonopy.structure.atoms import PhonopyAtoms

    if temperature_k < 0 or n_snapshots < 1:
        raise InputError(f"need temperature_k >= 0 and n_snapshots >= 1; got {temperature_k=}")
    unit = PhonopyAtoms(
        symbols=atoms.get_chemical_symbols(), cell=atoms.cell[:], positions=atoms.positions
    )
    phonon = Phonopy(unit, supercell_matrix=np.eye(3, dtype=int), primitive_matrix="P")
    phonon.generate_displacements(distance=displacement_ang)
    forces = []
    for cell in phonon.supercells_with_displacements or []:
        work = atoms.copy()
        work.positions = cell.positions
        work.calc = calculator
        forces.append(work.get_forces())
    phonon.forces = np.asarray(forces)
    phonon.produce_force_constants()
    phonon.generate_displacements(
        number_of_snapshots=n_snapshots,
        random_seed=seed,
        temperature=max(temperature_k, 1e-6),
    )
    displacements = np.asarray(phonon.displacements)
    return atoms.positions[None] + displacements
