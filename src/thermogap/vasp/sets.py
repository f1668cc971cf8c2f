"""atomate2 VASP input-set generators for the ``pbesol`` and ``hsesol`` levels.

Settings follow seed paper 000 (Methods): PBEsol (``GGA = PS``), 550 eV cutoff, a
Γ-centred k-point grid as dense as 12×12×12 on the 5-atom cubic antiperovskite cell, static
runs for energy/forces/stress/gap/VBM; HSEsol adds ``LHFCALC``, ``HFSCREEN = 0.2`` and
``AEXX = 0.25`` on top of PBEsol; relaxations stop at 0.005 eV/Å.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from atomate2.vasp.sets.core import RelaxSetGenerator, StaticSetGenerator
from pymatgen.io.vasp import Kpoints

from thermogap.errors import InputError

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from thermogap.levels.model import VaspSettings

__all__ = [
    "ThermogapRelaxSetGenerator",
    "ThermogapStaticSetGenerator",
    "functional_incar",
    "kpoint_grid",
    "relax_set_generator",
    "static_set_generator",
]


def kpoint_grid(structure: Structure, kpoints_per_atom: float) -> tuple[int, int, int]:
    """Divisions of a k-point grid with ``kpoints_per_atom`` k-points × atoms.

    Same density rule as pymatgen's ``Kpoints.automatic_density`` (divisions proportional
    to the reciprocal lattice lengths), but each division is rounded *up* (after a 1e-3
    tolerance) instead of down, so the grid is never coarser than requested and exact
    multiples of a reference cell give exact divisions: with 8640 = 12³ × 5, the 5-atom
    cubic cell gets 12×12×12 and a 2×2×2 supercell 6×6×6.

    Parameters
    ----------
    structure
        The cell.
    kpoints_per_atom
        k-points × atoms (pymatgen's "grid density"), > 0.

    Returns
    -------
    tuple of int
        Divisions along a, b, c.
    """
    if not kpoints_per_atom > 0:
        raise InputError(f"{kpoints_per_atom=} must be positive")
    lengths = structure.lattice.abc
    ngrid = kpoints_per_atom / len(structure)
    mult = (ngrid * lengths[0] * lengths[1] * lengths[2]) ** (1 / 3)
    a, b, c = (max(1, math.ceil(mult / length - 1e-3)) for length in lengths)
    return a, b, c


def functional_incar(
    functional: str, hf_screening_per_ang: float = 0.2, exact_exchange_fraction: float = 0.25
) -> dict[str, Any]:
    """INCAR tags selecting the exchange-correlation functional.

    Parameters
    ----------
    functional
        ``"PBEsol"`` or ``"HSEsol"``.
    hf_screening_per_ang, exact_exchange_fraction
        HSE screening (1/Å) and exact-exchange fraction, used for HSEsol.
    """
    if functional == "PBEsol":
        return {"GGA": "Ps", "LHFCALC": False, "METAGGA": None}
    if functional == "HSEsol":
        return {
            "GGA": "Ps",
            "LHFCALC": True,
            "HFSCREEN": hf_screening_per_ang,
            "AEXX": exact_exchange_fraction,
            "PRECFOCK": "Fast",
            "ALGO": "All",
            "METAGGA": None,
        }
    raise InputError(f"{functional=} is not supported; allowed: PBEsol, HSEsol")


@dataclass
class _ThermogapSettingsMixin:
    """Fields shared by the thermogap generators (plain values, so Makers serialise)."""

    functional: str = "PBEsol"
    encut_ev: float = 550.0
    kpoints_per_atom: float = 8640.0
    ediff_ev: float = 1e-6
    smearing_ev: float = 0.01
    hf_screening_per_ang: float = 0.2
    exact_exchange_fraction: float = 0.25
    incar_overrides: dict[str, Any] = field(default_factory=dict)

    def _thermogap_incar(self) -> dict[str, Any]:
        incar = {
            "ENCUT": self.encut_ev,
            "EDIFF": self.ediff_ev,
            "PREC": "Accurate",
            "ISMEAR": 0,  # Gaussian: supercells may have too few k-points for tetrahedra
            "SIGMA": self.smearing_ev,
            "ISPIN": 1,
            "LASPH": True,
            "LDAU": False,
            # labels need no charge densities or potentials: keep run directories small
            "LAECHG": False,
            "LVTOT": False,
            "LELF": False,
        }
        incar |= functional_incar(
            self.functional, self.hf_screening_per_ang, self.exact_exchange_fraction
        )
        return incar | dict(self.incar_overrides)

    def _thermogap_kpoints(self) -> Kpoints:
        grid = kpoint_grid(self.structure, self.kpoints_per_atom)  # type: ignore[attr-defined]
        return Kpoints.gamma_automatic(kpts=grid)


@dataclass
class ThermogapStaticSetGenerator(_ThermogapSettingsMixin, StaticSetGenerator):
    """Static (single-point) input set: energy, forces, stress, band gap, VBM.

    Examples
    --------
    >>> from thermogap.structures import load_structure
    >>> gen = ThermogapStaticSetGenerator(functional="HSEsol")
    >>> vis = gen.get_input_set(load_structure("Ag3SBr"), potcar_spec=True)
    >>> vis.incar["LHFCALC"], vis.incar["AEXX"]
    (True, 0.25)
    """

    @property
    def incar_updates(self) -> dict[str, Any]:
        """INCAR updates: atomate2 static settings, then the level's settings."""
        return super().incar_updates | {"LCHARG": False, "LWAVE": False} | self._thermogap_incar()

    @property
    def kpoints_updates(self) -> Kpoints:  # type: ignore[override]  # pymatgen accepts Kpoints
        """Γ-centred grid at the level's k-point density."""
        return self._thermogap_kpoints()


@dataclass
class ThermogapRelaxSetGenerator(_ThermogapSettingsMixin, RelaxSetGenerator):
    """Full relaxation (cell and ions) to a force tolerance (``EDIFFG < 0``)."""

    relax_force_tolerance_ev_per_ang: float = 0.005

    @property
    def incar_updates(self) -> dict[str, Any]:
        """INCAR updates: atomate2 relax settings, then the level's settings."""
        return (
            super().incar_updates
            | self._thermogap_incar()
            | {"EDIFFG": -abs(self.relax_force_tolerance_ev_per_ang), "IBRION": 2, "ISIF": 3}
        )

    @property
    def kpoints_updates(self) -> Kpoints:  # type: ignore[override]  # pymatgen accepts Kpoints
        """Γ-centred grid at the level's k-point density."""
        return self._thermogap_kpoints()


def _common_kwargs(settings: VaspSettings) -> dict[str, Any]:
    return {
        "functional": settings.functional,
        "encut_ev": settings.encut_ev,
        "kpoints_per_atom": settings.kpoints_per_atom,
        "ediff_ev": settings.ediff_ev,
        "smearing_ev": settings.smearing_ev,
        "hf_screening_per_ang": settings.hf_screening_per_ang,
        "exact_exchange_fraction": settings.exact_exchange_fraction,
        "incar_overrides": dict(settings.incar_updates),
        "user_potcar_functional": settings.potcar_functional,
    }


def static_set_generator(settings: VaspSettings) -> ThermogapStaticSetGenerator:
    """Build the static input-set generator of a VASP level."""
    return ThermogapStaticSetGenerator(**_common_kwargs(settings))


def relax_set_generator(settings: VaspSettings) -> ThermogapRelaxSetGenerator:
    """Build the relaxation input-set generator of a VASP level (EDIFFG from the level)."""
    return ThermogapRelaxSetGenerator(
        relax_force_tolerance_ev_per_ang=settings.relax_force_tolerance_ev_per_ang,
        **_common_kwargs(settings),
    )
