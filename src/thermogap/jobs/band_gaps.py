"""Jobs that turn relaxed structures and MD trajectories into band-gap results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from jobflow import Maker
from pymatgen.core import Structure

from thermogap.execution import tg_job
from thermogap.results.band_gaps import boltzmann_weights, snapshot_gaps, weighted_gap
from thermogap.schemas.band_gaps import BandGapDoc
from thermogap.schemas.base import make_provenance
from thermogap.schemas.md import TrajectoryDoc
from thermogap.structures import content_id

BAND_GAPS_COLLECTION = "band_gaps"


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
    trajectory: TrajectoryDoc, gnn_model_id: str, equilibration_fraction: float = 0.2
) -> dict[str, Any]:
    """GNN gaps of every stored frame, then the mean over decorrelated snapshots.

    Returns
    -------
    dict
        ``mean_ev``, ``stderr_ev``, ``std_ev``, ``n_snapshots``, ``correlation_time_fs``,
        ``snapshot_spacing_fs``, ``equilibration_fs`` and ``trajectory_id``.
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
    stats = snapshot_gaps(frame_gaps, equilibration_fraction=equilibration_fraction)
    frame_fs = trajectory.timestep_fs * trajectory.save_interval_steps
    return {
        "trajectory_id": trajectory.trajectory_id,
        "mean_ev": stats.mean_ev,
        "stderr_ev": stats.stderr_ev,
        "std_ev": stats.std_ev,
        "n_snapshots": len(stats.gaps_ev),
        "correlation_time_fs": stats.tau_frames * frame_fs,
        "snapshot_spacing_fs": stats.spacing_frames * frame_fs,
        "equilibration_fs": stats.skip_frames * frame_fs,
    }


@dataclass
class BandGapResultMaker(Maker):
    """Combine the gaps of one composition at one temperature into a ``band_gaps`` document.

    With one configuration the result is its snapshot average; with several (Boltzmann
    selection) the configurations are weighted by m_i exp(-(E_i - E_min)/k_B T).

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

    The job's ``metadata["upstream"]`` (uuids of upstream jobs by stage) is recorded in the
    document; it is metadata so that it does not change the job's cache key.

    Examples
    --------
    >>> job = BandGapResultMaker(level="chgnet-ipea1-xtb").make(  # doctest: +SKIP
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
        w0 = boltzmann_weights(energies_ev, multiplicities, 0.0)
        gap_0k = float(w0 @ np.asarray(static_gaps_ev, dtype=float))
        weights = boltzmann_weights(energies_ev, multiplicities, temperature_k)
        if snapshots:
            mean, stderr = weighted_gap(
                [s["mean_ev"] for s in snapshots], [s["stderr_ev"] for s in snapshots], weights
            )
            std = float(weights @ np.array([s["std_ev"] for s in snapshots]))
            n = sum(int(s["n_snapshots"]) for s in snapshots)
            lead = snapshots[int(np.argmax(weights))]
            timing = {k: lead[k] for k in ("correlation_time_fs", "snapshot_spacing_fs")}
            timing["equilibration_fs"] = lead["equilibration_fs"]
            trajectory_ids = [s["trajectory_id"] for s in snapshots]
        else:
            mean, stderr, std, n, timing, trajectory_ids = gap_0k, 0.0, 0.0, 1, {}, []
        doc = BandGapDoc(
            result_id=content_id(
                family=self.family,
                x=round(x, 9),
                temperature_k=round(temperature_k, 6),
                level=self.level,
                selection=self.selection,
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
            delta_gap_ev=mean - gap_0k,
            relative_change=(mean - gap_0k) / gap_0k if gap_0k else 0.0,
            n_snapshots=n,
            gnn_model_id=gnn_model_id,
            mlip_model_id=mlip_model_id,
            trajectory_ids=trajectory_ids,
            structure_ids=list(structure_ids or []),
            weights=weights.tolist() if len(weights) > 1 else [],
            upstream=upstream,
            provenance=make_provenance(level=self.level, model_id=gnn_model_id),
            **timing,
            **_reference_fields(reference),
        )
        current_db().upsert(BAND_GAPS_COLLECTION, [doc.model_dump(mode="json")], key="result_id")
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
