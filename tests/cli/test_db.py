"""``thermogap db start|stop|info``: the server outlives the command that started it."""

from __future__ import annotations

import json
import subprocess
import sys

import psutil
import pymongo


def thermogap(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thermogap.cli.main", *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_start_info_stop_across_processes(tmp_path):
    data = str(tmp_path / "db")
    started = thermogap("db", "start", "--data-dir", data, "--json")
    assert started.returncode == 0, started.stderr
    server = json.loads(started.stdout)
    try:
        assert server["already_running"] is False
        assert psutil.pid_exists(server["pid"])  # detached: alive after `db start` exited
        client = pymongo.MongoClient(server["uri"], serverSelectionTimeoutMS=5000)
        client["thermogap"]["band_gaps"].insert_many([{"x": 0.0}, {"x": 0.5}])
        client.close()

        info = thermogap("db", "info", "--data-dir", data, "--json")
        assert info.returncode == 0, info.stderr
        report = json.loads(info.stdout)
        assert report["running"] is True and report["pid"] == server["pid"]
        assert report["databases"]["thermogap"] == {"band_gaps": 2}

        again = thermogap("db", "start", "--data-dir", data, "--json")
        assert json.loads(again.stdout)["already_running"] is True
    finally:
        stopped = thermogap("db", "stop", "--data-dir", data)
    assert stopped.returncode == 0, stopped.stderr
    assert f"pid {server['pid']}" in stopped.stdout
    assert not psutil.pid_exists(server["pid"]) or (
        psutil.Process(server["pid"]).status() == psutil.STATUS_ZOMBIE
    )
    after = thermogap("db", "info", "--data-dir", data, "--json")
    assert json.loads(after.stdout)["running"] is False


def test_non_loopback_host_is_one_line_error(tmp_path):
    result = thermogap("db", "start", "--data-dir", str(tmp_path), "--host", "0.0.0.0")
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "0.0.0.0" in lines[0] and "127.0.0.1" in lines[0]
    assert "Traceback" not in result.stderr
