"""The temperature flow runs on a standard jobflow-remote worker that has no database route.

The worker's environment has no ``$THERMOGAP_STORE`` and no database settings: the runner
resolves every reference (models, phonons, trajectories travel as documents with their bytes
in the ``data`` store), the worker writes its outputs to its per-job file store and the runner
moves them to the job store. The derived collections are then built with ``thermogap build``
and ``thermogap query band-gaps`` returns Eg(x, T) with error bars.
"""

from __future__ import annotations

import json

import pytest

from fixtures.temperature import TINY
from thermogap.cli.main import main
from thermogap.execution import remote
from thermogap.flows.temperature import TemperatureFlowMaker
from thermogap.store import ResultsDB

pytestmark = pytest.mark.jobflow_remote


def test_tiny_temperature_flow_completes_on_a_worker_without_database_settings(
    tmp_path, mongo_uri, mongo_database, monkeypatch, capsys
):
    monkeypatch.delenv("THERMOGAP_STORE", raising=False)
    store_uri = f"{mongo_uri}/{mongo_database}"
    project = remote.build_project_config(
        "no_db_temperature",
        store_uri,
        work_dir=tmp_path / "work",
        runner=remote.FAST_RUNNER_OPTIONS,
        base_dir=tmp_path / "project",
        export_store=False,
    )
    pre_run = "".join(str(w.get("pre_run") or "") for w in project["workers"].values())
    assert "THERMOGAP_STORE" not in pre_run and "mongodb" not in pre_run
    remote.write_project_config(project, tmp_path / "jf")
    # one composition (fewer jobs through the runner); more configurations per batch so that
    # the GNN still has enough structures to split into train/validation/test
    dataset = TINY["dataset"] | {"n_per_batch": 6}
    settings = TINY | {"compositions": [0.5], "self_check": False, "dataset": dataset}
    flow = TemperatureFlowMaker(settings=settings).make()
    with remote.projects_folder(tmp_path / "jf"):
        remote.submit_flow(flow, project="no_db_temperature")
        states = remote.run_until_done("no_db_temperature", timeout_s=900, flow_uuid=flow.uuid)
    assert set(states.values()) == {"COMPLETED"}, states

    assert main(["build", "--store", store_uri]) == 0
    capsys.readouterr()
    assert main(["query", "band-gaps", "--store", store_uri, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sorted((r["x"], r["temperature_k"]) for r in rows) == [(0.5, 0.0), (0.5, 300.0)]
    hot = next(r for r in rows if r["temperature_k"] == 300.0)
    assert hot["stderr_ev"] > 0 and hot["n_independent"] >= 1
    with ResultsDB.from_spec(store_uri) as db:
        # the models the workers trained are in the database, with their files
        models = db.query("models", {})
        assert {m["kind"] for m in models} >= {"mace", "gnn"}
        for model in models:
            ref = model.get("model_blob") or model.get("blob")
            assert db.blobs.check(ref["blob_id"], ref["sha256"]) is None
