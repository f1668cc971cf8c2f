"""Importable jobs for the reliability tests (jobflow needs job functions outside ``__main__``).

Every executed call appends its name to the file named by $RELIABILITY_LOG, so tests count
real executions independently of thermogap's own bookkeeping.
"""

import os
import time

from jobflow import Flow

from thermogap.execution import tg_job
from thermogap.store import current_db


def _log(name: str) -> None:
    with open(os.environ["RELIABILITY_LOG"], "a") as log:
        log.write(name + "\n")


@tg_job
def blob_step(name: str, seconds: float = 0.0) -> dict:
    """Store a blob and a document; return the blob's reference."""
    _log(name)
    time.sleep(seconds)
    db = current_db()
    ref = db.blobs.put_bytes(f"payload of {name}".encode(), kind="text")
    db.upsert("band_gaps", [{"result_id": name, "band_gap_ev": 1.0}], key="result_id")
    return {"name": name, "blob": ref.model_dump()}


@tg_job
def broken_step(value: float) -> float:
    _log("broken")
    raise ArithmeticError(f"cannot handle {value=}")


def blob_flow(n_steps: int = 3, seconds: float = 0.0) -> Flow:
    jobs = [blob_step(f"step{i}", seconds) for i in range(n_steps)]
    return Flow(jobs, output=[j.output for j in jobs], name="blob flow")


def failing_flow() -> Flow:
    good = blob_step("good")
    bad = broken_step(2.0)
    after = blob_step("after-bad", bad.output)  # never runs: its input is missing
    return Flow([good, bad, after], name="failing flow")
