"""jobflow Makers for MLIPs: MACE training, single points, relaxations, phonon validation.

No job here opens the results database: training takes the labels as a list of LabelDoc
dicts and returns the model document, whose model file travels with it (``artifacts``);
the jobs that use a model take that document and load it with
:func:`~thermogap.mlip.calculator.calculator_from_model`.
"""

from __future__ import annotations

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

if TYPE_CHECKING:
    from thermogap.mlip.training import MaceTrainingResult

__all__ = [
    "MaceTrainingMaker",
    "MlipRelaxMaker",
    "MlipSinglePointMaker",
    "PhononValidationMaker",
    "model_document",
    "training_atoms",
]


@dataclass
class MaceTrainingMaker(Maker):
    """Train a MACE model on a list of labels, or fine-tune a foundation model.

    The labels arrive by reference (the labelling flow's output); the model file, training
    log, parity data and plots go to the job's blob store and travel with the returned
    :class:`~thermogap.schemas.mlip.MlipModelDoc` (``artifacts``). The ``models``
    collection is built from these outputs afterwards (:mod:`thermogap.store.builders`).

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
    exclude_schemes
        Sampling schemes whose labels are left out (the paper trains the MLIP on displaced
        configurations only: ``("equilibrium",)``); labels without a ``scheme`` are kept.

    Examples
    --------
    >>> labels = []  # LabelDoc dicts; in a flow, the labelling flow's ``.output``
    >>> maker = MaceTrainingMaker(foundation="mace-mpa-0-medium", exclude_schemes=("equilibrium",))
    >>> training = maker.make(levels=["pbesol"], labels=labels)
    """

    name: str = "mace training"
    settings: MaceTrainingSettings = field(default_factory=MaceTrainingSettings)
    foundation: str | None = None
    model_dir: str | None = None
    timeout_s: float | None = None
    exclude_schemes: tuple[str, ...] = ()

    @tg_job
    def make(self, levels: list[str], labels: list[dict[str, Any]]) -> MlipModelDoc:
        """Train on the ``ok`` labels of ``levels`` among ``labels`` (LabelDoc dicts)."""
        from thermogap.mlip.foundation import resolve_foundation_model
        from thermogap.mlip.training import train_mace

        foundation = (
            resolve_foundation_model(self.foundation, self.model_dir) if self.foundation else None
        )
        atoms = training_atoms(labels, levels, self.exclude_schemes)
        with tempfile.TemporaryDirectory(prefix="thermogap-mace-") as work:
            result = train_mace(atoms, self.settings, work, foundation, self.timeout_s)
            return model_document(result, atoms, self.settings, foundation)


def training_atoms(
    labels: list[Any], levels: list[str], exclude_schemes: tuple[str, ...] | list[str] = ()
) -> list[Any]:
    """Select the MLIP training labels and convert them to ASE atoms.

    Parameters
    ----------
    labels
        LabelDoc dicts (or documents) of any levels and statuses.
    levels
        Levels of theory to train on.
    exclude_schemes
        Sampling schemes (``label["scheme"]``) to leave out.

    Returns
    -------
    list of ase.Atoms
        The ``ok`` labels of ``levels``, sorted by (config_id, level), one per label id.

    Raises
    ------
    InputError
        If no label is left.
    """
    from thermogap.labels.export import label_docs_to_atoms

    if isinstance(levels, str):
        raise InputError(f"levels must be a list of level names, got the string {levels!r}")
    wanted, excluded = {str(v) for v in levels}, {str(v) for v in exclude_schemes}
    docs: dict[tuple[str, str], dict[str, Any]] = {}
    for label in labels:
        doc = label.model_dump(mode="json") if hasattr(label, "model_dump") else dict(label)
        if doc.get("status", "ok") != "ok" or str(doc.get("level")) not in wanted:
            continue
        if doc.get("scheme") is not None and str(doc["scheme"]) in excluded:
            continue
        docs.setdefault((str(doc.get("config_id")), str(doc.get("level"))), doc)
    if not docs:
        raise InputError(
            f"no 'ok' labels of levels {sorted(wanted)} among {len(labels)} labels"
            + (f" once schemes {sorted(excluded)} are left out" if excluded else "")
        )
    return label_docs_to_atoms([docs[k] for k in sorted(docs)])


