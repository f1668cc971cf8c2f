"""thermogap presets | run --dry-run | run --submit | jobs | job, run records, progress line."""

from __future__ import annotations

import json
import logging

import pytest
import yaml

from thermogap.cli.main import main
from thermogap.configs import BUILTIN_CONFIG_DIR
from thermogap.execution.cache import tg_job

WORKFLOW = """
from jobflow import Flow
from thermogap.execution import tg_job

@tg_job
def add(a, b):
    return a + b

def make_flow(a=1, b=2, extra=None):
    first = add(a, b)
    second = add(first.output, (extra or {}).get("c", 0))
    return Flow([first, second], output=second.output, name="sum")
"""


@tg_job
def double(v):
    return 2 * v


def cli_json(capsys, *args):
    code = main([*args, "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def test_presets_lists_every_shipped_preset_with_its_description(capsys, tmp_path, monkeypatch):
    (tmp_path / "configs" / "unrelated").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    rows = {r["name"]: r for r in cli_json(capsys, "presets")}
    for path in (BUILTIN_CONFIG_DIR / "presets").glob("*.yaml"):
        raw = yaml.safe_load(path.read_text())
        assert rows[path.stem]["flow"] == raw["flow"]
        assert rows[path.stem]["description"] == " ".join(raw.get("description", "").split())


def test_dry_run_prints_the_job_graph_and_creates_no_store(capsys, tmp_path):
    store = tmp_path / "store"
    plan = cli_json(
        capsys, "run", "quick", "--dry-run", "--store", str(store), "--set", "md.total_time_ps=0.5"
    )
    assert not store.exists()
    raw = yaml.safe_load((BUILTIN_CONFIG_DIR / "presets" / "quick.yaml").read_text())["settings"]
    # the dotted --set changed one MD setting and kept the others
    assert plan["settings"]["md"] == raw["md"] | {"total_time_ps": 0.5}
    # one MD run per composition and non-zero temperature of the preset
    n_md = len(raw["compositions"]) * sum(t > 0 for t in raw["temperatures_k"])
    counts = plan["counts"]
    # ...advanced together in one batched job ("batched md (N trajectories)") by default
    batched = [name for name in counts if name.startswith("batched md (")]
    n_batched = sum(int(name.split("(")[1].split()[0]) * counts[name] for name in batched)
    assert sum(n for name, n in counts.items() if name.startswith("md ")) + n_batched == n_md
    assert batched == [f"batched md ({n_md} trajectories)"]
    assert plan["n_jobs"] == len(plan["jobs"]) == sum(plan["counts"].values())
    # parents come before their children in the printed order
    position = {job["uuid"]: k for k, job in enumerate(plan["jobs"])}
    assert all(position[p] < position[j["uuid"]] for j in plan["jobs"] for p in j["parents"])


def test_workflow_run_records_settings_and_jobs_are_listed(capsys, tmp_path):
    script = tmp_path / "sum_workflow.py"
    script.write_text(WORKFLOW)
    store = tmp_path / "store"
    summary = cli_json(
        capsys, "run", str(script), "--store", str(store), "--set", "a=4", "--set", "extra.c=10"
    )
    assert summary["n_ran"] == 2
    status = cli_json(capsys, "status", "--store", str(store))
    run = status["recent_runs"][0]
    assert run["workflow"] == str(script)
    assert run["settings"] == {"a": 4, "extra": {"c": 10}}
    jobs = cli_json(capsys, "jobs", "--store", str(store), "--state", "completed")
    assert [j["state"] for j in jobs] == ["COMPLETED", "COMPLETED"]
    assert cli_json(capsys, "jobs", "--store", str(store), "--state", "FAILED") == []
    # the second job's output is (4 + 2) + 10, found by a uuid prefix
    outputs = []
    for job in jobs:
        assert main(["job", job["uuid"][:8], "--store", str(store)]) == 0
        outputs.append(json.loads(capsys.readouterr().out)["output"])
    assert sorted(outputs) == [6, 16]
    assert main(["job", "0123456789", "--store", str(store)]) == 1
    assert "no job" in capsys.readouterr().err


def test_preset_run_record_names_the_preset_and_its_settings(capsys, tmp_path):
    store = tmp_path / "store"
    cli_json(capsys, "run", "labels-chgnet-gfn1-xtb", "--store", str(store), "--set", "limit=3")
    run = cli_json(capsys, "status", "--store", str(store))["recent_runs"][0]
    raw = yaml.safe_load(
        (BUILTIN_CONFIG_DIR / "presets" / "labels-chgnet-gfn1-xtb.yaml").read_text()
    )
    assert run["preset"] == "labels-chgnet-gfn1-xtb"
    assert run["settings"] == raw["settings"] | {"limit": 3}


@pytest.mark.parametrize(
    "args",
    [["status"], ["query", "band-gaps"], ["jobs"], ["export", "band-gaps", "--csv", "x.csv"]],
)
def test_read_only_commands_refuse_a_missing_store(capsys, tmp_path, args):
    store = tmp_path / "typo"
    assert main([*args, "--store", str(store)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not exist" in err[0] and "typo" in err[0]
    assert not store.exists()


def test_flow_progress_counts_jobs_and_names_the_running_one(tmp_path):
    from jobflow import Flow

    from thermogap.execution import run_flow
    from thermogap.execution.progress import flow_progress
    from thermogap.store import ResultsDB

    first = double(1)
    flow = Flow([first, double(first.output)])

    class Bar:
        def __init__(self):
            self.total = self.n = 0
            self.seen = []

        def set_description_str(self, text, refresh=False):
            self.seen.append(text)

        def refresh(self):
            self.seen.append((self.n, self.total))

    bar = Bar()
    job_logger = logging.getLogger("jobflow.core.job")
    level_before = job_logger.level
    with ResultsDB.from_spec(tmp_path / "s") as db, flow_progress(flow.all_uuids, False) as prog:
        prog.bar = bar
        run_flow(flow, db)
    assert (prog.n_done, prog.total) == (2, 2)
    assert bar.seen[-1] == (2, 2) and "flow [double]" in bar.seen
    assert job_logger.level == level_before  # logger restored


@pytest.mark.jobflow_remote
def test_submit_queues_the_flow_in_the_jobflow_remote_project(capsys, tmp_path, mongo_uri,
                                                              mongo_database):  # fmt: skip
    from thermogap.execution import remote
    from thermogap.store import ResultsDB

    store_uri = f"{mongo_uri}/{mongo_database}"
    project = remote.build_project_config(
        "tg_submit", store_uri, work_dir=tmp_path / "work", base_dir=tmp_path / "project"
    )
    folder = tmp_path / "jfremote"
    remote.write_project_config(project, folder)
    args = ["run", "labels-chgnet-gfn1-xtb", "--store", store_uri, "--set", "limit=2"]
    plan = cli_json(capsys, *args, "--dry-run")
    report = cli_json(capsys, *args, "--submit", "tg_submit", "--projects-folder", str(folder))
    assert report["n_jobs"] == plan["n_jobs"] == len(report["db_ids"])
    with ResultsDB.from_spec(store_uri) as db:
        queued = db.query(remote.QUEUE_COLLECTIONS["jobs"], {}, properties=["uuid", "state"])
        flows = db.query(remote.QUEUE_COLLECTIONS["flows"], {"uuid": report["flow_uuid"]})
        assert db.count("outputs") == 0  # nothing ran
    assert len(flows) == 1
    assert len(queued) == plan["n_jobs"]
    assert {q["state"] for q in queued} <= {"READY", "WAITING"}
    listed = cli_json(capsys, "jobs", "--store", store_uri, "--state", "READY")
    assert {j["uuid"] for j in listed} == {q["uuid"] for q in queued if q["state"] == "READY"}
