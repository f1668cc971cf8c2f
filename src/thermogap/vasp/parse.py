"""Turn an atomate2 VASP task document into a thermogap label document."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from thermogap.schemas.base import make_provenance
from thermogap.schemas.labels import LabelDoc, label_id

if TYPE_CHECKING:
    from emmet.core.tasks import TaskDoc

__all__ = [
    "KBAR_TO_EV_PER_ANG3",
    "label_doc_from_task_doc",
    "label_doc_from_job_output",
    "vasp_stress_to_ase",
]

#: 1 kbar = 0.1 GPa; 1 eV/Å^3 = 160.21766 GPa
KBAR_TO_EV_PER_ANG3 = 0.1 / 160.21766208


def vasp_stress_to_ase(stress_kbar: Any) -> np.ndarray:
    """Convert VASP's stress (kbar, positive = compressive) to ASE's (eV/Å^3, positive = tensile).

    Parameters
    ----------
    stress_kbar
        Stress tensor as VASP writes it (vasprun.xml ``stress``), shape=(3, 3), kbar.

    Returns
    -------
    numpy.ndarray
        shape=(3, 3), eV/Å^3.
    """
    return -np.asarray(stress_kbar, dtype=float).reshape(3, 3) * KBAR_TO_EV_PER_ANG3


def _failure_reason(task_doc: TaskDoc) -> str | None:
    state = str(getattr(task_doc.state, "value", task_doc.state))
    if state == "successful":
        return None
    calc = task_doc.calcs_reversed[0] if task_doc.calcs_reversed else None
    errors = list(task_doc.analysis.errors or []) if task_doc.analysis else []
    if calc is not None and str(getattr(calc.has_vasp_completed, "value", "")) != "successful":
        errors.insert(0, "VASP run not converged (electronic or ionic)")
    return "; ".join(errors) or f"VASP task state {state!r}"


def label_doc_from_task_doc(
    task_doc: TaskDoc, config_id: str, level: str, structure: dict[str, Any]
) -> LabelDoc:
    """Build a label document from a parsed VASP static run.

    Parameters
    ----------
    task_doc
        atomate2/emmet ``TaskDoc`` of the run directory.
    config_id, level
        Configuration id and level name of the label.
    structure
        ``Structure.as_dict()`` of the configuration that was submitted.

    Returns
    -------
    LabelDoc
        ``status="ok"`` with energy (eV), forces (eV/Å), stress (eV/Å^3, ASE sign),
        band gap and VBM (eV); or ``status="failed"`` with the reason if VASP did not
        converge or returned non-finite numbers.
    """
    engine_info = {
        "engine": "vasp",
        "task_label": task_doc.task_label,
        "custodian_corrections": len(task_doc.custodian or []),
        "dir_name": task_doc.dir_name,
    }
    reason = _failure_reason(task_doc)
    if reason is not None:
        return LabelDoc.failed(config_id, level, structure, reason, engine_info=engine_info)
    output = task_doc.output
    calc_output = task_doc.calcs_reversed[0].output if task_doc.calcs_reversed else None
    if (
        output is None
        or calc_output is None
        or output.structure is None
        or output.energy is None
        or output.forces is None
        or output.stress is None
    ):
        return LabelDoc.failed(
            config_id,
            level,
            structure,
            "VASP outputs lack energy, forces, stress or structure",
            engine_info=engine_info,
        )
    n_atoms = len(output.structure)
    energy = float(output.energy)
    forces = np.asarray(output.forces, dtype=float)
    stress = vasp_stress_to_ase(output.stress)
    if not (np.isfinite(energy) and np.all(np.isfinite(forces)) and np.all(np.isfinite(stress))):
        return LabelDoc.failed(
            config_id,
            level,
            structure,
            "VASP returned non-finite energy/forces/stress",
            engine_info=engine_info,
        )
    return LabelDoc(
        label_id=label_id(config_id, level),
        config_id=config_id,
        level=level,
        status="ok",
        structure=output.structure.as_dict(),
        n_atoms=n_atoms,
        energy_ev=energy,
        energy_per_atom_ev=energy / n_atoms,
        forces_ev_per_ang=forces.tolist(),
        stress_ev_per_ang3=stress.tolist(),
        band_gap_ev=None if output.bandgap is None else float(output.bandgap),
        vbm_ev=None if calc_output.vbm is None else float(calc_output.vbm),
        engine_info=engine_info,
        provenance=make_provenance(level=level),
    )


def label_doc_from_job_output(
    task_doc: TaskDoc | dict[str, Any] | None,
    config_id: str,
    level: str,
    structure: dict[str, Any],
) -> LabelDoc:
    """Build a label document from the output of an atomate2 VASP static job.

    Parameters
    ----------
    task_doc
        The job's ``TaskDoc`` (or its dictionary), or ``None`` when the job failed (custodian
        gave up, VASP crashed) and jobflow passed a missing reference on as ``None``.
    config_id, level, structure
        As in :func:`label_doc_from_task_doc`.

    Returns
    -------
    LabelDoc
        As :func:`label_doc_from_task_doc`; a failed job gives ``status="failed"``.
    """
    if task_doc is None:
        return LabelDoc.failed(
            config_id,
            level,
            structure,
            "the atomate2 VASP static job failed (custodian gave up or VASP did not run); "
            "its error is in the job's state in the queue",
            engine_info={"engine": "vasp"},
        )
    if isinstance(task_doc, dict):
        from emmet.core.tasks import TaskDoc

        task_doc = TaskDoc.model_validate(task_doc)
    return label_doc_from_task_doc(task_doc, config_id, level, structure)
