"""Jobs that turn relaxed structures and MD trajectories into band-gap results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from jobflow import Maker
from pymatgen.core import Structure

from thermogap.errors import InputError
from thermogap.execution import tg_job
from thermogap.md.statistics import MIN_INDEPENDENT_SAMPLES
from thermogap.results.band_gaps import boltzmann_weights, combine_configurations, snapshot_gaps
from thermogap.schemas.band_gaps import BandGapDoc
from thermogap.schemas.base import make_provenance
from thermogap.schemas.md import TrajectoryDoc
from thermogap.store import collections as names
from thermogap.structures import content_id
from thermogap.structures.identity import as_structure

BAND_GAPS_COLLECTION = names.BAND_GAPS


def _model_id(model: Any) -> str:
    doc = model.model_dump(mode="json") if hasattr(model, "model_dump") else model
    if not isinstance(doc, dict) or "model_id" not in doc:
        raise InputError(
            f"expected a model document (the training job's output, or a stored model passed "
            f"through document_with_artifacts), got {str(model)[:80]!r}"
        )
    return str(doc["model_id"])


@tg_job
def static_band_gap(structure: Structure, gnn: Any) -> float:
    """GNN band gap of one (relaxed) structure, eV; ``gnn`` is the GNN's model document."""
    from thermogap.gnn.bundle import gnn_from_model
    from thermogap.gnn.inference import predict

    structure = as_structure(structure)
    return float(predict(gnn_from_model(gnn), [structure])[0])


def _frames_input(trajectory: Any) -> tuple[TrajectoryDoc, tuple[Any, Any, Any]]:
    """Read a trajectory document's frames: (doc, (lattice, positions, atomic numbers))."""
    from thermogap.md.langevin import trajectory_from_doc

    loaded = trajectory_from_doc(trajectory)
    start = Structure.from_dict(loaded.doc.structure)
    frames = (start.lattice.matrix, loaded.arrays["positions_ang"], np.array(start.atomic_numbers))
    return loaded.doc, frames


@tg_job
def trajectory_band_gaps(
    trajectory: TrajectoryDoc, gnn: Any, equilibration_fraction: float | None = None
) -> dict[str, Any]:
    """GNN gaps of every stored frame, then their mean over all equilibrated frames.

    ``trajectory`` is the MD job's :class:`TrajectoryDoc` (carrying its chunks), ``gnn`` the
    GNN's model document. ``equilibration_fraction`` None detects the equilibration
    (pymbar); a number discards that fraction of the frames. The error uses the statistical
    inefficiency of the gaps.

    Returns
    -------
    dict
        ``mean_ev``, ``stderr_ev``, ``std_ev``, ``n_snapshots`` (frames averaged),
        ``n_independent``, ``correlation_time_fs``, ``snapshot_spacing_fs`` (``g`` in fs),
        ``equilibration_fs``, ``equilibration``, ``equilibration_fraction``, ``n_frames``,
        ``n_steps`` (MD length), ``trajectory_id`` and ``gnn_model_id``.
    """
    from thermogap.gnn.bundle import gnn_from_model
    from thermogap.gnn.inference import predict_frames

    doc, frames = _frames_input(trajectory)
    frame_gaps = predict_frames(gnn_from_model(gnn), *frames)
    return gap_series_summary(
        frame_gaps,
        doc.trajectory_id,
        doc.timestep_fs * doc.save_interval_steps,
        equilibration_fraction,
    ) | {"n_steps": doc.n_steps_done, "gnn_model_id": _model_id(gnn)}


@tg_job
def trajectories_band_gaps(
    trajectories: list[TrajectoryDoc],
    gnn: Any,
    equilibration_fraction: float | None = None,
) -> list[dict[str, Any]]:
    """GNN gaps of the frames of many trajectories in one batched inference, then summaries.

    Each trajectory gets the same summary as :func:`trajectory_band_gaps`. The model is
    loaded once from its document ``gnn`` and the frames of all trajectories go through it
    together (:func:`thermogap.gnn.inference.predict_trajectories`); the statistics stay per
    trajectory.
    """
    from thermogap.gnn.bundle import gnn_from_model
    from thermogap.gnn.inference import predict_trajectories

    docs, inputs = [], []
    for trajectory in trajectories:
        doc, frames = _frames_input(trajectory)
        docs.append(doc)
        inputs.append(frames)
    gaps = predict_trajectories(gnn_from_model(gnn), inputs)
    model_id = _model_id(gnn)
    return [
        gap_series_summary(
            series,
            doc.trajectory_id,
            doc.timestep_fs * doc.save_interval_steps,
            equilibration_fraction,
        )
        | {"n_steps": doc.n_steps_done, "gnn_model_id": model_id}
        for series, doc in zip(gaps, docs, strict=True)
    ]


