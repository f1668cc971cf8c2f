"""Levels of theory: which engine computes which label, with which settings.

A level is data (a YAML file), validated by :class:`LevelOfTheory`. Two kinds exist:

* ``engine: vasp``: a DFT level run through atomate2 input sets and custodian
  (``pbesol``, ``hsesol``; settings from seed paper 000, Methods).
* ``engine: embedded``: an engine that runs inside the Python process, named for what it
  runs (e.g. ``chgnet-gfn1-xtb``: CHGNet energy/forces/stress + GFN1-xTB Γ-point gap).
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["CustodianSettings", "EmbeddedSettings", "LevelOfTheory", "VaspSettings"]

LabelKind = Literal["energy", "forces", "stress", "band_gap", "vbm"]

#: k-points per atom equivalent to a 12×12×12 grid on the 5-atom cubic antiperovskite cell.
PAPER_KPOINTS_PER_ATOM = 12**3 * 5


class CustodianSettings(BaseModel):
    """How custodian supervises a VASP run."""

    model_config = ConfigDict(extra="forbid")

    max_errors: int = Field(
        5, ge=0, description="Corrections custodian may apply before giving up."
    )
    handlers: list[str] = Field(
        default_factory=lambda: [
            "VaspErrorHandler",
            "MeshSymmetryErrorHandler",
            "UnconvergedErrorHandler",
            "NonConvergingErrorHandler",
            "PotimErrorHandler",
            "PositiveEnergyErrorHandler",
            "FrozenJobErrorHandler",
            "StdErrHandler",
            "LargeSigmaHandler",
            "IncorrectSmearingHandler",
        ],
        description="Names of classes in custodian.vasp.handlers to use.",
    )
    vasp_cmd: str | None = Field(
        None, description="VASP command; None uses atomate2's VASP_CMD setting."
    )
    polling_time_step_s: float = Field(
        10.0, gt=0, description="How often custodian checks whether VASP has finished, s."
    )


class VaspSettings(BaseModel):
    """Settings of a VASP level (seed paper 000, Methods)."""

    model_config = ConfigDict(extra="forbid")

    functional: Literal["PBEsol", "HSEsol"] = Field(
        ..., description="Exchange-correlation functional (HSEsol = HSE screened hybrid on PBEsol)."
    )
    encut_ev: float = Field(550.0, gt=0, description="Plane-wave cutoff, eV.")
    kpoints_per_atom: float = Field(
        PAPER_KPOINTS_PER_ATOM,
        gt=0,
        description=(
            "k-points × atoms (pymatgen 'grid density'); 8640 = 12×12×12 on the 5-atom cubic cell, "
            "so a 2×2×2 supercell gets 6×6×6. Γ-centred; each division is rounded up."
        ),
    )
    ediff_ev: float = Field(1e-6, gt=0, description="Electronic convergence, eV.")
    smearing_ev: float = Field(
        0.01, gt=0, description="Gaussian smearing width SIGMA (ISMEAR=0), eV."
    )
    relax_force_tolerance_ev_per_ang: float = Field(
        0.005, gt=0, description="Force tolerance of relaxations (EDIFFG = -value), eV/Å."
    )
    hf_screening_per_ang: float = Field(
        0.2, description="HFSCREEN of HSEsol, 1/Å (only used when functional is HSEsol)."
    )
    exact_exchange_fraction: float = Field(
        0.25, ge=0, le=1, description="AEXX of HSEsol (only used when functional is HSEsol)."
    )
    potcar_functional: str = Field("PBE_54", description="POTCAR set.")
    incar_updates: dict[str, Any] = Field(
        default_factory=dict, description="Extra INCAR tags applied last (override everything)."
    )
    custodian: CustodianSettings = Field(
        default_factory=CustodianSettings, description="custodian settings."
    )


class EmbeddedSettings(BaseModel):
    """Settings of an embedded level: a force engine plus an xTB band-gap engine."""

    model_config = ConfigDict(extra="forbid")

    forces_engine: str = Field(
        "chgnet", description="Engine (see thermogap.engines) for energy, forces and stress."
    )
    forces_engine_kwargs: dict[str, Any] = Field(
        default_factory=lambda: {"model_name": "0.3.0"},
        description="Keyword arguments of the force engine factory.",
    )
    gap_method: Literal["GFN1-xTB", "IPEA1-xTB", "GFN2-xTB"] = Field(
        ..., description="tblite Hamiltonian for the band gap and VBM (Γ point only)."
    )
    gap_accuracy: float = Field(
        100.0,
        gt=0,
        description=(
            "tblite accuracy multiplier (1 = tblite default; larger = looser, faster; 100 moves "
            "40-atom Ag3SBr_xI_(1-x) gaps by <4 meV and is ~1.5-2x faster)."
        ),
    )
    gap_max_iterations: int = Field(100, gt=0, description="Maximum SCF iterations of tblite.")
    electronic_temperature_k: float = Field(
        300.0, ge=0, description="Fermi smearing temperature of tblite, K."
    )
    num_threads: int = Field(1, ge=1, description="Threads (torch and OpenMP) per calculation.")


class LevelOfTheory(BaseModel):
    """A named level of theory.

    Examples
    --------
    >>> from thermogap.levels import load_level
    >>> load_level("pbesol").vasp.encut_ev
    550.0
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., description="Level name, recorded in every label made at this level.")
    engine: Literal["vasp", "embedded"] = Field(..., description="Which labelling path runs it.")
    description: str = Field("", description="What this level is, in words.")
    computes: list[LabelKind] = Field(
        default_factory=lambda: list(get_args(LabelKind)),
        description="Labels this level produces.",
    )
    vasp: VaspSettings | None = Field(None, description="VASP settings (engine: vasp).")
    embedded: EmbeddedSettings | None = Field(
        None, description="Embedded settings (engine: embedded)."
    )

    @model_validator(mode="after")
    def _settings_match_engine(self) -> LevelOfTheory:
        if self.engine == "vasp" and (self.vasp is None or self.embedded is not None):
            raise ValueError(f"level {self.name!r}: engine 'vasp' needs a 'vasp:' section only")
        if self.engine == "embedded" and (self.embedded is None or self.vasp is not None):
            raise ValueError(
                f"level {self.name!r}: engine 'embedded' needs an 'embedded:' section only"
            )
        return self
