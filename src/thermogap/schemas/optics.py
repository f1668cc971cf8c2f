"""Documents of the finite-temperature optics flow (seed 002): snapshots, spectra, Eg(T).

Large arrays (positions, spectra, figures) sit in ``arrays`` sub-documents, which the jobs
send to jobflow's ``data`` additional store; the documents themselves stay small.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from thermogap.schemas.base import ThermogapDocument

__all__ = [
    "OPTICS_DOCUMENT_KINDS",
    "OpticsResultDoc",
    "OpticsSettings",
    "OpticsSnapshotsDoc",
    "OpticsSpectrumDoc",
    "SamplingSettings",
    "SnapshotArrays",
    "SpectrumArrays",
    "TaucDoc",
    "TaucSettings",
]

#: ``document_kind`` values of the optics documents (``thermogap query optics`` uses them).
OPTICS_DOCUMENT_KINDS = ("optics_snapshots", "optics_spectrum", "optics_result")

SamplingMethod = Literal["md", "quantum", "clamped"]


class SamplingSettings(BaseModel):
    """How snapshots are drawn at one temperature."""

    model_config = ConfigDict(extra="forbid")

    method: SamplingMethod = Field(
        "md",
        description="'md' (Langevin NVT, classical), 'quantum' (phonopy harmonic "
        "quantum displacements, zero-point included) or 'clamped' (ideal positions).",
    )
    calculator: str = Field(
        "stillinger-weber-si", description="Engine name in thermogap.engines (ASE calculator)."
    )
    n_snapshots: int = Field(3, ge=1, description="Snapshots per temperature.")
    timestep_fs: float = Field(2.0, gt=0, description="MD time step, fs.")
    friction_per_fs: float = Field(0.01, gt=0, description="Langevin friction, 1/fs.")
    equilibration_steps: int = Field(500, ge=0, description="MD steps discarded first.")
    interval_steps: int = Field(100, ge=1, description="MD steps between kept snapshots.")
    seed: int = Field(0, description="Seed of velocities, noise and quantum displacements.")


class OpticsSettings(BaseModel):
    """Tight-binding model and spectrum settings."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field("sp3s*-vogl", description="Hamiltonian model in thermogap.tb registry.")
    model_settings: dict[str, float | str | None] = Field(
        default_factory=dict, description="Keyword settings of the model (bond scaling, ...)."
    )
    kpoint_mesh: tuple[int, int, int] = Field((2, 2, 2), description="Γ-centred supercell mesh.")
    broadening_ev: float = Field(0.03, gt=0, description="Gaussian σ of the δ function, eV.")
    max_energy_ev: float = Field(25.0, gt=0, description="Top of the energy grid, eV.")
    energy_step_ev: float = Field(0.01, gt=0, description="Energy grid step, eV.")


class TaucSettings(BaseModel):
    """Automatic Tauc fit settings."""

    model_config = ConfigDict(extra="forbid")

    search_range_ev: tuple[float, float] = Field(
        (0.8, 2.8), description="Energies the fit window must lie in, eV (below the direct gap)."
    )
    min_width_ev: float = Field(0.3, gt=0, description="Narrowest fit window, eV.")
    min_r_squared: float = Field(0.98, gt=0, le=1, description="Smallest acceptable R².")


class TaucDoc(BaseModel):
    """A Tauc fit, or why it was refused."""

    gap_ev: float | None = Field(None, description="Tauc gap (intercept), eV.")
    gap_stderr_ev: float | None = Field(None, description="One-sigma fit uncertainty, eV.")
    window_ev: tuple[float, float] | None = Field(None, description="Fitted energies, eV.")
    r_squared: float | None = Field(None, description="R² of the fit.")
    slope: float | None = Field(None, description="Slope of (E² ε2)^½ against E (dimensionless).")
    intercept_ev: float | None = Field(None, description="Intercept of the line, eV.")
    error: str | None = Field(None, description="Why no fit was made (None when it was).")


class SnapshotArrays(BaseModel):
    """Positions of the snapshots (data store)."""

    positions_ang: list[list[list[float]]] = Field(
        ..., description="Cartesian positions, Å, shape=(n_snapshots, n_atoms, 3)."
    )


class OpticsSnapshotsDoc(ThermogapDocument):
    """Configurations of one temperature for the Williams–Lax average."""

    document_kind: Literal["optics_snapshots"] = "optics_snapshots"
    formula: str = Field(..., description="Reduced formula.")
    n_atoms: int = Field(..., ge=1, description="Atoms in the cell.")
    temperature_k: float = Field(..., ge=0, description="Temperature, K.")
    sampling: SamplingSettings = Field(..., description="How the snapshots were drawn.")
    species: list[str] = Field(..., description="Element of each atom.")
    cell_ang: list[list[float]] = Field(..., description="Lattice vectors (rows), Å.")
    rms_displacement_ang: float = Field(
        ..., description="RMS displacement from the starting positions over snapshots, Å."
    )
    arrays: SnapshotArrays = Field(..., description="Positions (in the data store).")


