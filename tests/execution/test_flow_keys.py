"""Flow keys (issue 11, part 3): derived from the flow itself, like a build system's.

The references are independent of thermogap's bookkeeping: keys are compared between two
builds of a flow and against a brute-force change of one input; reuse is checked by counting
real function calls (a log file) and by reading outputs back with plain jobflow.
"""

from __future__ import annotations

from collections import Counter

import pytest
from jobflow import Flow, JobStore, run_locally
from maggma.stores import MemoryStore
from resume_jobs import add, fan_out, pair

from fixtures.optics import OPTICS_SETTINGS
from thermogap.execution import flow_keys, reuse_finished
from thermogap.execution import reuse as reuse_module
from thermogap.flows.registry import FLOW_BUILDERS

SETTINGS = OPTICS_SETTINGS | {"temperatures_k": [300.0]}


def _optics(**changes):
    return FLOW_BUILDERS.get("optics")(**(SETTINGS | changes))


def _by_name(flow) -> dict[str, str]:
    keys = flow_keys(flow)
    return {job.name: keys[job.uuid] for job, _ in flow.iterflow()}


def test_same_flow_built_twice_has_the_same_keys_and_other_uuids():
    first, second = _optics(), _optics()
    assert {j.uuid for j in first.jobs}.isdisjoint({j.uuid for j in second.jobs})
    keys = _by_name(first)
    assert keys == _by_name(second)
    assert len(set(keys.values())) == len(keys) == 5  # five different jobs, five keys


def test_a_changed_static_input_changes_its_job_and_the_descendants_only():
    base = _by_name(_optics())
    changed_optics = SETTINGS["optics"] | {"broadening_ev": 0.07}
    changed = _by_name(_optics(optics=changed_optics))
    differ = {name for name in base if base[name] != changed[name]}
    # the spectra read the broadening; the summary reads the spectra; MD sampling does not
    assert differ == {"optics spectrum 300 K", "optics spectrum clamped", "optics summary"}

    # a setting read by the last job alone changes only that job
    only_summary = _by_name(_optics(figures=False))
    assert {n for n in base if base[n] != only_summary[n]} == {"optics summary"}


def test_a_library_version_changes_every_key(monkeypatch):
    before = _by_name(_optics())
    versions = reuse_module.library_versions()
    assert {"thermogap", "torch", "mace-torch", "chgnet", "phonopy"} <= set(versions)
    for library in ("mace-torch", "phonopy"):
        newer = dict(versions, **{library: "99.0"})
        monkeypatch.setattr(reuse_module, "library_versions", lambda newer=newer: newer)
        after = _by_name(_optics())
        assert all(before[name] != after[name] for name in before), library


def test_references_contribute_the_upstream_key_and_the_attributes():
    def build(attribute: str, value: float = 1.0) -> Flow:
        source = pair(value)
        reader = add(getattr(source.output, attribute) if attribute == "low" else
                     source.output["high"][1], 0.0)  # fmt: skip
        return Flow([source, reader])

    low, high, low_again = build("low"), build("high"), build("low")
    k_low, k_high, k_again = flow_keys(low), flow_keys(high), flow_keys(low_again)
    assert k_low[low.jobs[0].uuid] == k_high[high.jobs[0].uuid]  # same source
    assert k_low[low.jobs[1].uuid] != k_high[high.jobs[1].uuid]  # other attribute read
    assert k_low[low.jobs[1].uuid] == k_again[low_again.jobs[1].uuid]
    other_source = build("low", value=2.0)
    assert flow_keys(other_source)[other_source.jobs[1].uuid] != k_low[low.jobs[1].uuid]


def test_provenance_of_a_static_input_is_not_part_of_the_key():
    a = {"value": 1.0, "provenance": {"created_at": "2026-01-01", "job_uuid": "a"}}
    b = {"value": 1.0, "provenance": {"created_at": "2026-06-01", "job_uuid": "b"}}
    c = {"value": 2.0, "provenance": {"created_at": "2026-01-01", "job_uuid": "a"}}
    key = [next(iter(flow_keys(add(x, 0.0)).values())) for x in (a, b, c)]
    assert key[0] == key[1] != key[2]


