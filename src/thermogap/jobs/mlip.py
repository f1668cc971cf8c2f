"""jobflow Makers for MLIPs: MACE training, single points, relaxations, phonon validation."""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from jobflow import Maker
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from thermogap.errors import InputError
from thermogap.execution import tg_job
from thermogap.schemas.base import make_provenance
from thermogap.schemas.mlip import (
    MaceTrainingSettings,
    MlipModelDoc,
    PhononValidationDoc,
    RelaxationDoc,
    SinglePointDoc,
)
from thermogap.store import collections as names

if TYPE_CHECKING:
    from thermogap.mlip.training import MaceTrainingResult

__all__ = [
    "MaceTrainingMaker",
    "MlipRelaxMaker",
    "MlipSinglePointMaker",
    "PhononValidationMaker",
    "model_document",
]

MODELS_COLLECTION = names.MODELS
LABELS_COLLECTION = names.LABELS


@dataclass
class MaceTrainingMaker(Maker):
    """Train a MACE model on labels of the results database, or fine-tune a foundation model.

    The model file, training log, parity data and plots go to the blob store; the
    :class:`~thermogap.schemas.mlip.MlipModelDoc` to the ``models`` collection.

    Parameters
    ----------
    name
        Job name.
    settings
        Architecture, loss weights (paper: 1/150/10), split (paper: 95/5), epochs, device,
        dtype, seed.
    foundation
        Foundation model to fine-tune: a file path or a name looked up in ``model_dir``
        (e.g. ``"mace-mpa-0-medium"``); ``None`` trains from scratch.
    model_dir
        Directory of foundation model files (default ``$THERMOGAP_MODEL_DIR``, then
        ``~/.cache/thermogap/models``).
    timeout_s
        Kill the training after this many seconds.

    Examples
    --------
    >>> maker = MaceTrainingMaker(foundation="mace-mpa-0-medium")
    >>> job = maker.make(levels=["pbesol"])
    """

    name: str = "mace training"
    settings: MaceTrainingSettings = field(default_factory=MaceTrainingSettings)
    foundation: str | None = None
    model_dir: str | None = None
    timeout_s: float | None = None

    @tg_job
    def make(self, levels: list[str], config_ids: list[str] | None = None) -> MlipModelDoc:
        """Train on the ``ok`` labels of ``levels`` (restricted to ``config_ids`` if given)."""
        from thermogap.labels.export import label_docs_to_atoms
        from thermogap.mlip.foundation import resolve_foundation_model
        from thermogap.mlip.training import train_mace
        from thermogap.store import current_db

        db = current_db()
        foundation = (
            resolve_foundation_model(self.foundation, self.model_dir) if self.foundation else None
        )
        criteria: dict[str, Any] = {"status": "ok", "level": {"$in": list(levels)}}
        if config_ids is not None:
            criteria["config_id"] = {"$in": list(config_ids)}
        docs = db.query(LABELS_COLLECTION, criteria, sort={"config_id": 1, "level": 1})
        if not docs:
            raise InputError(f"no 'ok' labels found in {LABELS_COLLECTION!r} for {criteria}")
        atoms = label_docs_to_atoms(docs)
        with tempfile.TemporaryDirectory(prefix="thermogap-mace-") as work:
            result = train_mace(atoms, self.settings, work, foundation, self.timeout_s)
            doc = model_document(db, result, atoms, self.settings, foundation)
        db.upsert(MODELS_COLLECTION, [doc.model_dump(mode="json")], key="model_id")
        return doc


