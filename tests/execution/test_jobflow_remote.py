"""A real jobflow-remote round trip on a loopback MongoDB-protocol server.

Queue and job store live on the session's ``secantusd-py`` server (or on
``$THERMOGAP_TEST_MONGODB_URI``); the worker is this machine with ``scheduler_type: shell``;
the runner runs in this process with 1 s polling and returns when no job can advance.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from thermogap.errors import CalculationError, ConfigError
from thermogap.execution import remote
from thermogap.execution.artifacts import current_blobs, job_blob_scope
from thermogap.store import ResultsDB

pytestmark = pytest.mark.jobflow_remote

PROJECT = "tg_roundtrip"


@pytest.fixture()
def project_folder(tmp_path, mongo_uri, mongo_database):
    store_uri = f"{mongo_uri}/{mongo_database}"
    project = remote.build_project_config(
        PROJECT,
        store_uri,
        work_dir=tmp_path / "work",
        runner=remote.FAST_RUNNER_OPTIONS,
        base_dir=tmp_path / "project",
    )
    folder = tmp_path / "jfremote"
    remote.write_project_config(project, folder)
    return folder, store_uri


def test_flow_round_trip_completes_and_outputs_are_in_the_store(project_folder):
    folder, store_uri = project_folder
    n_values, seed = 300, 11
    flow = remote.worker_check_flow(n_values=n_values, seed=seed)
    write_job, read_job = flow.jobs

    bystander = logging.getLogger("thermogap.bystander")
    jfr_handlers = list(logging.getLogger("jobflow_remote").handlers)
    with remote.projects_folder(folder):
        db_ids = remote.submit_flow(flow, project=PROJECT)
        states = remote.run_until_done(PROJECT, timeout_s=100, flow_uuid=flow.uuid)
    # the runner's logging.config.dictConfig(disable_existing_loggers=True) was undone
    assert bystander.disabled is False
    assert logging.getLogger("jobflow_remote").handlers == jfr_handlers

    assert len(db_ids) == 2
    assert states == {write_job.uuid: "COMPLETED", read_job.uuid: "COMPLETED"}

    # Read everything back through thermogap's own view of the database, not the runner's.
    expected = np.random.default_rng(seed).standard_normal(n_values)
    with ResultsDB.from_spec(store_uri) as db:
        jobstore = db.jobstore()
        jobstore.connect()
        written = jobstore.get_output(write_job.uuid, load=True)
        summary = jobstore.get_output(read_job.uuid)
        # the probe's bytes travelled with its output, through the runner into the data store
        assert "blob_uuid" in jobstore.get_output(write_job.uuid, load=False)["artifacts"]
        with job_blob_scope(written):
            np.testing.assert_array_equal(current_blobs().get_array(written["blob"]), expected)
        assert summary["n_values"] == n_values
        assert summary["sum"] == pytest.approx(expected.sum(), rel=1e-12)
        assert summary["sum_of_squares"] == pytest.approx(float(expected @ expected), rel=1e-12)
        assert summary["bytes_carried"] is True
        # the job ran in the environment that the worker's pre_run activated
        assert Path(written["python"]).parent == Path(sys.prefix, "bin")
        assert not db.blobs.exists(written["blob"]["blob_id"])  # no job wrote to the database
        # the jobs ran in a worker process started by jobflow-remote through tg_job
        doc = jobstore.query_one({"uuid": read_job.uuid}, properties=["metadata"])
        assert doc["metadata"]["thermogap"]["reused"] is False
        queue = db.collection(remote.QUEUE_COLLECTIONS["jobs"])
        assert queue.count({"uuid": {"$in": [write_job.uuid, read_job.uuid]}}) == 2


def test_project_file_is_private_and_points_at_the_results_database(project_folder):
    folder, store_uri = project_folder
    path = folder / f"{PROJECT}.yaml"
    assert path.stat().st_mode & 0o077 == 0
    data = yaml.safe_load(path.read_text())
    docs_store = data["jobstore"]["docs_store"]
    assert docs_store["uri"] == store_uri
    assert docs_store["collection_name"] == "outputs"
    assert data["queue"]["store"]["type"] == "MongoStore"
    assert data["workers"]["local"]["scheduler_type"] == "shell"
    assert data["workers"]["local"]["pre_run"].startswith("source ")
    # jobflow-remote's JobStore built from this file resolves to the same thermogap database
    from jobflow_remote.config.base import Project

    with remote.projects_folder(folder):
        jobstore = Project.model_validate(data).get_jobstore()
    assert (
        ResultsDB.from_jobstore(jobstore).config.database
        == ResultsDB.from_spec(store_uri).config.database
    )


def test_projects_folder_restores_jobflow_remote_settings(tmp_path, monkeypatch):
    import jobflow_remote

    monkeypatch.delenv("JFREMOTE_PROJECTS_FOLDER", raising=False)
    before = jobflow_remote.SETTINGS
    with remote.projects_folder(tmp_path) as path:
        assert jobflow_remote.SETTINGS.projects_folder == str(tmp_path.resolve()) == str(path)
    assert jobflow_remote.SETTINGS is before
    assert "JFREMOTE_PROJECTS_FOLDER" not in __import__("os").environ


def test_embedded_store_is_refused_with_the_allowed_backend(tmp_path):
    with pytest.raises(ConfigError, match="allowed: 'mongodb'"):
        remote.build_project_config("p", tmp_path / "embedded", work_dir=tmp_path)


def test_unknown_project_and_worker_are_named(tmp_path, project_folder):
    folder, _ = project_folder
    with remote.projects_folder(folder):
        with pytest.raises(ConfigError, match="nope"):
            remote.run_until_done("nope", timeout_s=5)
        with pytest.raises(ConfigError, match=r"worker='gpu'.*allowed: \['local'\]"):
            remote.submit_flow(remote.worker_check_flow(), project=PROJECT, worker="gpu")


def test_wait_for_flow_times_out_without_a_runner(project_folder):
    folder, _ = project_folder
    flow = remote.worker_check_flow(n_values=3)
    with remote.projects_folder(folder):
        remote.submit_flow(flow, project=PROJECT)
        with pytest.raises(CalculationError, match="READY"):
            remote.wait_for_flow(flow.uuid, PROJECT, timeout_s=0.5, poll_s=0.2)


# --- the shipped templates in configs/jobflow-remote/ ------------------------------------------

TEMPLATES = Path(__file__).resolve().parents[2] / "configs" / "jobflow-remote"


@pytest.mark.parametrize("name", ["project-local.yaml", "project-slurm.yaml"])
def test_project_templates_are_valid_and_match_the_generated_layout(name, tmp_path):
    from jobflow_remote.config.base import Project
    from maggma.stores import GridFSStore
    from qtoolkit.io import scheduler_mapping

    data = yaml.safe_load((TEMPLATES / name).read_text())
    with remote.projects_folder(tmp_path):
        project = Project.model_validate(data)
        generated = remote.build_project_config("x", "mongodb://h:1/thermogap", work_dir=tmp_path)

    for worker_name, worker in project.workers.items():
        lines = worker.pre_run.splitlines()
        assert any(ln.startswith("source ") and ln.endswith("/bin/activate") for ln in lines)
        # a standard project: nothing tells the worker where the database is
        assert not any("THERMOGAP_STORE" in ln or "mongodb://" in ln for ln in lines), worker_name
        # qtoolkit rejects resource keys its scheduler template does not know
        io = scheduler_mapping[worker.scheduler_type]()
        header = io.generate_header(worker.resources)
        if worker.scheduler_type == "slurm":
            assert f"#SBATCH --time={worker.resources['time']}" in header
            assert f"#SBATCH --account={worker.resources['account']}" in header

    # same collections as build_project_config, so ResultsDB finds everything
    assert (
        data["queue"]["store"]["collection_name"] == generated["queue"]["store"]["collection_name"]
    )
    for key in ("flows_collection", "auxiliary_collection", "batches_collection"):
        assert data["queue"][key] == generated["queue"][key]
    jobstore = project.get_jobstore()
    assert isinstance(jobstore.additional_stores["data"], GridFSStore)
    assert jobstore.additional_stores["data"].collection_name == "outputs_data"
    db_config = ResultsDB.from_jobstore(jobstore).config
    assert db_config.outputs_collection == "outputs"
    assert data["jobstore"]["docs_store"]["database"] == db_config.database


def test_jobstore_template_is_a_thermogap_database():
    from jobflow import JobStore
    from maggma.stores import GridFSStore, MongoStore

    spec = yaml.safe_load((TEMPLATES / "jobstore-mongodb.yaml").read_text())
    jobstore = JobStore.from_dict_spec(spec)
    assert type(jobstore.docs_store) is MongoStore
    assert isinstance(jobstore.additional_stores["data"], GridFSStore)
    config = ResultsDB.from_jobstore(jobstore).config
    assert (config.backend, config.database, config.outputs_collection) == (
        "mongodb", "thermogap", "outputs",
    )  # fmt: skip


def test_unreachable_queue_database_fails_fast_naming_the_host(tmp_path):
    import time

    from thermogap.errors import StoreConnectionError
    from thermogap.store.server import free_loopback_port

    port = free_loopback_port()  # nothing listens there
    project = remote.build_project_config(
        "dead", f"mongodb://127.0.0.1:{port}/tg", work_dir=tmp_path / "w", base_dir=tmp_path / "b"
    )
    remote.write_project_config(project, tmp_path / "jf")
    t0 = time.monotonic()
    with (
        remote.projects_folder(tmp_path / "jf"),
        pytest.raises(StoreConnectionError, match=f"127.0.0.1:{port}"),
    ):
        remote.submit_flow(remote.worker_check_flow(), project="dead")
    assert time.monotonic() - t0 < 10


def test_failed_job_is_reported_with_its_error(tmp_path, mongo_uri, mongo_database, monkeypatch):
    # a job of a user's own script that opens the results database itself (current_db()):
    # on a standard worker, with no $THERMOGAP_STORE, it fails and the error names what is missing
    here = str(Path(__file__).parent)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))
    )
    monkeypatch.setenv("RESUME_LOG", str(tmp_path / "calls.log"))
    monkeypatch.syspath_prepend(here)
    from resume_jobs import make_flow

    project = remote.build_project_config(
        "no_store",
        f"{mongo_uri}/{mongo_database}",
        work_dir=tmp_path / "work",
        runner=remote.FAST_RUNNER_OPTIONS,
        base_dir=tmp_path / "project",
    )
    remote.write_project_config(project, tmp_path / "jf")
    flow = make_flow(2)
    with remote.projects_folder(tmp_path / "jf"):
        remote.submit_flow(flow, project="no_store")
        with pytest.raises(CalculationError) as excinfo:
            remote.run_until_done("no_store", timeout_s=100, flow_uuid=flow.uuid)
        states = remote.flow_job_states(flow.uuid, "no_store")
    message = str(excinfo.value)
    assert "slow_step" in message and "FAILED" in message and "THERMOGAP_STORE" in message
    assert states == {flow.jobs[0].uuid: "FAILED", flow.jobs[1].uuid: "WAITING"}


def test_resubmitted_flow_reuses_completed_jobs_at_submission(
    project_folder, tmp_path, monkeypatch
):
    import os
    from collections import Counter

    from jobflow.core.reference import find_and_resolve_references

    folder, store_uri = project_folder
    # resume_jobs.slow_step writes a collection itself: a legacy job that needs the store
    project = remote.build_project_config(
        PROJECT,
        store_uri,
        work_dir=tmp_path / "work",
        runner=remote.FAST_RUNNER_OPTIONS,
        base_dir=tmp_path / "project",
        export_store=True,
    )
    remote.write_project_config(project, folder)
    here = str(Path(__file__).parent)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))
    )
    log = tmp_path / "calls.log"
    monkeypatch.setenv("RESUME_LOG", str(log))
    monkeypatch.syspath_prepend(here)
    from resume_jobs import make_flow

    first, second = make_flow(2), make_flow(2)
    second_jobs = list(second.jobs)  # submission removes the reused jobs from the flow
    with remote.projects_folder(folder):
        submitted = remote.submit_flow(first, project=PROJECT)
        assert len(submitted) == 2 and submitted.reuse.n_reused == 0
        remote.run_until_done(PROJECT, timeout_s=100, flow_uuid=first.uuid)
        again = remote.submit_flow(second, project=PROJECT)
        states = remote.run_until_done(PROJECT, timeout_s=100, flow_uuid=second.uuid)
    # decided at submission: nothing was queued, nothing ran again
    assert list(again) == [] and states == {}
    assert again.reuse.old_uuids == {
        a.uuid: b.uuid for a, b in zip(second_jobs, first.jobs, strict=True)
    }
    assert Counter(log.read_text().split()) == Counter({"step0": 1, "step1": 1})
    with ResultsDB.from_spec(store_uri) as db:
        jobstore = db.jobstore()
        jobstore.connect()
        # the rebuilt flow's output points at the first flow's results
        assert find_and_resolve_references(second.output, jobstore) == 2.0
        assert {d["result_id"] for d in db.query("band_gaps")} == {"step0", "step1"}
        queue = db.collection(remote.QUEUE_COLLECTIONS["jobs"])
        assert queue.count({"uuid": {"$in": [j.uuid for j in second_jobs]}}) == 0
