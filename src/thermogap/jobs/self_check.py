"""Jobs of the self-check: the reference level's gap on the study's own structures and MD.

They take the relaxed 0 K structures and the MD trajectory documents by reference, compute
the reference level's gap directly (embedded levels only: an xTB Hamiltonian in-process) and
the GNN's on the same structures, and return plain dictionaries that the ``band_gaps``
documents and the study summary carry (see :mod:`thermogap.results.self_check`).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from pymatgen.core import Structure

from thermogap.execution import tg_job
from thermogap.results.self_check import compare_snapshot_gaps, self_check_verdict, snapshot_sample
from thermogap.structures.identity import as_structure

__all__ = [
    "reference_gaps",
    "reference_snapshot_check",
    "reference_static_check",
    "self_check_summary",
]


def reference_gaps(structures: list[Structure], level: str) -> np.ndarray:
    """Band gaps of ``structures`` at an embedded level (its xTB Hamiltonian, Γ point), eV."""
    from thermogap.jobs.electron_phonon import embedded_gap_fn

    return np.asarray(embedded_gap_fn(level)(structures))


def _gnn(gnn: Any) -> tuple[Any, float | None]:
    """Return the GNN bundle of a model document and its recorded test-set MAE (eV)."""
    from thermogap.gnn.bundle import gnn_from_model
    from thermogap.jobs.band_gaps import gnn_test_error

    return gnn_from_model(gnn), gnn_test_error(gnn)


@tg_job
def reference_static_check(structure: Structure, gnn: Any, level: str, x: float) -> dict[str, Any]:
    """Compute reference and GNN gap of one relaxed 0 K structure; list shells on the cutoff.

    ``gnn`` is the GNN's model document (the training job's output).
    """
    from thermogap.gnn.graphs import warn_if_shells_near_cutoff
    from thermogap.gnn.inference import predict

    structure = as_structure(structure)
    bundle, test_mae = _gnn(gnn)
    reference = float(reference_gaps([structure], level)[0])
    gnn_gap = float(predict(bundle, [structure])[0])
    shells = warn_if_shells_near_cutoff(structure, bundle.graph_settings)
    return {
        "x": float(x),
        "temperature_k": 0.0,
        "reference_level": level,
        "reference_0k_ev": reference,
        "gnn_0k_ev": gnn_gap,
        "test_mae_ev": test_mae,
        "shells_near_cutoff": [list(s) for s in shells],
    }


@tg_job
def reference_snapshot_check(
    trajectory: Any,
    gnn: Any,
    static: dict[str, Any],
    temperature_k: float,
    n_snapshots: int = 20,
    equilibration_fraction: float | None = 0.2,
) -> dict[str, Any]:
    """Compute reference and GNN gaps on ``n_snapshots`` post-equilibration MD frames.

    ``trajectory`` is the MD job's :class:`~thermogap.schemas.md.TrajectoryDoc` (carrying
    its chunks), ``gnn`` the GNN's model document.

    ``equilibration_fraction`` None (the Eg(T) average detects its own equilibration) draws
    the frames after the first 20 %.
    """
    from thermogap.gnn.inference import predict
    from thermogap.md.langevin import trajectory_from_doc

    loaded = trajectory_from_doc(trajectory)
    start = Structure.from_dict(loaded.doc.structure)
    positions = loaded.arrays["positions_ang"]
    skip = 0.2 if equilibration_fraction is None else equilibration_fraction
    chosen = snapshot_sample(len(positions), n_snapshots, skip)
    frames = [
        Structure(start.lattice, start.species, positions[i], coords_are_cartesian=True)
        for i in chosen
    ]
    bundle, test_mae = _gnn(gnn)
    level = static["reference_level"]
    comparison = compare_snapshot_gaps(
        reference_gaps(frames, level),
        predict(bundle, frames),
        static["reference_0k_ev"],
        static["gnn_0k_ev"],
        test_mae,
    )
    return comparison.as_dict() | {
        "x": static["x"],
        "temperature_k": float(temperature_k),
        "reference_level": level,
        "trajectory_id": loaded.doc.trajectory_id,
        "frames": chosen.tolist(),
    }


@tg_job
def self_check_summary(
    static_checks: list[dict[str, Any]], snapshot_checks: list[dict[str, Any]], level: str
) -> dict[str, Any]:
    """Return the study's verdict and the one line ``thermogap demo`` prints."""
    verdict = self_check_verdict(
        snapshot_checks,
        {c["x"]: c["reference_0k_ev"] for c in static_checks},
        {c["x"]: c["gnn_0k_ev"] for c in static_checks},
        level,
    )
    verdict["static"] = [dict(c) for c in static_checks]
    print(verdict["line"], file=sys.stderr)  # on screen as soon as known (stdout: --json)
    return verdict
