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

__all__ = ["LabelBatchDoc", "LabelDoc", "label_id"]


def label_id(config_id: str, level: str) -> str:
    """Return the id of the label of ``config_id`` at ``level``: ``"<config_id>:<level>"``."""
    return f"{config_id}:{level}"


class LabelDoc(ThermogapDocument):
    """Labels of one configuration at one level of theory."""

    label_id: str = Field(..., description="'<config_id>:<level>'; unique key of the collection.")
    config_id: str = Field(..., description="Id of the configuration (configurations collection).")
    level: str = Field(..., description="Name of the level of theory.")
    scheme: str | None = Field(
        None, description="Displacement scheme of the configuration (copied from it), if any."
    )
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
    """Output of one labelling batch job: its label documents (ok and failed).

    The ``labels`` collection is built from these outputs (one document per element of
    ``labels``, key ``label_id``; see :mod:`thermogap.store.builders`).
    """

    level: str = Field(..., description="Level of theory.")
    config_ids: list[str] = Field(default_factory=list, description="Configurations in the batch.")
    labelled: list[str] = Field(
        default_factory=list, description="label_ids of the labels with status 'ok'."
    )
    failed: dict[str, str] = Field(
        default_factory=dict, description="config_id → reason of each failed calculation."
    )
    labels: list[LabelDoc] = Field(
        default_factory=list, description="One label document per configuration (ok or failed)."
    )
    wall_time_s: float = Field(0.0, description="Wall time of the batch, s.")
