import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from resume_jobs import make_flow, slow_step

from thermogap.execution import run_flow
from thermogap.store import ResultsDB

HERE = Path(__file__).parent


def _executions(log: Path) -> Counter:
    return Counter(log.read_text().split()) if log.exists() else Counter()


def test_second_run_reuses_every_job(db, tmp_path, monkeypatch):
    log = tmp_path / "calls.log"
    monkeypatch.setenv("RESUME_LOG", str(log))
    first = run_flow(make_flow(3), db)
    assert (first.n_jobs, first.n_ran, first.n_reused) == (3, 3, 0)
    assert first.outputs["flow"] == pytest.approx(3.0)
    second = run_flow(make_flow(3), db)
    assert (second.n_jobs, second.n_ran, second.n_reused) == (3, 0, 3)
    assert second.outputs["flow"] == pytest.approx(3.0)
    assert _executions(log) == Counter({"step0": 1, "step1": 1, "step2": 1})
    assert db.count("runs") == 2


def test_changed_input_is_recomputed(db, tmp_path, monkeypatch):
    monkeypatch.setenv("RESUME_LOG", str(tmp_path / "calls.log"))
    run_flow(make_flow(2), db)
    longer = run_flow(make_flow(3), db)  # steps 0-1 identical, step 2 new
    assert (longer.n_ran, longer.n_reused) == (1, 2)


def _run_cli(store: Path, env: dict, **popen) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "thermogap.cli.main",
        "run",
        str(HERE / "resume_workflow.py"),
        "--store",
        str(store),
        "--set",
        "n_steps=5",
        "--set",
        "seconds=0.6",
        "--json",
    ]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


def test_killed_run_resumes_without_redoing_finished_jobs(tmp_path):
    store = tmp_path / "store"
    log = tmp_path / "calls.log"
    env = os.environ | {"RESUME_LOG": str(log), "PYTHONPATH": str(HERE)}
    proc = _run_cli(store, env)
    deadline = time.monotonic() + 60
    while len(_executions(log)) < 3 and time.monotonic() < deadline:  # step2 started
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    done_before_kill = _executions(log)
    assert 2 <= len(done_before_kill) < 5

    resumed = _run_cli(store, env)
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err.decode()
    summary = json.loads(out)
    assert summary["n_jobs"] == 5
    assert summary["n_reused"] >= 2
    assert summary["n_ran"] + summary["n_reused"] == 5
    runs = _executions(log)
    # every step that finished before the kill ran exactly once over both runs
    finished = [name for name in done_before_kill if name != max(done_before_kill)]
    assert all(runs[name] == 1 for name in finished)
    assert set(runs) == {f"step{i}" for i in range(5)}
    with ResultsDB.from_spec(store) as db:
        gaps = {d["result_id"]: d["band_gap_ev"] for d in db.query("band_gaps")}
    assert gaps == {f"step{i}": float(i + 1) for i in range(5)}


def test_failed_job_is_reported_with_its_reason_and_blocks_children(db, tmp_path, monkeypatch):
    from jobflow import Flow
    from resume_jobs import failing_step

    monkeypatch.setenv("RESUME_LOG", str(tmp_path / "calls.log"))
    ok = slow_step("ok", 0.0, 0.0)
    bad = failing_step(ok.output)
    child = slow_step("child", bad.output, 0.0)
    summary = run_flow(Flow([ok, bad, child]), db)
    assert (summary.n_jobs, summary.n_failed) == (1, 2)
    assert len(summary.errors) == 1
    assert "ArithmeticError: cannot handle value=1.0" in summary.errors[0]
    assert db.query("band_gaps", properties=["result_id"]) == [{"result_id": "ok"}]


def test_reuse_false_always_runs(db, tmp_path, monkeypatch):
    from thermogap.execution import tg_job

    log = tmp_path / "calls.log"
    monkeypatch.setenv("RESUME_LOG", str(log))

    @tg_job(reuse=False)
    def count_labels(tag: str) -> int:
        with open(log, "a") as f:
            f.write(tag + "\n")
        return 1

    count_labels.original.__module__ = "resume_jobs"  # importable name for the flow key
    first = run_flow(count_labels("x"), db)
    second = run_flow(count_labels("x"), db)
    assert (first.n_ran, second.n_ran, second.n_reused) == (1, 1, 0)
    assert _executions(log) == Counter({"x": 2})


def test_readers_of_a_volatile_job_rerun_only_when_its_output_changed(db, tmp_path, monkeypatch):
    """A reuse=False job reads a "collection" (a file here); its readers follow its output.

    Its readers are keyed by the content of its output once it has run (runner side): an
    unchanged collection reuses them, a changed one reruns them with the new value.
    """
    from jobflow import Flow

    from thermogap.execution import tg_job

    log = tmp_path / "calls.log"
    collection = tmp_path / "collection.txt"
    monkeypatch.setenv("RESUME_LOG", str(log))

    @tg_job(reuse=False)
    def read_collection(path: str) -> float:
        with open(log, "a") as f:
            f.write("read\n")
        return float(open(path).read())

    read_collection.original.__module__ = "resume_jobs"

    def build() -> Flow:
        root = slow_step("root", 0.0, 0.0)  # input-only: reused at submission
        volatile = read_collection(str(collection))
        reader = slow_step("reader", volatile.output, 0.0)
        second_reader = slow_step("second reader", reader.output, 0.0)
        return Flow([root, volatile, reader, second_reader], output=second_reader.output)

    collection.write_text("10")
    first = run_flow(build(), db)
    assert (first.n_ran, first.n_reused, first.outputs["flow"]) == (4, 0, 12.0)
    same = run_flow(build(), db)  # collection unchanged: only the volatile job runs
    assert (same.n_jobs, same.n_ran, same.n_reused, same.n_failed) == (4, 1, 3, 0)
    assert same.outputs["flow"] == 12.0
    collection.write_text("20")  # the collection changed: its readers must see it
    changed = run_flow(build(), db)
    assert (changed.n_jobs, changed.n_ran, changed.n_reused, changed.n_failed) == (4, 3, 1, 0)
    assert changed.outputs["flow"] == 22.0
    calls = Counter(log.read_text().splitlines())
    assert calls == Counter({"read": 3, "root": 1, "reader": 2, "second reader": 2})
    assert sorted(d["band_gap_ev"] for d in db.query("band_gaps", {"result_id": "reader"})) == [
        21.0
    ]


def test_flow_output_that_is_a_dict_of_references_is_resolved(db, tmp_path, monkeypatch):
    from jobflow import Flow

    monkeypatch.setenv("RESUME_LOG", str(tmp_path / "calls.log"))
    a = slow_step("a", 0.0, 0.0)
    b = slow_step("b", a.output, 0.0)
    summary = run_flow(Flow([a, b], output={"first": a.output, "second": b.output}), db)
    assert summary.outputs["flow"] == {"first": 1.0, "second": 2.0}