def model_document(
    result: MaceTrainingResult,
    atoms_list: list[Any],
    settings: MaceTrainingSettings,
    foundation: Any = None,
    blobs: Any = None,
) -> MlipModelDoc:
    """Store the artefacts of a training run as blobs and build its model document.

    Parameters
    ----------
    result
        The training run.
    atoms_list
        The labelled configurations it was trained on, in training order.
    settings
        Its settings.
    foundation
        The resolved foundation model, if fine-tuned.
    blobs
        Blob store receiving the files; default: the running job's.
    """
    from thermogap.execution.artifacts import current_blobs
    from thermogap.mlip.plots import parity_plot_png
    from thermogap.mlip.training import label_id

    store = blobs if blobs is not None else current_blobs()
    model_ref = store.put_file(result.model_path, kind="mace-model")
    log_ref = store.put_bytes(result.log_text.encode(), kind="text", filename="train.log")
    arrays: dict[str, np.ndarray] = {}
    for key, parity in result.parity.items():
        arrays |= parity.arrays(key)
    parity_ref = store.put_arrays(arrays, kind="parity")
    plots = {}
    for model in ("trained", "foundation"):
        panels = {k.split("_", 1)[1]: v for k, v in result.parity.items() if k.startswith(model)}
        if panels:
            png = parity_plot_png(panels, title=f"{model} model")
            plots[model] = store.put_bytes(png, kind="png", filename=f"parity_{model}.png")
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


def _model_provenance(model: Any) -> Any:
    doc = model.model_dump(mode="json") if hasattr(model, "model_dump") else dict(model)
    levels = ",".join(doc.get("levels") or [])
    return make_provenance(
        model_id=doc.get("model_id"), model_sha256=doc.get("sha256"), level=levels or None
    )


def _model_id(model: Any) -> str:
    doc = model.model_dump(mode="json") if hasattr(model, "model_dump") else model
    if not isinstance(doc, dict) or "model_id" not in doc:
        raise InputError(
            f"expected an MLIP model document (the training job's output), got {str(model)[:80]!r}"
        )
    return str(doc["model_id"])


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
    >>> training = MaceTrainingMaker().make(levels=["pbesol"], labels=[])
    >>> job = MlipSinglePointMaker().make(structure, training.output)
    """

    name: str = "mlip single point"
    device: str = "cpu"

    @tg_job
    def make(self, structure: Structure, model: MlipModelDoc) -> SinglePointDoc:
        """Evaluate ``structure`` with ``model`` (the training job's output document)."""
        from thermogap.mlip.calculator import calculator_from_model
        from thermogap.mlip.relaxation import single_point

        model_id = _model_id(model)
        calc = calculator_from_model(model, device=self.device)
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
            provenance=_model_provenance(model),
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
    >>> training = MaceTrainingMaker().make(levels=["pbesol"], labels=[])
    >>> job = MlipRelaxMaker(relax_cell=True).make(structure, training.output)
    """

    name: str = "mlip relaxation"
    fmax_ev_per_ang: float = 0.05
    relax_cell: bool = False
    max_steps: int = 500
    device: str = "cpu"

    @tg_job
    def make(self, structure: Structure, model: MlipModelDoc) -> RelaxationDoc:
        """Relax ``structure`` with ``model`` (the training job's output document)."""
        from thermogap.mlip.calculator import calculator_from_model
        from thermogap.mlip.relaxation import relax

        model_id = _model_id(model)
        calc = calculator_from_model(model, device=self.device)
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
            provenance=_model_provenance(model),
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
    >>> training = MaceTrainingMaker().make(levels=["pbesol"], labels=[])
    >>> job = PhononValidationMaker(reference_engine="chgnet").make(structure, training.output)
    """

    name: str = "mlip phonon validation"
    reference_engine: str = "chgnet"
    supercell_matrix: list[int] = field(default_factory=lambda: [2, 2, 2])
    displacement_ang: float = 0.01
    imaginary_tolerance_thz: float = 0.1
    device: str = "cpu"

    @tg_job
    def make(self, structure: Structure, model: MlipModelDoc) -> PhononValidationDoc:
        """Compare MLIP and reference phonons of ``structure`` at the commensurate q-points."""
        from thermogap.engines import get_calculator
        from thermogap.mlip.calculator import calculator_from_model
        from thermogap.mlip.validation import validate_phonons

        model_id = _model_id(model)
        fields = validate_phonons(
            structure,
            calculator_from_model(model, device=self.device),
            get_calculator(self.reference_engine),
            supercell_matrix=self.supercell_matrix,
            displacement_ang=self.displacement_ang,
            imaginary_tolerance_thz=self.imaginary_tolerance_thz,
        )
        return PhononValidationDoc(
            model_id=model_id,
            reference=self.reference_engine,
            provenance=_model_provenance(model),
            **fields,
        )
