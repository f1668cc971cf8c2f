"""Phonons made elsewhere: phonopy objects and files, atomate2 phonon documents.

thermogap's sampling and analysis take a ``phonopy.Phonopy`` with force constants. These
functions build one from what other codes produce, so that phonons computed by atomate2's
``PhononMaker`` (VASP or force field), by phonopy itself, or read from ``phonopy.yaml`` can be
used where thermogap takes phonons.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from phonopy import Phonopy
from pymatgen.core import Structure

from thermogap.errors import InputError
from thermogap.phonons.harmonic import phonopy_atoms_to_structure, phonopy_from_force_constants
from thermogap.structures.identity import as_structure

__all__ = ["phonopy_from_atomate2", "phonopy_from_file", "structure_of_phonopy"]


def phonopy_from_atomate2(doc: Any) -> Phonopy:
    """Rebuild phonopy from an atomate2 ``PhononBSDOSDoc`` (object or dictionary).

    Parameters
    ----------
    doc
        The output of atomate2's phonon flow (``PhononMaker(...).make(structure).output``
        resolved), with ``structure``, ``supercell_matrix`` and ``force_constants``.

    Returns
    -------
    phonopy.Phonopy
        With the force constants of the document, shape=(n_sc, n_sc, 3, 3), eV/Å².

    Raises
    ------
    InputError
        If the document lacks force constants (atomate2 stores them only with
        ``store_force_constants=True``, its default) or a structure.
    """
    get = doc.get if isinstance(doc, dict) else lambda key: getattr(doc, key, None)
    structure, supercell, fcs = get("structure"), get("supercell_matrix"), get("force_constants")
    if fcs is None or structure is None or supercell is None:
        missing = [
            k
            for k, v in (
                ("structure", structure),
                ("supercell_matrix", supercell),
                ("force_constants", fcs),
            )
            if v is None
        ]
        raise InputError(
            f"atomate2 phonon document lacks {missing}; run atomate2's PhononMaker with "
            "store_force_constants=True"
        )
    structure = as_structure(structure)
    if isinstance(fcs, dict):
        fcs = fcs.get("force_constants")
    elif hasattr(fcs, "force_constants"):
        fcs = fcs.force_constants
    force_constants = np.asarray(fcs, dtype=float)
    return phonopy_from_force_constants(structure, np.asarray(supercell), force_constants)


def phonopy_from_file(path: str | os.PathLike[str]) -> Phonopy:
    """Load ``phonopy.yaml`` (or ``phonopy_params.yaml``) with its force constants.

    Raises
    ------
    InputError
        If the file does not exist or holds neither force constants nor forces to fit them.
    """
    import phonopy

    if not os.path.isfile(path):
        raise InputError(f"phonopy file {os.fspath(path)!r} does not exist")
    phonon = phonopy.load(os.fspath(path), produce_fc=True, log_level=0)
    if phonon.force_constants is None:
        raise InputError(
            f"{os.fspath(path)!r} has neither force constants nor displacement forces; "
            "write it with phonon.save(settings={'force_constants': True})"
        )
    return phonon


def structure_of_phonopy(phonon: Phonopy) -> Structure:
    """Return the unit cell of a phonopy calculation as a pymatgen structure."""
    return phonopy_atoms_to_structure(phonon.unitcell)
