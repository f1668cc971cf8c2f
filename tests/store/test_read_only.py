"""Issue 12, part 5: a read-only store can be read (status, query) and a run is refused.

The store is made read-only for real: with ``chmod`` for an ordinary user, or (as root, who
ignores file modes) by a read-only bind mount in a private mount namespace.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from thermogap.store import ResultsDB

COMMANDS = {
    "status": ["status", "--json"],
    "query": ["query", "collection", "band_gaps"],
    "run": ["run", "parent-phonons", "--set", "compounds=[Ag3SBr]", "--set", "supercell=[1,1,1]"],
}


def _readonly_shell(store, script: str) -> subprocess.CompletedProcess:
    if os.geteuid() != 0:
        subprocess.run(["chmod", "-R", "a-w", str(store)], check=True)
        try:
            return subprocess.run(["sh", "-c", script], capture_output=True, text=True)
        finally:
            subprocess.run(["chmod", "-R", "u+w", str(store)], check=True)
    if shutil.which("unshare") is None:
        pytest.skip("root without unshare(1): no way to make a read-only file system here")
    wrapped = f"mount --bind -o ro {store} {store} && {script}"
    result = subprocess.run(["unshare", "-m", "sh", "-c", wrapped], capture_output=True, text=True)
    if "mount:" in result.stderr and "permission denied" in result.stderr.lower():
        pytest.skip("no permission to mount here")  # pragma: no cover
    return result


def test_read_only_store_is_readable_and_refuses_runs(tmp_path):
    store = tmp_path / "store"
    db = ResultsDB.from_spec(store)
    db.upsert("band_gaps", [{"result_id": "a", "band_gap_ev": 1.25}], key="result_id")
    db.close()
    env_python = f"PYTHONPATH={os.pathsep.join(sys.path)} {sys.executable} -m thermogap.cli.main"
    script = " ; ".join(
        f"echo '=={name}'; {env_python} {' '.join(repr(a) for a in argv)} --store {store} 2>&1;"
        f' echo "rc=$?"'
        for name, argv in COMMANDS.items()
    )
    result = _readonly_shell(store, script)
    sections = dict(part.split("\n", 1) for part in result.stdout.split("==")[1:])
    assert "rc=0" in sections["status"], sections["status"]
    status = json.loads(sections["status"].rsplit("rc=", 1)[0])
    assert status["counts"]["band_gaps"] == 1
    assert "rc=0" in sections["query"] and '"band_gap_ev": 1.25' in sections["query"]
    run_lines = sections["run"].strip().splitlines()
    assert run_lines[-1] == "rc=1" and len(run_lines) == 2, run_lines
    assert "read-only" in run_lines[0] and "Traceback" not in sections["run"]
    assert ResultsDB.from_spec(store).count("outputs") == 0  # nothing was written
