"""A flow that follows the data-path rule runs on a jobflow-remote worker with no database.

The worker's environment has no ``$THERMOGAP_STORE`` and no database settings: the runner
resolves the references, the worker writes to its per-job file store, and the runner moves the
outputs (and the ``data`` arrays) to the job store. The derived ``optics`` collection is then
built from those outputs with ``thermogap build``.
"""

from __future__ import annotations

import pytest

from fixtures.optics import OPTICS_SETTINGS
from thermogap.cli.main import main
from thermogap.execution import remote
from thermogap.flows.registry import FLOW_BUILDERS
from thermogap.store import ResultsDB

pytestmark = pytest.mark.jobflow_remote

SETTINGS = OPTICS_SETTINGS | {"temperatures_k": [300.0]}


def test_optics_flow_completes_on_a_worker_without_database_settings(
    tmp_path, mongo_uri, mongo_database, monkeypatch
):
    monkeypatch.delenv("THERMOGAP_STORE", raising=False)
    store_uri = f"{mongo_uri}/{mongo_database}"
    project = remote.build_project_config(
        "no_db_worker",
        store_uri,
        work_dir=tmp_path / "work",
        runner=remote.FAST_RUNNER_OPTIONS,
        base_dir=tmp_path / "project",
        export_store=False,  # a standard project: the worker knows nothing of thermogap's store
    )
    assert "THERMOGAP_STORE" not in (project["workers"]["local"].get("pre_run") or "")
    remote.write_project_config(project, tmp_path / "jf")
    flow = FLOW_BUILDERS.get("optics")(**SETTINGS)
    with remote.projects_folder(tmp_path / "jf"):
        remote.submit_flow(flow, project="no_db_worker")
        states = remote.run_until_done("no_db_worker", timeout_s=300, flow_uuid=flow.uuid)
    assert set(states.values()) == {"COMPLETED"} and len(states) == len(flow.jobs)

    with ResultsDB.from_spec(store_uri) as db:
        summary = db.jobstore().get_output(flow.jobs[-1].uuid, load=True)
        assert summary["temperatures_k"] == [300.0] and summary["n_atoms"] == 8
        assert 3.0 < summary["clamped_direct_gap_ev"] < 3.6
        # the spectra's arrays travelled through the runner into the data store
        spectrum = db.jobstore().get_output(flow.jobs[1].uuid, load=True)
        assert len(spectrum["arrays"]["absorption_cm"]) > 100
    # the derived collection is built from the job outputs, after the fact
    assert main(["build", "--store", store_uri, "--collection", "optics"]) == 0
    with ResultsDB.from_spec(store_uri) as db:
        built = db.query("optics", {"job_uuid": flow.jobs[-1].uuid})
        assert len(built) == 1 and built[0]["formula"] == "Si"
