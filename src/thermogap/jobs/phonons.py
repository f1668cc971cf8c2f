"""jobflow Maker for harmonic phonons with any registered calculator."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from jobflow import Maker
from pymatgen.core import Structure

from thermogap.execution import tg_job
from thermogap.phonons.analysis import PhononAnalysis, analyse_phonons
from thermogap.phonons.harmonic import compute_force_constants, phonon_id, supercell_matrix_array
from thermogap.phonons.storage import PHONONS_COLLECTION
from thermogap.schemas.base import make_provenance
from thermogap.schemas.phonons import (
    ImaginaryModeDoc,
    PhononBandStructureDoc,
    PhononDoc,
    PhononDosDoc,
    PhononSettings,
)
from thermogap.structures.identity import structure_id

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator
    from phonopy import Phonopy

__all__ = ["PhononMaker", "build_calculator", "phonon_document", "store_structure"]

STRUCTURES_COLLECTION = "structures"


@dataclass
class PhononMaker(Maker):
    """Harmonic phonons of a unit cell: force constants, band structure, DOS, stability.

    The force constants go to the blob store; the document (without them) to the ``phonons``
    collection, keyed by a deterministic ``phonon_id``, and the unit cell to ``structures``.

    Parameters
    ----------
    name : str
        Job name.
    calculator : str
        Engine name resolved with :func:`thermogap.engines.get_calculator` when the job runs.
    calculator_kwargs : dict
        Keyword arguments of the engine factory.
    model_id : str or None
        A trained MLIP of the ``models`` collection; when given it is used instead of
        ``calculator`` (SHA-256 verified before loading).
    supercell_matrix : list
        Three repetitions or a 3x3 integer matrix (paper: 2x2x2 of the 5-atom cell).
    settings : PhononSettings
        Displacement, symmetrisation, band path, DOS mesh and stability tolerance.

    Examples
    --------
    >>> from thermogap.structures import load_structure
    >>> job = PhononMaker(calculator="chgnet").make(load_structure("Ag3SBr"))
    """

    name: str = "harmonic phonons"
    calculator: str = "chgnet"
    calculator_kwargs: dict[str, Any] = field(default_factory=dict)
    model_id: str | None = None
    supercell_matrix: list[int] | list[list[int]] = field(default_factory=lambda: [2, 2, 2])
    settings: PhononSettings = field(default_factory=PhononSettings)

    @tg_job
    def make(self, structure: Structure, model_id: str | None = None) -> PhononDoc:
        """Compute and store the phonons of ``structure`` (an ordered unit cell)."""
        # a model made earlier in the same flow arrives as an argument (a resolved reference)
        model_id = model_id or self.model_id
        from thermogap.store import current_db

        db = current_db()
        calc = build_calculator(self.calculator, self.calculator_kwargs, model_id, db)
        phonon = compute_force_constants(
            structure,
            calc,
            supercell_matrix=self.supercell_matrix,
            displacement_ang=self.settings.displacement_ang,
            symmetrize=self.settings.symmetrize_force_constants,
            symprec=self.settings.symprec,
        )
        analysis = analyse_phonons(
            phonon,
            band_npoints=self.settings.band_npoints,
            dos_mesh=self.settings.dos_mesh,
            stability_tolerance_thz=self.settings.stability_tolerance_thz,
            max_imaginary_modes=self.settings.max_imaginary_modes,
            path_type=self.settings.band_path_type,
        )
        fc_ref = db.blobs.put_array(np.asarray(phonon.force_constants), kind="force_constants")
        doc = phonon_document(
            structure,
            phonon,
            analysis,
            force_constants_ref=fc_ref.model_dump(),
            calculator=self.calculator,
            calculator_kwargs=self.calculator_kwargs,
            model_id=model_id,
            settings=self.settings,
            model_sha256=_model_sha256(db, model_id),
        )
        store_structure(db, structure, role="phonon unit cell")
        db.upsert(PHONONS_COLLECTION, [doc.model_dump()], key="phonon_id")
        return doc


def build_calculator(
    name: str, kwargs: dict[str, Any], model_id: str | None = None, db: Any = None
) -> Calculator:
    """ASE calculator from an engine name, or from a stored MLIP when ``model_id`` is given."""
    if model_id is not None:
        from thermogap.mlip.calculator import calculator_from_model_id

        return calculator_from_model_id(db, model_id, **kwargs)
    from thermogap.engines import get_calculator

    return get_calculator(name, **kwargs)


def phonon_document(
    structure: Structure,
    phonon: Phonopy,
    analysis: PhononAnalysis,
    *,
    force_constants_ref: dict[str, Any],
    calculator: str,
    calculator_kwargs: dict[str, Any],
    model_id: str | None,
    settings: PhononSettings,
    model_sha256: str | None = None,
) -> PhononDoc:
    """Build the :class:`PhononDoc` of a finished calculation."""
    calculator_id = (
        f"model:{model_id}" if model_id else f"{calculator}:{sorted(calculator_kwargs.items())}"
    )
    bands = analysis.band_structure
    return PhononDoc(
        phonon_id=phonon_id(
            structure, phonon.supercell_matrix, calculator_id, settings.displacement_ang
        ),
        structure_id=structure_id(structure),
        formula=structure.composition.reduced_formula,
        structure=structure.as_dict(),
        n_atoms=len(structure),
        calculator=calculator if model_id is None else "mlip",
        calculator_kwargs=dict(calculator_kwargs),
        model_id=model_id,
        supercell_matrix=supercell_matrix_array(phonon.supercell_matrix).tolist(),
        masses_amu=[float(m) for m in phonon.primitive.masses],
        n_displacements=len(phonon.supercells_with_displacements or []),
        force_constants=force_constants_ref,
        dynamically_stable=analysis.dynamically_stable,
        stability_tolerance_thz=analysis.stability_tolerance_thz,
        min_frequency_thz=analysis.min_frequency_thz,
        n_imaginary_qpoints=analysis.n_imaginary_qpoints,
        imaginary_modes=[
            ImaginaryModeDoc(
                frequency_thz=m.frequency_thz,
                qpoint=m.qpoint,
                band_index=m.band_index,
                eigenvector_real=m.eigenvector.real.tolist(),
                eigenvector_imag=m.eigenvector.imag.tolist(),
            )
            for m in analysis.imaginary_modes
        ],
        band_structure=PhononBandStructureDoc(
            qpoints=bands.qpoints.tolist(),
            distances=bands.distances.tolist(),
            frequencies_thz=bands.frequencies_thz.tolist(),
            labels=bands.labels,
            segment_ends=[list(e) for e in bands.segment_ends],
        ),
        dos=PhononDosDoc(
            frequencies_thz=analysis.dos.frequencies_thz.tolist(),
            dos=analysis.dos.dos.tolist(),
            mesh=list(analysis.dos.mesh),
        ),
        settings=settings,
        provenance=make_provenance(model_id=model_id, model_sha256=model_sha256),
    )


def store_structure(db: Any, structure: Structure, *, role: str) -> str:
    """Upsert ``structure`` into the ``structures`` collection; return its ``structure_id``."""
    sid = structure_id(structure)
    db.upsert(
        STRUCTURES_COLLECTION,
        [
            {
                "structure_id": sid,
                "formula": structure.composition.reduced_formula,
                "n_atoms": len(structure),
                "role": role,
                "lattice_abc_ang": list(structure.lattice.abc),
                "structure": structure.as_dict(),
            }
        ],
        key="structure_id",
    )
    return sid


def _model_sha256(db: Any, model_id: str | None) -> str | None:
    if model_id is None:
        return None
    doc = db.query_one("models", {"model_id": model_id}, properties=["sha256"])
    return None if doc is None else doc.get("sha256")
