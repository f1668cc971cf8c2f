"""Documents of finite-temperature phonons from normal-mode decomposition (NMD).

They are stored in the ``phonons`` collection beside the harmonic calculations, with
``kind: "nmd"``, their own ``phonon_id`` and ``temperature_k``, and the fields that
:func:`thermogap.phonons.storage.load_phonopy` needs (``structure``, ``supercell_matrix``,
``masses_amu``, ``force_constants``), so the renormalised phonons load like harmonic ones.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pymatgen.core import Structure

from thermogap.schemas.base import MakerSettings, ThermogapDocument
from thermogap.schemas.phonons import PhononBandStructureDoc

__all__ = ["FiniteTemperaturePhononDoc", "NMDSettings", "RenormalisedModeDoc"]


class NMDSettings(MakerSettings):
    """Inputs of a normal-mode decomposition."""

    model_config = ConfigDict(extra="forbid")

    equilibration_time_ps: float = Field(
        1.0, ge=0, description="MD time discarded at the start of the trajectory, ps."
    )
    segment_time_ps: float = Field(
        10.0,
        gt=0,
        description="Length of the Welch segments, ps; the frequency resolution is its "
        "inverse (10 ps: 0.1 THz). Clipped to the production run if longer.",
    )
    window: str = Field("hann", description="Taper of each segment (boxcar, hann, ...).")
    fit_window_fwhm: float = Field(
        5.0, gt=0, description="Half-width of the Lorentzian fitting range, in FWHMs."
    )
    stability_threshold_thz: float = Field(
        0.2,
        ge=0,
        description="A mode is unstable at T when its NMD peak or its equipartition frequency "
        "is below this, THz; a spectral resolution coarser than this is refused.",
    )
    order_parameter_sigma: float = Field(
        4.0,
        gt=0,
        description="A 0 K soft mode whose time-averaged normal coordinate <Q> is more than "
        "this many standard errors from zero has condensed: unstable at T.",
    )
    subtract_thermostat_width: bool = Field(
        True,
        description="Subtract the Langevin width 1000 gamma / 2 pi THz from every fitted FWHM "
        "(linewidth_thz is then the anharmonic linewidth).",
    )
    imaginary_tolerance_thz: float = Field(
        0.05, ge=0, description="A 0 K mode is imaginary when below minus this, THz."
    )
    map_tolerance_ang: float = Field(
        0.5, gt=0, description="Largest distance of an MD atom from its lattice site, Å."
    )
    md_supercell: list[int] = Field(
        [1, 1, 1],
        min_length=3,
        max_length=3,
        description="In a flow: repeat the MD cell this many times for a dedicated NMD "
        "trajectory, so its commensurate q-points (measured, not interpolated) reach the "
        "zone boundary of the larger cell; [1, 1, 1] reuses the band-gap MD.",
    )
    band_npoints: int = Field(31, ge=2, description="q-points per band-path segment.")
    band_path_type: str = Field(
        "setyawan_curtarolo", description="High-symmetry path convention (pymatgen)."
    )


class RenormalisedModeDoc(BaseModel):
    """One phonon mode at a commensurate q-point: 0 K and at temperature."""

    qpoint: list[float] = Field(..., description="q, fractional reciprocal coordinates (3,).")
    band_index: int = Field(..., description="Band index at q in the 0 K ordering (0 = lowest).")
    harmonic_frequency_thz: float = Field(..., description="0 K frequency, THz (<0: i|f|).")
    frequency_thz: float = Field(..., description="Lorentzian peak at T, THz (0: acoustic Γ).")
    linewidth_thz: float | None = Field(
        None,
        description="Anharmonic linewidth at T: Lorentzian FWHM minus the thermostat width, THz "
        "(angular FWHM = 2π × this); None for acoustic Γ modes.",
    )
    order_parameter: float | None = Field(
        None, description="|<Q_qν>|, time-averaged normal coordinate, sqrt(amu) Å."
    )
    order_parameter_significance: float | None = Field(
        None, description="|<Q>| in standard errors (correlation-corrected); per equivalent set."
    )
    equipartition_frequency_thz: float | None = Field(
        None, description="sqrt(k_B T / <|Q|^2>) / 2π, THz (includes <Q>^2)."
    )
    soft_at_0k: bool = Field(False, description="Imaginary or below the threshold at 0 K.")
    frequency_stderr_thz: float | None = Field(None, description="Fit error of the peak, THz.")
    linewidth_stderr_thz: float | None = Field(None, description="Fit error of the FWHM, THz.")
    mean_square_velocity: float | None = Field(
        None, description="Area of the peak, <|v_qν|²>, amu Å² fs⁻² (equipartition: k_B T)."
    )
    acoustic: bool = Field(False, description="One of the three translations at Γ (not fitted).")
    fit_converged: bool = Field(True, description="The least-squares fit converged.")
    imaginary_at_0k: bool = Field(..., description="Imaginary in the harmonic calculation.")
    stable_at_t: bool = Field(
        ...,
        description="Peak and equipartition frequency at or above the threshold and (soft "
        "modes) <Q> consistent with zero.",
    )
    stabilised_at_t: bool = Field(..., description="Imaginary at 0 K and stable at T.")


class FiniteTemperaturePhononDoc(ThermogapDocument):
    """Renormalised phonons at one temperature from the velocities of one MD trajectory.

    ``force_constants`` are those of the MD supercell that reproduce the renormalised
    frequencies at its commensurate q-points; load them with
    :func:`thermogap.phonons.storage.phonopy_from_doc` or, from the ``phonons`` collection
    (built from these job outputs), :func:`thermogap.phonons.storage.load_phonopy` (same
    fields as a harmonic document).
    """

    phonon_id: str = Field(..., description="'nmd-' + 16 hex: harmonic id, trajectory, settings.")
    kind: Literal["nmd"] = Field("nmd", description="Marks NMD documents in `phonons`.")
    harmonic_phonon_id: str = Field(..., description="0 K phonon calculation projected on.")
    trajectory_id: str = Field(..., description="MD trajectory the velocities came from.")
    temperature_k: float = Field(..., description="Thermostat temperature of the MD, K.")
    model_id: str | None = Field(None, description="MLIP that drove the MD.")
    structure_id: str | None = Field(None, description="Id (16 hex) of the unit cell.")
    formula: str = Field(..., description="Reduced formula of the unit cell.")
    structure: Structure = Field(..., description="Unit cell (stored as Structure.as_dict()).")
    n_atoms: int = Field(..., description="Atoms in the unit cell.")
    supercell_matrix: list[list[int]] = Field(..., description="MD cell in unit-cell vectors.")
    masses_amu: list[float] = Field(..., description="Atomic masses, amu, (n_atoms,).")
    force_constants: dict[str, Any] = Field(
        ..., description="BlobRef of the renormalised FCs, eV/Å², (n_super, n_super, 3, 3)."
    )
    spectra: dict[str, Any] | None = Field(
        None,
        description="BlobRef of an npz: frequencies_thz (n_freq,), spectra "
        "(n_q, n_band, n_freq) in amu Å² fs⁻² THz⁻¹, qpoints (n_q, 3).",
    )
    dispersion_png: dict[str, Any] | None = Field(
        None, description="BlobRef of a PNG: dispersion at 0 K and at T."
    )
    n_frames_used: int = Field(..., description="MD frames analysed (after equilibration).")
    frame_interval_fs: float = Field(..., description="Time between analysed frames, fs.")
    resolution_thz: float = Field(
        ..., description="Frequency bin of the spectra, THz (never coarser than the threshold)."
    )
    thermostat_width_thz: float = Field(
        0.0, description="Langevin width 1000 gamma / 2π subtracted from each FWHM, THz."
    )
    stability_basis: str = Field(
        "order parameter + equipartition + peak",
        description="What the verdict rests on ('peak only' when positions were missing).",
    )
    dispersion_kind: str = Field(
        "interpolated",
        description="'commensurate' when the path lies on the MD cell's q-points only; else "
        "'interpolated': Fourier-interpolated between the commensurate q-points.",
    )
    n_commensurate_qpoints: int = Field(
        0, description="q-points the MD cell samples (frequencies measured, not interpolated)."
    )
    nyquist_thz: float = Field(..., description="Highest frequency the frames resolve, THz.")
    modes: list[RenormalisedModeDoc] = Field(..., description="Every mode at every q.")
    dynamically_stable_at_T: bool = Field(
        ...,
        description="Every mode stable at T: peak and equipartition frequency above the "
        "threshold, and no 0 K soft mode condensed (<Q> consistent with zero).",
    )
    stabilised_modes: int = Field(..., description="Modes imaginary at 0 K but stable at T.")
    unstable_modes: int = Field(..., description="Modes below the threshold at T.")
    min_frequency_thz: float = Field(
        ..., description="Lowest renormalised non-acoustic frequency at the commensurate q, THz."
    )
    min_interpolated_frequency_thz: float = Field(
        ..., description="Lowest frequency of the interpolated dispersion at T (path), THz."
    )
    band_structure: PhononBandStructureDoc = Field(
        ..., description="Dispersion at T (see dispersion_kind: measured only at the MD q)."
    )
    harmonic_band_structure: PhononBandStructureDoc = Field(
        ..., description="0 K dispersion on the same path."
    )
    settings: NMDSettings = Field(default_factory=NMDSettings, description="Inputs.")
