"""Export label documents to training-set formats.

Two consumers read labels: MACE fine-tuning (extended XYZ) and the GNN band-gap /
property models (``(Structure, value)`` records). Only documents with
``status == "ok"`` are labels; failed documents are skipped by every function here.

Keys written for MACE (pass them to ``mace_run_train`` as
``--energy_key REF_energy --forces_key REF_forces --stress_key REF_stress``):

=====================  =========================  ====================================
key                    where                      content
=====================  =========================  ====================================
``REF_energy``         ``atoms.info``             total energy, eV
``REF_forces``         ``atoms.arrays``           forces, eV/Å, shape=(n_atoms, 3)
``REF_stress``         ``atoms.info``             stress, eV/Å^3, shape=(3, 3), ASE sign
                                                  (positive = tensile; ``-trace/3`` is
                                                  the pressure)
``config_id``          ``atoms.info``             configuration id (str)
``level``              ``atoms.info``             level of theory name (str)
=====================  =========================  ====================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from thermogap.errors import InputError
from thermogap.structures.identity import as_structure

if TYPE_CHECKING:
    from ase import Atoms
    from pymatgen.core import Structure

__all__ = [
    "ENERGY_KEY",
    "FORCES_KEY",
    "GNN_TARGETS",
    "STRESS_KEY",
    "label_docs_to_atoms",
    "label_docs_to_gnn_records",
    "ok_labels",
    "write_extxyz",
]

ENERGY_KEY = "REF_energy"
FORCES_KEY = "REF_forces"
STRESS_KEY = "REF_stress"

#: eV/Å^3 → GPa
EV_PER_ANG3_TO_GPA = 160.21766208


def _hydrostatic_stress_gpa(doc: Mapping[str, Any]) -> float | None:
    stress = doc.get("stress_ev_per_ang3")
    if stress is None:
        return None
    return float(np.trace(np.asarray(stress, dtype=float)) / 3.0 * EV_PER_ANG3_TO_GPA)


#: GNN target name → function reading it from a label document (units in the name).
GNN_TARGETS: dict[str, Callable[[Mapping[str, Any]], float | None]] = {
    "band_gap": lambda d: d.get("band_gap_ev"),  # eV
    "energy_per_atom": lambda d: d.get("energy_per_atom_ev"),  # eV/atom
    "vbm": lambda d: d.get("vbm_ev"),  # eV
    "hydrostatic_stress": _hydrostatic_stress_gpa,  # GPa, trace(σ)/3 with ASE sign
}


def ok_labels(docs: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Return the documents that are labels (``status == "ok"``), in order."""
    return [d for d in docs if d.get("status", "ok") == "ok"]


def label_docs_to_atoms(docs: Iterable[Mapping[str, Any]]) -> list[Atoms]:
    """Convert label documents into ASE atoms carrying reference labels.

    Parameters
    ----------
    docs
        Documents of the ``labels`` collection. Documents whose ``status`` is not
        ``"ok"`` are skipped.

    Returns
    -------
    list of ase.Atoms
        One per label, without a calculator attached, with
        ``info["REF_energy"]`` (eV), ``arrays["REF_forces"]`` (eV/Å, shape=(n_atoms, 3)),
        ``info["REF_stress"]`` (eV/Å^3, shape=(3, 3), ASE sign convention, only if the
        label has a stress), ``info["config_id"]`` and ``info["level"]``.

    Raises
    ------
    InputError
        If a label has no energy or forces, or forces of the wrong shape.
    """
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms_list: list[Atoms] = []
    for doc in ok_labels(docs):
        label_id = doc.get("label_id", doc.get("config_id"))
        structure = as_structure(doc["structure"])
        atoms = AseAtomsAdaptor.get_atoms(structure)
        # keep only what we set: the adaptor may copy site properties into arrays/info
        atoms.info.clear()
        for key in list(atoms.arrays):
            if key not in ("numbers", "positions"):
                del atoms.arrays[key]
        if doc.get("energy_ev") is None or doc.get("forces_ev_per_ang") is None:
            raise InputError(f"label {label_id!r} has no energy_ev/forces_ev_per_ang")
        forces = np.asarray(doc["forces_ev_per_ang"], dtype=float)
        if forces.shape != (len(atoms), 3):
            raise InputError(
                f"label {label_id!r}: forces shape {forces.shape} != ({len(atoms)}, 3)"
            )
        atoms.info[ENERGY_KEY] = float(doc["energy_ev"])
        atoms.arrays[FORCES_KEY] = forces
        if doc.get("stress_ev_per_ang3") is not None:
            atoms.info[STRESS_KEY] = np.asarray(doc["stress_ev_per_ang3"], dtype=float).reshape(
                3, 3
            )
        atoms.info["config_id"] = str(doc.get("config_id"))
        atoms.info["level"] = str(doc.get("level"))
        atoms_list.append(atoms)
    return atoms_list


def write_extxyz(docs: Iterable[Mapping[str, Any]], path: str | Path) -> int:
    """Write labels to an extended XYZ file for MACE training.

    Parameters
    ----------
    docs
        Documents of the ``labels`` collection (failed ones are skipped).
    path
        Output file (overwritten).

    Returns
    -------
    int
        Number of frames written. Keys as in :func:`label_docs_to_atoms`.
    """
    from ase.io import write

    atoms_list = label_docs_to_atoms(docs)
    write(str(path), atoms_list, format="extxyz")
    return len(atoms_list)


def label_docs_to_gnn_records(
    docs: Iterable[Mapping[str, Any]], target: str = "band_gap"
) -> list[tuple[Structure, float]]:
    """Convert label documents into ``(structure, value)`` records for a GNN.

    Parameters
    ----------
    docs
        Documents of the ``labels`` collection (failed ones are skipped).
    target
        ``"band_gap"`` (eV), ``"energy_per_atom"`` (eV/atom), ``"vbm"`` (eV) or
        ``"hydrostatic_stress"`` (GPa, ``trace(σ)/3`` with the ASE sign: positive = tensile).

    Returns
    -------
    list of (pymatgen.core.Structure, float)
        Labels lacking the target value are skipped.

    Raises
    ------
    InputError
        If ``target`` is unknown.
    """
    if target not in GNN_TARGETS:
        raise InputError(f"{target=} is not a GNN target; allowed: {', '.join(GNN_TARGETS)}")
    getter = GNN_TARGETS[target]
    records = []
    for doc in ok_labels(docs):
        value = getter(doc)
        if value is None or not np.isfinite(value):
            continue
        records.append((as_structure(doc["structure"]), float(value)))
    return records
