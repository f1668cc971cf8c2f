"""`thermogap demo` end to end on the embedded engine, then resumed, then queried."""

import json
import subprocess
import sys


def thermogap(*args):
    result = subprocess.run(
        [sys.executable, "-m", "thermogap.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_demo_runs_then_reuses_and_results_are_queryable(tmp_path):
    store = str(tmp_path / "store")
    first = json.loads(thermogap("demo", "--preset", "parent-phonons", "--store", store, "--json"))
    assert first["n_failed"] == 0 and first["n_ran"] == first["n_jobs"] >= 3
    assert first["levels_of_theory"]
    summary = first["outputs"]["flow"]
    assert {s["formula"] for s in summary} == {"Ag3SBr", "Ag3SI"}

    again = json.loads(thermogap("demo", "--preset", "parent-phonons", "--store", store, "--json"))
    assert again["n_ran"] == 0 and again["n_reused"] == first["n_jobs"]

    phonons = json.loads(thermogap("query", "collection", "phonons", "--store", store))
    assert {p["formula"] for p in phonons} == {"Ag3SBr", "Ag3SI"}
    for p in phonons:
        assert p["force_constants"]["sha256"]
    status = json.loads(thermogap("status", "--store", store, "--json"))
    assert status["counts"]["phonons"] == 2
    assert len(status["recent_runs"]) == 2
