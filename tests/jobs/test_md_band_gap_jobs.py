"""MD → trajectory gaps → band-gap result as jobs that open no database (ASE and batched MD).

The MLIP and the GNN come in as model documents built from tiny untrained models
(tests/fixtures/models.py); the flows run under ``run_locally`` with an in-memory job store
and a ``data`` additional store, the way a jobflow-remote worker without ``$THERMOGAP_STORE``
runs them. Independent references: the stored energies are mace-torch's own
``MACECalculator`` on the stored positions, the kinetic energies follow from the stored
velocities, the GNN gaps are recomputed with :func:`thermogap.gnn.inference.predict` on
structures rebuilt from the frames and averaged by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from jobflow import Flow, JobStore, run_locally
from maggma.stores import MemoryStore
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from fixtures.models import gnn_model_doc, mlip_model_doc, tiny_gnn, tiny_mace
from mlip.tiny_mace import ag3sbr_cell
from thermogap.execution.artifacts import job_blob_scope
from thermogap.gnn.inference import predict
from thermogap.jobs.band_gaps import (
    BandGapResultMaker,
    static_band_gap,
    trajectories_band_gaps,
    trajectory_band_gaps,
)
from thermogap.jobs.md import BatchedLangevinMDMaker, LangevinMDMaker
from thermogap.md.langevin import KB_EV_PER_K, trajectory_from_doc
from thermogap.mlip.calculator import contained_mace_import
from thermogap.schemas.band_gaps import BandGapDoc
from thermogap.schemas.md import LangevinSettings

SETTINGS = LangevinSettings(total_time_ps=0.1, save_interval_steps=5, chunk_frames=8, seed=3)
EQUILIBRATION = 0.25


@pytest.fixture(autouse=True)
def _keep_torch_default_dtype():
    previous = torch.get_default_dtype()
    torch.set_num_threads(1)
    yield
    torch.set_default_dtype(previous)


@pytest.fixture(scope="module")
def models():
    return mlip_model_doc(tiny_mace()), gnn_model_doc(tiny_gnn(), test_mae_ev=0.07)


def _cell() -> Structure:
    return AseAtomsAdaptor.get_structure(ag3sbr_cell() * (2, 1, 1))


def _memory_store() -> JobStore:
    return JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})


def _output(responses, job):
    return responses[job.uuid][1].output


def _loaded(doc):
    with job_blob_scope(doc):  # the bytes the document carries, nothing else
        return trajectory_from_doc(doc)


def _mace_reference(frames, positions):
    """mace-torch's own calculator on the stored positions (not thermogap's loader)."""
    with contained_mace_import():
        from mace.calculators import MACECalculator

    calc = MACECalculator(models=tiny_mace(), device="cpu", default_dtype="float64")
    energies = []
    for pos in positions:
        atoms = frames.copy()
        atoms.positions = pos
        atoms.calc = calc
        energies.append(atoms.get_potential_energy())
    return np.array(energies)


def _check_frames(doc, structure, temperature_k):
    loaded = _loaded(doc)
    arrays = loaded.arrays
    assert doc["completed"] and doc["n_steps_done"] == SETTINGS.n_steps
    np.testing.assert_array_equal(arrays["steps"], np.arange(5, 101, 5))
    # every chunk's bytes travel with the document
    assert {c["blob"]["blob_id"] for c in doc["chunks"]} <= set(doc["artifacts"])
    from ase import units

    masses = AseAtomsAdaptor.get_atoms(structure).get_masses()
    v = arrays["velocities_ang_per_fs"] / units.fs
    np.testing.assert_allclose(
        arrays["kinetic_energy_ev"], 0.5 * np.einsum("i,fij->f", masses, v**2), rtol=1e-6
    )
    t_kin = 2 * arrays["kinetic_energy_ev"] / (3 * doc["n_atoms"] * KB_EV_PER_K)
    assert doc["mean_temperature_k"] == pytest.approx(t_kin.mean())
    assert doc["temperature_k"] == temperature_k
    picked = [0, len(arrays["steps"]) - 1]
    reference = _mace_reference(
        AseAtomsAdaptor.get_atoms(structure), arrays["positions_ang"][picked]
    )
    rtol = 1e-9 if doc.get("model_dtype") in (None, "float64") else 1e-5
    np.testing.assert_allclose(arrays["potential_energy_ev"][picked], reference, rtol=rtol)
    return arrays


def _gnn_mean_by_hand(structure, positions):
    """Mean GNN gap of the frames after the fixed equilibration fraction, with predict."""
    frames = [
        Structure(structure.lattice, structure.species, p, coords_are_cartesian=True)
        for p in positions
    ]
    gaps = predict(tiny_gnn(), frames)
    skip = int(EQUILIBRATION * len(gaps))
    return gaps, float(gaps[skip:].mean())


def _result(x, t, static, snapshots, gnn, mlip, sid, formula, level="chgnet-gfn1-xtb"):
    return BandGapResultMaker(level=level, levels_of_theory=[level]).make(
        x, t, static, snapshots, [-1.0], [1], gnn, mlip, sid, formula
    )


def test_ase_md_gaps_and_result_run_without_a_database(models):
    mlip, gnn = models
    structure = _cell()
    md = LangevinMDMaker(settings=SETTINGS, progress=False).make(structure, mlip, 300.0, "s1", 0.5)
    static = static_band_gap(structure, gnn)
    gaps = trajectory_band_gaps(md.output, gnn, EQUILIBRATION)
    result = _result(0.5, 300.0, [static.output], [gaps.output], gnn, mlip, ["s1"], "Ag3SBr")
    store = _memory_store()
    responses = run_locally(Flow([md, static, gaps, result]), store=store, ensure_success=True)

    trajectory = _output(responses, md).model_dump(mode="json")
    assert trajectory["model_id"] == mlip["model_id"] and trajectory["structure_id"] == "s1"
    arrays = _check_frames(trajectory, structure, 300.0)
    # the chunks' bytes went to the data store, not into the outputs document
    raw = store.query_one({"uuid": md.uuid}, load=False)["output"]
    assert "blob_uuid" in raw["artifacts"]

    frame_gaps, mean = _gnn_mean_by_hand(structure, arrays["positions_ang"])
    gap0 = float(predict(tiny_gnn(), [structure])[0])
    assert _output(responses, static) == pytest.approx(gap0, abs=1e-6)
    summary = _output(responses, gaps)
    assert summary["n_frames"] == 20 and summary["n_snapshots"] == 15
    assert summary["mean_ev"] == pytest.approx(mean, abs=1e-6)
    doc = _output(responses, result)
    assert isinstance(doc, BandGapDoc)
    assert doc.band_gap_ev == pytest.approx(mean, abs=1e-6)
    assert doc.delta_gap_ev == pytest.approx(mean - gap0, abs=1e-6)
    assert doc.gnn_model_id == gnn["model_id"] and doc.mlip_model_id == mlip["model_id"]
    assert doc.model_error_ev == pytest.approx(0.07) and doc.trajectory_ids == [
        trajectory["trajectory_id"]
    ]
    # the frames move the gap: a result that ignored the MD would show no change
    assert np.ptp(frame_gaps) > 1e-3


def test_batched_md_gaps_and_results_run_without_a_database(models):
    mlip, gnn = models
    structure = _cell()
    temperatures = [100.0, 600.0]
    md = BatchedLangevinMDMaker(settings=SETTINGS, dtype="float64", progress=False).make(
        [structure, structure], mlip, temperatures, ["s1", "s1"], [0.5, 0.5]
    )
    static = static_band_gap(structure, gnn)
    together = trajectories_band_gaps(md.output, gnn, EQUILIBRATION)
    single = trajectory_band_gaps(md.output[1], gnn, EQUILIBRATION)  # one element of the list
    results = [
        _result(0.5, t, [static.output], [together.output[i]], gnn, mlip, ["s1"], "Ag3SBr")
        for i, t in enumerate(temperatures)
    ]
    flow = Flow([md, static, together, single, *results])
    responses = run_locally(flow, store=_memory_store(), ensure_success=True)

    docs = [d.model_dump(mode="json") for d in _output(responses, md)]
    assert [d["temperature_k"] for d in docs] == temperatures
    assert len({d["trajectory_id"] for d in docs}) == 2
    gap0 = float(predict(tiny_gnn(), [structure])[0])
    for doc, summary, result_job, t in zip(
        docs, _output(responses, together), results, temperatures, strict=True
    ):
        assert doc["integrator"] == "baoab-batched"
        # each replica carries its own chunks, not the other's
        own = {c["blob"]["blob_id"] for c in doc["chunks"]}
        assert own == set(doc["artifacts"])
        arrays = _check_frames(doc, structure, t)
        _, mean = _gnn_mean_by_hand(structure, arrays["positions_ang"])
        assert summary["trajectory_id"] == doc["trajectory_id"]
        assert summary["mean_ev"] == pytest.approx(mean, abs=1e-6)
        result = _output(responses, result_job)
        assert result.band_gap_ev == pytest.approx(mean, abs=1e-6)
        assert result.delta_gap_ev == pytest.approx(mean - gap0, abs=1e-6)
    assert _output(responses, single)["mean_ev"] == pytest.approx(
        _output(responses, together)[1]["mean_ev"], abs=1e-9
    )


def _ase_study(structure, mlip, gnn, settings):
    md = LangevinMDMaker(settings=settings, progress=False).make(structure, mlip, 300.0, "s1", 0.5)
    static = static_band_gap(structure, gnn)
    gaps = trajectory_band_gaps(md.output, gnn, EQUILIBRATION)
    result = _result(0.5, 300.0, [static.output], [gaps.output], gnn, mlip, ["s1"], "Ag3SBr")
    return Flow([md, static, gaps, result])


def test_another_md_length_adds_a_result_and_the_collections_are_built(db, models):
    from thermogap.execution import run_flow
    from thermogap.md.langevin import load_trajectory

    mlip, gnn = models
    structure = _cell()
    longer = SETTINGS.model_copy(update={"total_time_ps": 0.12})
    for settings in (SETTINGS, longer):
        assert run_flow(_ase_study(structure, mlip, gnn, settings), db).n_failed == 0
    docs = db.query("band_gaps", {"x": 0.5, "temperature_k": 300.0})
    assert len(docs) == 2 and len({d["result_id"] for d in docs}) == 2
    assert sorted(d["n_snapshots"] for d in docs) == [15, 18]  # 20 and 24 frames, 1/4 skipped
    assert all(d["gnn_model_id"] == gnn["model_id"] for d in docs)
    # the same study again adds nothing
    run_flow(_ase_study(structure, mlip, gnn, SETTINGS), db)
    assert db.count("band_gaps", {"x": 0.5, "temperature_k": 300.0}) == 2
    # readers outside jobs find the trajectory and its chunks in the results database
    (tid,) = {d["trajectory_ids"][0] for d in docs}  # one run, extended: same trajectory id
    loaded = load_trajectory(db, tid)
    assert loaded.doc.n_frames_done in (20, 24) and "artifacts" not in db.query_one(
        "trajectories", {"trajectory_id": tid}
    )


def test_batched_list_output_is_built_into_one_trajectory_each(db, models):
    from thermogap.execution import run_flow
    from thermogap.md.langevin import load_trajectory

    mlip, _ = models
    short = SETTINGS.model_copy(update={"total_time_ps": 0.02})
    cells = [_cell(), AseAtomsAdaptor.get_structure(ag3sbr_cell())]
    md = BatchedLangevinMDMaker(settings=short, progress=False).make(
        cells, mlip, [300.0, 500.0], ["a", "b"], [0.5, 0.5]
    )
    summary = run_flow(Flow([md]), db)
    assert summary.n_failed == 0 and summary.built["trajectories"] == 2
    stored = db.query("trajectories", {"model_id": mlip["model_id"]})
    assert sorted((d["structure_id"], d["n_atoms"]) for d in stored) == [("a", 10), ("b", 5)]
    for doc in stored:
        loaded = load_trajectory(db, doc["trajectory_id"])  # chunks copied into db.blobs
        assert loaded.arrays["positions_ang"].shape == (4, doc["n_atoms"], 3)
        assert doc["job_uuid"] == md.uuid


def test_a_longer_run_continues_the_previous_trajectory(models):
    mlip, _ = models
    structure = AseAtomsAdaptor.get_structure(ag3sbr_cell())
    short = SETTINGS.model_copy(update={"total_time_ps": 0.04})
    for maker_class in (LangevinMDMaker, BatchedLangevinMDMaker):
        extra = {"dtype": "float64"} if maker_class is BatchedLangevinMDMaker else {}
        batched = maker_class is BatchedLangevinMDMaker

        def make(settings, previous=None, temperature=300.0, maker_class=maker_class, extra=extra):
            maker = maker_class(settings=settings, progress=False, **extra)
            if maker_class is BatchedLangevinMDMaker:
                prev = None if previous is None else [previous]
                return maker.make([structure], mlip, [temperature], previous=prev)
            return maker.make(structure, mlip, temperature, previous=previous)

        first = make(short)
        continued = make(SETTINGS, first.output[0] if batched else first.output)
        fresh = make(SETTINGS)
        # another trajectory (here: another temperature) is refused, not silently continued
        wrong = make(SETTINGS, first.output[0] if batched else first.output, temperature=400.0)
        responses = run_locally(Flow([first, continued, fresh, wrong]), store=_memory_store())
        assert not responses.get(wrong.uuid)
        docs = []
        for job in (continued, fresh):
            out = _output(responses, job)
            docs.append((out[0] if batched else out).model_dump(mode="json"))
        a, b = (_loaded(d).arrays for d in docs)
        np.testing.assert_array_equal(a["steps"], np.arange(5, 101, 5))
        for key, values in b.items():
            np.testing.assert_allclose(a[key], values, rtol=1e-7, atol=1e-9, err_msg=key)
        assert len(docs[0]["chunks"]) == 1 + 2  # 8 frames of the first run, then 2 chunks


def test_self_check_jobs_take_the_gnn_and_trajectory_documents(models):
    from thermogap.jobs.self_check import reference_snapshot_check, reference_static_check
    from thermogap.results.self_check import snapshot_sample

    mlip, gnn = models
    structure = _cell()
    md = LangevinMDMaker(settings=SETTINGS, progress=False).make(structure, mlip, 300.0)
    static = reference_static_check(structure, gnn, "chgnet-gfn1-xtb", 0.5)
    check = reference_snapshot_check(md.output, gnn, static.output, 300.0, 3, EQUILIBRATION)
    responses = run_locally(Flow([md, static, check]), store=_memory_store(), ensure_success=True)
    out0, out = _output(responses, static), _output(responses, check)
    assert out0["test_mae_ev"] == pytest.approx(0.07)
    assert out0["gnn_0k_ev"] == pytest.approx(float(predict(tiny_gnn(), [structure])[0]), abs=1e-6)
    positions = _loaded(_output(responses, md).model_dump(mode="json")).arrays["positions_ang"]
    chosen = snapshot_sample(len(positions), 3, EQUILIBRATION)
    assert out["frames"] == chosen.tolist() and min(chosen) >= 5
    gnn_gaps, _ = _gnn_mean_by_hand(structure, positions[chosen])
    assert out["gnn_mean_ev"] == pytest.approx(gnn_gaps.mean(), abs=1e-6)
    assert out["gnn_delta_ev"] == pytest.approx(gnn_gaps.mean() - out0["gnn_0k_ev"], abs=1e-6)
    # an untrained GNN is no xTB: the self-check must not call it faithful
    assert not out["mae_within_error"]


def test_list_of_documents_carries_every_elements_bytes():
    from thermogap.execution.artifacts import JobBlobStore, attach_artifacts, find_artifacts
    from thermogap.schemas.md import TrajectoryDoc

    store = JobBlobStore()
    docs = []
    for k in range(3):
        ref = store.put_bytes(f"chunk {k}".encode())
        doc = TrajectoryDoc(
            trajectory_id=f"md-{k}",
            model_id="m",
            formula="Cu",
            n_atoms=1,
            structure={},
            temperature_k=300.0,
            timestep_fs=1.0,
            friction_per_fs=0.01,
            save_interval_steps=1,
            seed=k,
            n_steps_target=1,
            chunks=[
                {
                    "index": 0,
                    "first_frame": 0,
                    "n_frames": 1,
                    "last_step": 1,
                    "blob": ref.model_dump(),
                    "rng_state": "{}",
                }
            ],
        )
        docs.append(doc)
    attached = attach_artifacts(docs, store)
    assert [len(d.artifacts) for d in attached] == [1, 1, 1]
    # a resolved list of documents (pydantic objects) gives all three back
    assert len(find_artifacts([attached])) == 3


def test_temperature_sweep_returns_one_document_per_temperature(models):
    from thermogap.jobs.md import LangevinTemperatureSweepMaker

    mlip, _ = models
    short = SETTINGS.model_copy(update={"total_time_ps": 0.02})
    flow = LangevinTemperatureSweepMaker(
        temperatures_k=[200.0, 400.0], md_maker=LangevinMDMaker(settings=short, progress=False)
    ).make(AseAtomsAdaptor.get_structure(ag3sbr_cell()), mlip, "s", 0.5)
    responses = run_locally(flow, store=_memory_store(), ensure_success=True)
    docs = [responses[job.uuid][1].output for job in flow.jobs]
    assert [d.temperature_k for d in docs] == [200.0, 400.0]
    assert all(d.n_frames_done == 4 and d.artifacts for d in docs)
    # a bare model id is not a model document: refused when the job runs
    bad = LangevinMDMaker(settings=short, progress=False).make(_cell(), mlip["model_id"], 300.0)
    assert not run_locally(Flow([bad]), store=_memory_store()).get(bad.uuid)
