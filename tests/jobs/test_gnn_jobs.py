"""GNN Makers and flows: labels in as a list of LabelDoc dicts, model documents out.

The flows run without a results database (jobflow's memory stores, as on a jobflow-remote
worker); one test runs them against the embedded database to check the built ``models``
collection.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from jobflow import Flow, JobStore, run_locally
from maggma.stores import MemoryStore
from monty.json import MontyDecoder
from pymatgen.core import Structure

from thermogap.errors import InputError
from thermogap.execution import run_flow
from thermogap.execution.artifacts import document_with_artifacts
from thermogap.flows.gnn import DatasetStudyFlowMaker, GNNSearchFlowMaker, GNNTransferFlowMaker
from thermogap.gnn.bundle import gnn_from_model, load_gnn
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
        return MontyDecoder().process_decoded(store.get_output(uuid, load=True))
    finally:
        store.close()


def _run(flow):
    """Run without a results database; return {uuid: decoded output of the last run}."""
    if not isinstance(flow, Flow):
        flow = Flow(flow)
    responses = run_locally(
        flow,
        store=JobStore(MemoryStore(), additional_stores={"data": MemoryStore()}),
        ensure_success=True,
    )
    decoder = MontyDecoder()
    return {uuid: decoder.process_decoded(r[max(r)].output) for uuid, r in responses.items()}


@pytest.fixture(scope="module")
def labels():
    """LabelDoc dicts of two schemes at two levels, plus a failed label (no database)."""
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
            "scheme": None,
            "structure": docs[0]["structure"],
        }
    )
    return docs


def test_search_flow_ranks_points_builds_models_and_is_resumable(db, labels):
    grid = SearchGrid(
        architectures=("benitez2026", "conv3_mean_relu"),
        learning_rates=(1e-2,),
        hidden_channels=(8,),
        dropouts=(0.0,),
    )
    maker = GNNSearchFlowMaker(grid=grid, settings=FAST)
    flow = maker.make(labels, level="pbesol", criteria={"scheme": "phonon"})
    assert len(flow.jobs) == 1 + 2 + 1
    summary = run_flow(flow, db)
    assert summary.n_failed == 0, summary.errors
    doc = _output(db, flow.jobs[-1].uuid)
    assert doc.n_points == 2 and doc.best_model_id == doc.ranking[0].model_id
    r2 = [p.validation.r2 for p in doc.ranking]
    assert r2 == sorted(r2, reverse=True)
    # the models collection is built from the training jobs' outputs (nothing else wrote it)
    assert db.count("models", {"kind": "gnn"}) == 2
    stored = db.query_one("models", {"model_id": doc.best_model_id})
    assert (
        stored["levels"] == ["pbesol"] and len(stored["training_config_ids"]) == 20
    )  # 30 - 5 - 5 (15 % rounded up)
    assert all(cid.startswith("phonon-") for cid in stored["training_config_ids"])
    # the builder copied the bundle's bytes into the database's blob store
    best = load_gnn(db, doc.best_model_id)
    phonon = [Structure.from_dict(d["structure"]) for d in labels[:6]]
    trained = {m.model_id: m for m in (_output(db, j.uuid) for j in flow.jobs[1:-1])}
    trained = trained[doc.best_model_id]
    np.testing.assert_allclose(predict(best, phonon), predict(gnn_from_model(trained), phonon))
    # a model stored in the database, passed on as a static input (as a flow does with a
    # user's model id at submission), loads in a job that has no database
    static = document_with_artifacts(db.blobs, stored)
    assert "job_uuid" in static  # the builder's fields come along
    reuse = GNNPredictMaker().make(static, structures=phonon)
    np.testing.assert_allclose(_run([reuse])[reuse.uuid].values, predict(best, phonon), rtol=1e-6)
    # the search summary and the dataset are built into collections, their blobs copied
    assert db.count("gnn_studies") == 1 and db.count("gnn_datasets") == 1
    assert db.blobs.get_bytes(doc.plot)[:8] == b"\x89PNG\r\n\x1a\n"
    again = run_flow(maker.make(labels, level="pbesol", criteria={"scheme": "phonon"}), db)
    # resubmitted with the same labels: every job's inputs are unchanged, nothing reruns
    assert (again.n_jobs, again.n_ran, again.n_reused) == (4, 0, 4)


def test_transfer_flow_fine_tunes_stage_a(labels):
    flow = GNNTransferFlowMaker(settings_a=FAST, settings_b=FAST).make(
        "pbesol", "hsesol", labels, labels
    )
    # a downstream job given only the flow's final model document (``output.stage_b``)
    by_id = {d["config_id"]: d for d in labels if d["level"] == "hsesol"}
    every = [Structure.from_dict(by_id[c]["structure"]) for c in sorted(by_id)]
    downstream = GNNPredictMaker().make(flow.output.stage_b, structures=every)
    outputs = _run(Flow([flow, downstream]))
    doc = outputs[flow.jobs[-1].uuid]
    assert doc.stage_b.parent_model_id == doc.stage_a.model_id
    assert doc.stage_b.levels == ["pbesol", "hsesol"] and doc.stage_a.levels == ["pbesol"]
    assert doc.stage_a_on_b_test.n == doc.stage_b.metrics.test.n == 9
    # both model documents carry their bundles
    for stage in (doc.stage_a, doc.stage_b):
        assert stage.blob["blob_id"] in stage.artifacts
    # the baseline really is the stage-A model on the level-B test structures
    test = [Structure.from_dict(by_id[c]["structure"]) for c in doc.stage_b.test_config_ids]
    y = np.array([by_id[c]["band_gap_ev"] for c in doc.stage_b.test_config_ids])
    mae = np.abs(predict(gnn_from_model(doc.stage_a), test) - y).mean()
    assert doc.stage_a_on_b_test.mae == pytest.approx(mae, rel=1e-6)
    # the downstream predictions reproduce the test error the training job measured with
    # its in-memory model
    pred = dict(zip(sorted(by_id), outputs[downstream.uuid].values, strict=True))
    test_pred = np.array([pred[c] for c in doc.stage_b.test_config_ids])
    assert np.abs(test_pred - y).mean() == pytest.approx(doc.stage_b.metrics.test.mae, rel=1e-5)
    assert outputs[downstream.uuid].model_id == doc.stage_b.model_id


def test_predict_and_explain_jobs(labels):
    from thermogap.execution.artifacts import JobBlobStore, find_artifacts

    dataset = GNNDatasetMaker().make(labels, level="pbesol", dataset_name="all")
    train = GNNTrainMaker(settings=FAST).make(dataset.output)
    snapshots = _cells(7, 9, 0.1)
    prediction = GNNPredictMaker(batch_size=3).make(train.output, structures=snapshots)
    explain = GNNExplainMaker(epochs=5, max_structures=2).make(train.output, dataset.output)
    outputs = _run([dataset, train, prediction, explain])
    model = outputs[train.uuid]
    assert model.parity_plot is not None and model.metrics.test.n == 9
    assert model.artifacts and model.blob["blob_id"] in model.artifacts
    assert outputs[dataset.uuid].n_structures == 60  # the failed label is skipped
    pred = outputs[prediction.uuid]
    expected = predict(gnn_from_model(model), snapshots)
    np.testing.assert_allclose(pred.values, expected, rtol=1e-6)
    carried = JobBlobStore(find_artifacts(pred))
    np.testing.assert_allclose(carried.get_array(pred.values_blob), expected, rtol=1e-6)
    assert pred.mean == pytest.approx(expected.mean()) and pred.target_unit == "eV"
    assert pred.model_id == model.model_id and pred.model_sha256 == model.sha256
    exp = outputs[explain.uuid]
    assert exp.n_structures == 2 and "Ag-S" in exp.bond_types
    # the model's test split is explained first
    assert exp.model_id == model.model_id
    arrays = JobBlobStore(find_artifacts(exp)).get_arrays(exp.importances)
    assert {k: len(v) for k, v in arrays.items()} == {
        k: v.n_edges for k, v in exp.bond_types.items()
    }


def test_dataset_study_flow(labels):
    maker = DatasetStudyFlowMaker(settings=FAST, train_sizes=(6, 10), seeds=(0,), n_test=5)
    flow = maker.make(
        labels, "pbesol", {"phonon": {"scheme": "phonon"}, "random": {"scheme": "random"}}
    )
    outputs = _run(flow)
    doc = outputs[flow.jobs[-1].uuid]
    assert doc.datasets == {"phonon": 30, "random": 30, "combined": 60}
    assert len(doc.rows) == 3 * 2 * 1 * 3 and len(doc.table) == 3 * 2 * 3
    assert {r.metrics.n for r in doc.rows if r.test_dataset == "combined"} == {10}
    assert doc.plot is not None
    # every row names the model that made it; each study model is a GNNModelDoc output
    models = [outputs[j.uuid] for j in flow.jobs if j.name.startswith("gnn study")]
    assert {r.model_id for r in doc.rows} == {m.model_id for m in models}
    assert all(len(m.evaluations) == 3 and m.artifacts for m in models)
    with pytest.raises(InputError, match="reserved"):
        maker.make(labels, "pbesol", {"combined": {}, "x": {}})


def test_predict_job_on_an_md_trajectory_document(labels):
    from thermogap.execution.artifacts import JobBlobStore, attach_artifacts
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
    blobs = JobBlobStore()
    ref = blobs.put_arrays(arrays)
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
    # the MD job's output as it arrives downstream: the document carrying its chunks' bytes
    traj = attach_artifacts(traj, blobs)
    dataset = GNNDatasetMaker().make(labels, level="hsesol", dataset_name="all")
    train = GNNTrainMaker(settings=FAST).make(dataset.output)
    job = GNNPredictMaker().make(train.output, trajectory=traj, skip_frames=3, stride=2)
    outputs = _run([dataset, train, job])
    doc = outputs[job.uuid]
    assert (
        doc.md_steps == [40, 60, 80]
        and doc.temperature_k == 300.0
        and doc.trajectory_id == "md-test"
    )
    frames = [
        Structure(start.lattice, start.species, p, coords_are_cartesian=True)
        for p in positions[3::2]
    ]
    model = gnn_from_model(outputs[train.uuid])
    np.testing.assert_allclose(doc.values, predict(model, frames), rtol=1e-6)
    assert model.levels == ["hsesol"]
    # a bare model id is refused with a pointer to what to pass instead
    with pytest.raises(InputError, match="model id"):
        GNNPredictMaker.make.original(GNNPredictMaker(), "gnn-0123", structures=frames)


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
def test_export_labels_for_every_target(labels, target, expected):
    from thermogap.jobs.gnn import export_labels

    data = export_labels(labels, "pbesol", target, criteria={"scheme": "random"})
    docs = {d["config_id"]: d for d in labels if d["level"] == "pbesol" and d["scheme"] == "random"}
    assert data.ids == sorted(docs) and len(data.ids) == 30
    np.testing.assert_allclose(data.targets, [expected(docs[c]) for c in data.ids], rtol=1e-12)
    with pytest.raises(InputError, match="allowed"):
        export_labels(labels, "pbesol", "mobility")


def test_export_labels_criteria_operators(labels):
    from thermogap.jobs.gnn import export_labels

    # $ne / $in / config_ids select exactly the labels a hand filter selects
    phonon = export_labels(labels, "hsesol", "band_gap", criteria={"scheme": {"$ne": "random"}})
    assert phonon.ids == sorted(f"phonon-{k}" for k in range(30))
    some = export_labels(
        labels,
        "pbesol",
        "band_gap",
        criteria={"scheme": {"$in": ["random"]}},
        config_ids=["random-1", "random-2", "random-3", "phonon-1"],
    )
    assert some.ids == ["random-1", "random-2", "random-3"]
    with pytest.raises(InputError, match="need at least 3"):
        export_labels(labels, "pbesol", "band_gap", criteria={"scheme": "nothing"})
    with pytest.raises(InputError, match="allowed"):
        export_labels(labels, "pbesol", "band_gap", criteria={"scheme": {"$regex": "p"}})


def test_paper_search_flow_has_one_job_per_grid_point():
    flow = GNNSearchFlowMaker(grid=SearchGrid.paper()).make([], level="hsesol")
    assert len(flow.jobs) == 1 + 480 + 1
    settings = {j.name for j in flow.jobs[1:-1]}
    assert len(settings) == 480  # every job trains a different point
