"""Issue 11, part 6: kill -9 of the jobflow-remote runner at three points, then restart.

The runner runs in a process of its own (``runner_process.py``) against the loopback
MongoDB-protocol server; the worker has no database settings (``export_store=False``). The
test SIGKILLs the runner (1) after the first job completed, (2) while a middle job is being
run on the worker, (3) when only the last job is left, restarting it each time. Every job
must end COMPLETED exactly once, with one output per job and one derived document after
``thermogap build``; the jobs a restart found finished are reported. A rebuilt twin of the
finished flow is then reused whole at submission: nothing is queued, nothing runs.

The flow is a parameter (``FLOWS``): any flow that runs on a worker without database
settings fits.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from jobflow import Flow

from fixtures.optics import OPTICS_SETTINGS
from fixtures.runner import (
    IN_PROGRESS,
    ON_WORKER,
    WAITING,
    kill_when,
    restart_reports,
    start_runner,
)
from thermogap.cli.main import main
from thermogap.execution import remote
from thermogap.flows.registry import FLOW_BUILDERS
from thermogap.store import ResultsDB

pytestmark = pytest.mark.jobflow_remote

HERE = Path(__file__).parent
PROJECT = "kill_test"


def _optics() -> Flow:
    return FLOW_BUILDERS.get("optics")(**(OPTICS_SETTINGS | {"temperatures_k": [300.0]}))


#: flow name -> (builder, derived collection that ``thermogap build`` fills from it)
FLOWS: dict[str, tuple[Callable[[], Flow], str]] = {"optics": (_optics, "optics")}


def _roles(flow: Flow) -> tuple[set[str], set[str], set[str]]:
    """Return the uuids of the roots, the middle jobs and the last jobs (read by no job)."""
    graph = flow.graph
    uuids = {job.uuid for job, _ in flow.iterflow()}
    roots = {u for u in uuids if not [p for p, _ in graph.in_edges(u) if p in uuids]}
    last = {u for u in uuids if not [c for _, c in graph.out_edges(u) if c in uuids]}
    return roots, uuids - roots - last, last


@pytest.mark.parametrize("flow_name", sorted(FLOWS))
def test_runner_killed_three_times_completes_every_job_once(
    flow_name, tmp_path, mongo_uri, mongo_database, monkeypatch
):
    start = time.monotonic()
    monkeypatch.delenv("THERMOGAP_STORE", raising=False)
    # the runner process and the worker import this checkout's thermogap
    src = str(Path(__import__("thermogap").__file__).parents[1])
    paths = [src, str(HERE), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, paths)))
    store_uri = f"{mongo_uri}/{mongo_database}"
    project = remote.build_project_config(
        PROJECT,
        store_uri,
        work_dir=tmp_path / "work",
        runner=remote.FAST_RUNNER_OPTIONS,
        base_dir=tmp_path / "project",
        export_store=False,
    )
    folder = tmp_path / "jf"
    remote.write_project_config(project, folder)
    build, collection = FLOWS[flow_name]
    flow = build()
    jobs = {job.uuid: job.name for job, _ in flow.iterflow()}
    _, middle, last = _roles(flow)
    assert middle and last, "the flow needs middle and last jobs for the three kill points"
    with remote.projects_folder(folder):
        submitted = remote.submit_flow(flow, project=PROJECT)
    assert len(submitted) == len(jobs) and submitted.reuse.n_reused == 0

    kill_points: list[tuple[str, Callable[[dict[str, str]], bool]]] = [
        ("first job completed", lambda s: "COMPLETED" in s.values()),
        ("a middle job running", lambda s: any(s[u] in ON_WORKER for u in middle)),
        (
            "only the last job left",
            lambda s: (
                all(s[u] == "COMPLETED" for u in set(s) - last)
                and all(s[u] in WAITING | IN_PROGRESS for u in last)
            ),
        ),
    ]
    log = tmp_path / "runner.log"
    deadline = time.monotonic() + 100
    killed_at: list[dict[str, str]] = []
    skipped_on_restart: list[list[str]] = []
    for what, condition in kill_points:
        runner = start_runner(folder, PROJECT, log, flow.uuid)
        killed_at.append(kill_when(runner, condition, flow.uuid, what, deadline))
        # what the next runner will find finished, and leave alone
        with remote.projects_folder(folder):
            states = remote.flow_job_states(flow.uuid, PROJECT)
        skipped_on_restart.append(sorted(jobs[u] for u, s in states.items() if s == "COMPLETED"))
    runner = start_runner(folder, PROJECT, log, flow.uuid)
    assert runner.wait(timeout=max(5.0, deadline - time.monotonic())) == 0, log.read_text()

    # the kills happened where intended
    assert 1 <= list(killed_at[0].values()).count("COMPLETED") < len(jobs)
    assert any(killed_at[1][u] in ON_WORKER for u in middle)
    assert all(killed_at[2][u] != "COMPLETED" for u in last)
    # each restart reported (and left alone) the jobs already finished, more each time
    reported = restart_reports(log)
    assert len(reported) == 4 and reported[0] == []  # the first runner found nothing done
    assert [sorted(jobs[u] for u in r) for r in reported[1:]] == skipped_on_restart
    counts = [len(r) for r in reported]
    assert counts == sorted(counts) and counts[1] >= 1 and counts[3] == len(jobs) - len(last)
    print("kill test: states at the kills", [Counter(k.values()) for k in killed_at])
    print("kill test: finished jobs found by each restart", counts[1:])

    with remote.projects_folder(folder):
        final = remote.flow_job_states(flow.uuid, PROJECT)
    assert final == dict.fromkeys(jobs, "COMPLETED")
    with ResultsDB.from_spec(store_uri) as db:
        outputs = db.collection(db.config.outputs_collection)
        per_job = Counter(d["uuid"] for d in outputs.query({}, ["uuid"]))
        assert per_job == Counter(dict.fromkeys(jobs, 1))  # one output per job, none twice
        queue = db.collection(remote.QUEUE_COLLECTIONS["jobs"])
        assert queue.count({}) == len(jobs)  # no job was resubmitted under another index
    assert main(["build", "--store", store_uri, "--collection", collection]) == 0
    with ResultsDB.from_spec(store_uri) as db:
        assert db.count(collection) == 1

    # a rebuilt twin of the finished flow: every job reused at submission, none queued
    twin = build()
    twin_jobs = {job.uuid: job.name for job, _ in twin.iterflow()}
    with remote.projects_folder(folder):
        again = remote.submit_flow(twin, project=PROJECT)
    assert list(again) == [] and not twin.jobs
    assert {r.name for r in again.reuse.reused} == set(jobs.values())
    assert set(again.reuse.old_uuids) == set(twin_jobs)
    assert set(again.reuse.old_uuids.values()) == set(jobs)
    with ResultsDB.from_spec(store_uri) as db:
        assert db.collection(remote.QUEUE_COLLECTIONS["jobs"]).count({}) == len(jobs)
        assert db.collection(db.config.outputs_collection).count({}) == len(jobs)
    assert main(["build", "--store", store_uri, "--collection", collection]) == 0
    with ResultsDB.from_spec(store_uri) as db:
        assert db.count(collection) == 1
    print(f"kill test: {time.monotonic() - start:.1f} s")
    assert time.monotonic() - start < 120


def test_a_changed_input_resubmitted_queues_only_the_jobs_it_reaches(
    tmp_path, mongo_uri, mongo_database, monkeypatch
):
    """Partial reuse on jobflow-remote: the runner resolves references to reused outputs."""
    from jobflow.core.reference import find_and_resolve_references
    from resume_jobs import add

    monkeypatch.delenv("THERMOGAP_STORE", raising=False)
    src = str(Path(__import__("thermogap").__file__).parents[1])
    paths = [src, str(HERE), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, paths)))
    log = tmp_path / "calls.log"
    monkeypatch.setenv("RESUME_LOG", str(log))
    store_uri = f"{mongo_uri}/{mongo_database}"
    project = remote.build_project_config(
        PROJECT, store_uri, work_dir=tmp_path / "work", runner=remote.FAST_RUNNER_OPTIONS,
        base_dir=tmp_path / "project", export_store=False,
    )  # fmt: skip
    remote.write_project_config(project, tmp_path / "jf")

    def build(last: float) -> Flow:
        a = add(1.0, 2.0)
        b = add(a.output, 3.0)
        c = add(b.output, last)
        return Flow([a, b, c], output={"b": b.output, "c": c.output})

    first, second = build(4.0), build(5.0)
    c_uuid = second.jobs[2].uuid
    with remote.projects_folder(tmp_path / "jf"):
        remote.submit_flow(first, project=PROJECT)
        remote.run_until_done(PROJECT, timeout_s=100, flow_uuid=first.uuid)
        submitted = remote.submit_flow(second, project=PROJECT)
        states = remote.run_until_done(PROJECT, timeout_s=100, flow_uuid=second.uuid)
    assert submitted.reuse.n_reused == 2 and states == {c_uuid: "COMPLETED"}
    # the functions ran: a, b, c of the first flow, then only the changed c
    assert log.read_text().splitlines() == [
        "add(1.0,2.0)", "add(3.0,3.0)", "add(6.0,4.0)", "add(6.0,5.0)"
    ]  # fmt: skip
    with ResultsDB.from_spec(store_uri) as db:
        store = db.jobstore()
        store.connect()
        # the queued job read the first flow's b (an external reference, by uuid)
        assert find_and_resolve_references(second.output, store) == {"b": 6.0, "c": 11.0}
        assert db.collection(db.config.outputs_collection).count({}) == 3 + 1  # none replaced