def gap_series_summary(
    frame_gaps_ev: np.ndarray,
    trajectory_id: str,
    frame_fs: float,
    equilibration_fraction: float | None = None,
) -> dict[str, Any]:
    """Summary of one trajectory's gap series (see :func:`trajectory_band_gaps`)."""
    stats = snapshot_gaps(frame_gaps_ev, equilibration_fraction=equilibration_fraction)
    return {
        "trajectory_id": trajectory_id,
        "n_frames": len(frame_gaps_ev),
        "mean_ev": stats.mean_ev,
        "stderr_ev": stats.stderr_ev,
        "std_ev": stats.std_ev,
        "n_snapshots": len(stats.gaps_ev),
        "n_independent": stats.n_independent,
        "correlation_time_fs": stats.tau_frames * frame_fs,
        "snapshot_spacing_fs": stats.spacing_frames * frame_fs,
        "equilibration_fs": stats.skip_frames * frame_fs,
        "equilibration": "detected" if equilibration_fraction is None else "fixed fraction",
        "equilibration_fraction": equilibration_fraction,
    }


def gnn_test_error(gnn: Any) -> float | None:
    """Test-set MAE recorded in a GNN's model document, eV (None if not recorded)."""
    doc = gnn.model_dump(mode="json") if hasattr(gnn, "model_dump") else dict(gnn)
    mae = ((doc.get("metrics") or {}).get("test") or {}).get("mae")
    return None if mae is None else float(mae)


