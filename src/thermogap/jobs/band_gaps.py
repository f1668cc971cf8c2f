"""Jobs that turn relaxed structures and MD trajectories into band-gap results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from jobflow import Maker
from pymatgen.core import Structure

from thermogap.execution import tg_job
from thermogap.md.statistics import MIN_INDEPENDENT_SAMPLES
from thermogap.results.band_gaps import boltzmann_weights, combine_configurations, snapshot_gaps
from thermogap.schemas.band_gaps import BandGapDoc
from thermogap.schemas.base import make_provenance
from thermogap.schemas.md import TrajectoryDoc
from thermogap.store import collections as names
from thermogap.structures import content_id

BAND_GAPS_COLLECTION = names.BAND_GAPS


@tg_job
def static_band_gap(structure: Structure, gnn_model_id: str) -> float:
    """GNN band gap of one (relaxed) structure, eV."""
    from thermogap.gnn.bundle import load_gnn
    from thermogap.gnn.inference import predict
    from thermogap.store import current_db

    if isinstance(structure, dict):
        structure = Structure.from_dict(structure)
    return float(predict(load_gnn(current_db(), gnn_model_id), [structure])[0])


@tg_job
def trajectory_band_gaps(
    trajectory: TrajectoryDoc, gnn_model_id: str, equilibration_fraction: float | None = None
) -> dict[str, Any]:
    """GNN gaps of every stored frame, then their mean over all equilibrated frames.

    ``equilibration_fraction`` None detects the equilibration (pymbar); a number discards
    that fraction of the frames.  The error uses the statistical inefficiency of the gaps.

    Returns
    -------
    dict
        ``mean_ev``, ``stderr_ev``, ``std_ev``, ``n_snapshots`` (frames averaged),
        ``n_independent``, ``correlation_time_fs``, ``snapshot_spacing_fs`` (``g`` in fs),
        ``equilibration_fs``, ``equilibration`` and ``trajectory_id``.
    """
    from thermogap.gnn.bundle import load_gnn
    from thermogap.gnn.inference import predict_frames
    from thermogap.md.langevin import load_trajectory
    from thermogap.store import current_db

    db = current_db()
    trajectory = TrajectoryDoc.model_validate(trajectory)
    loaded = load_trajectory(db, trajectory.trajectory_id)
    start = Structure.from_dict(loaded.doc.structure)
    frame_gaps = predict_frames(
        load_gnn(db, gnn_model_id),
        start.lattice.matrix,
        loaded.arrays["positions_ang"],
        np.array(start.atomic_numbers),
    )
    return gap_series_summary(
        frame_gaps,
        trajectory.trajectory_id,
        trajectory.timestep_fs * trajectory.save_interval_steps,
        equilibration_fraction,
    )


@tg_job
def trajectories_band_gaps(
    trajectories: list[TrajectoryDoc],
    gnn_model_id: str,
    equilibration_fraction: float | None = None,
) -> list[dict[str, Any]]:
    """GNN gaps of the frames of many trajectories in one batched inference, then summaries.

    Each trajectory gets the same summary as :func:`trajectory_band_gaps`. The model is
    loaded once and the frames of all trajectories go through it together
    (:func:`thermogap.gnn.inference.predict_trajectories`); the statistics stay per trajectory.
    """
    from thermogap.gnn.bundle import load_gnn
    from thermogap.gnn.inference import predict_trajectories
    from thermogap.md.langevin import load_trajectory
    from thermogap.store import current_db

    db = current_db()
    docs = [TrajectoryDoc.model_validate(t) for t in trajectories]
    inputs = []
    for doc in docs:
        loaded = load_trajectory(db, doc.trajectory_id)
        start = Structure.from_dict(loaded.doc.structure)
        inputs.append(
            (
                start.lattice.matrix,
                loaded.arrays["positions_ang"],
                np.array(start.atomic_numbers),
            )
        )
    gaps = predict_trajectories(load_gnn(db, gnn_model_id), inputs)
    return [
        gap_series_summary(
            series,
            doc.trajectory_id,
            doc.timestep_fs * doc.save_interval_steps,
            equilibration_fraction,
        )
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
    }


def gnn_test_error(db: Any, gnn_model_id: str) -> float | None:
    """Test-set MAE of a stored GNN, eV (None if not recorded)."""
    doc = db.query_one(names.MODELS, {"model_id": gnn_model_id}, properties=["metrics"]) or {}
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
    >>> md_job = LangevinMDMaker().make(load_structure("Ag3SBr"), "mace-...", temperature_k=300)
    >>> snapshot_job = trajectory_band_gaps(md_job.output, "gnn-...")
    >>> job = BandGapResultMaker(level="chgnet-ipea1-xtb").make(
    ...     0.5, 300.0, [1.2], [snapshot_job.output], [-120.0], [1], "gnn-...")
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
        gnn_model_id: str,
        mlip_model_id: str | None = None,
        structure_ids: list[str] | None = None,
        formula: str = "",
        reference: dict[str, Any] | None = None,
    ) -> BandGapDoc:
        """Build, store and return the result of (x, T); ``snapshots`` is None at 0 K.

        ``reference`` (a self-check output, :mod:`thermogap.jobs.self_check`) adds the
        reference level's directly computed gap to the document.
        """
        from jobflow import CURRENT_JOB

        from thermogap.store import current_db

        upstream = dict(CURRENT_JOB.job.metadata.get("upstream", {})) if CURRENT_JOB.job else {}
        db = current_db()
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
        model_error = gnn_test_error(db, gnn_model_id)
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
                    [s["trajectory_id"], s.get("n_frames"), s.get("equilibration")]
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
        db.upsert(BAND_GAPS_COLLECTION, [doc.model_dump(mode="json")], key="result_id")
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
