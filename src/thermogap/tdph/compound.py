"""One compound through the tdph pipeline: inputs, relaxation, harmonic and renormalised phonons.

Plain functions (no jobflow): the Makers of :mod:`thermogap.jobs.tdph` wrap them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from phonopy import Phonopy
from pymatgen.core import Structure

from thermogap.errors import InputError
from thermogap.phonons.analysis import BandStructure, band_structure
from thermogap.phonons.anharmonic import RenormalisationResult, renormalised_phonons
from thermogap.phonons.harmonic import compute_force_constants, phonopy_atoms_to_structure
from thermogap.tdph.metrics import OnsiteRatio, frequency_shift_norm, r_full, r_onsite

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator

__all__ = [
    "CompoundInput",
    "Measurement",
    "collect_inputs",
    "load_phonopy_yaml",
    "measure_renormalisation",
    "relax_structure",
]

_STRUCTURE_SUFFIXES = (".cif", ".vasp", ".poscar")


@dataclass
class CompoundInput:
    """A compound to process: a unit cell, or a phonopy.yaml with force constants."""

    compound_id: str
    structure: Structure | None = None
    phonopy_yaml: str | None = None


def _is_structure_file(path: Path) -> bool:
    name = path.name.lower()
    return path.suffix.lower() in _STRUCTURE_SUFFIXES or name.startswith(("poscar", "contcar"))


def _is_phonopy_yaml(path: Path) -> bool:
    return path.name.lower().endswith((".yaml", ".yml")) and "phonopy" in path.name.lower()


def _from_path(path: Path) -> list[CompoundInput]:
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if _is_structure_file(p) or _is_phonopy_yaml(p))
        if not found:
            raise InputError(f"folder {str(path)!r} holds no CIF, POSCAR or phonopy.yaml file")
        return [item for p in found for item in _from_path(p)]
    if not path.exists():
        raise InputError(f"structure input {str(path)!r} does not exist")
    if _is_phonopy_yaml(path):
        name = path.stem.replace("phonopy", "").strip("_-.") or path.parent.name
        return [CompoundInput(name, phonopy_yaml=str(path))]
    try:
        structure = Structure.from_file(str(path))
    except Exception as exc:  # pymatgen raises anything on unreadable files
        raise InputError(f"cannot read a structure from {str(path)!r}: {exc}") from exc
    stem = path.stem if path.suffix else path.name
    return [CompoundInput(stem, structure=structure)]


def collect_inputs(
    items: Iterable[str | os.PathLike[str] | Structure] | str | os.PathLike[str],
) -> list[CompoundInput]:
    """Normalise the flow input to compounds with unique ids.

    Parameters
    ----------
    items : path, folder, or sequence of paths / pymatgen structures
        CIF or POSCAR files, folders of them, files named ``*phonopy*.yaml`` holding force
        constants (these skip relaxation and the harmonic step), or ``Structure`` objects
        (named by their reduced formula).

    Raises
    ------
    InputError
        If a path is missing or unreadable, or nothing is given.
    """
    if isinstance(items, str | os.PathLike):
        items = [items]
    compounds: list[CompoundInput] = []
    for item in items:
        if isinstance(item, Structure):
            compounds.append(CompoundInput(item.composition.reduced_formula, structure=item))
        else:
            compounds.extend(_from_path(Path(item)))
    if not compounds:
        raise InputError("no structures given; pass files, a folder or pymatgen structures")
    seen: dict[str, int] = {}
    for compound in compounds:  # make ids unique: NaCl, NaCl-2, ...
        count = seen.get(compound.compound_id, 0) + 1
        seen[compound.compound_id] = count
        if count > 1:
            compound.compound_id = f"{compound.compound_id}-{count}"
    return compounds


def load_phonopy_yaml(path: str) -> Phonopy:
    """Load a phonopy.yaml (force constants or forces inside) with full force constants."""
    import phonopy

    try:
        phonon = phonopy.load(path, log_level=0)
    except Exception as exc:
        raise InputError(f"cannot load phonopy file {path!r}: {exc}") from exc
    if phonon.force_constants is None:
        raise InputError(f"{path!r} holds neither force constants nor forces")
    fc = np.asarray(phonon.force_constants)
    if fc.shape[0] != fc.shape[1]:
        from phonopy.harmonic.force_constants import compact_fc_to_full_fc

        phonon.force_constants = compact_fc_to_full_fc(phonon.primitive, fc)
    return phonon


def relax_structure(
    structure: Structure,
    calculator: Calculator,
    fmax_ev_per_ang: float,
    relax_cell: bool,
    max_steps: int,
) -> tuple[Structure, bool, int]:
    """Relax with :func:`thermogap.mlip.relaxation.relax`; return cell, converged, steps."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from thermogap.mlip.relaxation import relax

    result = relax(
        AseAtomsAdaptor.get_atoms(structure),
        calculator,
        fmax_ev_per_ang=fmax_ev_per_ang,
        relax_cell=relax_cell,
        max_steps=max_steps,
    )
    return AseAtomsAdaptor.get_structure(result.atoms), result.converged, result.n_steps


