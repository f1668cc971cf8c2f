"""A progress line for a whole flow: jobs done / total and the job running now.

jobflow logs ``Starting job - NAME (UUID)`` and ``Finished job - NAME (UUID)`` on the logger
``jobflow.core.job``; :class:`FlowProgress` listens to those records and drives one tqdm bar
(on stderr, beside the per-job bars such as the MD one). Jobs that a running job adds to the
flow (dynamic jobs) raise the total when they start. Jobs whose finished output is reused
(``Reused job - NAME (UUID)`` on ``thermogap.execution.reuse``) count as done.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["FlowProgress", "flow_progress"]

_JOB_LOGGER = "jobflow.core.job"
_LOGGERS = (_JOB_LOGGER, "thermogap.execution.reuse")
_RECORD = re.compile(r"^(Starting|Finished|Reused) job - (?P<name>.*) \((?P<uuid>[0-9a-f-]{36})")


class FlowProgress(logging.Handler):
    """Count started and finished jobs of a flow from jobflow's log records.

    Parameters
    ----------
    job_uuids
        uuids of the jobs known before the run (the total grows with dynamic jobs).
    bar
        An object with tqdm's ``total``, ``n``, ``set_description_str`` and ``refresh``
        (``None``: only count).

    Examples
    --------
    >>> import logging
    >>> progress = FlowProgress(["a" * 8 + "-" + "b" * 4 + "-" + "c" * 4 + "-" + "d" * 4
    ...                          + "-" + "e" * 12])
    >>> uid = progress.known.copy().pop()
    >>> progress.emit(logging.makeLogRecord({"msg": f"Starting job - relax ({uid})"}))
    >>> progress.stage, progress.n_done, progress.total
    ('relax', 0, 1)
    >>> progress.emit(logging.makeLogRecord({"msg": f"Finished job - relax ({uid}, 1)"}))
    >>> progress.n_done
    1
    """

    def __init__(self, job_uuids: list[str], bar: Any = None) -> None:
        super().__init__(level=logging.INFO)
        self.known = set(job_uuids)
        self.finished: set[str] = set()
        self.stage = ""
        self.bar = bar

    @property
    def total(self) -> int:
        """Jobs known so far (the flow's jobs plus dynamic jobs that started)."""
        return len(self.known)

    @property
    def n_done(self) -> int:
        """Jobs that finished (ran or were reused)."""
        return len(self.finished)

    def emit(self, record: logging.LogRecord) -> None:
        """Update the counts (and the bar) from one jobflow log record."""
        match = _RECORD.match(record.getMessage())
        if match is None:
            return
        uuid = match["uuid"]
        self.known.add(uuid)
        if match.group(1) == "Starting":
            self.stage = match["name"]
        else:
            self.finished.add(uuid)
        if self.bar is not None:
            self.bar.total = self.total
            self.bar.n = self.n_done
            self.bar.set_description_str(f"flow [{self.stage}]", refresh=False)
            self.bar.refresh()


@contextmanager
def flow_progress(job_uuids: list[str], enabled: bool | None = None) -> Iterator[FlowProgress]:
    """Show a whole-flow progress bar on stderr while the ``with`` block runs a flow.

    Parameters
    ----------
    job_uuids
        uuids of the flow's jobs.
    enabled
        Draw the bar; default: only when stderr is a terminal.

    Yields
    ------
    FlowProgress
        The counting handler (attached to jobflow's job logger inside the block).
    """
    if enabled is None:
        enabled = sys.stderr.isatty()
    bar = None
    if enabled:
        from tqdm import tqdm

        bar = tqdm(total=len(set(job_uuids)), desc="flow", unit="job", leave=True, file=sys.stderr)
    handler = FlowProgress(job_uuids, bar)
    loggers = [logging.getLogger(name) for name in _LOGGERS]
    saved = [(lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        if lg.getEffectiveLevel() > logging.INFO:
            # the records must be created, but the per-job lines stay off the console
            lg.setLevel(logging.INFO)
            lg.propagate = False
        lg.addHandler(handler)
    try:
        yield handler
    finally:
        for lg, (level, propagate) in zip(loggers, saved, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)
            lg.propagate = propagate
        if bar is not None:
            bar.close()
