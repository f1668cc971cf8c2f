"""jobflow Maker for finite-temperature phonons by normal-mode decomposition of MD."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from jobflow import Maker
from pymatgen.core import Structure

from thermogap.errors import InputError
from thermogap.execution import tg_job
from thermogap.phonons.analysis import BandStructure, band_structure
from thermogap.phonons.normal_modes import (
    NormalModeDecomposition,
    dynamic_stability,
    normal_mode_decomposition,
    renormalised_phonopy,
)
from thermogap.phonons.storage import phonon_doc_dict, phonopy_from_doc
from thermogap.schemas.base import Provenance, make_provenance
from thermogap.schemas.finite_temperature import (
    FiniteTemperaturePhononDoc,
    NMDSettings,
    RenormalisedModeDoc,
)
from thermogap.schemas.phonons import PhononBandStructureDoc
from thermogap.structures.identity import as_structure

__all__ = [
    "FiniteTemperaturePhononMaker",
    "derived_nmd_settings",
    "finite_temperature_document",
    "nmd_phonon_id",
    "repeat_structure",
]


@tg_job
def repeat_structure(structure: Structure, scaling: list[int]) -> Structure:
    """Repeat ``structure`` ``scaling`` times along its lattice vectors (an NMD MD cell)."""
    structure = as_structure(structure)
    if len(scaling) != 3 or min(scaling) < 1:
        raise InputError(f"{scaling=} must be three positive integers")
    return structure * tuple(int(n) for n in scaling)


#: NMD settings that can be derived from the MD when the job runs
DERIVABLE_NMD_SETTINGS = ("equilibration_time_ps", "segment_time_ps")


def derived_nmd_settings(
    settings: NMDSettings,
    md_time_ps: float,
    derive: list[str] | tuple[str, ...],
    equilibration_fraction: float | None = None,
) -> NMDSettings:
    """Return ``settings`` with the fields named in ``derive`` worked out from the MD length.

    Parameters
    ----------
    settings
        The NMD settings as given.
    md_time_ps
        Simulated time of the trajectory, ps.
    derive
        Fields of :data:`DERIVABLE_NMD_SETTINGS` to derive.
    equilibration_fraction
        Fraction of the MD discarded as equilibration (``None``: 0.2).

    Raises
    ------
    InputError
        For a field that cannot be derived, or when the derived segment is too short to
        resolve the stability threshold (the spectral resolution is 1/segment).

    Examples
    --------
    >>> derived_nmd_settings(NMDSettings(), 40.0, ["equilibration_time_ps"]).equilibration_time_ps
    8.0
    """
    unknown = sorted(set(derive) - set(DERIVABLE_NMD_SETTINGS))
    if unknown:
        raise InputError(
            f"cannot derive NMD settings {unknown} from the MD; allowed: {DERIVABLE_NMD_SETTINGS}"
        )
    if not derive:
        return settings
    update: dict[str, float] = {}
    equilibration_ps = settings.equilibration_time_ps
    if "equilibration_time_ps" in derive:
        equilibration_ps = (0.2 if equilibration_fraction is None else equilibration_fraction) * (
            md_time_ps
        )
        update["equilibration_time_ps"] = equilibration_ps
    if "segment_time_ps" in derive:
        update["segment_time_ps"] = min(
            settings.segment_time_ps, max(md_time_ps - equilibration_ps, 0.0) / 2
        )
    resolved = settings.model_copy(update=update)
    if resolved.segment_time_ps <= 0 or (
        1.0 / resolved.segment_time_ps > resolved.stability_threshold_thz
    ):
        raise InputError(
            f"finite-temperature phonons from {md_time_ps:g} ps of MD would have a spectral "
            f"resolution coarser than the stability threshold "
            f"{resolved.stability_threshold_thz:g} THz (segment {resolved.segment_time_ps:g} "
            "ps); run a longer MD or turn the finite-temperature phonons off"
        )
    return resolved


@dataclass
class FiniteTemperaturePhononMaker(Maker):
    """Renormalised phonons at the MD temperature from an MD trajectory (NMD).

    The velocities of the trajectory are projected on the 0 K eigenvectors of the harmonic
    phonons at the q-points commensurate with the MD cell; a Lorentzian fit of each mode's
    power spectrum gives its frequency and linewidth at T. Both inputs are upstream output
    documents (passed by reference) carrying their bytes; the job opens no database. It
    returns a :class:`FiniteTemperaturePhononDoc` (``kind: "nmd"``) whose renormalised force
    constants, spectra and dispersion figure (0 K and T) are blobs carried with it; the
    ``phonons`` collection is built from it (key ``phonon_id``, which includes the harmonic
    phonons, the trajectory, its length and the settings).

    Parameters
    ----------
    name : str
        Job name.
    settings : NMDSettings
        Equilibration, spectral resolution, fit range and stability threshold.
    derive_from_md : list of str
        Settings worked out when the job runs from the trajectory it is given rather than
        taken from ``settings``: ``"equilibration_time_ps"`` (``md_equilibration_fraction``
        of the simulated time, 0.2 when that is ``None``) and ``"segment_time_ps"`` (the
        settings' value, clipped to half the production run). So an MD length edited after
        the flow was built (``update_maker_kwargs``) carries over to the NMD.
    md_equilibration_fraction : float or None
        Fraction of the MD discarded as equilibration when it is derived.

    Examples
    --------
    >>> maker = FiniteTemperaturePhononMaker(settings=NMDSettings(segment_time_ps=10))
    >>> job = maker.make(phonon_job.output, md_job.output)  # doctest: +SKIP
    """

    name: str = "finite-temperature phonons (nmd)"
    settings: NMDSettings = field(default_factory=NMDSettings)
    derive_from_md: list[str] = field(default_factory=list)
    md_equilibration_fraction: float | None = None

    @tg_job
    def make(self, phonon: Any, trajectory: Any) -> FiniteTemperaturePhononDoc:
        """Decompose the MD velocities of ``trajectory`` on the modes of ``phonon``.

        Parameters
        ----------
        phonon : PhononDoc
            Harmonic (0 K) phonons, e.g. the output of
            :class:`~thermogap.jobs.phonons.PhononMaker`.
        trajectory : TrajectoryDoc
            The MD trajectory (output of an MD job), its chunks carried as artifacts.
        """
        from thermogap.execution.artifacts import current_blobs
        from thermogap.md.langevin import trajectory_from_doc

        harmonic_doc = phonon_doc_dict(phonon)
        if harmonic_doc.get("kind", "harmonic") != "harmonic":
            raise InputError(
                f"phonon {harmonic_doc.get('phonon_id')!r} is a {harmonic_doc['kind']!r} "
                "document; NMD projects on the eigenvectors of a harmonic ('kind' absent or "
                "'harmonic') phonon calculation"
            )
        loaded = trajectory_from_doc(trajectory)
        traj = loaded.doc
        settings = derived_nmd_settings(
            self.settings,
            traj.n_steps_done * traj.timestep_fs / 1000.0,
            self.derive_from_md,
            self.md_equilibration_fraction,
        )
        new_id = nmd_phonon_id(
            harmonic_doc["phonon_id"], traj.trajectory_id, traj.n_steps_done, settings
        )
        blobs = current_blobs()
        harmonic = phonopy_from_doc(harmonic_doc, blobs)
        frame_fs = traj.timestep_fs * traj.save_interval_steps
        velocities = _production_frames(loaded.arrays, frame_fs, settings)
        positions = np.asarray(loaded.arrays["positions_ang"])[-len(velocities) :]
        segment = min(len(velocities), round(settings.segment_time_ps * 1000.0 / frame_fs))
        friction = traj.friction_per_fs if settings.subtract_thermostat_width else 0.0
        nmd = normal_mode_decomposition(
            harmonic,
            Structure.from_dict(traj.structure),
            velocities,
            frame_fs,
            segment_frames=segment,
            window=settings.window,
            fit_window_fwhm=settings.fit_window_fwhm,
            map_tolerance_ang=settings.map_tolerance_ang,
            positions_ang=positions,
            temperature_k=traj.temperature_k,
            thermostat_friction_per_fs=friction,
            min_resolution_thz=settings.stability_threshold_thz,
        )
        renormalised = renormalised_phonopy(harmonic, nmd)
        npoints, path_type = settings.band_npoints, settings.band_path_type
        bands_t = band_structure(renormalised, npoints=npoints, path_type=path_type)
        bands_0 = band_structure(harmonic, npoints=npoints, path_type=path_type)
        refs = _store_arrays_and_figure(
            blobs, nmd, renormalised, bands_0, bands_t, traj.temperature_k, harmonic_doc.get("dos")
        )
        return finite_temperature_document(
            nmd,
            bands_0,
            bands_t,
            phonon_id=new_id,
            harmonic_doc=harmonic_doc,
            trajectory_doc=traj.model_dump(),
            settings=settings,
            blob_refs=refs,
            provenance=make_provenance(
                model_id=traj.model_id, model_sha256=traj.provenance.model_sha256
            ),
        )


def nmd_phonon_id(
    harmonic_phonon_id: str, trajectory_id: str, n_steps: int, settings: NMDSettings
) -> str:
    """Deterministic id of an NMD result: ``'nmd-'`` + 16 hex digits of a SHA-256."""
    payload = {
        "harmonic": harmonic_phonon_id,
        "trajectory": trajectory_id,
        "n_steps": int(n_steps),
        "settings": settings.model_dump(),
    }
    blob = json.dumps(payload, sort_keys=True).encode()
    return "nmd-" + hashlib.sha256(blob).hexdigest()[:16]


def _production_frames(
    arrays: dict[str, np.ndarray], frame_fs: float, settings: NMDSettings
) -> np.ndarray:
    steps = np.asarray(arrays["steps"])
    if len(steps) > 1 and len(set(np.diff(steps).tolist())) != 1:
        raise InputError("the trajectory's frames are not equally spaced in MD steps")
    skip = int(np.ceil(settings.equilibration_time_ps * 1000.0 / frame_fs))
    velocities = np.asarray(arrays["velocities_ang_per_fs"])[skip:]
    if len(velocities) < 16:
        raise InputError(
            f"{len(velocities)} frames remain after equilibration_time_ps="
            f"{settings.equilibration_time_ps} ps of a {len(steps)}-frame trajectory "
            f"(frames every {frame_fs:g} fs); at least 16 are needed"
        )
    return velocities


def _store_arrays_and_figure(
    blobs: Any,
    nmd: NormalModeDecomposition,
    renormalised: Any,
    bands_0: BandStructure,
    bands_t: BandStructure,
    temperature_k: float,
    harmonic_dos: dict[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    from thermogap.phonons.analysis import density_of_states
    from thermogap.phonons.plots import dispersion_png

    fc = blobs.put_array(np.asarray(renormalised.force_constants), kind="force_constants")
    spectra = blobs.put_arrays(
        {
            "frequencies_thz": nmd.spectrum_frequencies_thz,
            "spectra": nmd.spectra,
            "qpoints": nmd.qpoints,
        },
        kind="nmd-spectra",
    )
    kind = _dispersion_kind(bands_t, nmd.qpoints)
    title = (
        f"measured at {len(nmd.qpoints)} q-points of the MD cell, interpolated between them"
        if kind == "interpolated"
        else "measured at the MD cell's q-points"
    )
    dos = []  # the DOS at 0 K and at T beside the dispersions, on the harmonic DOS's mesh
    if harmonic_dos:
        dos_t = density_of_states(renormalised, mesh=harmonic_dos["mesh"])
        dos = [
            (harmonic_dos["frequencies_thz"], harmonic_dos["dos"], "0 K"),
            (dos_t.frequencies_thz, dos_t.dos, f"{temperature_k:g} K"),
        ]
    png = dispersion_png(bands_0, bands_t, temperature_k=temperature_k, title=title, dos=dos)
    figure = blobs.put_bytes(png, kind="png", filename="dispersion.png")
    return {
        "force_constants": fc.model_dump(),
        "spectra": spectra.model_dump(),
        "dispersion_png": figure.model_dump(),
    }


def _band_doc(bands: BandStructure) -> PhononBandStructureDoc:
    return PhononBandStructureDoc(
        qpoints=bands.qpoints.tolist(),
        distances=bands.distances.tolist(),
        frequencies_thz=bands.frequencies_thz.tolist(),
        labels=bands.labels,
        segment_ends=[list(e) for e in bands.segment_ends],
    )


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _optional(values: np.ndarray | None, iq: int, band: int) -> float | None:
    return None if values is None else _finite(float(values[iq, band]))


def _mode_docs(nmd: NormalModeDecomposition, settings: NMDSettings) -> list[RenormalisedModeDoc]:
    verdict = dynamic_stability(
        nmd,
        settings.stability_threshold_thz,
        imaginary_tolerance_thz=settings.imaginary_tolerance_thz,
        order_parameter_sigma=settings.order_parameter_sigma,
    )
    # the translations at Γ are not phonons: their 0 K value is numerical noise
    imaginary = ~nmd.acoustic & (nmd.harmonic_frequencies_thz < -settings.imaginary_tolerance_thz)
    amplitudes = nmd.amplitudes
    modes = []
    for iq, q in enumerate(nmd.qpoints):
        for band, fit in enumerate(nmd.fits[iq]):
            optical = fit is not None
            modes.append(
                RenormalisedModeDoc(
                    qpoint=[float(c) for c in q],
                    band_index=band,
                    harmonic_frequency_thz=float(nmd.harmonic_frequencies_thz[iq, band]),
                    frequency_thz=float(nmd.frequencies_thz[iq, band]),
                    linewidth_thz=_finite(nmd.linewidths_thz[iq, band]) if optical else None,
                    frequency_stderr_thz=_finite(fit.center_stderr_thz) if fit else None,
                    linewidth_stderr_thz=_finite(fit.fwhm_stderr_thz) if fit else None,
                    mean_square_velocity=fit.area if fit else None,
                    order_parameter=_optional(
                        None if amplitudes is None else np.abs(amplitudes.mean), iq, band
                    ),
                    order_parameter_significance=_optional(
                        None if amplitudes is None else amplitudes.significance, iq, band
                    ),
                    equipartition_frequency_thz=_optional(
                        None if amplitudes is None else amplitudes.equipartition_frequencies_thz,
                        iq,
                        band,
                    )
                    if optical
                    else None,
                    soft_at_0k=bool(verdict.soft_at_0k[iq, band]),
                    acoustic=bool(nmd.acoustic[iq, band]),
                    fit_converged=True if fit is None else fit.converged,
                    imaginary_at_0k=bool(imaginary[iq, band]),
                    stable_at_t=bool(verdict.stable[iq, band]),
                    stabilised_at_t=bool(imaginary[iq, band] and verdict.stable[iq, band]),
                )
            )
    return modes


def _dispersion_kind(bands: BandStructure, qpoints: np.ndarray) -> str:
    """'commensurate' if every path point is a measured q-point (mod G), else 'interpolated'."""
    diff = bands.qpoints[:, None, :] - np.asarray(qpoints)[None, :, :]
    on_grid = np.all(np.abs(diff - np.rint(diff)) < 1e-6, axis=-1).any(axis=1)
    return "commensurate" if bool(on_grid.all()) else "interpolated"


def finite_temperature_document(
    nmd: NormalModeDecomposition,
    bands_0: BandStructure,
    bands_t: BandStructure,
    *,
    phonon_id: str,
    harmonic_doc: dict[str, Any],
    trajectory_doc: dict[str, Any],
    settings: NMDSettings,
    blob_refs: dict[str, dict[str, Any]],
    provenance: Provenance | None = None,
) -> FiniteTemperaturePhononDoc:
    """Build the :class:`FiniteTemperaturePhononDoc` of a finished decomposition."""
    modes = _mode_docs(nmd, settings)
    optical = [m for m in modes if not m.acoustic]
    return FiniteTemperaturePhononDoc(
        phonon_id=phonon_id,
        harmonic_phonon_id=harmonic_doc["phonon_id"],
        trajectory_id=trajectory_doc["trajectory_id"],
        temperature_k=trajectory_doc["temperature_k"],
        model_id=trajectory_doc.get("model_id"),
        structure_id=harmonic_doc.get("structure_id"),
        formula=harmonic_doc["formula"],
        structure=harmonic_doc["structure"],
        n_atoms=harmonic_doc["n_atoms"],
        supercell_matrix=nmd.mapping.supercell_matrix.tolist(),
        masses_amu=harmonic_doc["masses_amu"],
        force_constants=blob_refs["force_constants"],
        spectra=blob_refs.get("spectra"),
        dispersion_png=blob_refs.get("dispersion_png"),
        n_frames_used=nmd.n_frames_used,
        frame_interval_fs=nmd.frame_interval_fs,
        resolution_thz=nmd.resolution_thz,
        thermostat_width_thz=nmd.thermostat_width_thz,
        stability_basis="peak only"
        if nmd.amplitudes is None
        else ("order parameter + equipartition + peak"),
        dispersion_kind=_dispersion_kind(bands_t, nmd.qpoints),
        n_commensurate_qpoints=len(nmd.qpoints),
        nyquist_thz=nmd.nyquist_thz,
        modes=modes,
        dynamically_stable_at_T=all(m.stable_at_t for m in modes),
        stabilised_modes=sum(m.stabilised_at_t for m in modes),
        unstable_modes=sum(not m.stable_at_t for m in modes),
        min_frequency_thz=min((m.frequency_thz for m in optical), default=0.0),
        min_interpolated_frequency_thz=float(bands_t.frequencies_thz.min()),
        band_structure=_band_doc(bands_t),
        harmonic_band_structure=_band_doc(bands_0),
        settings=settings,
        provenance=provenance or make_provenance(),
    )