def harmonic_phonons(
    structure: Structure,
    calculator: Calculator,
    supercell_matrix: Sequence[int] | Sequence[Sequence[int]],
    displacement_ang: float = 0.01,
) -> Phonopy:
    """Harmonic force constants (finite displacements, symmetrised), full layout."""
    return compute_force_constants(
        structure, calculator, supercell_matrix=supercell_matrix, displacement_ang=displacement_ang
    )


@dataclass
class Measurement:
    """A renormalisation and its metrics."""

    result: RenormalisationResult
    r_full: float
    r_onsite: list[OnsiteRatio]
    frequency_shift_norm: float
    bands_harmonic: BandStructure
    bands_renormalised: BandStructure
    min_frequency_harmonic_thz: float
    baseline: Measurement | None = None


def measure_renormalisation(
    phonon: Phonopy,
    calculator: Calculator,
    temperature_k: float,
    settings: Any,
) -> Measurement:
    """Renormalise at ``temperature_k`` and compute R_full, R_onsite and the shift norm.

    ``settings`` is a :class:`thermogap.schemas.tdph.TdphSettings` (or anything with its
    attributes).
    """
    from thermogap.phonons.anharmonic import commensurate_frequencies

    result = renormalised_phonons(
        phonon,
        calculator,
        temperature_k,
        n_samples=settings.n_samples,
        iterations=settings.iterations,
        mixing=settings.mixing,
        seed=settings.seed,
        estimator=settings.estimator,
        plus_minus=settings.plus_minus,
        min_sampling_frequency_thz=settings.min_sampling_frequency_thz,
        stability_tolerance_thz=settings.stability_tolerance_thz,
    )
    fc0 = np.asarray(_full_fc(phonon), dtype=float)
    fc1 = np.asarray(result.phonon.force_constants)
    harmonic = result.phonon.replicate()
    harmonic.masses = np.asarray(phonon.masses)
    harmonic.force_constants = fc0
    _, freqs0 = commensurate_frequencies(harmonic)
    baseline = None
    base_t = getattr(settings, "baseline_temperature_k", None)
    if base_t is not None and base_t != temperature_k:
        baseline = measure_renormalisation(
            phonon, calculator, base_t, settings.model_copy(update={"baseline_temperature_k": None})
        )
    return Measurement(
        baseline=baseline,
        result=result,
        r_full=r_full(fc0, fc1, settings.zero_tolerance),
        r_onsite=r_onsite(harmonic, fc1),
        frequency_shift_norm=frequency_shift_norm(harmonic, result.phonon, settings.shift_mesh),
        bands_harmonic=band_structure(harmonic, npoints=settings.band_npoints),
        bands_renormalised=band_structure(result.phonon, npoints=settings.band_npoints),
        min_frequency_harmonic_thz=float(freqs0.min()),
    )


def _full_fc(phonon: Phonopy) -> np.ndarray:
    fc = np.asarray(phonon.force_constants)
    if fc.shape[0] == fc.shape[1]:
        return fc
    from phonopy.harmonic.force_constants import compact_fc_to_full_fc

    return np.asarray(compact_fc_to_full_fc(phonon.primitive, fc))


def unit_cell(phonon: Phonopy) -> Structure:
    """Return the phonopy primitive cell as a pymatgen Structure."""
    return phonopy_atoms_to_structure(phonon.primitive)
