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
    reference = _mace_reference(AseAtomsAdaptor.get_atoms(structure), arrays["positions_ang"][picked])
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
