"""Large job outputs travel through jobflow's ``data`` store; plain jobflow stores work."""

import numpy as np
import pytest
from jobflow import Flow, JobStore, job, run_locally
from maggma.stores import MemoryStore

from thermogap.store import ResultsDB
from thermogap.store.database import DATA_STORE_NAME


@job(data="frames")
def _make_frames(n: int) -> dict:
    rng = np.random.default_rng(n)
    return {"n": n, "frames": rng.normal(size=(n, 3)).tolist()}


@job
def _sum_frames(doc: dict) -> float:
    return float(np.asarray(doc["frames"]).sum())


def test_results_db_jobstore_keeps_large_arrays_out_of_the_output_document(any_db):
    make = _make_frames(200)
    total = _sum_frames(make.output)
    responses = run_locally(Flow([make, total]), store=any_db.jobstore(), ensure_success=True)
    expected = float(np.random.default_rng(200).normal(size=(200, 3)).sum())
    assert responses[total.uuid][1].output == pytest.approx(expected)
    # the document in ``outputs`` holds a reference, the numbers are in the data store
    raw = any_db.jobstore().docs_store.query_one({"uuid": make.uuid})
    frames_field = raw["output"]["frames"]
    assert isinstance(frames_field, dict)
    assert frames_field.get("store") == DATA_STORE_NAME and "blob_uuid" in frames_field
    data_store = any_db.jobstore().additional_stores[DATA_STORE_NAME]
    assert data_store.count({"job_uuid": make.uuid}) == 1
    # and loading the output resolves the reference again
    loaded = any_db.jobstore().get_output(make.uuid, load=True)
    assert np.asarray(loaded["frames"]).shape == (200, 3)


def test_thermogap_jobs_run_under_a_plain_jobflow_memory_store():
    """``run_locally(flow, store=JobStore(MemoryStore()))`` used to fail on ``.uri``."""
    from thermogap.flows.demo import parent_phonons_flow

    flow = parent_phonons_flow(["Ag3SBr"], calculator="chgnet", supercell=(1, 1, 1))
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    responses = run_locally(flow, store=store, ensure_success=True)
    summary = responses[flow.jobs[-1].uuid][1].output
    assert summary[0]["formula"] == "Ag3SBr"
    db = ResultsDB.from_jobstore(store)
    assert db.config.backend == "memory"
    assert db.count("phonons") == 0  # no job wrote to a collection
    from thermogap.store.builders import build_collections

    assert build_collections(db, ["phonons"]) == {"phonons": 1}  # built from the outputs
    doc = db.query_one("phonons", {})
    assert db.blobs.get_array(doc["force_constants"]).shape[-2:] == (3, 3)
