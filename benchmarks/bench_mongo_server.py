"""Figures for the local MongoDB-protocol server (secantusd-py) and jobflow-remote on it.

Prints: server start/stop time; bulk upsert and query rates through ResultsDB on the server
and on the embedded MontyDB for comparison; GridFS blob write/read throughput; wall time of a
two-job jobflow-remote round trip with a local shell worker and 1 s polling.

    .venv/bin/python benchmarks/bench_mongo_server.py [--docs 2000] [--blob-mb 32]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from thermogap.execution import remote
from thermogap.store import ResultsDB
from thermogap.store.server import start_server, stop_server


def _timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def bench_documents(db: ResultsDB, n_docs: int) -> dict[str, float]:
    docs = [
        {"label_id": f"c{i}", "level": "mace", "energy_ev": float(i), "gap_ev": 1.0 + i * 1e-4}
        for i in range(n_docs)
    ]
    _, t_insert = _timed(db.upsert, "labels", docs, key="label_id")
    _, t_replace = _timed(db.upsert, "labels", docs, key="label_id")
    _, t_query = _timed(db.query, "labels", {"gap_ev": {"$gt": 1.1}})
    _, t_one = _timed(lambda: [db.query_one("labels", {"label_id": f"c{i}"}) for i in range(200)])
    return {
        "insert_docs_per_s": n_docs / t_insert,
        "replace_docs_per_s": n_docs / t_replace,
        "range_query_s": t_query,
        "point_query_ms": 1000 * t_one / 200,
    }


def bench_blobs(db: ResultsDB, megabytes: int) -> dict[str, float]:
    array = np.random.default_rng(0).standard_normal(megabytes * 131072)  # 8 B per value
    ref, t_put = _timed(db.blobs.put_array, array, kind="npy")
    back, t_get = _timed(db.blobs.get_array, ref)
    if not np.array_equal(back, array):
        raise RuntimeError("blob read back differs")
    return {"blob_write_mb_per_s": megabytes / t_put, "blob_read_mb_per_s": megabytes / t_get}


def bench_round_trip(uri: str, tmp: Path) -> float:
    project = remote.build_project_config(
        "bench", uri, work_dir=tmp / "work", runner=remote.FAST_RUNNER_OPTIONS, base_dir=tmp / "b"
    )
    remote.write_project_config(project, tmp / "jf")
    flow = remote.worker_check_flow(n_values=100)
    with remote.projects_folder(tmp / "jf"):
        remote.submit_flow(flow, project="bench")
        _, wall = _timed(remote.run_until_done, "bench", timeout_s=300, flow_uuid=flow.uuid)
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--blob-mb", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        info, t_start = _timed(start_server, tmp / "server")
        print(f"secantusd-py start (until ping answers): {t_start:.2f} s")
        try:
            uri = f"{info.uri}/bench"
            with ResultsDB.from_spec(uri) as db:
                for name, value in bench_documents(db, args.docs).items():
                    print(f"secantusd-py  {name:<22} {value:12.1f}")
                for name, value in bench_blobs(db, args.blob_mb).items():
                    print(f"secantusd-py  {name:<22} {value:12.1f}")
            with ResultsDB.from_spec(tmp / "embedded") as db:
                for name, value in bench_documents(db, args.docs).items():
                    print(f"montydb      {name:<22} {value:12.1f}")
                for name, value in bench_blobs(db, args.blob_mb).items():
                    print(f"files        {name:<22} {value:12.1f}")
            wall = bench_round_trip(uri, tmp)
            print(
                f"jobflow-remote 2-job round trip (local shell worker, 1 s polling): {wall:.1f} s"
            )
        finally:
            _, t_stop = _timed(stop_server, tmp / "server")
            print(f"secantusd-py stop (SIGTERM until exit): {t_stop:.2f} s")


if __name__ == "__main__":
    main()
