"""Issue 12, part 5: credentials are never echoed, wrong ones are named as such, files private.

The authentication tests use a real MongoDB-wire server (secantusd-py) restarted with
``--auth`` after a user was created, so error code 18 comes from the server itself.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import time

import pymongo
import pytest

from thermogap.cli.main import main
from thermogap.errors import StoreAuthenticationError
from thermogap.store.server import (
    check_reachable,
    find_server_executable,
    free_loopback_port,
    start_server,
    stop_server,
)


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    """``mongodb://127.0.0.1:PORT`` of a server that requires user ann / password right."""
    data = tmp_path_factory.mktemp("secantusd-auth")
    info = start_server(data, timeout_s=60.0)
    client: pymongo.MongoClient = pymongo.MongoClient(info.uri)
    client.admin.command("createUser", "ann", pwd="right", roles=[{"role": "root", "db": "admin"}])
    client.close()
    stop_server(data)
    port = free_loopback_port()
    argv = [find_server_executable(), "--config", str(data / "secantusd.toml"),
            "--host", "127.0.0.1", "--port", str(port),
            "--storage-path", str(data / "wiredtiger"), "--auth"]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with pymongo.MongoClient(
                    f"mongodb://127.0.0.1:{port}", serverSelectionTimeoutMS=300
                ) as c:
                    c.admin.command("hello")
                break
            except pymongo.errors.PyMongoError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _error_line(capsys, argv):
    start = time.monotonic()
    code = main(argv)
    elapsed = time.monotonic() - start
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1, lines
    return lines[0], elapsed


def test_wrong_password_is_reported_as_authentication_failure(auth_server, capsys):
    uri = f"mongodb://ann:wrong-pw@{auth_server}/tg?authSource=admin"
    line, elapsed = _error_line(capsys, ["status", "--store", uri])
    assert "authentication failed" in line and "cannot reach" not in line
    assert "wrong-pw" not in line
    assert elapsed < 5.0  # answered by the server, not a timeout
    with pytest.raises(StoreAuthenticationError):
        check_reachable(uri, timeout_s=5.0)


def test_right_password_connects(auth_server, capsys):
    uri = f"mongodb://ann:right@{auth_server}/tg?authSource=admin"
    assert main(["status", "--store", uri]) == 0
    out = capsys.readouterr().out
    assert "right" not in out and f"mongodb://{auth_server}/tg" in out


def test_unreachable_uri_with_password_is_not_echoed(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    line, _ = _error_line(
        capsys, ["status", "--store", f"mongodb://ann:s3cret@127.0.0.1:{port}/tg"]
    )
    assert "s3cret" not in line and f"127.0.0.1:{port}" in line


def test_project_file_is_made_private_even_if_it_existed(tmp_path):
    from thermogap.execution import remote

    project = remote.build_project_config(
        "tg_private", "mongodb://ann:s3cret@127.0.0.1:27017/tg", work_dir=tmp_path / "w",
        base_dir=tmp_path / "p",
    )  # fmt: skip
    folder = tmp_path / "jf"
    folder.mkdir()
    existing = folder / "tg_private.yaml"
    existing.write_text("old: content\n")
    os.chmod(existing, 0o644)
    path = remote.write_project_config(project, folder)
    assert path == existing
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "s3cret" in path.read_text()  # the credentials are there, readable only by us
