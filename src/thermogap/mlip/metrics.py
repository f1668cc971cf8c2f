"""Errors of an MLIP against reference labels: MAE, RMSE and R² with parity data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from thermogap.errors import InputError
from thermogap.regression import regression_metrics
from thermogap.schemas.mlip import MlipSplitMetrics

if TYPE_CHECKING:
    from ase import Atoms
    from ase.calculators.calculator import Calculator

__all__ = ["ParityData", "parity_data", "regression_metrics", "split_metrics"]

ENERGY_KEY = "REF_energy"
FORCES_KEY = "REF_forces"
STRESS_KEY = "REF_stress"


@dataclass
class ParityData:
    """Predicted and reference values of one model on one set of configurations.

    Attributes
    ----------
    energy_per_atom_ref, energy_per_atom_pred
        eV/atom, shape=(n_conf,).
    forces_ref, forces_pred
        Force components, eV/Å, shape=(sum of n_atoms * 3,).
    stress_ref, stress_pred
        Stress components, eV/Å^3, shape=(n_conf_with_stress * 9,).
    """

    energy_per_atom_ref: np.ndarray = field(default_factory=lambda: np.zeros(0))
    energy_per_atom_pred: np.ndarray = field(default_factory=lambda: np.zeros(0))
    forces_ref: np.ndarray = field(default_factory=lambda: np.zeros(0))
    forces_pred: np.ndarray = field(default_factory=lambda: np.zeros(0))
    stress_ref: np.ndarray = field(default_factory=lambda: np.zeros(0))
    stress_pred: np.ndarray = field(default_factory=lambda: np.zeros(0))

    QUANTITIES = ("energy_per_atom", "forces", "stress")

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """Return the arrays named ``<prefix>_<quantity>_ref`` / ``_pred`` (for an npz)."""
        out = {}
        for quantity in self.QUANTITIES:
            out[f"{prefix}_{quantity}_ref"] = getattr(self, f"{quantity}_ref")
            out[f"{prefix}_{quantity}_pred"] = getattr(self, f"{quantity}_pred")
        return out


def parity_data(atoms_list: Sequence[Atoms], calculator: Calculator) -> ParityData:
    """Evaluate ``calculator`` on labelled configurations.

    Parameters
    ----------
    atoms_list
        Configurations carrying ``info["REF_energy"]`` (eV), ``arrays["REF_forces"]``
        (eV/Å, shape=(n_atoms, 3)) and optionally ``info["REF_stress"]`` (eV/Å^3, (3, 3)).
    calculator
        Any ASE calculator giving energy, forces and (if labels have stress) stress.

    Returns
    -------
    ParityData
    """
    e_ref, e_pred, f_ref, f_pred, s_ref, s_pred = [], [], [], [], [], []
    for labelled in atoms_list:
        if ENERGY_KEY not in labelled.info or FORCES_KEY not in labelled.arrays:
            raise InputError(
                f"configuration {labelled.get_chemical_formula()} lacks {ENERGY_KEY}/{FORCES_KEY}"
            )
        atoms = labelled.copy()
        atoms.calc = calculator
        n_atoms = len(atoms)
        e_ref.append(labelled.info[ENERGY_KEY] / n_atoms)
        e_pred.append(atoms.get_potential_energy() / n_atoms)
        f_ref.append(np.asarray(labelled.arrays[FORCES_KEY]).ravel())
        f_pred.append(atoms.get_forces().ravel())
        if STRESS_KEY in labelled.info:
            s_ref.append(np.asarray(labelled.info[STRESS_KEY], dtype=float).reshape(9))
            s_pred.append(atoms.get_stress(voigt=False).reshape(9))

    def cat(parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts) if parts else np.zeros(0)

    return ParityData(
        energy_per_atom_ref=np.asarray(e_ref, dtype=float),
        energy_per_atom_pred=np.asarray(e_pred, dtype=float),
        forces_ref=cat(f_ref),
        forces_pred=cat(f_pred),
        stress_ref=cat(s_ref),
        stress_pred=cat(s_pred),
    )


def split_metrics(parity: ParityData) -> MlipSplitMetrics:
    """Summarise :class:`ParityData` as MAE/RMSE/R² per quantity."""
    n_conf = int(parity.energy_per_atom_ref.size)
    return MlipSplitMetrics(
        n_configurations=n_conf,
        energy_per_atom=regression_metrics(parity.energy_per_atom_pred, parity.energy_per_atom_ref)
        if n_conf
        else None,
        forces=regression_metrics(parity.forces_pred, parity.forces_ref) if n_conf else None,
        stress=regression_metrics(parity.stress_pred, parity.stress_ref)
        if parity.stress_ref.size
        else None,
    )
