"""jobflow Makers of the finite-temperature optics flow (seed 002).

Each Maker wraps one plain function of :mod:`thermogap.optics.study`; the documents'
``arrays``/figure fields go to jobflow's ``data`` additional store. No job opens the results
database: inputs come by reference, outputs are returned.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from jobflow import Maker
from pymatgen.core import Composition, Structure

from thermogap.execution import tg_job
from thermogap.schemas.base import make_provenance
from thermogap.schemas.optics import (
    OpticsResultDoc,
    OpticsSettings,
    OpticsSnapshotsDoc,
    OpticsSpectrumDoc,
    SamplingSettings,
    SnapshotArrays,
    SpectrumArrays,
    TaucDoc,
    TaucSettings,
)
from thermogap.structures.identity import as_structure

__all__ = ["OpticsSnapshotsMaker", "OpticsSpectrumMaker", "OpticsSummaryMaker"]

_Doc = TypeVar("_Doc", OpticsSnapshotsDoc, OpticsSpectrumDoc)


def _document(cls: type[_Doc], value: Any) -> _Doc:
    """Validate an upstream output (the document or its serialised dict) as ``cls``."""
    if isinstance(value, dict):
        value = {k: v for k, v in value.items() if not k.startswith("@")}
    return cls.model_validate(value)


def _atoms(structure: Structure | dict[str, Any]) -> Any:
    from pymatgen.io.ase import AseAtomsAdaptor

    structure = as_structure(structure)
    return AseAtomsAdaptor.get_atoms(structure)


@dataclass
class OpticsSnapshotsMaker(Maker):
    """Snapshots at one temperature: Langevin MD, harmonic quantum displacements or clamped.

    Parameters
    ----------
    name : str
        Job name.
    sampling : SamplingSettings
        Method, calculator (a name in :mod:`thermogap.engines`), counts and MD settings.

    Examples
    --------
    >>> maker = OpticsSnapshotsMaker(sampling=SamplingSettings(n_snapshots=2))
    >>> job = maker.make(structure, 300.0)  # doctest: +SKIP
    """

    name: str = "optics snapshots"
    sampling: SamplingSettings = field(default_factory=SamplingSettings)

    @tg_job(data="arrays")
    def make(self, structure: Structure, temperature_k: float) -> OpticsSnapshotsDoc:
        """Draw the snapshots of ``structure`` at ``temperature_k`` (K)."""
        from thermogap.engines import get_calculator
        from thermogap.optics.study import draw_snapshots

        atoms = _atoms(structure)
        sampling = SamplingSettings.model_validate(self.sampling)
        calculator = None if sampling.method == "clamped" else get_calculator(sampling.calculator)
        positions = draw_snapshots(atoms, calculator, float(temperature_k), sampling)
        rms = float(np.sqrt(np.mean(np.sum((positions - atoms.positions) ** 2, axis=-1))))
        return OpticsSnapshotsDoc(
            formula=Composition(atoms.get_chemical_formula()).reduced_formula,
            n_atoms=len(atoms),
            temperature_k=float(temperature_k),
            sampling=sampling,
            species=atoms.get_chemical_symbols(),
            cell_ang=np.asarray(atoms.cell[:]).tolist(),
            rms_displacement_ang=rms,
            arrays=SnapshotArrays(positions_ang=positions.tolist()),
            provenance=make_provenance(level=sampling.calculator),
        )


@dataclass
class OpticsSpectrumMaker(Maker):
    """Williams–Lax averaged ε2, ε1, n, κ, α and the Tauc gap of one set of snapshots.

    Parameters
    ----------
    name : str
        Job name.
    settings : OpticsSettings
        Hamiltonian model, k-mesh, broadening and energy grid.
    tauc : TaucSettings
        Automatic Tauc-fit settings.

    Examples
    --------
    >>> maker = OpticsSpectrumMaker(settings=OpticsSettings(kpoint_mesh=(1, 1, 1)))
    >>> job = maker.make(snapshots_job.output)  # doctest: +SKIP
    """

    name: str = "optics spectrum"
    settings: OpticsSettings = field(default_factory=OpticsSettings)
    tauc: TaucSettings = field(default_factory=TaucSettings)

    @tg_job(data="arrays")
    def make(self, snapshots: OpticsSnapshotsDoc) -> OpticsSpectrumDoc:
        """Compute the spectrum of the snapshots document's configurations."""
        from ase import Atoms

        from thermogap.optics.study import as_lists, spectrum_at_temperature

        snaps = _document(OpticsSnapshotsDoc, snapshots)
        settings = OpticsSettings.model_validate(self.settings)
        tauc = TaucSettings.model_validate(self.tauc)
        atoms = Atoms(snaps.species, cell=snaps.cell_ang, pbc=True)
        positions = np.asarray(snaps.arrays.positions_ang)
        atoms.positions = positions[0]
        result = spectrum_at_temperature(atoms, positions, settings, tauc)
        fit = result.tauc
        tauc_doc = (
            TaucDoc(error=result.tauc_error)
            if fit is None
            else TaucDoc(
                gap_ev=fit.gap_ev,
                gap_stderr_ev=fit.gap_stderr_ev,
                window_ev=fit.window_ev,
                r_squared=fit.r_squared,
                slope=fit.slope,
                intercept_ev=fit.intercept,
            )
        )
        return OpticsSpectrumDoc(
            formula=snaps.formula,
            n_atoms=snaps.n_atoms,
            temperature_k=snaps.temperature_k,
            sampling_method=snaps.sampling.method,
            n_snapshots=len(positions),
            settings=settings,
            n_kpoints=result.n_kpoints,
            vbm_ev=result.vbm_ev,
            cbm_ev=result.cbm_ev,
            band_gap_ev=float(np.mean(np.subtract(result.cbm_ev, result.vbm_ev))),
            tauc=tauc_doc,
            tauc_snapshot_gaps_ev=result.snapshot_gaps_ev,
            wall_time_s=result.wall_time_s,
            arrays=SpectrumArrays(**as_lists(result.spectrum)),
            provenance=make_provenance(level=settings.model),
        )


