"""A re-run with other settings adds band-gap results; the same run replaces its own."""

import pytest
from jobflow import Flow

from thermogap.execution import run_flow
from thermogap.jobs.band_gaps import BandGapResultMaker


def _snapshot(n_frames: int, mean: float) -> dict:
    return {
        "trajectory_id": "md-abc",
        "n_frames": n_frames,
        "mean_ev": mean,
        "stderr_ev": 0.01,
        "std_ev": 0.05,
        "n_snapshots": n_frames - 20,
        "n_independent": 60,
        "correlation_time_fs": 10.0,
        "snapshot_spacing_fs": 20.0,
        "equilibration_fs": 100.0,
        "equilibration": "detected",
    }


#: model documents as the training jobs return them (only their ids and metrics are read here)
GNN = {"model_id": "gnn-x", "metrics": {"test": {"n": 10, "mae": 0.05}}}
MLIP = {"model_id": "mace-y", "model_blob": None}


def _result(n_frames: int, mean: float, gnn: dict = GNN):
    return BandGapResultMaker(level="chgnet-ipea1-xtb").make(
        0.5, 300.0, [1.2], [_snapshot(n_frames, mean)], [-120.0], [1], gnn, MLIP, ["s1"]
    )


def test_other_md_length_adds_a_result_and_the_same_run_replaces_its_own(db):
    run_flow(Flow([_result(200, 1.10)]), db)  # 1 ps of MD
    run_flow(Flow([_result(400, 1.08)]), db)  # the same study with 2 ps of MD
    docs = db.query("band_gaps", {"x": 0.5, "temperature_k": 300.0})
    assert sorted(d["band_gap_ev"] for d in docs) == [1.08, 1.10]  # both kept
    run_flow(Flow([_result(400, 1.08)]), db)  # the 2 ps study again: nothing new
    assert db.count("band_gaps", {"x": 0.5, "temperature_k": 300.0}) == 2
    # another GNN adds a result too; the ids and the GNN's test MAE are recorded
    run_flow(Flow([_result(400, 1.08, GNN | {"model_id": "gnn-z"})]), db)
    docs = db.query("band_gaps", {"x": 0.5, "temperature_k": 300.0})
    assert sorted(d["gnn_model_id"] for d in docs) == ["gnn-x", "gnn-x", "gnn-z"]
    assert {d["mlip_model_id"] for d in docs} == {"mace-y"}
    assert {d["model_error_ev"] for d in docs} == {0.05}


def test_the_job_writes_nothing_and_runs_without_a_database():
    from jobflow import JobStore, run_locally
    from maggma.stores import MemoryStore

    job = _result(200, 1.10)
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    responses = run_locally(Flow([job]), store=store, ensure_success=True)
    doc = responses[job.uuid][1].output
    assert doc.band_gap_ev == 1.10 and doc.delta_gap_ev == pytest.approx(1.10 - 1.2)
    assert store.docs_store.count() == 1  # its own output only
