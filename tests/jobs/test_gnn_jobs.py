"""GNN Makers and flows run with jobflow against an embedded results database."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monty.json import MontyDecoder
from pymatgen.core import Structure

from thermogap.errors import InputError
from thermogap.execution import run_flow
from thermogap.flows.gnn import DatasetStudyFlowMaker, GNNSearchFlowMaker, GNNTransferFlowMaker
from thermogap.gnn.bundle import load_gnn
from thermogap.gnn.inference import predict
from thermogap.gnn.search import SearchGrid
from thermogap.jobs.gnn import GNNDatasetMaker, GNNExplainMaker, GNNPredictMaker, GNNTrainMaker
from thermogap.schemas.gnn import (
    GNNTrainingSettings,
)
from thermogap.structures.prototypes import antiperovskite

torch.set_num_threads(1)

FAST = GNNTrainingSettings(
    hidden_channels=8, dropout=0.0, learning_rate=1e-2, batch_size=16, max_epochs=4
)


def _cells(n: int, seed: int, rattle: float) -> list[Structure]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        cell = antiperovskite(rng.uniform(4.8, 5.0), x="Br" if rng.random() < 0.5 else "I")
        out.append(
            Structure(
                cell.lattice,
                cell.species,
                cell.cart_coords + rng.normal(0, rattle, (5, 3)),
                coords_are_cartesian=True,
            )
        )
    return out


def _gap(structure: Structure) -> float:
    """Synthetic gap (eV): halide shift minus Ag–S stretching, from pymatgen distances."""
    dm = structure.distance_matrix
    sym = np.array([s.specie.symbol for s in structure])
    d_ag_s = dm[np.ix_(sym == "Ag", sym == "S")].min(axis=1).mean()
    return 1.0 + 0.5 * ("Br" in sym) - 2.0 * (d_ag_s - 2.45)


def _output(db, uuid: str):
    store = db.jobstore()
    store.connect()
    try:
        return MontyDecoder().process_decoded(store.get_output(uuid))
    finally:
        store.close()


@pytest.fixture
def labelled_db(db):
    docs = []
    for scheme, seed, rattle in (("phonon", 1, 0.05), ("random", 2, 0.15)):
        for k, s in enumerate(_cells(30, seed, rattle)):
            for level, shift in (("pbesol", 0.0), ("hsesol", 0.9)):
                docs.append(
                    {
                        "config_id": f"{scheme}-{k}",
                        "level": level,
                        "status": "ok",
                        "scheme": scheme,
                        "structure": s.as_dict(),
                        "band_gap_ev": _gap(s) * (1.3 if shift else 1.0) + shift,
                        "vbm_ev": 0.01 * k,
                        "energy_per_atom_ev": -3.0 - 0.001 * k,
                        "stress_ev_per_ang3": np.diag([0.001 * k, 0.002, -0.003]).tolist(),
                    }
                )
    docs.append(
        {
            "config_id": "failed-0",
            "level": "pbesol",
            "status": "failed",
            "structure": docs[0]["structure"],
        }
    )
    db.upsert("labels", docs, key=["config_id", "level"])
    return db


def test_search_flow_ranks_points_and_is_resumable(labelled_db):
    grid = SearchGrid(
        architectures=("benitez2026", "conv3_mean_relu"),
        learning_rates=(1e-2,),
        hidden_channels=(8,),
        dropouts=(0.0,),
    )
    maker = GNNSearchFlowMaker(grid=grid, settings=FAST)
    flow = maker.make(level="pbesol", criteria={"scheme": "phonon"})
    assert len(flow.jobs) == 1 + 2 + 1
    summary = run_flow(flow, labelled_db)
    assert summary.n_failed == 0, summary.errors
    doc = _output(labelled_db, flow.jobs[-1].uuid)
    assert doc.n_points == 2 and doc.best_model_id == doc.ranking[0].model_id
    r2 = [p.validation.r2 for p in doc.ranking]
    assert r2 == sorted(r2, reverse=True)
    assert labelled_db.count("models", {"kind": "gnn"}) == 2
    stored = labelled_db.query_one("models", {"model_id": doc.best_model_id})
    assert (
        stored["levels"] == ["pbesol"] and len(stored["training_config_ids"]) == 20
    )  # 30 - 5 - 5 (15 % rounded up)
    assert all(cid.startswith("phonon-") for cid in stored["training_config_ids"])
    load_gnn(labelled_db, doc.best_model_id)
    again = run_flow(maker.make(level="pbesol", criteria={"scheme": "phonon"}), labelled_db)
    # resubmitted: the dataset job re-reads the labels (reuse=False); nothing is retrained
    assert (again.n_jobs, again.n_ran, again.n_reused) == (4, 1, 3)


def test_transfer_flow_fine_tunes_stage_a(labelled_db):
    flow = GNNTransferFlowMaker(settings_a=FAST, settings_b=FAST).make("pbesol", "hsesol")
    summary = run_flow(flow, labelled_db)
    assert summary.n_failed == 0, summary.errors
    doc = _output(labelled_db, flow.jobs[-1].uuid)
    assert doc.stage_b.parent_model_id == doc.stage_a.model_id
    assert doc.stage_b.levels == ["pbesol", "hsesol"] and doc.stage_a.levels == ["pbesol"]
    assert doc.stage_a_on_b_test.n == doc.stage_b.metrics.test.n == 9
    # the baseline really is the stage-A model on the level-B test structures
    labels = {d["config_id"]: d for d in labelled_db.query("labels", {"level": "hsesol"})}
    test = [Structure.from_dict(labels[c]["structure"]) for c in doc.stage_b.test_config_ids]
    y = np.array([labels[c]["band_gap_ev"] for c in doc.stage_b.test_config_ids])
    mae = np.abs(predict(load_gnn(labelled_db, doc.stage_a.model_id), test) - y).mean()
    assert doc.stage_a_on_b_test.mae == pytest.approx(mae, rel=1e-6)


def test_predict_and_explain_jobs(labelled_db):
    from jobflow import Flow

    dataset = GNNDatasetMaker().make(level="pbesol", dataset_name="all")
    train = GNNTrainMaker(settings=FAST).make(dataset.output)
    snapshots = _cells(7, 9, 0.1)
    prediction = GNNPredictMaker(batch_size=3).make(train.output.model_id, structures=snapshots)
    explain = GNNExplainMaker(epochs=5, max_structures=2).make(
        train.output.model_id, dataset.output
    )
    run = run_flow(Flow([dataset, train, prediction, explain]), labelled_db)
    assert run.n_failed == 0, run.errors
    model = _output(labelled_db, train.uuid)
    assert model.parity_plot is not None and model.metrics.test.n == 9
    assert _output(labelled_db, dataset.uuid).n_structures == 60  # the failed label is skipped
    pred = _output(labelled_db, prediction.uuid)
    expected = predict(load_gnn(labelled_db, model.model_id), snapshots)
    np.testing.assert_allclose(pred.values, expected, rtol=1e-6)
    np.testing.assert_allclose(labelled_db.blobs.get_array(pred.values_blob), expected, rtol=1e-6)
    assert pred.mean == pytest.approx(expected.mean()) and pred.target_unit == "eV"
    exp = _output(labelled_db, explain.uuid)
    assert exp.n_structures == 2 and "Ag-S" in exp.bond_types
    arrays = labelled_db.blobs.get_arrays(exp.importances)
    assert {k: len(v) for k, v in arrays.items()} == {
        k: v.n_edges for k, v in exp.bond_types.items()
    }


def test_dataset_study_flow(labelled_db):
    maker = DatasetStudyFlowMaker(settings=FAST, train_sizes=(6, 10), seeds=(0,), n_test=5)
    flow = maker.make("pbesol", {"phonon": {"scheme": "phonon"}, "random": {"scheme": "random"}})
    run = run_flow(flow, labelled_db)
    assert run.n_failed == 0, run.errors
    doc = _output(labelled_db, flow.jobs[-1].uuid)
    assert doc.datasets == {"phonon": 30, "random": 30, "combined": 60}
    assert len(doc.rows) == 3 * 2 * 1 * 3 and len(doc.table) == 3 * 2 * 3
    assert {r.metrics.n for r in doc.rows if r.test_dataset == "combined"} == {10}
    assert doc.plot is not None
    with pytest.raises(InputError, match="reserved"):
        maker.make("pbesol", {"combined": {}, "x": {}})


def test_predict_job_on_a_stored_md_trajectory(labelled_db):
    from jobflow import Flow

    from thermogap.schemas.md import TrajectoryChunk, TrajectoryDoc

    rng = np.random.default_rng(3)
    start = _cells(1, 4, 0.0)[0]
    positions = start.cart_coords[None] + rng.normal(0, 0.08, (9, 5, 3))
    arrays = {
        "steps": np.arange(1, 10) * 10,
        "positions_ang": positions,
        "velocities_ang_per_fs": np.zeros_like(positions),
        "potential_energy_ev": np.zeros(9),
        "kinetic_energy_ev": np.zeros(9),
        "stress_ev_per_ang3": np.zeros((9, 3, 3)),
    }
    ref = labelled_db.blobs.put_arrays(arrays)
    chunk = TrajectoryChunk(
        index=0, first_frame=0, n_frames=9, last_step=90, blob=ref.model_dump(), rng_state="{}"
    )
    traj = TrajectoryDoc(
        trajectory_id="md-test",
        model_id="mace-x",
        formula=start.composition.reduced_formula,
        x=1.0,
        n_atoms=5,
        structure=start.as_dict(),
        temperature_k=300.0,
        timestep_fs=1.0,
        friction_per_fs=0.005,
        save_interval_steps=10,
        seed=0,
        n_steps_target=90,
        n_steps_done=90,
        n_frames_done=9,
        completed=True,
        chunks=[chunk],
    )
    labelled_db.upsert("trajectories", [traj.model_dump(mode="json")], key="trajectory_id")
    dataset = GNNDatasetMaker().make(level="hsesol", dataset_name="all")
    train = GNNTrainMaker(settings=FAST).make(dataset.output)
    job = GNNPredictMaker().make(
        train.output.model_id, trajectory_id="md-test", skip_frames=3, stride=2
    )
    run = run_flow(Flow([dataset, train, job]), labelled_db)
    assert run.n_failed == 0, run.errors
    doc = _output(labelled_db, job.uuid)
    assert (
        doc.md_steps == [40, 60, 80]
        and doc.temperature_k == 300.0
        and doc.trajectory_id == "md-test"
    )
    frames = [
        Structure(start.lattice, start.species, p, coords_are_cartesian=True)
        for p in positions[3::2]
    ]
    model = load_gnn(labelled_db, _output(labelled_db, train.uuid).model_id)
    np.testing.assert_allclose(doc.values, predict(model, frames), rtol=1e-6)
    assert model.levels == ["hsesol"]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("band_gap", lambda d: d["band_gap_ev"]),
        ("vbm", lambda d: d["vbm_ev"]),
        ("energy_per_atom", lambda d: d["energy_per_atom_ev"]),
        # hydrostatic stress in GPa: trace/3 of the eV/Å^3 tensor times 160.2177
        ("hydrostatic_stress", lambda d: np.trace(d["stress_ev_per_ang3"]) / 3 * 160.21766208),
    ],
)
def test_export_labels_for_every_target(labelled_db, target, expected):
    from thermogap.jobs.gnn import export_labels

    data = export_labels(labelled_db, "pbesol", target, criteria={"scheme": "random"})
    criteria = {"level": "pbesol", "scheme": "random"}
    docs = {d["config_id"]: d for d in labelled_db.query("labels", criteria)}
    assert data.ids == sorted(docs) and len(data.ids) == 30
    np.testing.assert_allclose(data.targets, [expected(docs[c]) for c in data.ids], rtol=1e-12)
    with pytest.raises(InputError, match="allowed"):
        export_labels(labelled_db, "pbesol", "mobility")


def test_paper_search_flow_has_one_job_per_grid_point():
    flow = GNNSearchFlowMaker(grid=SearchGrid.paper()).make(level="hsesol")
    assert len(flow.jobs) == 1 + 480 + 1
    settings = {j.name for j in flow.jobs[1:-1]}
    assert len(settings) == 480  # every job trains a different point
