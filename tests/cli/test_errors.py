"""Bad input: one clear line on stderr, non-zero exit, no traceback, nothing written."""

import socket
import subprocess
import sys
import time

import pytest


def thermogap(*args, cwd=None, env=None):
    return subprocess.run(
        [sys.executable, "-m", "thermogap.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


def _one_clear_line(result):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_unknown_store_scheme(tmp_path):
    line = _one_clear_line(thermogap("status", "--store", "redis://localhost:1"))
    assert "redis://" in line and "mongodb://" in line


def test_unreachable_mongodb_fails_fast_naming_the_host():
    with socket.socket() as s:  # a port on loopback that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    result = thermogap("status", "--store", f"mongodb://127.0.0.1:{port}/thermogap")
    elapsed = time.monotonic() - start
    line = _one_clear_line(result)
    assert f"127.0.0.1:{port}" in line
    assert elapsed < 10


def test_malformed_yaml_store(tmp_path):
    bad = tmp_path / "store.yaml"
    bad.write_text("backend: monty\n  path: [x\n")
    line = _one_clear_line(thermogap("status", "--store", str(bad)))
    assert "malformed YAML" in line and "store.yaml" in line


def test_unknown_preset_lists_allowed_and_writes_nothing(tmp_path):
    store = tmp_path / "store"
    line = _one_clear_line(thermogap("run", "no-such-preset", "--store", str(store)))
    assert "no-such-preset" in line and "quick" in line
    assert not store.exists()


def test_malformed_preset_file(tmp_path):
    preset = tmp_path / "p.yaml"
    preset.write_text("name: p\nflow: [\n")
    store = tmp_path / "store"
    line = _one_clear_line(thermogap("run", str(preset), "--store", str(store)))
    assert "malformed YAML" in line
    assert not store.exists()


@pytest.mark.parametrize("args", [["query", "band-gaps", "--temperature", "-5", "--json"]])
def test_negative_temperature_query(tmp_path, args):
    line = _one_clear_line(thermogap(*args, "--store", str(tmp_path / "s")))
    assert "-5" in line


def test_query_empty_store_is_an_empty_list(tmp_path):
    import json

    (tmp_path / "s").mkdir()  # an existing (empty) store; a missing one is refused
    result = thermogap("query", "band-gaps", "--store", str(tmp_path / "s"), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
