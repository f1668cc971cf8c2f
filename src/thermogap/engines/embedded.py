"""The embedded labelling engine: energy, forces, stress and band edges in-process.

Energy, forces and stress come from a registered force engine (CHGNet by default, weights
inside its wheel); the band gap and valence-band maximum come from a self-consistent
extended tight-binding calculation (tblite GFN1-xTB or IPEA1-xTB) at the Γ point of the
supercell. Nothing is downloaded. Failures (unconverged SCF, non-finite numbers) raise
:class:`~thermogap.errors.CalculationError`, which the labelling functions record as a
failed label.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from thermogap.engines import get_calculator
from thermogap.errors import CalculationError
from thermogap.threads import limited_threads

if TYPE_CHECKING:
    from ase import Atoms
    from ase.calculators.calculator import Calculator

    from thermogap.levels.model import EmbeddedSettings

__all__ = ["BandEdges", "EmbeddedResult", "cached_calculator", "embedded_label", "xtb_band_edges"]

HARTREE_TO_EV = 27.211386245988
BOHR_TO_ANG = 0.529177210903
KELVIN_TO_HARTREE = 3.166811563e-6


@dataclass(frozen=True)
class BandEdges:
    """Band edges at the Γ point of a supercell.

    Attributes
    ----------
    band_gap_ev
        Lowest unoccupied minus highest occupied orbital energy, eV.
    vbm_ev, cbm_ev
        Highest occupied / lowest unoccupied orbital energy, eV (xTB absolute scale).
    xtb_energy_ev
        xTB total energy, eV (a diagnostic; labels take the energy from the force engine).
    """

    band_gap_ev: float
    vbm_ev: float
    cbm_ev: float
    xtb_energy_ev: float


@dataclass(frozen=True)
class EmbeddedResult:
    """Labels of one structure from the embedded engine.

    Attributes
    ----------
    energy_ev
        Total energy, eV.
    forces_ev_per_ang
        Forces, eV/Å, shape=(n_atoms, 3).
    stress_ev_per_ang3
        Stress, eV/Å^3, shape=(3, 3), ASE sign (positive = tensile).
    band_edges
        Band gap, VBM and CBM from xTB.
    """

    energy_ev: float
    forces_ev_per_ang: np.ndarray
    stress_ev_per_ang3: np.ndarray
    band_edges: BandEdges


def xtb_band_edges(
    atoms: Atoms,
    method: str = "GFN1-xTB",
    accuracy: float = 10.0,
    max_iterations: int = 100,
    electronic_temperature_k: float = 300.0,
) -> BandEdges:
    """Γ-point band gap and VBM of a periodic structure from tblite xTB.

    The occupied count is ``round(n_electrons / 2)`` (closed shell); the gap is the
    difference of the orbital energies on either side of it.

    Parameters
    ----------
    atoms
        Periodic structure (all three directions periodic), positions in Å.
    method
        ``"GFN1-xTB"``, ``"IPEA1-xTB"`` or ``"GFN2-xTB"``.
    accuracy
        tblite accuracy multiplier (larger = looser, faster).
    max_iterations
        Maximum number of SCF iterations.
    electronic_temperature_k
        Fermi smearing temperature, K.

    Returns
    -------
    BandEdges

    Raises
    ------
    CalculationError
        If the SCF does not converge or the orbital energies are not finite.
    """
    from tblite.exceptions import TBLiteRuntimeError
    from tblite.interface import Calculator as TBLiteCalculator

    calc = TBLiteCalculator(
        method,
        atoms.numbers,
        atoms.positions / BOHR_TO_ANG,
        lattice=np.asarray(atoms.cell) / BOHR_TO_ANG,
        periodic=np.array([True, True, True]),
    )
    calc.set("verbosity", 0)
    calc.set("accuracy", float(accuracy))
    calc.set("max-iter", int(max_iterations))
    calc.set("temperature", electronic_temperature_k * KELVIN_TO_HARTREE)
    try:
        result = calc.singlepoint()
    except TBLiteRuntimeError as exc:
        raise CalculationError(f"{method} SCF failed: {exc}") from exc
    energies = np.sort(np.asarray(result.get("orbital-energies"), dtype=float)) * HARTREE_TO_EV
    n_electrons = float(np.sum(result.get("orbital-occupations")))
    n_occupied = round(n_electrons / 2)
    if not np.all(np.isfinite(energies)) or not 0 < n_occupied < len(energies):
        raise CalculationError(
            f"{method}: no finite band edges ({n_electrons=}, {len(energies)} orbitals)"
        )
    vbm, cbm = energies[n_occupied - 1], energies[n_occupied]
    return BandEdges(
        band_gap_ev=float(cbm - vbm),
        vbm_ev=float(vbm),
        cbm_ev=float(cbm),
        xtb_energy_ev=float(result.get("energy")) * HARTREE_TO_EV,
    )


@functools.lru_cache(maxsize=4)
def _cached_calculator(name: str, frozen_kwargs: tuple[tuple[str, Any], ...]) -> Calculator:
    return get_calculator(name, **dict(frozen_kwargs))


def cached_calculator(name: str, **kwargs: Any) -> Calculator:
    """Return a calculator shared within the process (loading CHGNet takes seconds)."""
    return _cached_calculator(name, tuple(sorted(kwargs.items())))


def embedded_label(atoms: Atoms, settings: EmbeddedSettings) -> EmbeddedResult:
    """Label one structure with the embedded engine.

    Parameters
    ----------
    atoms
        Periodic structure, positions in Å (not modified).
    settings
        The ``embedded`` section of an embedded level of theory.

    Returns
    -------
    EmbeddedResult

    Raises
    ------
    CalculationError
        On an unconverged xTB SCF or non-finite energy, forces or stress.
    """
    work = atoms.copy()
    with limited_threads(settings.num_threads):
        work.calc = cached_calculator(settings.forces_engine, **settings.forces_engine_kwargs)
        energy = float(work.get_potential_energy())
        forces = np.array(work.get_forces(), dtype=float)
        stress = np.array(work.get_stress(voigt=False), dtype=float)
        work.calc = None
        if not (
            np.isfinite(energy) and np.all(np.isfinite(forces)) and np.all(np.isfinite(stress))
        ):
            raise CalculationError(
                f"{settings.forces_engine} returned non-finite energy/forces/stress "
                f"({energy=}, NaN forces: {int(np.isnan(forces).sum())})"
            )
        edges = xtb_band_edges(
            work,
            method=settings.gap_method,
            accuracy=settings.gap_accuracy,
            max_iterations=settings.gap_max_iterations,
            electronic_temperature_k=settings.electronic_temperature_k,
        )
    return EmbeddedResult(
        energy_ev=energy, forces_ev_per_ang=forces, stress_ev_per_ang3=stress, band_edges=edges
    )