class SpectrumArrays(BaseModel):
    """Spectra on the energy grid (data store); each list has n_energies entries."""

    energies_ev: list[float] = Field(..., description="Photon energies, eV (from 0).")
    epsilon2: list[float] = Field(..., description="Snapshot-averaged ε2 (dimensionless).")
    epsilon2_std: list[float] = Field(..., description="Std of ε2 over snapshots.")
    epsilon1: list[float] = Field(..., description="ε1 by Kramers–Kronig.")
    refractive_index: list[float] = Field(..., description="n.")
    extinction: list[float] = Field(..., description="κ.")
    absorption_cm: list[float] = Field(..., description="Absorption coefficient α, 1/cm.")


class OpticsSpectrumDoc(ThermogapDocument):
    """Williams–Lax averaged optical spectrum at one temperature and its Tauc gap."""

    document_kind: Literal["optics_spectrum"] = "optics_spectrum"
    formula: str = Field(..., description="Reduced formula.")
    n_atoms: int = Field(..., ge=1, description="Atoms in the cell.")
    temperature_k: float = Field(..., ge=0, description="Temperature, K.")
    sampling_method: SamplingMethod = Field(..., description="How the snapshots were drawn.")
    n_snapshots: int = Field(..., ge=1, description="Configurations averaged (Eq. 3).")
    settings: OpticsSettings = Field(..., description="Model and spectrum settings.")
    n_kpoints: int = Field(..., ge=1, description="k-points per snapshot (time-reversal reduced).")
    vbm_ev: list[float] = Field(..., description="VBM of each snapshot on the mesh, eV.")
    cbm_ev: list[float] = Field(..., description="CBM of each snapshot on the mesh, eV.")
    band_gap_ev: float = Field(..., description="Mean CBM − VBM over snapshots on the mesh, eV.")
    tauc: TaucDoc = Field(..., description="Tauc fit of the averaged spectrum.")
    tauc_snapshot_gaps_ev: list[float | None] = Field(
        default_factory=list, description="Tauc gap of each single snapshot (None: refused), eV."
    )
    wall_time_s: float = Field(..., ge=0, description="Time spent on H(k), eigh, ε2, s.")
    arrays: SpectrumArrays = Field(..., description="Spectra (in the data store).")


class OpticsResultDoc(ThermogapDocument):
    """Eg(T) of the optics flow with the comparison to experiment."""

    document_kind: Literal["optics_result"] = "optics_result"
    formula: str = Field(..., description="Reduced formula.")
    n_atoms: int = Field(..., ge=1, description="Atoms in the cell.")
    sampling_method: SamplingMethod = Field(..., description="Sampling of the T > 0 spectra.")
    temperatures_k: list[float] = Field(..., description="Temperatures, K.")
    tauc_gap_ev: list[float | None] = Field(..., description="Tauc gap at each T, eV.")
    tauc_gap_stderr_ev: list[float | None] = Field(..., description="Its fit error, eV.")
    band_gap_ev: list[float] = Field(..., description="Mean snapshot CBM − VBM at each T, eV.")
    clamped_band_gap_ev: float | None = Field(None, description="Gap of the ideal cell, eV.")
    clamped_direct_gap_ev: float | None = Field(
        None, description="Smallest direct transition of the ideal cell on its mesh, eV."
    )
    slope_range_k: tuple[float, float] | None = Field(
        None, description="Temperatures the slopes are fitted over, K."
    )
    slope_ev_per_k: float | None = Field(
        None, description="Least-squares dEg/dT of the Tauc gaps over slope_range_k, eV/K."
    )
    slope_stderr_ev_per_k: float | None = Field(None, description="Its standard error, eV/K.")
    band_gap_slope_ev_per_k: float | None = Field(
        None, description="dEg/dT of the mesh gaps (CBM − VBM) over slope_range_k, eV/K."
    )
    experiment_slope_ev_per_k: float | None = Field(
        None, description="dEg/dT of the Varshni fit of experiment over the same T range, eV/K."
    )
    experiment_gap_ev: list[float] | None = Field(
        None, description="Varshni experimental gap at each T (Si only), eV."
    )
    zero_point_note: str = Field("", description="Expected offset from missing zero-point motion.")
    spectrum_job_uuids: list[str] = Field(
        default_factory=list, description="uuids of the spectrum jobs summarised."
    )
    figures_png_base64: dict[str, str] = Field(
        default_factory=dict, description="Figures (PNG, base64) by name (data store)."
    )