def model_document(
    db: Any,
    result: MaceTrainingResult,
    atoms_list: list[Any],
    settings: MaceTrainingSettings,
    foundation: Any = None,
) -> MlipModelDoc:
    """Store the artefacts of a training run as blobs and build its model document."""
    from thermogap.mlip.plots import parity_plot_png
    from thermogap.mlip.training import label_id

    model_ref = db.blobs.put_file(result.model_path, kind="mace-model")
    log_ref = db.blobs.put_bytes(result.log_text.encode(), kind="text", filename="train.log")
    arrays: dict[str, np.ndarray] = {}
    for key, parity in result.parity.items():
        arrays |= parity.arrays(key)
    parity_ref = db.blobs.put_arrays(arrays, kind="parity")
    plots = {}
    for model in ("trained", "foundation"):
        panels = {k.split("_", 1)[1]: v for k, v in result.parity.items() if k.startswith(model)}
        if panels:
            png = parity_plot_png(panels, title=f"{model} model")
            plots[model] = db.blobs.put_bytes(png, kind="png", filename=f"parity_{model}.png")
    ids = {
        s: [label_id(atoms_list[i]) for i in getattr(result.split, s)]
        for s in ("train", "valid", "test")
    }
    model_id = "mace-" + result.sha256[:16]
    return MlipModelDoc(
        model_id=model_id,
        kind="mace",
        sha256=result.sha256,
        model_blob=model_ref.model_dump(),
        log_blob=log_ref.model_dump(),
        parity_blob=parity_ref.model_dump(),
        plot_blobs={k: v.model_dump() for k, v in plots.items()},
        metrics=result.metrics,
        foundation_metrics=result.foundation_metrics,
        foundation_name=foundation.name if foundation else None,
        foundation_sha256=foundation.sha256 if foundation else None,
        training_label_ids=ids["train"],
        validation_label_ids=ids["valid"],
        test_label_ids=ids["test"],
        levels=sorted({str(a.info.get("level")) for a in atoms_list}),
        settings=settings,
        training_time_s=result.training_time_s,
        provenance=make_provenance(model_id=model_id, model_sha256=result.sha256),
    )


def _model_provenance(db: Any, model_id: str) -> Any:
    doc = db.query_one(MODELS_COLLECTION, {"model_id": model_id}, properties=["sha256", "levels"])
    sha = doc.get("sha256") if doc else None
    levels = ",".join(doc.get("levels", [])) if doc else None
    return make_provenance(model_id=model_id, model_sha256=sha, level=levels or None)


@dataclass
class MlipSinglePointMaker(Maker):
    """Energy, forces and stress of a structure with a stored MLIP.

    Parameters
    ----------
    name
        Job name.
    device
        Torch device of the model.

    Examples
    --------
    >>> from thermogap.structures import load_structure
    >>> structure = load_structure("Ag3SBr")
    >>> job = MlipSinglePointMaker().make(structure, model_id="mace-0123456789abcdef")
    """

    name: str = "mlip single point"
    device: str = "cpu"

    @tg_job
    def make(self, structure: Structure, model_id: str) -> SinglePointDoc:
        """Evaluate ``structure`` with model ``model_id``."""
        from thermogap.mlip.calculator import calculator_from_model_id
        from thermogap.mlip.relaxation import single_point
        from thermogap.store import current_db

        db = current_db()
        calc = calculator_from_model_id(db, model_id, device=self.device)
        result = single_point(AseAtomsAdaptor.get_atoms(structure), calc)
        return SinglePointDoc(
            model_id=model_id,
            structure=structure.as_dict(),
            energy_ev=result.energy_ev,
            energy_per_atom_ev=result.energy_ev / len(structure),
            forces_ev_per_ang=result.forces_ev_per_ang.tolist(),
            stress_ev_per_ang3=None
            if result.stress_ev_per_ang3 is None
            else result.stress_ev_per_ang3.tolist(),
            provenance=_model_provenance(db, model_id),
        )


