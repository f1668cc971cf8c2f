"""Issue 12, part 3: two runners on one embedded store stay consistent.

Two processes write the same keys at once (atomic upserts under the store's file lock), and
two `thermogap run` processes of the same small flow run each job once between them (claims)
and leave exactly one document per key, on the embedded store and on the MongoDB-wire server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from thermogap.store import ResultsDB

CLI_DIR = Path(__file__).parents[1] / "cli"


def _env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join([str(CLI_DIR), *sys.path])
    return dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS="1", **extra)


UPSERT_SCRIPT = """
import sys
import pytest

from thermogap.store import ResultsDB
db = ResultsDB.from_spec(sys.argv[1])
for round_ in range(15):
    docs = [{"result_id": f"k{i}", "round": round_, "writer": sys.argv[2]} for i in range(20)]
    db.upsert("band_gaps", docs, key="result_id")
    db.upsert("labels", docs[:5], key=["result_id", "round"])
"""


def test_concurrent_upserts_leave_one_document_per_key(tmp_path):
    store = tmp_path / "store"
    ResultsDB.from_spec(store).upsert("band_gaps", [{"result_id": "k0"}], key="result_id")
    procs = [
        subprocess.Popen([sys.executable, "-c", UPSERT_SCRIPT, str(store), name], env=_env())
        for name in ("a", "b")
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    db = ResultsDB.from_spec(store)
    ids = Counter(d["result_id"] for d in db.query("band_gaps"))
    assert ids == Counter({f"k{i}": 1 for i in range(20)})
    pairs = Counter((d["result_id"], d["round"]) for d in db.query("labels"))
    assert set(pairs.values()) == {1} and len(pairs) == 5 * 15


@pytest.fixture(params=["monty", "mongodb"])
def store_spec(request, tmp_path):
    """An embedded store directory, then a database on the MongoDB-wire test server."""
    if request.param == "monty":
        return str(tmp_path / "store")
    uri = request.getfixturevalue("mongo_uri")
    return f"{uri}/{request.getfixturevalue('mongo_database')}"


def test_two_runs_of_one_flow_run_each_job_once(tmp_path, store_spec):
    store = store_spec
    log = tmp_path / "calls.log"
    script = tmp_path / "flow.py"
    script.write_text(
        textwrap.dedent(
            """
            from reliability_jobs import blob_flow

            def make_flow(**settings):
                return blob_flow(**settings)
            """
        )
    )
    argv = [sys.executable, "-m", "thermogap.cli.main", "run", str(script), "--store", str(store)]
    argv += ["--set", "n_steps=4", "--set", "seconds=0.4", "--json"]
    env = _env(RELIABILITY_LOG=str(log))
    procs = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    assert [p.wait(timeout=180) for p in procs] == [0, 0]

    # every step executed exactly once between the two runners
    assert Counter(log.read_text().split()) == Counter({f"step{i}": 1 for i in range(4)})
    db = ResultsDB.from_spec(store)
    assert Counter(d["result_id"] for d in db.query("band_gaps")) == Counter(
        {f"step{i}": 1 for i in range(4)}
    )
    outputs = Counter((d["uuid"], d["index"]) for d in db.query("outputs"))
    assert len(outputs) == 8 and set(outputs.values()) == {1}  # 4 jobs x 2 flows, once each
    runs = db.query("runs")
    assert len(runs) == 2 and sum(r["n_ran"] for r in runs) == 4
    assert all(r["status"] == "completed" for r in runs)
    assert db.count("claims") == 0  # released at the end of each run