@dataclass
class BandGapResultMaker(Maker):
    """Combine the gaps of one composition at one temperature into a ``band_gaps`` document.

    With one configuration the result is its frame average; with several (Boltzmann
    selection) the configurations are weighted by m_i exp(-(E_i - E_min)/k_B T) and
    ΔEg(T) = Σ w_i (<Eg>_i(T) - Eg_i(0)), with an error that includes the mixture variance
    (:func:`thermogap.results.band_gaps.combine_configurations`).  The GNN's test-set MAE is
    reported as ``model_error_ev``, apart from the statistical ``stderr_ev``.

    Parameters
    ----------
    name
        Job name.
    family
        Solid-solution family stored with the result.
    level
        Level of theory the GNN gaps reproduce.
    levels_of_theory
        Every level the result depends on.
    selection
        ``"lowest"`` or ``"boltzmann"``.

    Notes
    -----
    The job's ``metadata["upstream"]`` (uuids of upstream jobs by stage) is recorded in the
    document; it is metadata so that it does not change the job's cache key.

    Examples
    --------
    >>> from thermogap.jobs.md import LangevinMDMaker
    >>> from thermogap.structures import load_structure
    >>> structure = load_structure("Ag3SBr")
    >>> md_job = LangevinMDMaker().make(structure, mlip_doc, 300.0)  # doctest: +SKIP
    >>> snapshot_job = trajectory_band_gaps(md_job.output, gnn_doc)  # doctest: +SKIP
    >>> job = BandGapResultMaker(level="chgnet-ipea1-xtb").make(  # doctest: +SKIP
    ...     0.5, 300.0, [1.2], [snapshot_job.output], [-120.0], [1], gnn_doc, mlip_doc)
    """

    name: str = "band gap result"
    family: str = "Ag3SBr_xI_(1-x)"
    level: str = "hsesol"
    levels_of_theory: list[str] = field(default_factory=list)
    selection: str = "lowest"

    @tg_job
    def make(
        self,
        x: float,
        temperature_k: float,
        static_gaps_ev: list[float],
        snapshots: list[dict[str, Any]] | None,
        energies_ev: list[float],
        multiplicities: list[int],
        gnn: Any,
        mlip: Any = None,
        structure_ids: list[str] | None = None,
        formula: str = "",
        reference: dict[str, Any] | None = None,
    ) -> BandGapDoc:
        """Build and return the result of (x, T); ``snapshots`` is None at 0 K.

        ``gnn`` is the GNN's model document (its id and test-set MAE are recorded), ``mlip``
        the MLIP's model document (or an engine name, or None); only their ids are kept.
        ``reference`` (a self-check output, :mod:`thermogap.jobs.self_check`) adds the
        reference level's directly computed gap to the document. Nothing is written: the
        ``band_gaps`` collection is built from this job's output (key ``result_id``).
        """
        from jobflow import CURRENT_JOB

        upstream = dict(CURRENT_JOB.job.metadata.get("upstream", {})) if CURRENT_JOB.job else {}
        gnn_model_id = _model_id(gnn)
        mlip_model_id = mlip if mlip is None or isinstance(mlip, str) else _model_id(mlip)
        w0 = boltzmann_weights(energies_ev, multiplicities, 0.0)
        static = np.asarray(static_gaps_ev, dtype=float)
        weights = boltzmann_weights(energies_ev, multiplicities, temperature_k)
        stats: dict[str, Any] = {"equilibration": "detected"}
        if snapshots:
            combined = combine_configurations(
                means_ev=[s["mean_ev"] for s in snapshots],
                stderrs_ev=[s["stderr_ev"] for s in snapshots],
                stds_ev=[s["std_ev"] for s in snapshots],
                n_independent=[s.get("n_independent") or s["n_snapshots"] for s in snapshots],
                gaps_0k_ev=static[: len(snapshots)],
                weights=weights[: len(snapshots)] / weights[: len(snapshots)].sum(),
            )
            mean, stderr, std = combined.band_gap_ev, combined.stderr_ev, combined.std_ev
            gap_0k, delta = combined.band_gap_0k_ev, combined.delta_gap_ev
            n = sum(int(s["n_snapshots"]) for s in snapshots)
            lead = snapshots[int(np.argmax(weights))]
            timing = {k: lead[k] for k in ("correlation_time_fs", "snapshot_spacing_fs")}
            timing["equilibration_fs"] = lead["equilibration_fs"]
            trajectory_ids = [s["trajectory_id"] for s in snapshots]
            stats = {
                "n_independent": combined.n_independent,
                "few_independent_samples": combined.n_independent < MIN_INDEPENDENT_SAMPLES,
                "equilibration": lead.get("equilibration", "detected"),
            }
        else:
            gap_0k = float(w0 @ static)
            mean, stderr, std, n, timing, trajectory_ids = gap_0k, 0.0, 0.0, 1, {}, []
            delta = 0.0
        model_error = gnn_test_error(gnn)
        doc = BandGapDoc(
            # everything that changes the result is in its id, so a re-run with other
            # settings (models, structures, MD length or dynamics) adds a result, never
            # overwrites one; the same study re-run gives the same id
            result_id=content_id(
                family=self.family,
                x=round(x, 9),
                temperature_k=round(temperature_k, 6),
                level=self.level,
                selection=self.selection,
                gnn_model_id=gnn_model_id,
                mlip_model_id=mlip_model_id,
                structure_ids=list(structure_ids or []),
                trajectories=[
                    [
                        s["trajectory_id"],
                        s.get("n_frames"),
                        s.get("n_steps"),
                        s.get("equilibration"),
                        s.get("equilibration_fraction"),
                    ]
                    for s in snapshots or []
                ],
            ),
            family=self.family,
            formula=formula,
            x=x,
            temperature_k=temperature_k,
            level=self.level,
            levels_of_theory=list(self.levels_of_theory),
            selection=self.selection,
            band_gap_ev=mean,
            stderr_ev=stderr,
            std_ev=std,
            band_gap_0k_ev=gap_0k,
            delta_gap_ev=delta,
            relative_change=delta / gap_0k if gap_0k else 0.0,
            model_error_ev=model_error,
            model_error_kind=None if model_error is None else "gnn test-set MAE",
            n_snapshots=n,
            gnn_model_id=gnn_model_id,
            mlip_model_id=mlip_model_id,
            trajectory_ids=trajectory_ids,
            structure_ids=list(structure_ids or []),
            weights=weights.tolist() if len(weights) > 1 else [],
            upstream=upstream,
            provenance=make_provenance(level=self.level, model_id=gnn_model_id),
            **timing,
            **stats,
            **_reference_fields(reference),
        )
        return doc


def _reference_fields(reference: dict[str, Any] | None) -> dict[str, Any]:
    """BandGapDoc fields of a self-check output (static at 0 K, snapshots at T > 0)."""
    if not reference:
        return {}
    fields = {
        "reference_level": reference["reference_level"],
        "reference_band_gap_0k_ev": reference["reference_0k_ev"],
    }
    if "reference_mean_ev" in reference:
        return fields | {
            "reference_band_gap_ev": reference["reference_mean_ev"],
            "reference_stderr_ev": reference["reference_stderr_ev"],
            "reference_delta_gap_ev": reference["reference_delta_ev"],
            "gnn_reference_mae_ev": reference["mae_ev"],
            "n_reference_snapshots": reference["n_snapshots"],
        }
    return fields | {
        "reference_band_gap_ev": reference["reference_0k_ev"],
        "reference_delta_gap_ev": 0.0,
        "gnn_reference_mae_ev": abs(reference["gnn_0k_ev"] - reference["reference_0k_ev"]),
        "n_reference_snapshots": 1,
    }
