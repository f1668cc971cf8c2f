"""Configurations drawn from short Langevin MD with the parent's engine.

The harmonic schemes need real phonon frequencies.  When a large share of the parent's modes
is imaginary (cubic Ag3SBr and Ag3SI are unstable at 0 K), the harmonic amplitudes are not
defined and any fix (|ω|, a floor) is a convention; short MD with the engine of the parent
phonons samples the anharmonic thermal distribution instead, at the cost of a few hundred
force calls per batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pymatgen.core import Structure

from thermogap.errors import InputError

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator

__all__ = ["md_displacements"]


def md_displacements(
    supercell: Structure,
    calculator: Calculator,
    temperature_k: float,
    n_samples: int,
    rng: np.random.Generator,
    *,
    timestep_fs: float = 2.0,
    friction_per_fs: float = 0.02,
    equilibration_steps: int = 100,
    interval_steps: int = 10,
) -> np.ndarray:
    """Displacements of ``n_samples`` MD snapshots from the undisplaced supercell.

    Velocities start from a Maxwell–Boltzmann distribution at ``temperature_k``; a Langevin
    thermostat (ASE) runs ``equilibration_steps`` and then one snapshot every
    ``interval_steps``.  The centre-of-mass drift is removed from every snapshot.

    Parameters
    ----------
    supercell : Structure
        Undisplaced supercell (the reference of the displacements).
    calculator : ase.calculators.calculator.Calculator
        Engine of the parent phonons.
    temperature_k : float
        K, > 0.
    n_samples : int
    rng : numpy.random.Generator
        Seeds the velocities and the thermostat noise.
    timestep_fs, friction_per_fs : float
        Time step, fs, and Langevin friction, 1/fs.
    equilibration_steps, interval_steps : int
        Steps discarded at the start, and between snapshots.

    Returns
    -------
    numpy.ndarray
        shape=(n_samples, n_atoms, 3), Cartesian, Å.
    """
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
    from pymatgen.io.ase import AseAtomsAdaptor

    if not temperature_k > 0:
        raise InputError(f"{temperature_k=} K must be positive for MD sampling")
    if min(equilibration_steps, interval_steps - 1, n_samples) < 0:
        raise InputError(
            f"{equilibration_steps=} must be >= 0, {interval_steps=} >= 1, {n_samples=} >= 0"
        )
    atoms = AseAtomsAdaptor.get_atoms(supercell)
    reference = atoms.get_positions().copy()
    masses = atoms.get_masses()
    atoms.calc = calculator
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_k, rng=rng)
    Stationary(atoms)
    dynamics = Langevin(
        atoms,
        timestep=timestep_fs * units.fs,
        temperature_K=temperature_k,
        friction=friction_per_fs / units.fs,
        rng=rng,
    )
    dynamics.run(equilibration_steps)
    snapshots = []
    for _ in range(int(n_samples)):
        dynamics.run(interval_steps)
        disp = atoms.get_positions() - reference
        disp -= masses @ disp / masses.sum()
        snapshots.append(disp)
    atoms.calc = None
    return np.array(snapshots).reshape(int(n_samples), len(atoms), 3)
