"""Rebuild phonopy objects from phonon documents (job outputs or the ``phonons`` collection)."""

from __future__ import annotations

from typing import Any

from phonopy import Phonopy
from pymatgen.core import Structure

from thermogap.errors import InputError, UnknownEntryError
from thermogap.phonons.harmonic import phonopy_from_force_constants
from thermogap.store import collections as names

__all__ = [
    "PHONONS_COLLECTION",
    "load_phonon_doc",
    "load_phonopy",
    "phonon_doc_dict",
    "phonopy_from_doc",
]

PHONONS_COLLECTION = names.PHONONS


def load_phonon_doc(db: Any, phonon_id: str) -> dict[str, Any]:
    """Return the document of ``phonon_id`` from the ``phonons`` collection.

    Parameters
    ----------
    db : thermogap.store.ResultsDB
    phonon_id : str

    Raises
    ------
    UnknownEntryError
        If no such document exists; the message lists a few known ids.
    """
    doc = db.query_one(PHONONS_COLLECTION, {"phonon_id": phonon_id})
    if doc is None:
        known = [
            d["phonon_id"] for d in db.query(PHONONS_COLLECTION, properties=["phonon_id"], limit=10)
        ]
        raise UnknownEntryError(
            f"no phonon calculation with {phonon_id=} in {PHONONS_COLLECTION!r}; "
            f"known (first 10): {known or '(none)'}"
        )
    return doc


def phonopy_from_doc(doc: Any, blobs: Any = None) -> Phonopy:
    """Rebuild ``phonopy.Phonopy`` (with force constants) from a phonon document.

    Parameters
    ----------
    doc : dict or PhononDoc or FiniteTemperaturePhononDoc
        A phonon document as stored, as output by a job (passed by reference), or its
        ``model_dump()``.
    blobs : thermogap.store.BlobStore, optional
        Blob store holding ``doc["force_constants"]``; its SHA-256 is verified on read.
        Default: the running job's (:func:`thermogap.execution.artifacts.current_blobs`),
        which finds the bytes carried by the job's resolved inputs.
    """
    if blobs is None:
        from thermogap.execution.artifacts import current_blobs

        blobs = current_blobs()
    doc = phonon_doc_dict(doc)
    force_constants = blobs.get_array(doc["force_constants"])
    structure = doc["structure"]
    if not isinstance(structure, Structure):
        structure = Structure.from_dict(structure)
    return phonopy_from_force_constants(
        structure,
        doc["supercell_matrix"],
        force_constants,
        masses=doc.get("masses_amu"),
    )


def phonon_doc_dict(doc: Any) -> dict[str, Any]:
    """Return a phonon document (pydantic model or dict) as a dict of its fields.

    Nested documents become dicts; structures stay pymatgen objects or their dicts,
    whichever they were; monty's ``@module``/``@class`` tags of a serialised document are
    dropped.
    """
    if hasattr(doc, "model_dump"):
        return dict(doc.model_dump())
    if not isinstance(doc, dict):
        raise InputError(
            f"expected a phonon document (a phonon job's output), got {str(doc)[:80]!r}"
        )
    return {k: v for k, v in doc.items() if not str(k).startswith("@")}


def load_phonopy(db: Any, phonon_id: str) -> Phonopy:
    """``phonopy.Phonopy`` with force constants of a stored phonon calculation.

    Parameters
    ----------
    db : thermogap.store.ResultsDB
        Database holding the ``phonons`` collection and the force-constant blobs.
    phonon_id : str
        Id of the calculation (``PhononDoc.phonon_id``).

    Examples
    --------
    Store EMT force constants of fcc copper and read them back as a phonopy object:

    >>> import tempfile
    >>> import numpy as np
    >>> from ase.build import bulk
    >>> from ase.calculators.emt import EMT
    >>> from pymatgen.io.ase import AseAtomsAdaptor
    >>> from thermogap.phonons.harmonic import compute_force_constants
    >>> from thermogap.store import ResultsDB
    >>> copper = AseAtomsAdaptor.get_structure(bulk("Cu", "fcc", a=3.61))
    >>> computed = compute_force_constants(copper, EMT(), supercell_matrix=(3, 3, 3))
    >>> db = ResultsDB.from_spec(tempfile.mkdtemp())
    >>> fc = db.blobs.put_array(computed.force_constants, kind="force_constants")
    >>> db.upsert(PHONONS_COLLECTION, [{"phonon_id": "cu-emt", "structure": copper.as_dict(),
    ...     "supercell_matrix": (3 * np.eye(3, dtype=int)).tolist(), "masses_amu": [63.546],
    ...     "force_constants": fc.model_dump()}], key="phonon_id")
    1
    >>> def at_l_point(phonon):
    ...     phonon.run_qpoints([[0.5, 0.5, 0.5]])
    ...     return phonon.get_qpoints_dict()["frequencies"]
    >>> bool(np.allclose(at_l_point(load_phonopy(db, "cu-emt")), at_l_point(computed)))
    True
    >>> db.close()
    """
    return phonopy_from_doc(load_phonon_doc(db, phonon_id), db.blobs)
