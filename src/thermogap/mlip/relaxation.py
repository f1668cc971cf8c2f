"""Single points and BFGS relaxations with any ASE calculator."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from thermogap.errors import CalculationError, InputError

if TYPE_CHECKING:
    from ase import Atoms
    from ase.calculators.calculator import Calculator

__all__ = [
    "EV_PER_ANG3_TO_GPA",
    "RelaxationResult",
    "SinglePointResult",
    "pressure_gpa",
    "relax",
    "single_point",
]

#: 1 eV/Å^3 in GPa.
EV_PER_ANG3_TO_GPA = 160.21766208


def pressure_gpa(stress_ev_per_ang3: np.ndarray | None) -> float:
    """Hydrostatic pressure p = -tr(σ)/3 of an ASE stress tensor (positive = compressed), GPa."""
    if _stress_missing(stress_ev_per_ang3):
        return float("nan")
    stress = np.asarray(stress_ev_per_ang3, dtype=float)
    stress = stress[:3] if stress.shape == (6,) else np.diag(stress.reshape(3, 3))
    return float(-np.mean(stress) * EV_PER_ANG3_TO_GPA)


def _stress_missing(stress: np.ndarray | None) -> bool:
    """Whether no stress was computed (molecules, or ``with_stress=False``)."""
    return stress is None


@dataclass
class SinglePointResult:
    """Energy (eV), forces (eV/Å, shape=(n_atoms, 3)), stress (eV/Å^3, (3, 3), ASE sign)."""

    energy_ev: float
    forces_ev_per_ang: np.ndarray
    stress_ev_per_ang3: np.ndarray | None


def single_point(
    atoms: Atoms, calculator: Calculator, with_stress: bool = True
) -> SinglePointResult:
    """Evaluate energy, forces and (for periodic cells) stress of ``atoms``.

    Raises
    ------
    CalculationError
        If the calculator returns non-finite values.
    """
    atoms = atoms.copy()
    atoms.calc = calculator
    energy = float(atoms.get_potential_energy())
    forces = np.array(atoms.get_forces(), dtype=float)
    stress = None
    if with_stress and all(atoms.pbc):
        stress = np.array(atoms.get_stress(voigt=False), dtype=float)
    if not (np.isfinite(energy) and np.all(np.isfinite(forces))):
        raise CalculationError(f"non-finite energy/forces for {atoms.get_chemical_formula()}")
    return SinglePointResult(energy, forces, stress)


@dataclass
class RelaxationResult:
    """Relaxed atoms, final single point and the optimiser's history."""

    atoms: Atoms
    final: SinglePointResult
    n_steps: int
    converged: bool
    energies_ev: list[float] = field(default_factory=list)


def relax(
    atoms: Atoms,
    calculator: Calculator,
    fmax_ev_per_ang: float = 0.05,
    relax_cell: bool = False,
    max_steps: int = 500,
    keep_symmetry: bool = False,
    optimizer: str = "BFGS",
) -> RelaxationResult:
    """Relax ``atoms`` with BFGS (or FIRE) until the largest force is below ``fmax_ev_per_ang``.

    Parameters
    ----------
    atoms
        Starting configuration (not modified).
    calculator
        ASE calculator.
    fmax_ev_per_ang
        Force threshold, eV/Å (paper: 0.05 eV/Å). With ``relax_cell`` the threshold also
        applies to the cell degrees of freedom of ASE's ``FrechetCellFilter``.
    relax_cell
        Relax the lattice vectors too.
    max_steps
        Maximum optimiser steps; reaching it gives ``converged=False``, not an error.
    keep_symmetry
        Constrain forces and cell to the starting space group (ASE ``FixSymmetry``): a cubic
        parent stays cubic while its lattice parameter relaxes.
    optimizer
        ``"BFGS"`` or ``"FIRE"`` (ASE optimisers).
    """
    from ase.constraints import FixSymmetry
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS, FIRE

    optimisers = {"BFGS": BFGS, "FIRE": FIRE}
    if optimizer not in optimisers:
        raise InputError(f"{optimizer=} is not an optimiser; allowed: {', '.join(optimisers)}")

    if fmax_ev_per_ang <= 0:
        raise InputError(f"{fmax_ev_per_ang=} eV/Å must be positive")
    if max_steps < 1:
        raise InputError(f"{max_steps=} must be at least 1")
    atoms = atoms.copy()
    atoms.calc = calculator
    if keep_symmetry:
        atoms.set_constraint(FixSymmetry(atoms))
    target: Any = FrechetCellFilter(atoms) if relax_cell else atoms
    optimiser = optimisers[optimizer](target, logfile=io.StringIO())
    energies: list[float] = []
    optimiser.attach(lambda: energies.append(float(atoms.get_potential_energy())))
    converged = bool(optimiser.run(fmax=fmax_ev_per_ang, steps=max_steps))
    atoms.set_constraint()
    final = single_point(atoms, calculator)
    atoms.calc = None
    return RelaxationResult(atoms, final, int(optimiser.nsteps), converged, energies)