def _memory_store() -> JobStore:
    return JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})


def test_reused_jobs_leave_the_flow_and_readers_point_at_the_old_outputs(tmp_path, monkeypatch):
    log = tmp_path / "calls.log"
    monkeypatch.setenv("RESUME_LOG", str(log))
    store = _memory_store()

    def build(last: float) -> Flow:
        a = add(1.0, 2.0)
        b = add(a.output, 3.0)
        c = add(b.output, last)
        # nested references: in a list and in a dict, and in the flow output
        d = add(a.output, 0.0)
        return Flow([a, b, c, d], output={"c": c.output, "all": [a.output, d.output]})

    first = build(4.0)
    reuse_finished(first, store)  # stamps the keys; nothing to reuse yet
    run_locally(first, store=store, log=False)
    assert Counter(log.read_text().splitlines()) == Counter(
        {"add(1.0,2.0)": 1, "add(3.0,3.0)": 1, "add(6.0,4.0)": 1, "add(3.0,0.0)": 1}
    )

    second = build(5.0)  # only the last input of c differs
    a2, b2, c2, d2 = second.jobs
    report = reuse_finished(second, store)
    assert {r.name for r in report.reused} == {"add"} and report.n_reused == 3
    assert report.old_uuids == {
        a2.uuid: first.jobs[0].uuid,
        b2.uuid: first.jobs[1].uuid,
        d2.uuid: first.jobs[3].uuid,
    }
    assert [j.uuid for j in second.jobs] == [c2.uuid] and report.n_remaining == 1
    assert c2.function_args[0].uuid == first.jobs[1].uuid  # b's old output
    responses = run_locally(second, store=store, log=False, allow_external_references=True)
    assert set(responses) == {c2.uuid}
    assert log.read_text().splitlines()[-1] == "add(6.0,5.0)"
    from jobflow.core.reference import find_and_resolve_references

    assert find_and_resolve_references(second.output, store) == {"c": 11.0, "all": [3.0, 3.0]}
    # nothing overwritten: the first flow's outputs are all still there
    assert store.get_output(first.jobs[2].uuid) == 10.0

    # a rebuilt twin of the second flow reuses everything; the flow is left empty
    third = build(5.0)
    report = reuse_finished(third, store)
    assert report.n_reused == 4 and not third.jobs
    assert find_and_resolve_references(third.output, store) == {"c": 11.0, "all": [3.0, 3.0]}


def test_jobs_that_replaced_themselves_are_never_reused():
    store = _memory_store()
    first = Flow([fan_out(1.0)])
    reuse_finished(first, store)
    run_locally(first, store=store, log=False)
    assert store.get_output(first.jobs[0].uuid) == 11.0  # the replacement's output
    docs = list(store.query({"uuid": first.jobs[0].uuid}, properties=["index", "metadata"]))
    assert {d["index"] for d in docs} == {1, 2}
    assert all(d["metadata"]["thermogap"]["dynamic"] for d in docs)

    twin = Flow([fan_out(1.0)])
    report = reuse_finished(twin, store)
    assert report.n_reused == 0 and report.dynamic == ["fan_out"] and len(twin.jobs) == 1


def test_an_output_whose_data_blob_is_missing_is_not_reused():
    from resume_jobs import big_array

    store = _memory_store()
    first = Flow([big_array(5)])
    reuse_finished(first, store)
    run_locally(first, store=store, log=False)
    twin, other = Flow([big_array(5)]), Flow([big_array(5)])
    assert reuse_finished(twin, store).n_reused == 1
    store.additional_stores["data"].remove_docs({})
    report = reuse_finished(other, store)
    assert report.n_reused == 0 and len(other.jobs) == 1
    assert len(report.broken) == 1 and "'data' blobs missing" in report.broken[0]


