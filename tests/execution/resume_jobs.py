"""Importable jobs for the resume tests (jobflow needs job functions outside ``__main__``).

Every call appends the step name to the file named by $RESUME_LOG, so a test can count how
many times each function really executed, independently of thermogap's own bookkeeping.
"""

import os
import time

from jobflow import Flow

from thermogap.execution import tg_job
from thermogap.store import current_db


@tg_job
def slow_step(name: str, previous: float, seconds: float) -> float:
    with open(os.environ["RESUME_LOG"], "a") as log:
        log.write(name + "\n")
    time.sleep(seconds)
    value = previous + 1.0
    current_db().upsert("band_gaps", [{"result_id": name, "band_gap_ev": value}], key="result_id")
    return value


def make_flow(n_steps: int = 4, seconds: float = 0.0) -> Flow:
    jobs = []
    previous: object = 0.0
    for i in range(n_steps):
        step = slow_step(f"step{i}", previous, seconds)
        jobs.append(step)
        previous = step.output
    return Flow(jobs, output=jobs[-1].output, name="resume-test")


@tg_job
def failing_step(value: float) -> float:
    raise ArithmeticError(f"cannot handle {value=}")
