"""Documents of the ``labels`` collection and of the labelling jobs.

Contract (other modules read these names): one :class:`LabelDoc` per
``(config_id, level)`` with ``label_id = f"{config_id}:{level}"``. Documents with
``status == "failed"`` record why a calculation failed; they are not labels and carry
no energies.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from thermogap.schemas.base import Provenance, ThermogapDocument, make_provenance

__all__ = ["LabelBatchDoc", "LabelDoc", "LabelingSelectionDoc", "label_id"]


def label_id(config_id: str, level: str) -> str:
    """Return the id of the label of ``config_id`` at ``level``: ``"<config_id>:<level>"``."""
    return f"{config_id}:{level}"


class LabelDoc(ThermogapDocument):
    """Labels of one configuration at one level of theory."""

    label_id: str = Field(..., description="'<config_id>:<level>'; unique key of the collection.")
    config_id: str = Field(..., description="Id of the configuration (configurations collection).")
    level: str = Field(..., description="Name of the level of theory.")
    status: Literal["ok", "failed"] = Field(
        "ok", description="'ok' for a label; 'failed' otherwise."
    )
    reason: str | None = Field(None, description="Why the calculation failed (failed docs only).")
    structure: dict[str, Any] = Field(
        ..., description="pymatgen Structure.as_dict() that was labelled."
    )
    n_atoms: int = Field(..., description="Number of atoms.")
    energy_ev: float | None = Field(None, description="Total energy, eV.")
    energy_per_atom_ev: float | None = Field(None, description="Total energy per atom, eV/atom.")
    forces_ev_per_ang: list[list[float]] | None = Field(
        None, description="Forces, eV/Å, shape=(n_atoms, 3)."
    )
    stress_ev_per_ang3: list[list[float]] | None = Field(
        None, description="Stress, eV/Å^3, shape=(3, 3), ASE sign (positive = tensile)."
    )
    band_gap_ev: float | None = Field(None, description="Band gap, eV.")
    vbm_ev: float | None = Field(
        None, description="Valence-band maximum, eV (engine's absolute scale)."
    )
    engine_info: dict[str, Any] = Field(
        default_factory=dict,
        description="Engine details (e.g. VASP task id, custodian corrections, xTB method).",
    )
    provenance: Provenance = Field(default_factory=make_provenance, description="Provenance.")

    @classmethod
    def failed(
        cls, config_id: str, level: str, structure: dict[str, Any], reason: str, **extra: Any
    ) -> LabelDoc:
        """Build a failed-calculation record (no energies)."""
        return cls(
            label_id=label_id(config_id, level),
            config_id=config_id,
            level=level,
            status="failed",
            reason=reason,
            structure=structure,
            n_atoms=len(structure.get("sites", [])),
            provenance=make_provenance(level=level),
            **extra,
        )


class LabelBatchDoc(ThermogapDocument):
    """Output of one labelling batch job."""

    level: str = Field(..., description="Level of theory.")
    config_ids: list[str] = Field(default_factory=list, description="Configurations in the batch.")
    labelled: list[str] = Field(
        default_factory=list, description="label_ids written with status 'ok'."
    )
    failed: dict[str, str] = Field(
        default_factory=dict, description="config_id → reason of each failed calculation."
    )
    skipped: list[str] = Field(
        default_factory=list,
        description="config_ids already labelled at this level (not recomputed).",
    )
    missing: list[str] = Field(
        default_factory=list, description="config_ids not found in the configurations collection."
    )
    wall_time_s: float = Field(0.0, description="Wall time of the batch, s.")


class LabelingSelectionDoc(ThermogapDocument):
    """What a labelling run selected and, once its batches finished, what they did."""

    level: str = Field(..., description="Level of theory.")
    n_selected: int = Field(0, description="Configurations matching the criteria.")
    n_already_labelled: int = Field(0, description="Of those, already labelled (ok) at this level.")
    n_batches: int = Field(0, description="Batch jobs created.")
    config_ids: list[str] = Field(
        default_factory=list, description="Configurations sent to batches."
    )
    n_labelled: int = Field(0, description="Labels written with status 'ok' by the batches.")
    failed: dict[str, str] = Field(
        default_factory=dict, description="config_id → reason of each failed calculation."
    )
