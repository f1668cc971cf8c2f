"""Documents of the finite-temperature band-gap study: disorder ranking, Eg(x, T), summary."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from thermogap.schemas.base import MSONDictFields, ThermogapDocument
from thermogap.schemas.blobs import BlobRef

Selection = Literal["lowest", "boltzmann"]


class RankedConfiguration(MSONDictFields):
    """One inequivalent configuration of a composition, relaxed with the MLIP."""

    substituted_sites: list[int] = Field(..., description="Sublattice sites holding species 2.")
    multiplicity: int = Field(..., ge=1, description="Symmetry-equivalent copies (orbit size).")
    energy_ev: float = Field(..., description="Relaxed MLIP energy of the supercell, eV.")
    energy_per_atom_ev: float = Field(..., description="Relaxed MLIP energy per atom, eV/atom.")
    relative_energy_mev_per_atom: float = Field(
        0.0, description="Energy above the lowest configuration, meV/atom."
    )
    converged: bool = Field(..., description="Whether the relaxation reached fmax.")
    n_steps: int = Field(..., ge=0, description="BFGS steps taken.")
    structure_id: str = Field(..., description="Id (16 hex) of the relaxed structure.")
    structure: dict[str, Any] = Field(..., description="Relaxed structure (pymatgen dict).")


class DisorderRankingDoc(ThermogapDocument):
    """Every configuration of one composition relaxed and ranked by MLIP energy."""

    ranking_id: str = Field(
        ...,
        description="Deterministic id of the ranking: family, x, MLIP, relaxed structures and "
        "the relaxation settings; the key of the `disorder` collection.",
    )
    family: str = Field(..., description="Solid-solution family, e.g. 'Ag3SBr_xI_(1-x)'.")
    formula: str = Field(..., description="Reduced formula of the supercell.")
    x: float = Field(..., description="Fraction of the first species on the mixed sublattice.")
    n_substituted: int = Field(..., ge=0, description="Sites holding the second species.")
    n_inequivalent: int = Field(..., ge=1, description="Exact number of inequivalent classes.")
    sampled: bool = Field(..., description="Whether the configurations are a random sample.")
    mlip_model_id: str = Field(..., description="MLIP used for the relaxations.")
    configurations: list[RankedConfiguration] = Field(
        ..., description="Configurations, lowest energy first."
    )


class BandGapDoc(ThermogapDocument):
    """Band gap of one composition at one temperature: the product's main result."""

    result_id: str = Field(
        ...,
        description="Deterministic id of everything the result depends on: family, x, T, level, "
        "selection, model ids, structures, trajectories and their length.",
    )
    family: str = Field(..., description="Solid-solution family, e.g. 'Ag3SBr_xI_(1-x)'.")
    formula: str = Field(..., description="Reduced formula of the simulated supercell.")
    x: float = Field(..., description="Fraction of the first species on the mixed sublattice.")
    temperature_k: float = Field(..., ge=0, description="Temperature, K.")
    level: str = Field(..., description="Level of theory the GNN gaps reproduce.")
    levels_of_theory: list[str] = Field(
        default_factory=list, description="Every level the result depends on (labels, MLIP)."
    )
    selection: Selection = Field(
        "lowest", description="Lowest-energy configuration, or a Boltzmann-weighted average."
    )
    band_gap_ev: float = Field(
        ..., description="Mean band gap over every post-equilibration MD frame (Σ w_i <Eg>_i), eV."
    )
    stderr_ev: float = Field(
        ...,
        ge=0,
        description="One-sigma statistical error of delta_gap_ev (correlation-corrected, "
        "g = 2 tau; Boltzmann: with the mixture variance), eV. Model error not included.",
    )
    std_ev: float = Field(
        0.0, ge=0, description="Spread of the frame gaps (Boltzmann: of the mixture), eV."
    )
    band_gap_0k_ev: float = Field(
        ..., description="Gap of the relaxed 0 K structure (Boltzmann: Σ w_i Eg_i(0)), eV."
    )
    delta_gap_ev: float = Field(
        ..., description="<Eg>_T - Eg(0 K, relaxed); Boltzmann: Σ w_i (<Eg>_i - Eg_i(0)), eV."
    )
    relative_change: float = Field(..., description="delta_gap_ev / band_gap_0k_ev.")
    n_snapshots: int = Field(..., ge=1, description="MD frames averaged (all after equilibration).")
    n_independent: float | None = Field(
        None, description="Effective independent samples behind the mean (frames / g)."
    )
    few_independent_samples: bool = Field(
        False, description="True when n_independent < 50: the error bar itself is uncertain."
    )
    equilibration: str = Field(
        "detected", description="'detected' (pymbar) or 'fixed fraction' of the frames discarded."
    )
    model_error_ev: float | None = Field(
        None,
        description="Model uncertainty of each GNN gap: its test-set MAE, eV. Reported beside, "
        "never added to, stderr_ev.",
    )
    model_error_kind: str | None = Field(
        None, description="What model_error_ev is, e.g. 'gnn test-set MAE'."
    )
    correlation_time_fs: float | None = Field(
        None, description="Integrated autocorrelation time of the gap series, fs."
    )
    snapshot_spacing_fs: float | None = Field(
        None,
        description="Statistical inefficiency g = 2 tau as a time (independent samples), fs.",
    )
    equilibration_fs: float | None = Field(None, description="Discarded initial time, fs.")
    gnn_model_id: str = Field(..., description="GNN band-gap model.")
    mlip_model_id: str | None = Field(None, description="MLIP of the relaxation and MD.")
    trajectory_ids: list[str] = Field(default_factory=list, description="MD trajectories used.")
    structure_ids: list[str] = Field(default_factory=list, description="Relaxed structures used.")
    weights: list[float] = Field(
        default_factory=list, description="Boltzmann weights of the configurations (boltzmann)."
    )
    upstream: dict[str, Any] = Field(
        default_factory=dict, description="Every upstream job of the flow: uuid -> job name."
    )
    reference_level: str | None = Field(
        None, description="Level whose gap was computed directly for the self-check."
    )
    reference_band_gap_ev: float | None = Field(
        None,
        description="Reference level's gap computed directly: mean over the checked MD "
        "snapshots (T > 0) or of the relaxed structure (0 K), eV.",
    )
    reference_stderr_ev: float | None = Field(
        None, description="Standard error of reference_band_gap_ev over the snapshots, eV."
    )
    reference_delta_gap_ev: float | None = Field(
        None, description="Reference <Eg>_T - Eg(0 K) on the same snapshots, eV."
    )
    reference_band_gap_0k_ev: float | None = Field(
        None, description="Reference gap of the relaxed 0 K structure, eV."
    )
    gnn_reference_mae_ev: float | None = Field(
        None, description="GNN mean absolute error against the reference on those snapshots, eV."
    )
    n_reference_snapshots: int | None = Field(None, description="Snapshots checked.")


class TemperatureStudyDoc(ThermogapDocument):
    """Summary of a finite-temperature band-gap study, with its figures."""

    family: str = Field(..., description="Solid-solution family.")
    levels_of_theory: list[str] = Field(..., description="Levels used, cheap first.")
    result_ids: list[str] = Field(..., description="band_gaps documents of the study.")
    table: list[dict[str, Any]] = Field(
        ..., description="x, temperature_k, band_gap_ev, stderr_ev, delta_gap_ev per result."
    )
    plots: dict[str, BlobRef] = Field(default_factory=dict, description="PNG figures by name.")
    mlip_model_id: str | None = Field(None, description="MLIP of the study.")
    gnn_model_id: str | None = Field(None, description="GNN of the study.")
    self_check: dict[str, Any] | None = Field(
        None, description="GNN vs reference level on the study's snapshots: verdicts and line."
    )
