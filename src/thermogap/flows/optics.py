"""The finite-temperature optics flow (seed 002): Williams–Lax α(E, T) and Tauc Eg(T).

structure → snapshots at each T (MD with an ASE calculator, or quantum displacements) →
tight-binding spectra per T → Eg(T) summary with figures; plus the clamped (ideal) cell for
the "no phonon-assisted tail" reference. Every setting is validated by
:class:`OpticsStudySettings` before any job exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

from jobflow import Flow, Job, Maker
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pymatgen.core import Structure

from thermogap.errors import InputError, first_validation_problem
from thermogap.jobs.optics import OpticsSnapshotsMaker, OpticsSpectrumMaker, OpticsSummaryMaker
from thermogap.schemas.optics import OpticsSettings, SamplingSettings, TaucSettings

__all__ = ["OpticsFlowMaker", "OpticsStudySettings", "optics_flow", "optics_structure"]


@dataclass
class OpticsFlowMaker(Maker):
    """Phonon-assisted optical absorption and the Tauc gap at several temperatures.

    Parameters
    ----------
    name : str
        Flow name.
    temperatures_k : list of float
        Temperatures, K (> 0 for MD sampling).
    snapshots_maker : OpticsSnapshotsMaker
        Draws the snapshots of each temperature.
    spectrum_maker : OpticsSpectrumMaker
        Tight-binding spectra and Tauc fit of each temperature.
    summary_maker : OpticsSummaryMaker
        Eg(T), slope against experiment, figures.
    include_clamped : bool
        Also compute the ideal (clamped) cell's spectrum.

    Examples
    --------
    >>> from ase.build import bulk
    >>> from pymatgen.io.ase import AseAtomsAdaptor
    >>> si = AseAtomsAdaptor.get_structure(bulk("Si", "diamond", a=5.431, cubic=True))
    >>> flow = OpticsFlowMaker(temperatures_k=[300.0]).make(si)
    >>> [job.name for job in flow.jobs][:2]
    ['optics snapshots 300 K', 'optics spectrum 300 K']
    """

    name: str = "optics"
    temperatures_k: list[float] = field(default_factory=lambda: [300.0])
    snapshots_maker: OpticsSnapshotsMaker = field(default_factory=OpticsSnapshotsMaker)
    spectrum_maker: OpticsSpectrumMaker = field(default_factory=OpticsSpectrumMaker)
    summary_maker: OpticsSummaryMaker = field(default_factory=OpticsSummaryMaker)
    include_clamped: bool = True

    def make(self, structure: Structure) -> Flow:
        """Build the flow for ``structure`` (the ideal supercell)."""
        jobs: list[Flow | Job] = []
        outputs = []
        for temperature in self.temperatures_k:
            snaps = self.snapshots_maker.make(structure, float(temperature))
            snaps.name = f"{self.snapshots_maker.name} {temperature:g} K"
            spectrum = self.spectrum_maker.make(snaps.output)
            spectrum.name = f"{self.spectrum_maker.name} {temperature:g} K"
            jobs += [snaps, spectrum]
            outputs.append(spectrum.output)
        clamped_output = None
        if self.include_clamped:
            ideal = SamplingSettings.model_validate(self.snapshots_maker.sampling).model_copy(
                update={"method": "clamped", "n_snapshots": 1}
            )
            clamped_snaps = replace(self.snapshots_maker, sampling=ideal).make(structure, 0.0)
            clamped_snaps.name = f"{self.snapshots_maker.name} clamped"
            clamped = self.spectrum_maker.make(clamped_snaps.output)
            clamped.name = f"{self.spectrum_maker.name} clamped"
            jobs += [clamped_snaps, clamped]
            clamped_output = clamped.output
        summary = self.summary_maker.make(outputs, clamped_output)
        jobs.append(summary)
        return Flow(jobs, output=summary.output, name=self.name)


class OpticsStudySettings(BaseModel):
    """Settings of :func:`optics_flow`; presets are YAML renderings of this model."""

    model_config = ConfigDict(extra="forbid")

    material: Literal["Si", "GaAs"] = Field("Si", description="Crystal (ideal, Vogl lattice).")
    supercell: tuple[int, int, int] = Field(
        (2, 2, 2), description="Repeats of the 8-atom conventional cubic cell."
    )
    temperatures_k: list[float] = Field([300.0], description="Temperatures, K (> 0).")
    sampling: SamplingSettings = Field(default_factory=SamplingSettings)
    optics: OpticsSettings = Field(default_factory=OpticsSettings)
    tauc: TaucSettings = Field(default_factory=TaucSettings)
    include_clamped: bool = Field(True, description="Also the ideal cell's spectrum.")
    figures: bool = Field(True, description="Make the figures in the summary job.")

    @field_validator("temperatures_k")
    @classmethod
    def _positive(cls, value: list[float]) -> list[float]:
        if not value or any(t <= 0 for t in value):
            raise ValueError(f"temperatures_k={value} must be non-empty and > 0 K")
        return sorted(set(float(t) for t in value))

    @model_validator(mode="after")
    def _calculator_fits_material(self) -> OpticsStudySettings:
        method, calculator = self.sampling.method, self.sampling.calculator
        if method != "clamped" and calculator == "stillinger-weber-si" and self.material != "Si":
            raise ValueError(
                f"calculator {calculator!r} describes Si only, not {self.material}; "
                "give an MLIP engine (e.g. chgnet) or sampling.method='clamped'"
            )
        return self

    @field_validator("supercell")
    @classmethod
    def _repeats(cls, value: tuple[int, int, int]) -> tuple[int, int, int]:
        if min(value) < 1:
            raise ValueError(f"supercell={value} must be positive repeats")
        return value


def optics_structure(material: str, supercell: tuple[int, int, int]) -> Structure:
    """Ideal conventional-cell supercell of ``material`` at the tight-binding lattice constant."""
    from ase.build import bulk
    from pymatgen.io.ase import AseAtomsAdaptor

    from thermogap.tb.parameters import PARAMETER_SETS

    params = PARAMETER_SETS[material]
    kind = "diamond" if material == "Si" else "zincblende"
    atoms = bulk(material, kind, a=params.lattice_constant_ang, cubic=True).repeat(supercell)
    structure: Structure = AseAtomsAdaptor.get_structure(atoms)
    return structure


def optics_flow(**raw: Any) -> Flow:
    """Flow builder registered as ``optics`` (presets ``optics-si-quick``, ``optics-si-paper``).

    Raises
    ------
    InputError
        For any invalid setting, before a job is made.
    """
    try:
        settings = OpticsStudySettings(**raw)
    except ValidationError as exc:
        raise InputError(f"invalid optics setting {first_validation_problem(exc)}") from None
    structure = optics_structure(settings.material, settings.supercell)
    maker = OpticsFlowMaker(
        temperatures_k=settings.temperatures_k,
        snapshots_maker=OpticsSnapshotsMaker(sampling=settings.sampling),
        spectrum_maker=OpticsSpectrumMaker(settings=settings.optics, tauc=settings.tauc),
        summary_maker=OpticsSummaryMaker(figures=settings.figures),
        include_clamped=settings.include_clamped,
    )
    return maker.make(structure)
