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


@tg_job
def add(a: float, b: float) -> float:
    """Sum of two numbers; logs its call to $RESUME_LOG when that is set."""
    if "RESUME_LOG" in os.environ:
        with open(os.environ["RESUME_LOG"], "a") as log:
            log.write(f"add({a},{b})\n")
    return a + b


@tg_job
def pair(a: float) -> dict:
    """Two outputs in one document, to tell references to different attributes apart."""
    return {"low": a - 1.0, "high": [a + 1.0, a + 2.0]}


@tg_job
def fan_out(a: float):
    """Replace itself by a new job at run time (a dynamic Response)."""
    from jobflow import Response

    return Response(replace=add(a, 10.0))


@tg_job(data="values")
def big_array(n: int) -> dict:
    """A document whose array goes to the JobStore's ``data`` additional store."""
    return {"values": [float(i) for i in range(n)], "n": n}


@tg_job
def fan_out_flow(a: float):
    """Replace itself by a flow of two additions and their sum (like the labelling dispatch)."""
    from jobflow import Response

    first, second = add(a, 1.0), add(a, 2.0)
    total = add(first.output, second.output)
    return Response(replace=Flow([first, second, total], output=total.output))
