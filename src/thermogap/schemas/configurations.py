"""Documents of sampled atomic configurations (the ``configurations`` collection)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from pymatgen.core import Structure

from thermogap.schemas.base import ThermogapDocument

__all__ = ["ConfigurationBatchDoc", "ConfigurationDoc", "DisplacementScheme"]

DisplacementScheme = Literal["phonon", "gaussian", "random", "equilibrium"]


class SoftModeReport(BaseModel):
    """How the parent's imaginary and soft modes entered the displacements (issue 10)."""

    soft_mode_treatment: str | None = Field(
        None, description="How imaginary/soft modes were treated: exclude, absolute, floor, md."
    )
    n_imaginary_modes: int | None = Field(
        None, description="Imaginary modes of the parent (the most unstable one) on the mesh."
    )
    n_below_cutoff_modes: int | None = Field(
        None, description="Modes with |f| below the cutoff, acoustic modes at Γ not counted."
    )
    soft_mode_fraction: float | None = Field(
        None, description="Fraction of the parent's modes that are imaginary or below cutoff."
    )
    soft_mode_variance_fraction: float | None = Field(
        None, description="Share of the displacement variance those modes would carry (|f|)."
    )


class ConfigurationDoc(SoftModeReport, ThermogapDocument):
    """One sampled configuration: a (possibly disordered) supercell with displaced atoms."""

    config_id: str = Field(..., description="Deterministic id, 16 hex digits of a SHA-256.")
    batch_id: str = Field(..., description="Id of the batch (one sampling job) it belongs to.")
    formula: str = Field(..., description="Reduced formula, e.g. 'Ag6S2BrI'.")
    x: float = Field(..., description="Fraction of the first species on the mixed sublattice.")
    scheme: DisplacementScheme = Field(..., description="Displacement scheme.")
    temperature_k: float | None = Field(
        None, description="Temperature of the phonon/gaussian schemes, K (None otherwise)."
    )
    amplitude_ang: float | None = Field(
        None, description="Characteristic length a of the random scheme u = ε a, Å."
    )
    seed: int = Field(..., description="Seed of the batch's random stream.")
    index: int = Field(..., ge=0, description="Index of the configuration within its batch.")
    parent_phonon_id: str | None = Field(
        None, description="Phonon calculation the amplitudes came from (None: random/equilibrium)."
    )
    parent_phonon_ids: list[str] = Field(
        default_factory=list, description="All parent phonon calculations whose amplitudes entered."
    )
    parent_structure_id: str = Field(
        ..., description="Id of the undisplaced supercell (structures collection)."
    )
    structure: Structure = Field(
        ..., description="Displaced supercell (stored as Structure.as_dict()), Å."
    )
    n_atoms: int = Field(..., description="Atoms in the supercell.")
    rms_displacement_ang: float = Field(
        ..., description="Root-mean-square displacement from the undisplaced supercell, Å."
    )
    max_displacement_ang: float = Field(..., description="Largest atomic displacement, Å.")


class ConfigurationBatchDoc(SoftModeReport, ThermogapDocument):
    """Output of one sampling job: a batch of configurations and their undisplaced supercell.

    The ``configurations`` collection is built from these outputs (one document per element
    of ``configurations``, key ``config_id``; see :mod:`thermogap.store.builders`).
    """

    batch_id: str = Field(..., description="Deterministic id of the batch, 16 hex digits.")
    formula: str = Field(..., description="Reduced formula of the supercell.")
    x: float = Field(..., description="Fraction of the first species on the mixed sublattice.")
    scheme: DisplacementScheme = Field(..., description="Displacement scheme.")
    temperature_k: float | None = Field(None, description="Temperature, K.")
    amplitude_ang: float | None = Field(None, description="Random-scheme length a, Å.")
    seed: int = Field(..., description="Seed of the batch.")
    n_configurations: int = Field(..., ge=0, description="Configurations in the batch.")
    config_ids: list[str] = Field(..., description="Ids of the configurations, in index order.")
    parent_phonon_id: str | None = Field(None, description="Phonon calculation used, if any.")
    parent_structure_id: str = Field(..., description="Id of the undisplaced supercell.")
    amplitudes_ang: list[list[float]] | None = Field(
        None, description="ζ (phonon scheme) of every supercell atom, Å, (n_atoms, 3)."
    )
    mesh: list[int] | None = Field(None, description="q mesh of the amplitudes (phonon scheme).")
    n_imaginary_excluded: int = Field(0, description="Imaginary modes left out of the sums.")
    n_near_zero_excluded: int = Field(0, description="Near-zero modes left out of the sums.")
    mean_square_displacement_ang2: float = Field(
        ..., description="Mean over the batch of the squared atomic displacement, Å²."
    )
    amplitude_mesh_change: float | None = Field(
        None,
        description="Phonon scheme: largest relative change of ζ from mesh to dense_mesh.",
    )
    dense_mesh: list[int] | None = Field(None, description="Denser q mesh of that check.")
    supercell: Structure | None = Field(
        None,
        description="Undisplaced supercell the batch was sampled from (after Vegard scaling), "
        "Å; its id is parent_structure_id.",
    )
    configurations: list[ConfigurationDoc] = Field(
        default_factory=list, description="The configurations of the batch, in index order."
    )