@dataclass
class MlipRelaxMaker(Maker):
    """BFGS relaxation with a stored MLIP (paper: fmax 0.05 eV/Å).

    Parameters
    ----------
    name
        Job name.
    fmax_ev_per_ang
        Force convergence threshold, eV/Å.
    relax_cell
        Relax the lattice too (ASE ``FrechetCellFilter``).
    max_steps
        Maximum optimiser steps.
    device
        Torch device of the model.

    Examples
    --------
    >>> from thermogap.structures import load_structure
    >>> structure = load_structure("Ag3SBr")
    >>> job = MlipRelaxMaker(relax_cell=True).make(structure, model_id="mace-0123456789abcdef")
    """

    name: str = "mlip relaxation"
    fmax_ev_per_ang: float = 0.05
    relax_cell: bool = False
    max_steps: int = 500
    device: str = "cpu"

    @tg_job
    def make(self, structure: Structure, model_id: str) -> RelaxationDoc:
        """Relax ``structure`` with model ``model_id``."""
        from thermogap.mlip.calculator import calculator_from_model_id
        from thermogap.mlip.relaxation import relax
        from thermogap.store import current_db

        db = current_db()
        calc = calculator_from_model_id(db, model_id, device=self.device)
        result = relax(
            AseAtomsAdaptor.get_atoms(structure),
            calc,
            fmax_ev_per_ang=self.fmax_ev_per_ang,
            relax_cell=self.relax_cell,
            max_steps=self.max_steps,
        )
        final = result.final
        return RelaxationDoc(
            model_id=model_id,
            input_structure=structure.as_dict(),
            structure=AseAtomsAdaptor.get_structure(result.atoms).as_dict(),
            energy_ev=final.energy_ev,
            energy_per_atom_ev=final.energy_ev / len(structure),
            max_force_ev_per_ang=float(np.linalg.norm(final.forces_ev_per_ang, axis=1).max()),
            stress_ev_per_ang3=None
            if final.stress_ev_per_ang3 is None
            else final.stress_ev_per_ang3.tolist(),
            fmax_ev_per_ang=self.fmax_ev_per_ang,
            relax_cell=self.relax_cell,
            n_steps=result.n_steps,
            converged=result.converged,
            energies_ev=result.energies_ev,
            provenance=_model_provenance(db, model_id),
        )


@dataclass
class PhononValidationMaker(Maker):
    """Phonons of a parent compound from a stored MLIP against a reference engine.

    Parameters
    ----------
    name
        Job name.
    reference_engine
        Name of the reference level's engine in :mod:`thermogap.engines`.
    supercell_matrix
        Finite-displacement supercell.
    displacement_ang
        Displacement amplitude, Å.
    imaginary_tolerance_thz
        Frequencies below minus this count as imaginary, THz.
    device
        Torch device of the model.

    Examples
    --------
    >>> from thermogap.structures import load_structure
    >>> structure = load_structure("Ag3SBr")
    >>> job = PhononValidationMaker(reference_engine="chgnet").make(structure, "mace-...")
    """

    name: str = "mlip phonon validation"
    reference_engine: str = "chgnet"
    supercell_matrix: list[int] = field(default_factory=lambda: [2, 2, 2])
    displacement_ang: float = 0.01
    imaginary_tolerance_thz: float = 0.1
    device: str = "cpu"

    @tg_job
    def make(self, structure: Structure, model_id: str) -> PhononValidationDoc:
        """Compare MLIP and reference phonons of ``structure`` at the commensurate q-points."""
        from thermogap.engines import get_calculator
        from thermogap.mlip.calculator import calculator_from_model_id
        from thermogap.mlip.validation import validate_phonons
        from thermogap.store import current_db

        db = current_db()
        fields = validate_phonons(
            structure,
            calculator_from_model_id(db, model_id, device=self.device),
            get_calculator(self.reference_engine),
            supercell_matrix=self.supercell_matrix,
            displacement_ang=self.displacement_ang,
            imaginary_tolerance_thz=self.imaginary_tolerance_thz,
        )
        return PhononValidationDoc(
            model_id=model_id,
            reference=self.reference_engine,
            provenance=_model_provenance(db, model_id),
            **fields,
        )


def parity_plot_bytes(db: Any, model_doc: dict[str, Any], which: str = "trained") -> io.BytesIO:
    """Return the stored parity plot (PNG) of a model document as a file-like object."""
    return io.BytesIO(db.blobs.get_bytes(model_doc["plot_blobs"][which]))