@pytest.mark.parametrize("changed", [False, True])
def test_optics_flow_rerun_runs_only_the_changed_job_and_its_descendants(db, changed):
    """A real flow, twice; the second time with one setting changed (or none)."""
    from thermogap.execution import run_flow

    first_flow = _optics()
    first = run_flow(first_flow, db)
    assert (first.n_jobs, first.n_ran, first.n_reused, first.n_failed) == (5, 5, 0, 0)
    changes = {"optics": SETTINGS["optics"] | {"broadening_ev": 0.08}} if changed else {}
    second_flow = _optics(**changes)
    names = {j.uuid: j.name for j in second_flow.jobs}
    second = run_flow(second_flow, db)
    expected_ran = {"optics spectrum 300 K", "optics spectrum clamped", "optics summary"}
    expected_ran = expected_ran if changed else set()
    assert second.n_failed == 0 and second.n_jobs == 5
    assert (second.n_ran, second.n_reused) == (len(expected_ran), 5 - len(expected_ran))
    assert {names[r["uuid"]] for r in second.reused} == set(names.values()) - expected_ran
    # which jobs really ran: only they have an output under a uuid of the second flow
    outputs = db.collection(db.config.outputs_collection)
    ran = {names[d["uuid"]] for d in outputs.query({"uuid": {"$in": list(names)}}, ["uuid"])}
    assert ran == expected_ran
    # both runs' outputs stay in the store: nothing was overwritten
    first_uuids = [j.uuid for j in first_flow.jobs]
    assert outputs.count({"uuid": {"$in": first_uuids}}) == 5
    if changed:
        summaries = [
            db.jobstore().get_output(uuid, load=True)
            for uuid in (first_flow.jobs[-1].uuid, second_flow.jobs[-1].uuid)
        ]
        assert summaries[0] != summaries[1]
        assert second.outputs["flow"] is not None


def test_jobs_added_at_run_time_are_reused_by_the_runner(db, tmp_path, monkeypatch):
    from resume_jobs import fan_out_flow

    from thermogap.execution import run_flow

    log = tmp_path / "calls.log"
    monkeypatch.setenv("RESUME_LOG", str(log))

    def build(a: float) -> Flow:
        dispatch = fan_out_flow(a)
        return Flow([dispatch, add(dispatch.output, 100.0)], output=None)

    first = run_flow(build(1.0), db)
    assert first.n_failed == 0 and first.n_reused == 0
    calls = log.read_text().splitlines()
    assert calls == ["add(1.0,1.0)", "add(1.0,2.0)", "add(2.0,3.0)", "add(5.0,100.0)"]
    again = run_flow(build(1.0), db)
    # the dispatching job runs again (dynamic: never reused) but the three jobs it adds are
    # reused by the runner, and the last job at submission: no addition is computed again
    assert again.n_failed == 0 and log.read_text().splitlines() == calls
    assert {r["name"] for r in again.reused} == {"add"} and len(again.reused) == 4
    other = run_flow(build(2.0), db)
    assert other.n_failed == 0 and other.n_reused == 0
    assert log.read_text().splitlines()[len(calls) :] == [
        "add(2.0,1.0)", "add(2.0,2.0)", "add(3.0,4.0)", "add(7.0,100.0)"
    ]  # fmt: skip


def test_the_progress_line_counts_reused_jobs_as_done(db):
    from thermogap.execution import run_flow
    from thermogap.execution.progress import flow_progress

    def build() -> Flow:
        a = add(1.0, 1.0)
        return Flow([a, add(a.output, 1.0), add(a.output, 5.0)])

    run_flow(build(), db)
    flow = build()
    flow.jobs[2].function_args = (flow.jobs[0].output, 6.0)  # one job changed: it runs
    with flow_progress(flow.all_uuids, False) as progress:
        summary = run_flow(flow, db)
    assert (summary.n_ran, summary.n_reused) == (1, 2)
    assert (progress.n_done, progress.total) == (3, 3)