@dataclass
class OpticsSummaryMaker(Maker):
    """Eg(T) from the spectra at each temperature, the slope against experiment, figures.

    Parameters
    ----------
    name : str
        Job name.
    figures : bool
        Draw α(E) against experiment, Tauc plots and Eg(T) (PNG, data store).
    slope_range_k : tuple of float
        Temperatures (K) over which dEg/dT is fitted (the issue asks for 200–400 K).

    Examples
    --------
    >>> job = OpticsSummaryMaker().make([s300.output], clamped.output)  # doctest: +SKIP
    """

    name: str = "optics summary"
    figures: bool = True
    slope_range_k: tuple[float, float] = (200.0, 400.0)

    @tg_job(data="figures_png_base64")
    def make(
        self, spectra: list[OpticsSpectrumDoc], clamped: OpticsSpectrumDoc | None = None
    ) -> OpticsResultDoc:
        """Summarise the spectra (one per temperature) and the clamped reference."""
        from thermogap.optics.study import gap_trend

        docs = sorted(
            (_document(OpticsSpectrumDoc, s) for s in spectra), key=lambda d: d.temperature_k
        )
        ref = _document(OpticsSpectrumDoc, clamped) if clamped is not None else None
        temperatures = [d.temperature_k for d in docs]
        gaps = [d.tauc.gap_ev for d in docs]
        trend = gap_trend(
            temperatures,
            gaps,
            docs[0].formula,
            [d.band_gap_ev for d in docs],
            self.slope_range_k,
        )
        figures = _figures(docs, ref) if self.figures else {}
        return OpticsResultDoc(
            formula=docs[0].formula,
            n_atoms=docs[0].n_atoms,
            sampling_method=docs[0].sampling_method,
            temperatures_k=temperatures,
            tauc_gap_ev=gaps,
            tauc_gap_stderr_ev=[d.tauc.gap_stderr_ev for d in docs],
            band_gap_ev=[d.band_gap_ev for d in docs],
            clamped_band_gap_ev=ref.band_gap_ev if ref is not None else None,
            clamped_direct_gap_ev=_direct_onset(ref) if ref is not None else None,
            slope_range_k=trend.slope_range_k,
            slope_ev_per_k=trend.slope_ev_per_k,
            band_gap_slope_ev_per_k=trend.band_gap_slope_ev_per_k,
            slope_stderr_ev_per_k=trend.slope_stderr_ev_per_k,
            experiment_slope_ev_per_k=trend.experiment_slope_ev_per_k,
            experiment_gap_ev=trend.experiment_gap_ev,
            zero_point_note=trend.zero_point_note,
            spectrum_job_uuids=[str(d.provenance.job_uuid) for d in docs],
            figures_png_base64=figures,
        )


def _direct_onset(doc: OpticsSpectrumDoc) -> float:
    """Lowest energy where the clamped ε2 reaches 1 % of its maximum (≈ direct onset), eV."""
    energies = np.asarray(doc.arrays.energies_ev)
    eps2 = np.asarray(doc.arrays.epsilon2)
    above = np.flatnonzero(eps2 >= 0.01 * eps2.max())
    return float(energies[above[0]]) if len(above) else float("nan")


def _figures(docs: list[OpticsSpectrumDoc], ref: OpticsSpectrumDoc | None) -> dict[str, str]:
    from thermogap.optics.plots import absorption_figure, gap_figure, tauc_figure

    everything = [*docs, *([ref] if ref is not None else [])]

    def label(d: OpticsSpectrumDoc) -> str:
        return "clamped" if d.sampling_method == "clamped" else f"{d.temperature_k:g} K"

    curves = [
        (label(d), np.asarray(d.arrays.energies_ev), np.asarray(d.arrays.absorption_cm))
        for d in everything
    ]
    tauc = [
        (label(d), np.asarray(d.arrays.energies_ev), np.asarray(d.arrays.epsilon2), d.tauc.slope,
         d.tauc.intercept_ev)
        for d in docs
    ]  # fmt: skip
    pngs = {
        "absorption": absorption_figure(curves, docs[0].formula),
        "tauc": tauc_figure(tauc),
        "gap_vs_temperature": gap_figure(
            [d.temperature_k for d in docs],
            [d.tauc.gap_ev for d in docs],
            [d.tauc.gap_stderr_ev for d in docs],
            docs[0].formula,
            [d.band_gap_ev for d in docs],
        ),
    }
    return {name: base64.b64encode(png).decode() for name, png in pngs.items()}
