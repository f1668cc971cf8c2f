"""The temperature flow on a standard jobflow-remote worker, with its runner killed three times.

The worker's environment has no ``$THERMOGAP_STORE`` and no database settings: the runner
resolves every reference (models, phonons and trajectories travel as documents, their bytes
in the ``data`` store), the worker writes its outputs to its per-job file store and the
runner moves them to the job store. The runner runs in a process of its own and is killed
with SIGKILL (1) after the first job completed, (2) while a job runs on the worker after
the models were trained, (3) when only one or two jobs are left; it is restarted each
time. Every job must end COMPLETED exactly once, the restarts must report the jobs they
found finished, and after ``thermogap build`` ``thermogap query band-gaps`` returns
Eg(x, T) with error bars, each (x, T) once.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path

import pytest

from fixtures.runner import (
    ON_WORKER,
    kill_when,
    restart_reports,
    start_runner,
)
from fixtures.temperature import TINY
from thermogap.cli.main import main
from thermogap.execution import remote
from thermogap.flows.temperature import TemperatureFlowMaker
from thermogap.store import ResultsDB

pytestmark = pytest.mark.jobflow_remote

PROJECT = "no_db_temperature"
# one composition (fewer jobs through the runner); more configurations per batch so that the
# GNN still has enough structures to split into train/validation/test
SETTINGS = TINY | {
    "compositions": [0.5],
    "self_check": False,
    "dataset": TINY["dataset"] | {"n_per_batch": 6},
}


def test_tiny_temperature_flow_on_a_worker_without_database_survives_three_kills(
    tmp_path, mongo_uri, mongo_database, monkeypatch, capsys
):
    monkeypatch.delenv("THERMOGAP_STORE", raising=False)
    src = str(Path(__import__("thermogap").__file__).parents[1])
    paths = [src, os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, paths)))
    store_uri = f"{mongo_uri}/{mongo_database}"
    project = remote.build_project_config(
        PROJECT,
        store_uri,
        work_dir=tmp_path / "work",
        runner=remote.FAST_RUNNER_OPTIONS,
        base_dir=tmp_path / "project",
    )  # a standard project: nothing tells the worker where the database is
    pre_run = "".join(str(w.get("pre_run") or "") for w in project["workers"].values())
    assert "THERMOGAP_STORE" not in pre_run and "mongodb" not in pre_run
    folder = tmp_path / "jf"
    remote.write_project_config(project, folder)
    flow = TemperatureFlowMaker(settings=SETTINGS).make()
    assert flow.jobs[-1].name == "study summary"
    with remote.projects_folder(folder):
        remote.submit_flow(flow, project=PROJECT)

    def done(states: dict[str, str]) -> int:
        return list(states.values()).count("COMPLETED")

    kill_points = [
        ("first job completed", lambda s: done(s) >= 1),
        ("a job on the worker after training", lambda s: done(s) >= 12 and any(
            state in ON_WORKER for state in s.values()
        )),
        ("one or two jobs left", lambda s: 0 < len(s) - done(s) <= 2),
    ]  # fmt: skip
    log = tmp_path / "runner.log"
    deadline = time.monotonic() + 700
    killed_at = []
    for what, condition in kill_points:
        runner = start_runner(folder, PROJECT, log, flow.uuid, timeout_s=700)
        killed_at.append(kill_when(runner, condition, flow.uuid, what, deadline))
    runner = start_runner(folder, PROJECT, log, flow.uuid, timeout_s=700)
    assert runner.wait(timeout=max(5.0, deadline - time.monotonic())) == 0, log.read_text()

    with remote.projects_folder(folder):
        final = remote.flow_job_states(flow.uuid, PROJECT)
    assert set(final.values()) == {"COMPLETED"}, final
    assert done(killed_at[0]) < done(killed_at[1]) < done(killed_at[2]) < len(final)
    # each restart reported (and left alone) what was finished, more each time
    counts = [len(r) for r in restart_reports(log)]
    assert len(counts) == 4 and counts[0] == 0 and counts == sorted(counts) and counts[1] >= 1
    with ResultsDB.from_spec(store_uri) as db:
        outputs = db.collection(db.config.outputs_collection)
        per_job = Counter((d["uuid"], d["index"]) for d in outputs.query({}, ["uuid", "index"]))
        assert set(per_job.values()) == {1}  # no job's output was written twice
        assert {u for u, _ in per_job} == set(final)

    assert main(["build", "--store", store_uri]) == 0
    capsys.readouterr()
    assert main(["query", "band-gaps", "--store", store_uri, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sorted((r["x"], r["temperature_k"]) for r in rows) == [(0.5, 0.0), (0.5, 300.0)]
    hot = next(r for r in rows if r["temperature_k"] == 300.0)
    assert hot["stderr_ev"] > 0 and hot["n_independent"] >= 1
    with ResultsDB.from_spec(store_uri) as db:
        # the models the workers trained are in the database, their files intact
        models = db.query("models", {})
        assert {m["kind"] for m in models} >= {"mace", "gnn"}
        for model in models:
            ref = model.get("model_blob") or model.get("blob")
            assert db.blobs.check(ref["blob_id"], ref["sha256"]) is None
