"""Documents of mode-resolved electron–phonon coupling (collection ``electron_phonon``).

The coupling job returns an :class:`ElectronPhononDoc`; the collection is built from those
outputs, keyed by ``electron_phonon_id``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from thermogap.schemas.base import ThermogapDocument

__all__ = ["ElectronPhononDoc", "ElectronPhononSettings"]


class ElectronPhononSettings(BaseModel):
    """Inputs of a frozen Γ-phonon band-gap calculation."""

    model_config = ConfigDict(extra="forbid")

    temperature_k: float = Field(300.0, ge=0, description="Temperature of the amplitudes, K.")
    signs: list[int] = Field(
        default_factory=lambda: [1, -1],
        description="Signs of the distortions (+1, -1); gaps are averaged over them.",
    )
    frequency_cutoff_thz: float = Field(
        0.05, ge=0, description="Modes at or below this frequency are left out, THz."
    )
    gap_model_id: str | None = Field(
        None, description="Id of the GNN band-gap model (its model document) that gave the gaps."
    )
    engine: str | None = Field(
        None, description="Embedded level of theory (e.g. 'chgnet-gfn1-xtb') that gave the gaps."
    )
    amplitude: Literal["quantum", "classical"] = Field(
        "quantum",
        description="Mode amplitude: 'quantum' (Bose-Einstein, seed Eq. 1) or 'classical' "
        "(k_B T / omega^2, what classical MD samples).",
    )
    normalisation: Literal["formula_unit", "cell"] = Field(
        "formula_unit",
        description="'formula_unit': <Q^2> per formula unit, so a mode's gap change does not "
        "depend on the phonon cell; 'cell': per phonon cell (a larger cell moves atoms less).",
    )
    equivalent_species: list[str] = Field(
        default_factory=list,
        description="Species counted as one for the formula units (a solid solution's mix).",
    )
    finite_temperature_phonon_id: str | None = Field(
        None,
        description="NMD phonons at T whose Γ frequencies set the amplitudes (modes imaginary "
        "at 0 K then included); None: 0 K frequencies, imaginary modes left out.",
    )


class ElectronPhononDoc(ThermogapDocument):
    """Band-gap change of each optical Γ mode frozen in at its thermal amplitude.

    Per-mode quantities are parallel lists of length ``n_modes`` in ascending frequency.
    """

    electron_phonon_id: str = Field(
        ..., description="Deterministic id (16 hex): phonons, cell, temperature, gap model, signs."
    )
    phonon_id: str = Field(..., description="Id of the 0 K phonon calculation (PhononDoc).")
    formula: str = Field(..., description="Reduced formula of the distorted cell.")
    cell_structure_id: str = Field(
        ..., description="Id (16 hex) of the undistorted cell the gaps were computed on."
    )
    n_atoms_cell: int = Field(..., description="Atoms in the distorted cell.")
    temperature_k: float = Field(..., description="Temperature of the mode amplitudes, K.")
    gap_source: str = Field(..., description="'gnn:<model_id>' or 'level:<embedded level name>'.")
    reference_gap_ev: float = Field(..., description="Gap of the undistorted cell, eV.")
    signs: list[int] = Field(..., description="Signs of the distortions, order of gaps_ev.")
    mode_index: list[int] = Field(..., description="Band index at Γ (0 = lowest), (n_modes,).")
    frequency_thz: list[float] = Field(
        ..., description="Frequency the amplitude used (0 K or at T), THz, (n_modes,)."
    )
    frequency_source: list[str] = Field(
        default_factory=list,
        description="Per mode: 'harmonic' (0 K) or 'finite_temperature' (NMD at T), (n_modes,).",
    )
    amplitude_kind: str = Field("quantum", description="'quantum' (Eq. 1) or 'classical'.")
    formula_units: int = Field(
        1, description="Z of the normalisation: displacements are sqrt(Z) x the per-cell ones."
    )
    amplitude_sqrt_amu_ang: list[float] = Field(
        ...,
        description="RMS mass-weighted normal coordinate sqrt(<Q^2>), Å·sqrt(amu), (n_modes,).",
    )
    gaps_ev: list[list[float]] = Field(
        ..., description="Gap of each distorted cell, eV, (n_modes, n_signs)."
    )
    relative_gap_change: list[float] = Field(
        ..., description="(mean over signs of gap - reference) / reference, fraction, (n_modes,)."
    )
    degenerate_set: list[int] = Field(
        ..., description="Modes of equal frequency share a number, (n_modes,)."
    )
    irreps: list[str | None] = Field(
        default_factory=list, description="Irreducible representation at Γ (phonopy), (n_modes,)."
    )
    n_modes_excluded: int = Field(
        ..., description="Γ modes left out: 3 acoustic plus imaginary / near-zero ones."
    )
    plot: dict[str, Any] | None = Field(
        None, description="BlobRef of a PNG of relative gap change (%) vs frequency (THz)."
    )
    settings: ElectronPhononSettings = Field(
        default_factory=ElectronPhononSettings, description="Inputs."
    )
