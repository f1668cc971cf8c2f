"""Documents of harmonic phonon calculations (one per document of the ``phonons`` collection)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pymatgen.core import Structure

from thermogap.schemas.base import MakerSettings, ThermogapDocument

__all__ = [
    "ImaginaryModeDoc",
    "PhononBandStructureDoc",
    "PhononDoc",
    "PhononDosDoc",
    "PhononSettings",
    "RelaxedStructureDoc",
    "SoftModeDoc",
]


class PhononSettings(MakerSettings):
    """Inputs of a finite-displacement phonon calculation."""

    model_config = ConfigDict(extra="forbid")

    displacement_ang: float = Field(0.01, gt=0, description="Finite displacement amplitude, Å.")
    symmetrize_force_constants: bool = Field(
        True, description="Translational invariance and permutation symmetry imposed on the FCs."
    )
    symprec: float = Field(1e-5, gt=0, description="Symmetry tolerance, Å.")
    band_npoints: int = Field(31, ge=2, description="q-points per straight band-path segment.")
    band_path_type: str = Field(
        "setyawan_curtarolo", description="High-symmetry path convention (pymatgen HighSymmKpath)."
    )
    dos_mesh: list[int] = Field(
        default_factory=lambda: [12, 12, 12], description="Γ-centred q mesh of the DOS."
    )
    stability_tolerance_thz: float = Field(
        0.05, ge=0, description="A mode is imaginary when its frequency is below minus this, THz."
    )
    max_imaginary_modes: int = Field(
        20, ge=0, description="How many of the most unstable modes are stored."
    )


class ImaginaryModeDoc(BaseModel):
    """One imaginary mode: frequency ``i |frequency_thz|`` at ``qpoint``."""

    frequency_thz: float = Field(..., description="Negative number: the mode is i|f| THz.")
    qpoint: list[float] = Field(..., description="q, fractional reciprocal coordinates (3,).")
    band_index: int = Field(..., description="Band index at that q (0 = lowest).")
    eigenvector_real: list[list[float]] = Field(
        ..., description="Real part of the mass-weighted eigenvector, (n_atoms, 3), unit norm."
    )
    eigenvector_imag: list[list[float]] = Field(
        ..., description="Imaginary part of the eigenvector, (n_atoms, 3)."
    )


class PhononBandStructureDoc(BaseModel):
    """Frequencies on the standard high-symmetry path."""

    qpoints: list[list[float]] = Field(..., description="q, fractional coordinates (n_points, 3).")
    distances: list[float] = Field(..., description="Path length, 1/Å (no 2π), (n_points,).")
    frequencies_thz: list[list[float]] = Field(
        ..., description="Frequencies, THz, imaginary as negative, (n_points, n_bands)."
    )
    labels: list[str] = Field(..., description="High-symmetry labels (phonopy convention).")
    segment_ends: list[list[int]] = Field(
        ..., description="(first, last) point index of each straight segment."
    )


class PhononDosDoc(BaseModel):
    """Total phonon density of states (tetrahedron method)."""

    frequencies_thz: list[float] = Field(..., description="Frequency grid, THz.")
    dos: list[float] = Field(..., description="States per THz per unit cell.")
    mesh: list[int] = Field(..., description="Γ-centred q mesh.")


class PhononDoc(ThermogapDocument):
    """A harmonic phonon calculation; its force constants are a blob (BlobRef).

    A job returns it with the bytes attached (``artifacts``); the ``phonons`` collection is
    built from those outputs. Rebuild the ``phonopy.Phonopy`` object with
    :func:`thermogap.phonons.storage.phonopy_from_doc` (inside a job, or with a blob store)
    or, from the results database, :func:`thermogap.phonons.storage.load_phonopy`.
    """

    phonon_id: str = Field(
        ...,
        description="Deterministic id (16 hex) of the calculation: unit cell, supercell, "
        "calculator (engine and its arguments, or model id) and settings; the key of the "
        "`phonons` collection.",
    )
    structure_id: str = Field(..., description="Id (16 hex) of the unit cell.")
    formula: str = Field(..., description="Reduced formula of the unit cell.")
    structure: Structure = Field(..., description="Unit cell (stored as Structure.as_dict()).")
    n_atoms: int = Field(..., description="Atoms in the unit cell.")
    calculator: str = Field(..., description="Engine name the forces came from (e.g. 'chgnet').")
    calculator_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Keyword arguments the engine was built with."
    )
    model_id: str | None = Field(
        None, description="Id of the MLIP model document the forces came from, if any."
    )
    supercell_matrix: list[list[int]] = Field(..., description="Supercell of the FCs (3x3 ints).")
    masses_amu: list[float] = Field(..., description="Atomic masses used, amu, (n_atoms,).")
    n_displacements: int = Field(..., description="Displaced supercells computed.")
    force_constants: dict[str, Any] = Field(
        ..., description="BlobRef of the force constants, eV/Å², (n_super, n_super, 3, 3)."
    )
    dynamically_stable: bool = Field(
        ..., description="No frequency below -stability_tolerance_thz on the path and DOS mesh."
    )
    stability_tolerance_thz: float = Field(..., description="Imaginary-mode tolerance, THz.")
    min_frequency_thz: float = Field(
        ..., description="Lowest frequency found (negative: i|f|), THz."
    )
    n_imaginary_qpoints: int = Field(
        ..., description="q-points (path + mesh) with at least one imaginary mode."
    )
    imaginary_modes: list[ImaginaryModeDoc] = Field(
        default_factory=list, description="Most unstable imaginary modes, most negative first."
    )
    band_structure: PhononBandStructureDoc = Field(..., description="Standard-path dispersion.")
    dos: PhononDosDoc = Field(..., description="Total DOS.")
    settings: PhononSettings = Field(default_factory=PhononSettings, description="Inputs.")
    lattice_abc_ang: list[float] = Field(
        default_factory=list, description="Lattice lengths a, b, c of the unit cell used, Å."
    )
    lattice_parameter_ang: float | None = Field(
        None, description="Cube root of the unit-cell volume (a of a cubic cell), Å."
    )
    relaxed: bool = Field(
        False,
        description="Whether the cell came from a ParentRelaxMaker (or VASP) relaxation with "
        "this engine; cells relaxed elsewhere (disorder ranking) are recorded as given.",
    )
    pressure_gpa: float | None = Field(
        None, description="Hydrostatic pressure of the unit cell with this engine, GPa."
    )
    soft_modes: SoftModeDoc | None = Field(
        None, description="Imaginary / below-cutoff modes on the DOS mesh and their weight."
    )


class SoftModeDoc(BaseModel):
    """How many modes are imaginary or soft and how much displacement they would carry."""

    mesh: list[int] = Field(..., description="Γ-centred q mesh the modes were counted on.")
    n_modes: int = Field(..., description="All (q, ν) modes of the mesh.")
    n_imaginary: int = Field(..., description="Modes with f < -cutoff, THz.")
    n_below_cutoff: int = Field(
        ..., description="Modes with |f| <= cutoff other than the 3 acoustic modes at Γ."
    )
    frequency_cutoff_thz: float = Field(..., description="Cutoff, THz.")
    fraction_of_modes: float = Field(
        ..., description="(n_imaginary + n_below_cutoff) / (n_modes - 3)."
    )
    variance_fraction: float = Field(
        ...,
        description=(
            "Share of the summed mean-square displacement (at the temperature below, |f| for "
            "imaginary modes, max(|f|, cutoff) otherwise) carried by the soft modes."
        ),
    )
    temperature_k: float = Field(..., description="Temperature of variance_fraction, K.")


class RelaxedStructureDoc(ThermogapDocument):
    """A parent unit cell relaxed (cell and ions) with the engine of its phonons.

    The ``structures`` collection is built from these documents (key ``structure_id``).
    """

    formula: str = Field(..., description="Reduced formula.")
    structure_id: str = Field(..., description="Id (16 hex) of the relaxed cell.")
    structure: Structure = Field(..., description="Relaxed unit cell (Structure.as_dict()).")
    initial_structure: Structure = Field(..., description="Starting unit cell.")
    calculator: str = Field(..., description="Engine the cell was relaxed with.")
    lattice_abc_ang: list[float] = Field(..., description="Relaxed a, b, c, Å.")
    lattice_parameter_ang: float = Field(..., description="Cube root of the cell volume, Å.")
    initial_lattice_parameter_ang: float = Field(..., description="Starting value, Å.")
    initial_pressure_gpa: float = Field(..., description="Pressure of the starting cell, GPa.")
    pressure_gpa: float = Field(..., description="Pressure of the relaxed cell, GPa.")
    max_force_ev_per_ang: float = Field(..., description="Largest residual force, eV/Å.")
    converged: bool = Field(..., description="Whether fmax was reached.")
    n_steps: int = Field(..., description="Optimiser steps.")
    fmax_ev_per_ang: float = Field(..., description="Force (and cell) threshold, eV/Å.")


PhononDoc.model_rebuild()
