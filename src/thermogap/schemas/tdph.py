"""Documents of the temperature-dependent phonon (tdph) flow, seed 003.

One :class:`TdphDoc` per (compound, temperature, calculator): the renormalisation metrics are
top-level fields so the job store's ``outputs`` collection can be queried by them
(``output.r_onsite_max``, ``output.temperature_k``, ...). Force constants are large and go to
the job store's ``data`` store.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from thermogap.schemas.base import MSONDictFields, Provenance

__all__ = [
    "IterationDoc",
    "ModeFrequencyDoc",
    "OnsiteRatioDoc",
    "TdphCompoundDoc",
    "TdphDoc",
    "TdphHarmonicDoc",
    "TdphSettings",
    "TdphSummaryDoc",
]

Status = Literal["ok", "failed"]


class TdphSettings(BaseModel):
    """Inputs of the renormalisation step (the paper's choices as defaults where it has them)."""

    model_config = ConfigDict(extra="forbid")

    n_samples: int = Field(8, ge=1, description="Displaced supercells per iteration.")
    iterations: int = Field(1, ge=1, description="1 = one-shot SSCHA (paper).")
    mixing: float = Field(0.5, gt=0, le=1, description="Linear mixing of iterations >= 2.")
    seed: int = Field(0, ge=0, description="Random seed of the displacement sampling.")
    estimator: Literal["force_fit", "hessian_average"] = Field(
        "force_fit", description="Estimator of ⟨∂²V⟩ (see thermogap.phonons.anharmonic)."
    )
    plus_minus: bool = Field(True, description="Sample ±u pairs (removes odd force terms).")
    min_sampling_frequency_thz: float | None = Field(
        None,
        gt=0,
        description="Sample modes softer than this (imaginary ones by |ω|) as if at this "
        "frequency, THz; None: phonopy's |ω| alone (see docs/tdph.md).",
    )
    zero_tolerance: float = Field(
        1e-3, ge=0, description="R_full ignores elements with mean |Φ| below this, eV/Å²."
    )
    shift_mesh: list[int] = Field(
        default_factory=lambda: [8, 8, 8],
        description="Γ-centred q mesh of the frequency-shift norm.",
    )
    baseline_temperature_k: float | None = Field(
        None,
        ge=0,
        description="Also renormalise at this (low) temperature, K, and report its metrics: "
        "the floor of zero-point renormalisation plus the MLIP's deviation from its own "
        "finite-displacement Hessian. None: skip.",
    )
    band_npoints: int = Field(31, ge=2, description="q-points per band-path segment.")
    stability_tolerance_thz: float = Field(
        0.05, ge=0, description="A mode is imaginary below minus this, THz."
    )


class ModeFrequencyDoc(BaseModel):
    """A commensurate phonon mode."""

    qpoint: list[float] = Field(..., description="q, fractional reciprocal coordinates (3,).")
    band_index: int = Field(..., description="Band index at q (0 = lowest).")
    frequency_thz: float = Field(..., description="Frequency, THz (negative: imaginary).")


class IterationDoc(BaseModel):
    """One sampling iteration (see thermogap.phonons.anharmonic.IterationRecord)."""

    iteration: int = Field(..., description="1 = the one shot.")
    n_supercells: int = Field(..., description="Displaced supercells drawn.")
    n_calculator_calls: int = Field(..., description="Force evaluations.")
    rms_displacement_ang: float = Field(..., description="RMS Cartesian displacement, Å.")
    max_displacement_ang: float = Field(..., description="Largest atomic displacement, Å.")
    min_frequency_thz: float = Field(..., description="Lowest commensurate frequency, THz.")
    relative_fc_change: float = Field(..., description="‖ΔΦ‖_F/‖Φ‖_F of the iteration.")
    wall_time_s: float = Field(..., description="Wall time, s.")


class OnsiteRatioDoc(BaseModel):
    """R_onsite (Eq. 4) of one inequivalent site."""

    site_index: int = Field(..., description="Representative atom in the unit cell.")
    element: str = Field(..., description="Chemical symbol.")
    wyckoff: str = Field(..., description="Wyckoff letter.")
    multiplicity: int = Field(..., description="Equivalent atoms in the unit cell.")
    trace_orig: float = Field(..., description="tr Φ_ii, harmonic, eV/Å².")
    trace_new: float = Field(..., description="tr Φ_ii, renormalised, eV/Å².")
    r_onsite: float = Field(..., description="|Δ tr Φ_ii| / |tr Φ_ii^orig|, dimensionless.")


class TdphCompoundDoc(MSONDictFields):
    """Identity of a compound in a tdph run; carried by every document of its sub-flow."""

    compound_id: str = Field(..., description="Name given in the input (file stem or label).")
    formula: str = Field("", description="Reduced formula.")
    structure_id: str | None = Field(None, description="Id (16 hex) of the relaxed unit cell.")
    spacegroup_number: int | None = Field(None, description="International number (spglib).")
    spacegroup_symbol: str | None = Field(None, description="Hermann-Mauguin symbol.")
    status: Status = Field("ok", description="'failed' if this or an upstream step failed.")
    failure_reason: str | None = Field(None, description="Why it failed (error type: message).")
    failed_step: str | None = Field(None, description="Step that failed first.")


class TdphHarmonicDoc(TdphCompoundDoc):
    """Relaxed cell and harmonic force constants of a compound."""

    structure: dict[str, Any] | None = Field(
        None, description="Relaxed unit cell, pymatgen Structure.as_dict()."
    )
    supercell_matrix: list[list[int]] | None = Field(None, description="Supercell (3x3 ints).")
    masses_amu: list[float] | None = Field(None, description="Masses, amu, (n_atoms,).")
    force_constants: list[Any] | None = Field(
        None, description="Harmonic FCs, eV/Å², (n_super, n_super, 3, 3) (data store)."
    )
    source: str = Field("computed", description="'computed' or the phonopy.yaml path read.")
    calculator: str = Field("", description="Engine of the forces.")
    relax_converged: bool | None = Field(None, description="Relaxation reached fmax.")
    n_calculator_calls: int = Field(0, description="Force evaluations (relax + displacements).")
    wall_time_s: float = Field(0.0, description="Wall time of relax + harmonic, s.")
    provenance: Provenance = Field(default_factory=Provenance, description="Provenance.")


class TdphDoc(TdphCompoundDoc):
    """Renormalised phonons of one compound at one temperature, with the paper's metrics."""

    temperature_k: float = Field(..., description="Temperature, K.")
    calculator: str = Field("", description="Engine of the forces.")
    structure: dict[str, Any] | None = Field(
        None, description="Relaxed unit cell, Structure.as_dict() (random-forest features)."
    )
    r_full: float | None = Field(None, description="R_full (Eq. 3), dimensionless.")
    r_onsite: list[OnsiteRatioDoc] = Field(
        default_factory=list, description="R_onsite (Eq. 4) per inequivalent site."
    )
    r_onsite_max: float | None = Field(None, description="Largest R_onsite over sites.")
    frequency_shift_norm: float | None = Field(
        None, description="‖ω_T − ω_0‖₂/‖ω_0‖₂ on the shift mesh, dimensionless."
    )
    baseline_temperature_k: float | None = Field(None, description="Baseline T, K (or None).")
    r_full_baseline: float | None = Field(None, description="R_full at the baseline T.")
    r_onsite_max_baseline: float | None = Field(
        None, description="Largest R_onsite at the baseline T (same site set)."
    )
    frequency_shift_norm_baseline: float | None = Field(
        None, description="Shift norm at the baseline T."
    )
    stable_harmonic: bool | None = Field(None, description="No imaginary commensurate mode, 0 K.")
    stable_renormalised: bool | None = Field(
        None, description="No imaginary commensurate mode after renormalisation."
    )
    imaginary_before: list[ModeFrequencyDoc] = Field(
        default_factory=list, description="Imaginary commensurate modes of the harmonic FCs."
    )
    imaginary_after: list[ModeFrequencyDoc] = Field(
        default_factory=list, description="Imaginary commensurate modes after renormalisation."
    )
    min_frequency_harmonic_thz: float | None = Field(None, description="Lowest ω, 0 K, THz.")
    min_frequency_renormalised_thz: float | None = Field(None, description="Lowest ω(T), THz.")
    iterations: list[IterationDoc] = Field(default_factory=list, description="Per iteration.")
    n_calculator_calls: int = Field(
        0, description="Force evaluations of this step (baseline included)."
    )
    band_labels: list[str] = Field(default_factory=list, description="Band-path labels.")
    band_distances: list[float] = Field(default_factory=list, description="Path length, 1/Å.")
    band_segment_ends: list[list[int]] = Field(
        default_factory=list, description="(first, last) index of each path segment."
    )
    bands_harmonic_thz: list[list[float]] = Field(
        default_factory=list, description="0 K frequencies on the path, THz (n_q, n_bands)."
    )
    bands_renormalised_thz: list[list[float]] = Field(
        default_factory=list, description="Frequencies at T on the path, THz (n_q, n_bands)."
    )
    force_constants: list[Any] | None = Field(
        None, description="Renormalised FCs, eV/Å², (n_super, n_super, 3, 3) (data store)."
    )
    settings: TdphSettings = Field(default_factory=TdphSettings, description="Inputs.")
    wall_time_s: float = Field(0.0, description="Wall time of this step, s.")
    provenance: Provenance = Field(default_factory=Provenance, description="Provenance.")


class TdphSummaryDoc(BaseModel):
    """What happened to every compound of a tdph run."""

    n_compounds: int = Field(..., description="Compounds in the input.")
    n_ok: int = Field(..., description="Compounds with every temperature done.")
    failed: dict[str, str] = Field(
        default_factory=dict, description="compound_id -> reason, for every failed compound."
    )
    temperatures_k: list[float] = Field(default_factory=list, description="Temperatures, K.")
    rows: list[dict[str, Any]] = Field(
        default_factory=list,
        description="One row per (compound, T): id, formula, T, r_full, r_onsite_max, shift.",
    )


class TdphFineTuneDoc(BaseModel):
    """A CHGNet fine-tuned on synthesised harmonic (displacement, force) data."""

    train_compounds: list[str] = Field(..., description="Compounds the data came from.")
    held_out_compounds: list[str] = Field(
        default_factory=list, description="Compounds used only for the phonon MAE."
    )
    n_configurations: int = Field(..., description="Synthetic supercells used for training.")
    epochs: int = Field(..., description="Training epochs.")
    learning_rate: float | None = Field(None, description="Adam learning rate.")
    train_only: list[str] | None = Field(
        None, description="CHGNet sub-modules that learned (None: all but the embeddings)."
    )
    energy_loss_ratio: float | None = Field(None, description="Energy-loss weight (0: forces).")
    train_force_mae_before: float = Field(..., description="Force MAE before, eV/Å.")
    train_force_mae_after: float = Field(..., description="Force MAE after, eV/Å.")
    val_force_mae_before: float | None = Field(None, description="Validation force MAE, eV/Å.")
    val_force_mae_after: float | None = Field(None, description="Validation force MAE, eV/Å.")
    phonon_mae_before_thz: dict[str, float] = Field(
        default_factory=dict, description="Held-out compound -> frequency MAE before, THz."
    )
    phonon_mae_after_thz: dict[str, float] = Field(
        default_factory=dict, description="Held-out compound -> frequency MAE after, THz."
    )
    base_model: str = Field("0.3.0", description="Bundled CHGNet version fine-tuned from.")
    model_sha256: str = Field(..., description="SHA-256 of the saved model state.")
    model_state_b64: str | None = Field(
        None, description="torch.save'd CHGNet state dict, base64 (data store)."
    )
    provenance: Provenance = Field(default_factory=Provenance, description="Provenance.")
